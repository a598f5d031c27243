"""Train the shipped dementia and epilepsy screens and their cross-cohort checks.

Usage (about 10 min on 2 cores)::

    .venv/bin/python scripts/train_diagnosis_models.py [--data ../shared/data] [--repeats 3]

Writes ``dbrain/diagnosis/models/{dementia,epilepsy}/`` (``model.json``,
``metrics.json``, ``reliability.png``, ``MODEL_CARD.md``). Not run in CI. The data are the two
development cohorts of ``../shared/data`` (read their ``SOURCE.txt``).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from dbrain.diagnosis import DementiaScreen, EpilepsyScreen, model_card, nested_cross_validate, write_model
from dbrain.diagnosis._cohorts import adfsu_features, guinea_bissau_features

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "dbrain" / "diagnosis" / "models"
#: Electrodes present in both cohorts (ADFSU 10-20 and the Emotiv headset).
COMMON = ["F3", "F4", "F7", "F8", "O1", "O2", "P7", "P8", "T7", "T8"]

ADFSU = (
    "ADFSU (Florida State University via Vicchietti et al. 2023, OSF 2v5md; research use with citation): "
    "76 unique probable-AD (NINCDS-ADRDA) and 12 healthy elderly people, 19-channel 10-20 EEG at 128 Hz, "
    "one 8-s eyes-closed segment per person, band-limited 0.5-30 Hz at source"
)
GB = (
    "Guinea-Bissau (van Hees et al. 2018, Zenodo 1252141, CC BY 4.0 as believed - verify): 35 people with epilepsy and "
    "30 controls, 14-channel Emotiv EPOC consumer headset at 128 Hz, the eyes-closed part (2-3 min) of ~5 min resting EEG"
)
DEMENTIA_CAVEATS = """## Data and caveats

- **Eight seconds per person.** Each ADFSU person has one 8-s eyes-closed segment: at most four 2-s epochs, fewer
  after dbrain's artifact rejection (67 of 88 kept all 8 s; 3 AD recordings with < 4 s clean EEG are excluded). Spectra
  and especially connectivity (wPLI over 2-4 epochs) are noisy; the model is meant for recordings with >= 4 s clean
  resting EEG (shorter: "insufficient data"), and more clean EEG than in training does not make it more accurate.
- **Twelve controls.** Specificity rests on 12 healthy people (2-3 per outer test fold): a specificity of 1.00
  is compatible with a true value well below 0.9 (one-sided 95 % bound for 0/12 errors: 0.78).
- **De-duplicated.** AD Paciente40-44 are one recording under five ids; dbrain groups recordings by a hash of their
  samples and keeps one (76 unique AD), so no duplicate can sit in both a training and a test fold (tested).
- **Probable confounds.** AD and control recordings may differ in recording conditions, age and medication, which the
  data do not document; near-perfect separation of this size is typical of this cohort in the literature and should
  not be expected on other recordings. Alzheimer's disease vs healthy only: no MCI, no other dementias.
- Every number is subject-wise: outer folds by person (stratified), choice of model (logistic C or LightGBM) and calibration on inner folds by
  person inside each outer training set.
"""
EPILEPSY_CAVEATS = """## Data and caveats

- **Consumer headset, one country.** 14-channel Emotiv EPOC (no central or midline electrodes, saline contacts) in
  Guinea-Bissau. Clinical-grade 19-channel EEG elsewhere is a different domain: re-evaluate
  before any use (`dbrain train epilepsy`).
- **Interictal, diagnosis-level labels.** The screen says whether resting background resembles the epilepsy group; it
  does not detect discharges and a negative result never excludes epilepsy.
- 65 people: 35 epilepsy, 30 control (the Nigeria half of the dataset is not included). Recordings with < 30 s clean
  eyes-closed EEG get "insufficient data" (none in training: 40-166 s clean per person).
- Every number is subject-wise: outer folds by person (stratified), choice of model (logistic C or LightGBM) and calibration on inner folds by
  person inside each outer training set.
