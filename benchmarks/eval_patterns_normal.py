"""False ICU-pattern events per hour on real seizure-free normal EEG (issue 17, clinical safety).

Every LPD / GPD / LRDA / GRDA event on these recordings is false: none of the people has an ICU
pattern (healthy children, children with ADHD, Guinea-Bissau controls, the EEGLAB tutorial EEG,
cognitively normal older adults of ds004504). None of these recordings was used to train or choose
the pattern classifier (it is trained on simulations and the 12 IIIC segments).

Per recording the ACNS window features are computed once (``pattern_windows``); each model then
classifies the windows and the events are what the ``patterns`` step makes of them
(``reconcile_windows``) **without** a seizure-detector event (a detector event can only turn pattern
windows into seizure, so these are the step's pattern events at most). Models:

* ``v1`` — session-4 model (commit b5da289, ``model.json`` read from git);
* ``v2`` — the shipped model, probabilities as they are;
* ``v1+evidence`` / ``v2+evidence`` — the same probabilities with the ACNS evidence a pattern
  decision needs (``dbrain.detect._pattern_model.pattern_evidence``, the default of the step).

Usage (loaded 2-core machine: ~1-3 min)::

    nice -n 10 .venv/bin/python benchmarks/eval_patterns_normal.py [--data ../shared/data] [--max-seconds 300]

Each recording is cut to its first ``--max-seconds`` (default 300 s; the sets hold 1-6 min each).
ADFSU healthy controls hold 8 s per person: shorter than one 10 s window, so no event is possible
and the set is listed as not measurable.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from dbrain.channels import normalize_label
from dbrain.detect import patterns as pat
from dbrain.detect import reconcile_windows
from dbrain.detect._pattern_model import apply_definitions, model_features

ROOT = Path(__file__).resolve().parents[1]
EVENT_CLASSES = ("lpd", "gpd", "lrda", "grda")
V1_COMMIT = "b5da289"


def _raw(x_uv: np.ndarray, names, sfreq: float, max_seconds: float) -> mne.io.RawArray:
    x = np.asarray(x_uv, float)[:, : int(max_seconds * sfreq)]
    x = x - x.mean(axis=1, keepdims=True)
    return mne.io.RawArray(x * 1e-6, mne.create_info(list(names), float(sfreq), "eeg"), verbose="error")


def _recordings(data: Path, max_seconds: float):
    """Yield (dataset, recording id, Raw) for every normal recording found."""
    f = data / "developmental" / "adhd-children" / "adhd_children_128hz.npz"
    if f.exists():
        z = np.load(f)
        names = [normalize_label(str(c)).name for c in z["channels"]]
        for sub, grp in zip(z["subject"], z["group"], strict=True):
            # Units not stated by the source (1-40 Hz SD ~140 units): x 0.5 gives ~70 µV, as for the EDF.
            x = mne.filter.filter_data(z[f"eeg_{sub}"].astype(float), float(z["sfreq"]), 0.5, 45.0, verbose="error") * 0.5
            yield f"ADHD-set {grp}", str(sub), _raw(x, names, float(z["sfreq"]), max_seconds)
    gb = data / "epilepsy-diagnosis" / "guinea-bissau"
    if gb.exists():
        meta = pd.read_csv(gb / "metadata_guineabissau.csv")
        for sid in meta.loc[meta["Group"] == "Control", "subject.id"]:
            d = pd.read_csv(gb / "EEGs" / f"signal-{sid}.csv.gz")
            cols = ["AF3", "AF4", "F3", "F4", "F7", "F8", "FC5", "FC6", "O1", "O2", "P7", "P8", "T7", "T8"]
            x = d[cols].to_numpy(float).T  # µV with the Emotiv DC offset: high-pass
            x = mne.filter.filter_data(x - x.mean(axis=1, keepdims=True), 128.0, 0.5, 45.0, verbose="error")
            yield "Guinea-Bissau control", str(sid), _raw(x, [normalize_label(c).name for c in cols], 128.0, max_seconds)
    f = data / "dementia" / "ds004504" / "ds004504_95hz_5min.npz"
    if f.exists():
        z = np.load(f)
        names = [normalize_label(str(c)).name for c in z["channels"]]
        for sub, grp in zip(z["subject"], z["group"], strict=True):
            if str(grp) == "C":
                x = z[f"eeg_{sub}"].astype(float) * float(z["unit_uV"])
                yield "ds004504 healthy (CN)", str(sub), _raw(x, names, float(z["sfreq"]), max_seconds)
    f = data / "formats" / "eeglab-sample-data" / "sample_data" / "test_data" / "test.edf"
    if f.exists():
        raw = mne.io.read_raw_edf(f, preload=True, verbose="error").pick("eeg")
        raw.rename_channels({c: normalize_label(c).name for c in raw.ch_names})
        raw.crop(0, min(raw.times[-1], max_seconds))
        yield "EEGLAB sample", f.name, raw


def _v1_model() -> dict:
    text = subprocess.run(
        ["git", "show", f"{V1_COMMIT}:dbrain/detect/models/patterns/model.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(text)


def _probs_from(meta: dict):
    """Probabilities of a model.json (any feature list of this family), then the definitions."""
    mean, scale = np.asarray(meta["mean"]), np.asarray(meta["scale"])
    coef, icpt = np.asarray(meta["coef"]), np.asarray(meta["intercept"])

    def probs(windows: pd.DataFrame) -> pd.DataFrame:
        X = (model_features(windows)[meta["features"]].to_numpy(float) - mean) / scale
        z = X @ coef.T + icpt
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = pd.DataFrame(e / e.sum(axis=1, keepdims=True), columns=meta["classes"], index=windows.index)
        return apply_definitions(p, windows)[list(pat.PATTERN_CLASSES)]

    return probs


def _events(windows: pd.DataFrame, probs: pd.DataFrame, evidence: bool) -> pd.DataFrame:
    w = pd.concat([windows.reset_index(drop=True), probs.reset_index(drop=True)], axis=1)
    w["label"] = probs.idxmax(axis=1).to_numpy()
    return reconcile_windows(w, None, None, require_evidence=evidence).events


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args(argv)
    v2 = json.loads((ROOT / "dbrain" / "detect" / "models" / "patterns" / "model.json").read_text())
    models = {"v1": (_probs_from(_v1_model()), False), "v2": (_probs_from(v2), False)}
    models["v1+evidence"] = (models["v1"][0], True)
    models["v2+evidence"] = (models["v2"][0], True)
    rows = []
    t0 = time.perf_counter()
    for dataset, rec, raw in _recordings(args.data, args.max_seconds):
        windows = pat.pattern_windows(raw)
        hours = len(windows) * 10.0 / 3600.0
        for name, (probs, g) in models.items():
            ev = _events(windows, probs(windows), g)
            counts = ev["eventType"].value_counts() if len(ev) else pd.Series(dtype=int)
            row = {"dataset": dataset, "recording": rec, "model": name, "hours": hours, "events": len(ev)}
            row.update({c: int(counts.get(c, 0)) for c in EVENT_CLASSES})
            rows.append(row)
    df = pd.DataFrame(rows)
    print(
        f"# {df['recording'].nunique() if len(df) else 0} recordings, first {args.max_seconds:g} s each, "
        f"{time.perf_counter() - t0:.0f} s wall"
    )
    print("# ADFSU healthy controls: 8 s per person < one 10 s window: not measurable")
    for dataset, d in df.groupby("dataset", sort=False):
        print(f"\n## {dataset}")
        print("| model | recordings | hours | events | events/h | recordings with an event | " + " | ".join(EVENT_CLASSES) + " |")
        print("|---|---|---|---|---|---|" + "---|" * len(EVENT_CLASSES))
        for name, m in d.groupby("model", sort=False):
            h = m["hours"].sum()
            cls = " | ".join(str(int(m[c].sum())) for c in EVENT_CLASSES)
            print(
                f"| {name} | {len(m)} | {h:.2f} | {int(m['events'].sum())} | {m['events'].sum() / h:.2f} | "
                f"{int((m['events'] > 0).sum())} | {cls} |"
            )
    print("\n## all normal recordings")
    for name, m in df.groupby("model", sort=False):
        h = m["hours"].sum()
        print(
            f"{name}: {len(m)} recordings, {h:.2f} h, {int(m['events'].sum())} events, "
            f"{m['events'].sum() / h:.2f} /h, {int((m['events'] > 0).sum())} recordings with an event"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
