"""The diagnosis step: screens, cited decision aids, similar cases; DIR/diagnosis.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..report import KeyValues, Note, Paragraph, Section, Table
from ..utils._time import format_time
from ._registry import AnalysisContext, StepResult, recording_clock, register_step

_SECTION = ("Diagnosis support", "diagnosis")
#: Fewer EEG channels than this give no screening.
MIN_CHANNELS = 4
#: Posterior alpha peak below this (Hz) counts as diffuse slowing (dbrain's threshold, not a guideline's).
SLOW_ALPHA_PEAK = 8.0
#: Without an alpha peak, a (theta+delta)/(alpha+beta) ratio above this counts as diffuse slowing.
SLOW_RATIO = 1.5
#: A mean artifact strength (qEEG step, 0 clean - 1 unusable) from this on gates the screens (dbrain's threshold).
HEAVY_ARTIFACT = 0.5
#: Event types after which resting-state screens are not meaningful.
_ACUTE = ("sz", "lpd", "gpd", "lrda", "grda", "burst_suppression")


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


def _gates(ctx: AnalysisContext, events: pd.DataFrame, *, artifact: bool = True) -> str | None:
    """Why no screen applies to this recording (seizures, acute patterns, heavy artifact), or None.

    ``artifact=False`` leaves out the qEEG artifact gate (for a screen that rescales the recording and chooses its own
    clean EEG, as the ADHD screen does: the qEEG artifact score uses absolute amplitudes).
    """
    types = events["eventType"].astype(str).str.lower() if len(events) and "eventType" in events else pd.Series(dtype=str)
    n_sz = int((types == "sz").sum())
    if n_sz:
        return (
            f"{n_sz} seizure(s) detected in this recording: the screens assume awake resting interictal EEG "
            "(review the seizures themselves)"
        )
    acute = sorted(set(types) & set(_ACUTE))
    if acute:
        return f"{', '.join(acute)} events in this recording: the screens assume awake resting EEG"
    qeeg = ctx.results.get("qeeg") if artifact else None
    art = (qeeg.summary or {}).get("mean_artifact_strength") if qeeg is not None else None
    if art is not None and np.isfinite(art) and art >= HEAVY_ARTIFACT:
        return f"heavy artifact (mean artifact strength {art:.2f}, from {HEAVY_ARTIFACT:g} on the screens are not run)"
    return None


#: The ADHD screen runs only below this age (years).
CHILD_AGE = 18.0
ADHD_CAVEAT = (
    "ADHD screen and theta/beta ratio: an aid beside a full clinical assessment only (as the FDA's 2013 NEBA decision "
    "allows), trained on 80 children aged 7-12 of one site during a counting task; it rests on phase coupling that "
    "may reflect the ADHD group's methylphenidate or the recording rather than ADHD, not validated (model card)"
)


#: The short caveat every screen result carries wherever it is shown in summary form (report page 1, summary.json).
SCREEN_CAVEAT = "research screen, not a diagnosis"
#: What each shipped model was trained and validated on (the model cards), after "validated only on N people aged A-B y".
SHIPPED_SCOPE = {
    "dementia": "of two research cohorts, Alzheimer's disease vs healthy, awake resting EEG",
    "epilepsy": "(ages not recorded) of one study in Guinea-Bissau, epilepsy vs controls, 14-channel consumer headset, "
    "eyes-closed rest",
    "adhd": "of one site during a counting task; it may reflect the ADHD group's methylphenidate or the recording rather "
    "than ADHD (30-45 Hz coupling alone separates the groups, AUROC 0.72)",
}


def screen_scope(name: str, screen, shipped: bool) -> str:
    """One line: how many people, of which ages, the screen's model was trained and validated on, and their cohort.

    Parameters
    ----------
    name : str
        Screen name (``dementia``, ``epilepsy``, ``adhd``).
    screen : dbrain.diagnosis._screens._Screen
        The loaded model.
    shipped : bool
        The model shipped with dbrain (its cohort is described by :data:`SHIPPED_SCOPE`); else its model card.

    Returns
    -------
    scope : str
    """
    n = (getattr(screen, "n_train_", None) or {}).get("subjects")
    ages = (getattr(screen, "applicability_", None) or {}).get("age_trained")
    who = f"{n} {'children' if name == 'adhd' else 'people'}" if n else "its training people"
    if ages:
        # the dementia cohorts: ds004504 documents 44-79 y, ADFSU no ages (model card)
        who += f" aged {ages[0]:g}-{ages[1]:g} y" + (" (where documented)" if shipped and name == "dementia" else "")
    what = SHIPPED_SCOPE.get(name, "") if shipped else "(see the model's card)"
    return f"validated only on {who} {what}".strip()


def _theta_beta(values: pd.Series, screen, age=None) -> dict | None:
    """The standardised theta/beta ratio as a z-score against the ADHD model's control-children norms.

    The z-score comes with a 90 % interval for the norm's own uncertainty (a mean and SD from ``n`` children:
    ``se(z)^2 = 1/n + z^2 / (2 (n - 1))``); outside the norms' age range the ratio is given without a z.
    """
    norms = (getattr(screen, "applicability_", None) or {}).get("theta_beta_norms")
    ratio = float(values.get("theta_beta_ratio", np.nan))
    if not norms or not np.isfinite(ratio) or ratio <= 0:
        return None
    out = {
        "ratio": ratio,
        "z": None,
        "z_interval": None,
        "definition": f"{norms['channel']}, theta {norms['bands_hz']['theta']} Hz / beta {norms['bands_hz']['beta']} Hz power, "
        f"{norms['scale']}",
        "norms": f"{norms['n_controls']} control children, {norms['ages']}, {norms['condition']}",
        "limits": "an aid only, never alone (FDA 2013, NEBA); task-based norms from one site, not age-adjusted; "
        "rises with drowsiness",
    }
    lo, hi = norms.get("age_range", (None, None))
    if age is not None and lo is not None and not lo <= float(age) <= hi:
        out["no_z_reason"] = f"no norms for age {float(age):g} y (control children were {lo:g}-{int(hi)} y)"
        return out
    z = float((np.log(ratio) - norms["mean_log"]) / norms["sd_log"])
    n = int(norms["n_controls"])
    se = float(np.sqrt(1.0 / n + z**2 / (2.0 * (n - 1))))
    out["z"], out["z_interval"] = z, [z - 1.645 * se, z + 1.645 * se]
    return out


def _caveats(s: dict) -> str:
    """One line: why a screen has no probability, else its interval notes, theta/beta z-score and caveats."""
    if s.get("reason"):
        return s["reason"]
    parts = list(s.get("interval_notes", []))
    tb = s.get("theta_beta")
    if tb and tb.get("z") is None:
        parts.append(f"theta/beta ratio {tb['ratio']:.2f}, {tb['no_z_reason']} ({tb['limits']})")
    elif tb:
        lo, hi = tb["z_interval"]
        parts.append(
            f"theta/beta ratio {tb['ratio']:.2f}, z = {tb['z']:+.1f} ({lo:+.1f} to {hi:+.1f}) vs {tb['norms']} ({tb['limits']})"
        )
    return "; ".join(parts + list(s.get("caveats", [])))


def _not_applicable(name: str, reason: str, model: str) -> dict:
    return {
        "screen": name,
        "status": "not applicable",
        "applicable": False,
        "outcome": "not applicable",
        "reason": reason,
        "probability": None,
        "interval": None,
        "interval_notes": [],
        "threshold": None,
        "drivers": [],
        "caveat": SCREEN_CAVEAT,
        "scope": None,
        "model": model,
        "features_imputed": [],
        "n_features": 0,
    }


def _num(v):
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v


@register_step(
    "diagnosis",
    "1",
    requires=("recording", "seizures", "qeeg", "spikes", "patterns", "network", "norms"),
    description="Dementia, epilepsy and child ADHD screening, cited decision aids and similar cases (DIR/diagnosis.json)",
    params={
        "dementia_model": None,
        "epilepsy_model": None,
        "adhd_model": None,
        "store": None,
        "max_duration": 300.0,
        "age": None,
    },
)
def diagnosis_step(
    ctx: AnalysisContext, dementia_model=None, epilepsy_model=None, adhd_model=None, store=None, max_duration=300.0, age=None
):
    """Dementia, epilepsy and (under 18) ADHD screening, cited decision aids and similar cases.

    Every screen is gated: "not applicable" with the reason when the
    recording has seizures or other acute patterns, heavy artifact, or when the
    person's age (``age``, else the header's birth date) is outside the range
    the screen applies to.
    """
    from ..diagnosis import DISCLAIMER, findings_from_events, recording_features, suggestions
    from ._steps_norms import recording_age

    n_eeg = sum(1 for c in ctx.raw.get_channel_types() if c == "eeg")
    events = _events(ctx)
    start, _, multiday = recording_clock(ctx)
    # the guideline table's "finding" column in the report's one time convention (clock time), not seconds
    when = lambda s: format_time(s, start, multiday=multiday)  # noqa: E731
    findings = findings_from_events(events, n_channels=n_eeg, when=when) if len(events) else []
    blocks = [Note(DISCLAIMER, "info")]
    screens = []
    feats = None
    if age is None:
        age, age_source = recording_age(ctx.raw), "header birth date"
    else:
        age, age_source = float(age), "given"
    gate = _gates(ctx, events)
    if n_eeg < MIN_CHANNELS:
        blocks.append(Note(f"No screening: {n_eeg} EEG channel(s), at least {MIN_CHANNELS} needed."))
    else:
        feats = recording_features(ctx.raw, max_duration=float(max_duration))
        models = {"dementia": dementia_model, "epilepsy": epilepsy_model, "adhd": adhd_model}
        screens = _run_screens(ctx, feats, events, gate, age, models, float(max_duration))
        findings += [f for f in map(_screen_finding, screens) if f is not None]
        gated = [s["screen"] for s in screens if s["status"] == "not applicable" and s.get("reason") == gate]
        if gate and gated:  # the dementia screen is not gated by heavy artifact: name the screens that are
            blocks.append(Note(f"Screens not applicable ({', '.join(gated)}): {gate}."))
        slow = _slowing(feats.values)
        if slow:
            findings.append(slow)
    sugg = suggestions(findings)
    cases, store_note = _similar_cases(ctx, store, feats)
    doc = {
        "disclaimer": DISCLAIMER,
        "age": age,
        "age_source": None if age is None else age_source,
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
        blocks += _screen_blocks(screens, feats)
    blocks.append(_suggestion_block(sugg))
    blocks.append(Note(store_note, "info"))
    if cases is not None:
        blocks.append(Table(cases))
    summary = {
        "computed": bool(screens),
        "screens": {
            # as page 1 of the report states them: never a probability without its interval, threshold and scope
            s["screen"]: {
                "outcome": s["outcome"],
                "probability": s["probability"],
                "interval": s.get("interval"),
                "interval_notes": s.get("interval_notes") or [],
                "threshold": s.get("threshold") if s["probability"] is not None else None,
                "reason": s.get("reason"),
                "caveat": s.get("caveat"),
                "scope": s.get("scope"),
            }
            for s in screens
        },
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


def _run_screens(
    ctx: AnalysisContext, feats, events: pd.DataFrame, gate: str | None, age, models: dict, max_duration: float = 300.0
) -> list[dict]:
    """Each screen's result, or "not applicable" with the reason (``models``: screen name → model path or None)."""
    from ..diagnosis import ADHDScreen, DementiaScreen, EpilepsyScreen, recording_features

    X = feats.to_frame()
    screens = []
    for cls, path in ((DementiaScreen, models["dementia"]), (EpilepsyScreen, models["epilepsy"]), (ADHDScreen, models["adhd"])):
        model_name = str(path) if path else f"shipped ({cls._name})"
        why = _adhd_gate(ctx, events, age) if cls is ADHDScreen else gate
        if cls is DementiaScreen:
            # the dementia screen rescales the recording and chooses its own clean EEG (widening its interval when
            # it must use artifact), so the qEEG artifact score, which uses absolute amplitudes, does not gate it
            why = _gates(ctx, events, artifact=False)
        if why:
            screens.append(_not_applicable(cls._name, why, model_name))
            continue
        screen = cls.load(path)
        app = screen.applicability_ or {}
        if cls is DementiaScreen and app.get("scale_to_uv") is not None:
            fa = screen.features_of(ctx.raw, max_duration=max_duration)  # rescaled, artifact fallback: its own path
            res = screen.assess(fa.to_frame(), age=age)[0]
        elif cls is ADHDScreen:
            # the ADHD model saw the first 60 s of each child, rescaled (units unknown): the same here
            scale = (screen.applicability_ or {}).get("scale_to_uv")
            band = (screen.applicability_ or {}).get("band_hz", (0.5, 45.0))
            cand = bool((screen.applicability_ or {}).get("candidate_features"))  # wPLI, regional 1/f, ... (session 7)
            fa = recording_features(
                ctx.raw, max_duration=60.0, network=False, scale_to_uv=scale, band=tuple(band), candidates=cand
            )
            res = screen.assess(fa.to_frame(), age=age)[0]
            res["theta_beta"] = _theta_beta(fa.values, screen, age)
            res["caveats"] = [ADHD_CAVEAT]
        else:
            fa = feats
            res = screen.assess(X, age=age)[0]
        res["model"] = model_name
        res["caveat"] = SCREEN_CAVEAT
        res["scope"] = screen_scope(cls._name, screen, shipped=not path)
        res["features_imputed"] = [f for f in screen.features_ if f in fa.missing]
        res["n_features"] = len(screen.features_)
        screens.append(res)
    return screens