"""


def _rate(screen, X):
    pred = screen.predict(X)
    ok = pred != -1
    return float((pred[ok] == 1).mean()), int(ok.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    adfsu_dir, gb_dir = args.data / "dementia" / "adfsu", args.data / "epilepsy-diagnosis" / "guinea-bissau"
    print("features: ADFSU ...", flush=True)
    A = adfsu_features(adfsu_dir)
    A_c = adfsu_features(adfsu_dir, ch_names=COMMON)
    print("features: Guinea-Bissau ...", flush=True)
    G = guinea_bissau_features(gb_dir)
    G_c = guinea_bissau_features(gb_dir, ch_names=COMMON)

    # Cross-cohort: the same model family on the 10 shared electrodes, trained on one cohort, applied to the other.
    dem_c = DementiaScreen().fit(A_c, A_c["label"], A_c["subject"])
    epi_c = EpilepsyScreen().fit(G_c, G_c["label"], G_c["subject"])
    epi_c.set_params(min_clean_seconds=4.0)  # ADFSU has 8 s per person: lowered for this check only
    ctrl, ep = G_c[G_c["label"] == 0], G_c[G_c["label"] == 1]
    hc, ad = A_c[A_c["label"] == 0], A_c[A_c["label"] == 1]
    cross = {
        "channels": COMMON,
        "models": {"dementia": dem_c.model_, "epilepsy": epi_c.model_},
        "dementia_on_guinea_bissau": {
            "controls_called_positive": _rate(dem_c, ctrl),
            "epilepsy_called_positive": _rate(dem_c, ep),
        },
        "epilepsy_on_adfsu": {"healthy_called_positive": _rate(epi_c, hc), "ad_called_positive": _rate(epi_c, ad)},
    }
    # The same nested CV within each cohort on the 10 shared electrodes: what the reduced montage costs.
    for key, screen, X in (
        ("dementia_common_channels_cv", DementiaScreen(), A_c),
        ("epilepsy_common_channels_cv", EpilepsyScreen(), G_c),
    ):
        r = nested_cross_validate(screen, X, X["label"], X["subject"], repeats=args.repeats)
        cross[key] = {
            "pooled": r["pooled"],
            "fold_sd": {k: v["sd"] for k, v in r["spread"].items()},
            "chosen_model": r["chosen_model"],
        }
    print(json.dumps(cross, indent=1))
    for name, screen, X, cohort, caveats, text in [
        (
            "dementia",
            DementiaScreen(),
            A,
            ADFSU,
            DEMENTIA_CAVEATS,
            "Trained on ADFSU (10 shared electrodes), applied to Guinea-Bissau, whose people are neither demented nor "
            f"elderly as far as recorded: {cross['dementia_on_guinea_bissau']['controls_called_positive'][0]:.0%} of "
            f"{cross['dementia_on_guinea_bissau']['controls_called_positive'][1]} controls and "
            f"{cross['dementia_on_guinea_bissau']['epilepsy_called_positive'][0]:.0%} of "
            f"{cross['dementia_on_guinea_bissau']['epilepsy_called_positive'][1]} people with epilepsy are called "
            "dementia-positive. Only a false-positive rate can be measured this way (no demented person in that cohort). "
            "Within ADFSU, the same nested CV on the 10 shared electrodes gives balanced accuracy "
            f"{cross['dementia_common_channels_cv']['pooled']['balanced_accuracy']:.3f} and AUROC "
            f"{cross['dementia_common_channels_cv']['pooled']['auroc']:.3f}.",
        ),
        (
            "epilepsy",
            EpilepsyScreen(),
            G,
            GB,
            EPILEPSY_CAVEATS,
            "Trained on Guinea-Bissau (10 shared electrodes), applied to ADFSU (no epilepsy recorded; its 8-s segments "
            "are below the 30 s this screen needs, so the minimum was lowered to 4 s for this check only): "
            f"{cross['epilepsy_on_adfsu']['healthy_called_positive'][0]:.0%} of "
            f"{cross['epilepsy_on_adfsu']['healthy_called_positive'][1]} healthy elderly and "
            f"{cross['epilepsy_on_adfsu']['ad_called_positive'][0]:.0%} of {cross['epilepsy_on_adfsu']['ad_called_positive'][1]} "
            "people with AD are called epilepsy-positive. Within Guinea-Bissau, the same nested CV on the 10 shared "
            "electrodes gives balanced accuracy "
            f"{cross['epilepsy_common_channels_cv']['pooled']['balanced_accuracy']:.3f} and AUROC "
            f"{cross['epilepsy_common_channels_cv']['pooled']['auroc']:.3f}.",
        ),
    ]:
        print(f"training {name} ...", flush=True)
        out = MODELS / name
        metrics = write_model(screen, X, X["label"], X["subject"], out, cohort=cohort, repeats=args.repeats)
        metrics["cross_cohort"] = cross
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
        extra = caveats + "\n## Cross-cohort check\n\n" + text + "\n"
        (out / "MODEL_CARD.md").write_text(model_card(metrics, extra=extra), encoding="utf-8")
        for f in ("features.parquet", "cv_predictions.csv"):
            (out / f).unlink(missing_ok=True)
        cv = metrics["nested_cv"]
        print(name, json.dumps(cv["pooled"]), json.dumps({k: v["sd"] for k, v in cv["spread"].items()}))
        print(name, "chosen by the inner folds:", json.dumps(cv["chosen_model"]), "shipped:", metrics["model"])
        print(name, "inner AUROC per candidate:", json.dumps(cv["inner_auroc"]))
    print(json.dumps(cross, indent=1))


if __name__ == "__main__":
    main()
