"""The qEEG step: trend measures, artifact strength and heart rate over the whole recording."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..ecg import compute_heart_rate
from ..engine._qeeg import MIN_DURATION, QEEGStep
from ..events import EVENT_COLUMNS
from ..qeeg import compute_qeeg
from ..qeeg._reduce import TrendReducer
from ..report import KeyValues, Note, Section
from ._registry import AnalysisContext, StepResult, register_step

#: Time resolution (s) and frequency bin width (Hz) of viewer_trends.parquet (the viewer's DSA and artifact lanes).
VIEWER_RESOLUTION = 60.0
VIEWER_FREQ_BIN = 1.0
_VIEWER_ORDER = ["start", "channel", "measure", "freq"]


def viewer_trends(result, resolution: float = VIEWER_RESOLUTION, freq_bin: float = VIEWER_FREQ_BIN) -> pd.DataFrame:
    """The viewer's compact trend table: hemisphere spectrograms (DSA) and artifact share by type, per ``resolution`` s.

    Parameters
    ----------
    result : dbrain.qeeg.QEEGResult
    resolution : float
        Seconds per row (epochs are averaged, in dB for the spectrogram).
    freq_bin : float
        Width of the frequency bins of the spectrogram, Hz.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``start`` (s), ``channel`` (``left``/``right`` for the DSA, ``all`` for artifacts),
        ``measure`` (``dsa`` in dB re 1 µV²/Hz, or ``artifact_<type>``: the share of channel-epochs whose dominant
        artifact is that type, 0–1), ``freq`` (bin centre, Hz; NaN for artifacts), ``value`` (float32).
    """
    from ..qeeg import ARTIFACT_TYPES

    columns = ["start", "channel", "measure", "freq", "value"]
    times = np.asarray(result.times, float)
    if times.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("start", "freq", "value") else object) for c in columns})
    bins = np.floor(times / resolution).astype(np.int64)
    starts, inverse = np.unique(bins, return_inverse=True)
    counts = np.bincount(inverse).astype(float)
    frames = []

    def per_row(values: np.ndarray) -> np.ndarray:  # (n_epochs, k) → (n_rows, k) means
        out = np.zeros((starts.size, values.shape[1]))
        np.add.at(out, inverse, np.nan_to_num(values.astype(np.float64)))
        return out / counts[:, None]

    fbins = np.floor((np.asarray(result.freqs) - result.freqs[0]) / freq_bin).astype(int)
    centres = result.freqs[0] + (np.unique(fbins) + 0.5) * freq_bin
    for side in ("left", "right"):
        if side not in result.region_names:
            continue
        spec = np.asarray(result.region_spectrogram[:, result.region_names.index(side), :], np.float32)
        coarse = np.stack([spec[:, fbins == k].mean(axis=1) for k in np.unique(fbins)], axis=1)
        grid = per_row(coarse)
        frames.append(
            pd.DataFrame(
                {
                    "start": np.repeat(starts * resolution, centres.size).astype(float),
                    "channel": side,
                    "measure": "dsa",
                    "freq": np.tile(centres, starts.size),
                    "value": grid.ravel().astype(np.float32),
                }
            )
        )
    kinds = np.asarray(result.artifact_type)
    if kinds.ndim == 2 and kinds.shape[1]:
        share = np.stack([(kinds == k).mean(axis=1) for k in range(1, len(ARTIFACT_TYPES))], axis=1)
        grid = per_row(share)
        names = [f"artifact_{t}" for t in ARTIFACT_TYPES[1:]]
        frames.append(
            pd.DataFrame(
                {
                    "start": np.repeat(starts * resolution, len(names)).astype(float),
                    "channel": "all",
                    "measure": np.tile(names, starts.size),
                    "freq": np.nan,
                    "value": grid.ravel().astype(np.float32),
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("start", "freq", "value") else object) for c in columns})
    return pd.concat(frames, ignore_index=True)[columns].sort_values(_VIEWER_ORDER, ignore_index=True)


class _QEEGStep(QEEGStep):
    """The engine's qEEG trends plus the heart rate of the ECG channel (read from the file at finish).

    The per-epoch values are reduced as they come (``TrendReducer``): the viewer's per-minute table is
    built from whole minutes and the report's trend pages are kept decimated to the columns they draw,
    so that memory does not grow with the recording; the tables equal those of the whole result.
    The heart rate comes from the engine's ``ecg_peaks`` product (the ECG is scanned once, for this
    step and the spike step's ECG rule), not from reading the ECG channel again.
    """

    requires = ("signal", "ecg_peaks")

    def start(self, info) -> None:
        self._ecg = info.products.get("ecg_peaks")
        super().start(info)

    def _reducer(self) -> TrendReducer:
        from ..report._clinical import TREND_PAGE_HOURS

        self._viewer_parts = []
        return TrendReducer(
            resolution=VIEWER_RESOLUTION,
            on_block=lambda block: self._viewer_parts.append(viewer_trends(block)),
            page_seconds=TREND_PAGE_HOURS * 3600.0,
        )

    def finish(self) -> StepResult:
        base = super().finish()
        if not base.summary.get("computed"):
            return base
        p = self.params_
        viewer = pd.concat(self._viewer_parts, ignore_index=True).sort_values(_VIEWER_ORDER, ignore_index=True)
        self._viewer_parts = []
        return qeeg_numbers(
            base.data,
            self.context.raw,
            p["window"],
            p["step"],
            p["fmin"],
            p["fmax"],
            table=base.tables["qeeg"],
            viewer=viewer,
            reducer=self.reducer,
            peaks=None if self._ecg is None else self._ecg.result(),
        )


@register_step(
    "qeeg",
    "3",
    description="Trend measures (DSA, asymmetry, aEEG, band powers, suppression), artifact strength, heart rate.",
    # n_jobs: threads (and specparam processes) for one recording; it does not change the results.
    # dbrain batch sets it to 1 and runs recordings in parallel instead.
    params=dict(QEEGStep.params),
    stream=_QEEGStep,
    render=lambda result, ctx, params: qeeg_sections(result, **params),
)
def qeeg_step(ctx: AnalysisContext, window: float, step: float, fmin: float, fmax: float, n_jobs: int = 2) -> StepResult:
    """Trend measures, artifact strength and heart rate on the whole recording.

    ``dbrain analyze`` runs the engine's form (:class:`dbrain.engine.QEEGStep`, fed the chunks the
    engine reads); this is the whole-recording form it is tested against. Numbers only: see :func:`qeeg_sections`.
    """
    raw = ctx.raw
    duration = raw.n_times / raw.info["sfreq"]
    has_eeg = "eeg" in raw.get_channel_types()
    if not has_eeg or duration < MIN_DURATION:
        reason = "no EEG channels" if not has_eeg else f"recording shorter than {MIN_DURATION:g} s"
        return StepResult(summary={"computed": False, "reason": reason})
    # Mains frequency for the line-noise score: the recording's own when its format stores it, else 50 Hz.
    line_freq = raw.info["line_freq"] or 50.0
    result = compute_qeeg(raw, window=window, step=step, fmin=fmin, fmax=fmax, line_freq=line_freq, n_jobs=n_jobs)
    return qeeg_numbers(result, raw, window, step, fmin, fmax)


def qeeg_numbers(
    result, raw, window: float, step: float, fmin: float, fmax: float, *, table=None, viewer=None, reducer=None, peaks=None
) -> StepResult:
    """The qEEG step's table, events and summary from a :class:`~dbrain.qeeg.QEEGResult` and the ECG of ``raw``.

    ``table``, ``viewer`` and ``reducer``: the tables and report pages already reduced from a result
    whose per-epoch arrays were not kept (:class:`dbrain.qeeg._reduce.TrendReducer`). ``peaks``: the
    ECG's R-peak scan already made (the engine's ``ecg_peaks`` product), instead of reading the ECG of ``raw``.
    """
    trend, hr_events = compute_heart_rate(raw, _peaks=peaks)
    hr = None
    if len(trend) > 1:
        hr = np.interp(result.times, trend["time"].to_numpy(), trend["hr_trend"].to_numpy(), left=np.nan, right=np.nan)
    art = result.artifact
    table = result.to_frame() if table is None else table
    events = [e[EVENT_COLUMNS] for e in (result.burst_suppression, hr_events) if len(e)]
    mean_art = float(np.nanmean(art)) if art.size else float("nan")
    summary = {
        "computed": True,
        "n_epochs": int(len(result.times)),
        "median_suppression_ratio": float(np.nanmedian(result.suppression)),
        "n_burst_suppression": int(len(result.burst_suppression)),
        "mean_artifact_strength": mean_art,
        "median_heart_rate": float(np.nanmedian(trend["hr"])) if len(trend) > 1 else None,
        "n_heart_events": int(len(hr_events)),
        "table": "qeeg.parquet (start, channel, measure, value; per minute)",
        "viewer_table": "viewer_trends.parquet (start, channel, measure, freq, value; hemisphere DSA and artifact share by type, per minute)",
    }
    return StepResult(
        summary=summary,
        events=pd.concat(events, ignore_index=True) if events else None,
        tables={"qeeg": table, "viewer_trends": viewer_trends(result) if viewer is None else viewer},
        # For the renderers (this step's section and the report's trend pages); not written.
        data={
            "qeeg": result,
            "heart_rate": hr,
            "trend": trend,
            "hr_events": hr_events,
            "trend_pages": None if reducer is None else reducer.pages(result, ecg=hr),
        },
    )


def qeeg_sections(step_result: StepResult, window: float, step: float, fmin: float, fmax: float, n_jobs: int = 2) -> list:
    """The trends report section, from the step's result (drawn only when a report is made)."""
    if not step_result.summary.get("computed"):
        return [Section("Trend measures", "trends", [Note(f"No trends: {step_result.summary['reason']}.")])]
    data = step_result.data
    result, trend, hr_events = data["qeeg"], data["trend"], data["hr_events"]
    mean_art = step_result.summary["mean_artifact_strength"]
    facts = [
        ("Epochs", f"{len(result.times)} × {window:g} s, step {step:g} s, {fmin:g}–{fmax:g} Hz"),
        ("Median suppression ratio", f"{np.nanmedian(result.suppression):.1f} %"),
        ("Burst-suppression periods", str(len(result.burst_suppression))),
        ("Mean artifact strength", f"{mean_art:.2f} (0 clean – 1 unusable)"),
        (
            "Heart rate",
            f"median {np.nanmedian(trend['hr']):.0f} bpm from {trend.attrs.get('channel')}"
            if len(trend) > 1
            else trend.attrs.get("note", "no ECG channel"),
        ),
        ("Heart-rhythm events", str(len(hr_events))),
    ]
    # The trend figures are drawn by the report (dbrain.report._clinical), in pages of at most 6 h with event marks.
    return [Section("Trend measures", "trends", [KeyValues(facts)])]
