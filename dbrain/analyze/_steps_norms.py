"""The norms step: z-scores of this recording's qEEG and network features against a normative database."""

from __future__ import annotations

import datetime as dt

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..report import Figure, KeyValues, Note, Section, Table
from ._registry import AnalysisContext, StepResult, register_step

_SECTION = ("Normative comparison", "norms")
#: Relative band powers drawn as z-score head maps (the maps of clinical qEEG normative databases).
MAP_MEASURES = ("rel_delta", "rel_theta", "rel_alpha", "rel_beta")
#: Norms from fewer recordings than this get a warning (clinical databases hold hundreds per age bin).
SMALL_COHORT = 20
#: Deviations listed in the report.
MAX_ROWS = 25


def recording_age(raw) -> float | None:
    """Age in years at the recording from the header's birth date and start time, if both are there.

    Parameters
    ----------
    raw : mne.io.BaseRaw

    Returns
    -------
    age : float | None
    """
    birthday = (raw.info.get("subject_info") or {}).get("birthday")
    start = raw.info.get("meas_date")
    if birthday is None or start is None:
        return None
    if isinstance(birthday, tuple):  # older MNE: (year, month, day)
        birthday = dt.date(*birthday)
    days = (start.date() - birthday).days
    return days / 365.25 if days >= 0 else None


def _maps(z: pd.DataFrame, electrodes: list[str]):
    from ..detect.spikes import plot_topomap_values

    z = z[z["channel"].isin(electrodes)]  # the qEEG table also has regions and bipolar pairs
    measures = [m for m in MAP_MEASURES if (z["feature"] == m).sum() >= 4]
    if not measures:
        return None
    fig, axes = plt.subplots(1, len(measures), figsize=(3.2 * len(measures), 3.0), squeeze=False)
    for ax, measure in zip(axes[0], measures, strict=False):
        rows = z[(z["feature"] == measure) & np.isfinite(z["z"])]
        plot_topomap_values(rows["z"].to_numpy(), rows["channel"].tolist(), ax=ax, vlim=(-3.0, 3.0), label="z")
        ax.set_title(measure.replace("rel_", "relative "), fontsize="medium")
    fig.tight_layout()
    return fig


@register_step(
    "norms",
    "1",
    requires=("qeeg", "network"),
    description="Z-scores of qEEG and network features against a normative database (dbrain analyze --norms FILE).",
    params={"norms": None, "age": None},
)
def norms_step(ctx: AnalysisContext, norms=None, age=None) -> StepResult:
    """Z-scores of qEEG and network features against a normative database (dbrain analyze --norms FILE)."""
    if norms is None:
        return StepResult(summary={"computed": False, "reason": "no normative database given (--norms FILE)"})
    from ..store._norms import analysis_values, read_norms, zscores

    table = read_norms(norms)
    age_source = "given"
    if age is None:
        age, age_source = recording_age(ctx.raw), "header"
    values = analysis_values(ctx.results)
    if values.empty:
        reason = "no qEEG or network features to compare (the qeeg and network steps did not run or computed nothing)"
        return StepResult(
            summary={"computed": False, "reason": reason}, sections=[Section(*_SECTION, [Note(f"No z-scores: {reason}.")])]
        )
    z = zscores(values, table, age=None if age is None else float(age))
    scored = z[np.isfinite(z["z"])]
    binned = scored["age_min"].notna()
    n2, n3 = int((scored["z"].abs() >= 2).sum()), int((scored["z"].abs() >= 3).sum())
    if age is None:
        age_text = "unknown (all-ages norms)"
    else:
        bins = scored.loc[binned, ["age_min", "age_max"]].drop_duplicates()
        where = ", ".join(f"{lo:g}–{hi:g} y" for lo, hi in bins.itertuples(index=False)) or "none; all-ages norms"
        age_text = f"{float(age):.1f} years ({age_source}); age bin {where}"
    facts = [
        ("Normative file", str(norms)),
        ("Age", age_text),
        ("Features compared", f"{len(scored)} of {len(z)} (the others have no norm or no spread)"),
        ("|z| ≥ 2", f"{n2} ({n2 / max(len(scored), 1):.0%}; about 5 % expected by chance)"),
        ("|z| ≥ 3", str(n3)),
    ]
    blocks = [
        Note(
            "Z-scores are meaningful only if the normative cohort was recorded and analysed like this recording "
            "(amplifier, montage, eyes closed/open, vigilance, age). They describe a deviation, not a diagnosis."
        ),
        KeyValues(facts),
    ]
    fewest = int(scored["n"].min()) if len(scored) else 0
    if 0 < fewest < SMALL_COHORT:
        blocks.append(Note(f"Some norms rest on only {fewest} recordings: z-scores from so small a cohort are unstable."))
    eeg = [name for name, kind in zip(ctx.raw.ch_names, ctx.raw.get_channel_types(), strict=True) if kind == "eeg"]
    fig = _maps(scored, eeg)
    if fig is not None:
        blocks.append(Figure(fig, caption="Z-scores of relative band power per electrode (red above, blue below the norm; ±3)."))
    if len(scored):
        top = scored.reindex(scored["z"].abs().sort_values(ascending=False).index).head(MAX_ROWS)
        show = top[["source", "feature", "channel", "value", "mean", "sd", "n", "z"]].copy()
        for col in ("value", "mean", "sd"):
            show[col] = show[col].map(lambda v: f"{v:.4g}")
        show["z"] = show["z"].round(2)
        blocks.append(Table(show, caption=f"The {len(show)} largest deviations (of {len(scored)} features compared)."))
    summary = {
        "computed": True,
        "norms": str(norms),
        "age": None if age is None else float(age),
        "n_features": int(len(scored)),
        "n_abs_z_ge_2": n2,
        "n_abs_z_ge_3": n3,
        "table": "zscores.parquet (source, feature, channel, value, mean, sd, n, age_min, age_max, z)",
    }
    return StepResult(summary=summary, sections=[Section(*_SECTION, blocks)], tables={"zscores": z})