def _adhd_gate(ctx: AnalysisContext, events: pd.DataFrame, age) -> str | None:
    """Why the ADHD screen does not apply (acute patterns; age unknown or adult), or None."""
    why = _gates(ctx, events, artifact=False)
    if not why:
        if age is None:
            why = (
                "age unknown (no --age and no birth date in the header): the ADHD screen runs only for people under 18 "
                "of the ages its model was trained on"
            )
        elif age >= CHILD_AGE:
            why = f"age {age:g} y: the ADHD screen runs only for people under {CHILD_AGE:g} of the ages its model was trained on"
    return why


def _screen_finding(res: dict) -> dict | None:
    """The finding a screen result adds (none from a screen that does not apply)."""
    name = res["screen"]
    if res["outcome"] == "insufficient data":
        return {"finding": "insufficient_data", "evidence": f"{name} screen: {res['reason']}"}
    if res["outcome"] == "not applicable":
        return None  # no finding, hence no suggestion, from a screen that does not apply
    return {
        "finding": f"{name}_screen_{res['outcome']}",
        "evidence": f"{name} screen probability {res['probability']:.2f} "
        f"(interval {res['interval'][0]:.2f}-{res['interval'][1]:.2f}) vs threshold {res['threshold']:.2f}"
        if res["interval"]
        else f"{name} screen probability {res['probability']:.2f}",
    }


