"""The diagnosis step: screens, cited decision aids, similar cases; DIR/diagnosis.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..report import KeyValues, Note, Paragraph, Section, Table
from ._registry import AnalysisContext, StepResult, register_step

_SECTION = ("Diagnosis support", "diagnosis")
#: Fewer EEG channels than this give no screening.
MIN_CHANNELS = 4
#: Posterior alpha peak below this (Hz) counts as diffuse slowing (dbrain's threshold, not a guideline's).
SLOW_ALPHA_PEAK = 8.0
#: Without an alpha peak, a (theta+delta)/(alpha+beta) ratio above this counts as diffuse slowing.
SLOW_RATIO = 1.5


_LABELS = {
    "investigations": "Investigations",
    "referral": "Referral",
    "consider": "Medication classes to consider",
    "avoid": "Medication classes to avoid or use with caution",
    "notes": "Note",
}


def _events(ctx: AnalysisContext) -> pd.DataFrame:
    frames = [r.events for r in ctx.results.values() if r.events is not None and len(r.events)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["onset", "eventType", "channels"])


def _slowing(values: pd.Series) -> dict | None:
    paf, ratio = values.get("alpha_peak", np.nan), values.get("slowing_ratio", np.nan)
    if np.isfinite(paf) and paf < SLOW_ALPHA_PEAK:
        return {"finding": "diffuse_slowing", "evidence": f"posterior alpha peak {paf:.1f} Hz (< {SLOW_ALPHA_PEAK:g} Hz)"}
    if not np.isfinite(paf) and np.isfinite(ratio) and ratio > SLOW_RATIO:
        return {"finding": "diffuse_slowing", "evidence": f"no alpha peak; slowing ratio {ratio:.2f} (> {SLOW_RATIO:g})"}
    return None


def _case_table(store, path) -> pd.DataFrame:
    """The cases of a feature-store folder (``dbrain batch``) or of a Parquet case table, without this recording."""
    from pathlib import Path

    if Path(store).is_dir():
        from ..store import case_table
        from ..utils._hash import sha256_path as hash_recording

        table = case_table(store)
        return table[table["sha256"] != hash_recording(path)].reset_index(drop=True)
    return pd.read_parquet(store)


def _num(v):
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v


@register_step(
    "diagnosis",
    "1",
    requires=("recording", "seizures", "qeeg", "spikes", "patterns", "network", "norms"),
    description="Dementia and epilepsy screening, cited decision aids and similar cases (DIR/diagnosis.json)",
    params={"dementia_model": None, "epilepsy_model": None, "store": None, "max_duration": 300.0},
)
def diagnosis_step(ctx: AnalysisContext, dementia_model=None, epilepsy_model=None, store=None, max_duration=300.0):
    """Dementia and epilepsy screening, cited decision aids and similar cases."""
    from ..diagnosis import (
        DISCLAIMER,
        DementiaScreen,
        EpilepsyScreen,
        findings_from_events,
        recording_features,
        similar_cases,
        suggestions,
    )

    n_eeg = sum(1 for c in ctx.raw.get_channel_types() if c == "eeg")
    events = _events(ctx)
    findings = findings_from_events(events, n_channels=n_eeg) if len(events) else []
    blocks = [Note(DISCLAIMER, "info")]
    screens = []
    feats = None
    if n_eeg < MIN_CHANNELS:
        blocks.append(Note(f"No screening: {n_eeg} EEG channel(s), at least {MIN_CHANNELS} needed."))
    else:
        feats = recording_features(ctx.raw, max_duration=float(max_duration))
        X = feats.to_frame()
        for cls, path in ((DementiaScreen, dementia_model), (EpilepsyScreen, epilepsy_model)):
            screen = cls.load(path)
            res = screen.assess(X)[0]
            res["model"] = str(path) if path else f"shipped ({cls._name})"
            res["features_imputed"] = [f for f in screen.features_ if f in feats.missing]
            res["n_features"] = len(screen.features_)
            screens.append(res)
            name = res["screen"]
            if res["outcome"] == "insufficient data":
                findings.append({"finding": "insufficient_data", "evidence": f"{name} screen: {res['reason']}"})
            else:
                findings.append(
                    {
                        "finding": f"{name}_screen_{res['outcome']}",
                        "evidence": f"{name} screen probability {res['probability']:.2f} "
                        f"(interval {res['interval'][0]:.2f}-{res['interval'][1]:.2f}) vs threshold {res['threshold']:.2f}"
                        if res["interval"]
                        else f"{name} screen probability {res['probability']:.2f}",
                    }
                )
        acute = sorted(
            {f["finding"] for f in findings if f["finding"] in ("sz", "lpd", "gpd", "lrda", "grda", "burst_suppression")}
        )
        if acute:
            blocks.append(
                Note(
                    f"This recording has {', '.join(acute)} events: the screens assume awake resting EEG and their "
                    "probabilities are not meaningful here."
                )
            )
        slow = _slowing(feats.values)
        if slow:
            findings.append(slow)
    sugg = suggestions(findings)
    cases, store_note = None, "No data store given (dbrain analyze --store STORE), so no similar cases."
    if store is not None and feats is not None:
        table = _case_table(store, ctx.info.path)
        if len(table):
            cases = similar_cases(feats.values, table, k=5)
            store_note = (
                f"Nearest {len(cases)} recordings of the data store '{store}' by standardised feature distance "
                "(this recording itself left out), with their recorded outcome."
            )
        else:
            store_note = f"The data store '{store}' holds no other recording with diagnosis features."
    doc = {
        "disclaimer": DISCLAIMER,
        "clean_seconds": None if feats is None else feats.clean_seconds,
        "channels": [] if feats is None else feats.ch_names,
        "features": {} if feats is None else {k: _num(float(v)) for k, v in feats.values.items()},
        "features_missing": {} if feats is None else feats.missing,
        "screens": screens,
        "findings": findings,
        "suggestions": sugg,
        "similar_cases": None if cases is None else cases.to_dict(orient="records"),
    }
    if screens:
        rows = []
        for s in screens:
            p = "n/a" if s["probability"] is None else f"{s['probability']:.2f}"
            iv = f"{s['interval'][0]:.2f}–{s['interval'][1]:.2f}" if s.get("interval") else "n/a"
            rows.append(
                {
                    "screen": s["screen"],
                    "outcome": s["outcome"],
                    "probability": p,
                    "interval (5–95 %)": iv,
                    "threshold": f"{s['threshold']:.2f}",
                    "features imputed": f"{len(s['features_imputed'])} of {s['n_features']}",
                    "main drivers": ", ".join(f"{d['feature']} ({d['direction']})" for d in s["drivers"][:3]),
                }
            )
        blocks.append(
            Table(
                pd.DataFrame(rows),
                caption="Calibrated screen probabilities (see the model cards for their subject-wise accuracy).",
            )
        )
        blocks.append(
            Paragraph(
                "The shipped screens were trained on small research cohorts (dementia: 88 people, 8 s of eyes-closed EEG each; "
                "epilepsy: 65 people, 14-channel consumer headset) and assume awake resting EEG. Their probabilities do not "
                "transfer reliably to other amplifiers, montages or clinical states; treat them as a research aid."
            )
        )
        blocks.append(KeyValues([("Clean EEG used", f"{feats.clean_seconds:.0f} s on {len(feats.ch_names)} channels")]))
    if sugg:
        srows = [
            {
                "finding": s["trigger"],
                "suggestion": s["title"],
                "considerations": " ".join(
                    f"{_LABELS.get(k, k.capitalize())}: {' '.join(v)}" for k, v in s["considerations"].items() if v
                ),
                "source": "; ".join(f"{src['name']} ({src['year']}), {src['section']}" for src in s["sources"]),
            }
            for s in sugg
        ]
        blocks.append(
            Table(pd.DataFrame(srows), caption="Guideline considerations triggered by the findings, each with its source.")
        )
    else:
        blocks.append(Note("No finding triggered a knowledge-base entry.", "info"))
    blocks.append(Note(store_note, "info"))
    if cases is not None:
        blocks.append(Table(cases))
    summary = {
        "computed": bool(screens),
        "screens": {s["screen"]: {"outcome": s["outcome"], "probability": s["probability"]} for s in screens},
        "n_findings": len(findings),
        "n_suggestions": len(sugg),
        # the feature vector, so feature stores built from summaries (dbrain batch) can find similar cases
        "features": {} if feats is None else {k: float(v) for k, v in feats.values.items() if np.isfinite(v)},
    }
    return StepResult(
        summary=summary,
        sections=[Section(*_SECTION, blocks)],
        files={"diagnosis.json": (json.dumps(doc, indent=1, default=str) + "\n").encode("utf-8")},
    )