def _similar_cases(ctx: AnalysisContext, store, feats):
    """The nearest recordings of the data store (or None) and the note that says where they come from."""
    from ..diagnosis import similar_cases

    if store is None or feats is None:
        return None, "No data store given (dbrain analyze --store STORE), so no similar cases."
    table = _case_table(store, ctx.info.path)
    if not len(table):
        return None, f"The data store '{store}' holds no other recording with diagnosis features."
    cases = similar_cases(feats.values, table, k=5)
    return cases, (
        f"Nearest {len(cases)} recordings of the data store '{store}' by standardised feature distance "
        "(this recording itself left out), with their recorded outcome."
    )


def _screen_blocks(screens: list[dict], feats) -> list:
    """The screens' table, the caveat on their training cohorts and the clean EEG used."""
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
                "threshold": "n/a" if s["threshold"] is None else f"{s['threshold']:.2f}",
                "features imputed": f"{len(s['features_imputed'])} of {s['n_features']}",
                "main drivers": ", ".join(f"{d['feature']} ({d['direction']})" for d in s["drivers"][:3]),
                "reason / caveats": _caveats(s),
            }
        )
    return [
        Table(
            pd.DataFrame(rows),
            caption="Calibrated screen probabilities (see the model cards for their subject-wise accuracy).",
        ),
        Paragraph(
            "The shipped screens were trained on small research cohorts (dementia: 131 people of two cohorts, evaluated "
            "leave-one-cohort-out; epilepsy: 65 people, 14-channel consumer headset) and assume awake resting EEG. "
            "Their probabilities transfer only partly to other amplifiers, montages or clinical states (see the model "
            "cards); treat them as a research aid."
        ),
        KeyValues([("Clean EEG used", f"{feats.clean_seconds:.0f} s on {len(feats.ch_names)} channels")]),
    ]


def _suggestion_block(sugg: list[dict]):
    """The guideline considerations the findings triggered, each with its source (or a note that none did)."""
    if not sugg:
        return Note("No finding triggered a knowledge-base entry.", "info")
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
    return Table(pd.DataFrame(srows), caption="Guideline considerations triggered by the findings, each with its source.")
