"""ICU-style trend screen of a :class:`~dbrain.qeeg.QEEGResult`."""

from __future__ import annotations

import datetime as dt

import numpy as np
from matplotlib.figure import Figure

from ..errors import ParameterError
from ..utils import _check_range, _validate_type
from ._spectral import ASYMMETRY_LABEL


def _semilog(y):
    """Cerebral-function-monitor scale: linear 0–10 µV on [0, 1], log 10–100 µV on [1, 2]."""
    y = np.asarray(y, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y <= 10.0, y / 10.0, 1.0 + np.log10(np.maximum(y, 10.0) / 10.0))


def _bin_mean(values: np.ndarray, factor: int) -> np.ndarray:
    """NaN-ignoring mean of consecutive groups of ``factor`` rows (axis 0)."""
    if factor <= 1:
        return values.astype(np.float32)
    edges = np.arange(0, values.shape[0], factor)
    v = values.astype(np.float32)
    finite = np.isfinite(v)
    s = np.add.reduceat(np.where(finite, v, 0), edges, axis=0)
    n = np.add.reduceat(finite.astype(np.int32), edges, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / n


def _aligned(name: str, values, n_epochs: int) -> np.ndarray:
    arr = np.asarray(values, float)
    if arr.ndim == 2:
        arr = np.nanmean(arr, axis=1) if arr.shape[1] else np.full(arr.shape[0], np.nan)
    if arr.ndim != 1 or arr.shape[0] != n_epochs:
        raise ParameterError(
            f"{name} must hold one value per epoch ({n_epochs}), or (n_epochs, n_channels); got shape {np.shape(values)}."
        )
    return arr


#: Tick spacings (s) for the time axis: the smallest giving at most ~12 ticks is used.
_TICK_STEPS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)


def time_ticks(duration: float, meas_date=None, max_ticks: int = 12, *, tmin: float = 0.0, multiday: bool | None = None):
    """Ticks for a trend axis of ``duration`` s: clock time when the start is known, else elapsed time.

    Labels follow dbrain's one time convention (:func:`dbrain.utils._time.format_time`): clock time,
    with the day (``D2 11:00``) on every label when the recording crosses midnight, elapsed time
    (``+1:30``) only when the start is unknown.

    Parameters
    ----------
    duration : float
        Span of the axis in seconds (from ``tmin``).
    meas_date : datetime.datetime | None
        Start of the recording. Ticks then fall on round clock times
        (``HH:MM``, or ``HH:MM:SS`` for spacings under a minute), as an ICU
        trend screen shows them; otherwise on round elapsed times (``+h:mm``).
    max_ticks : int
        Upper bound on the number of ticks.
    tmin : float
        Where the axis starts, in seconds from the first sample (a page of a long recording).
    multiday : bool | None
        Whether the recording crosses midnight (:func:`dbrain.utils._time.is_multiday` of the whole
        recording); None decides from the axis itself (``tmin + duration``).

    Returns
    -------
    ticks : numpy.ndarray
        Tick positions in seconds from the first sample.
    labels : list of str
    xlabel : str
        Axis label naming the start date (clock time) or "elapsed".
    """
    from ..utils._time import format_time, is_multiday

    duration = max(float(duration), 1.0)
    tmin = float(tmin)
    tmax = tmin + duration
    spacing = next((s for s in _TICK_STEPS if duration / s <= max_ticks), _TICK_STEPS[-1])
    if meas_date is not None:
        if multiday is None:
            multiday = is_multiday(meas_date, tmax)
        midnight = meas_date.replace(hour=0, minute=0, second=0, microsecond=0)
        offset = (meas_date - midnight).total_seconds()  # clock seconds since midnight at the first sample
        first = np.ceil((offset + tmin) / spacing) * spacing - offset
        ticks = np.arange(first, tmax + 1e-9, spacing)
        fmt = "%H:%M:%S" if spacing < 60 else "%H:%M"
        labels = []
        for t in ticks:
            stamp = meas_date + dt.timedelta(seconds=float(t))
            day = f"D{(stamp.date() - meas_date.date()).days + 1} " if multiday else ""
            labels.append(day + stamp.strftime(fmt))
        tz = meas_date.strftime(" %Z") if meas_date.tzinfo is not None and meas_date.utcoffset() else ""
        days = ", D1 = the start's day" if multiday else ""
        return ticks, labels, f"clock time{tz} (recording started {meas_date:%Y-%m-%d %H:%M:%S}{days})"
    ticks = np.arange(np.ceil(tmin / spacing) * spacing, tmax + 1e-9, spacing)
    if spacing < 60:
        labels = [format_time(float(t)) for t in ticks]
        return ticks, labels, "elapsed time (+h:mm:ss; recording start unknown)"
    labels = [f"+{int(t // 3600)}:{int(t % 3600 // 60):02d}" for t in ticks]
    return ticks, labels, "elapsed time (+h:mm; recording start unknown)"


def plot_trends(
    result,
    *,
    ecg=None,
    artifact=None,
    max_columns: int = 2000,
    title: str | None = None,
    tmin: float | None = None,
    tmax: float | None = None,
    events=None,
    seizure_probability=None,
    multiday: bool | None = None,
    figsize: tuple[float, float] | None = None,
    max_ticks: int = 12,
    fontsize: float | None = None,
) -> Figure:
    """Draw the trend screen: DSA per hemisphere, asymmetry, aEEG, suppression (and optional rows).

    Panels share one time axis, labelled in clock time when the recording's
    start is known (:func:`time_ticks`): left and right
    hemisphere density spectral arrays (dB re 1 µV²/Hz), the hemispheric
    asymmetry spectrogram (red = more power on the left, blue = right), the
    aEEG bands of each pair on the semi-log CFM scale (linear 0–10 µV, log
    10–100 µV), the global suppression ratio (%), and if given the seizure
    probability, the artifact strength and heart rate.

    Parameters
    ----------
    result : QEEGResult
    ecg : array-like | None
        Heart rate (beats/min), one value per epoch of ``result``.
    artifact : array-like | None
        Artifact strength, one value per epoch, or (n_epochs, n_channels)
        (averaged over channels).
    max_columns : int
        At most this many time columns are drawn (epochs are averaged in
        groups), which keeps a 24 h figure light.
    title : str | None
    tmin, tmax : float | None
        Draw only this part of the recording (seconds from the first sample), e.g. one 6 h page
        of a 24 h recording; default the whole of it.
    events : pandas.DataFrame | None
        Events to mark on every panel (``onset``, ``duration``, ``eventType``; an optional
        ``label`` column is written above the first panel): seizures (``sz``) as red bands,
        other events with a duration as amber bands, instantaneous ones (spikes) as ticks.
    seizure_probability : tuple of (array-like, array-like, float) | None
        ``(times, probability, threshold)``: a row with the seizure probability and its on
        threshold, times in seconds from the first sample.
    multiday : bool | None
        Whether the recording crosses midnight (day prefix on the labels, see :func:`time_ticks`);
        None decides from the recording's duration.
    figsize : tuple of float | None
        Width and height in inches; default 14 in wide, 1.4 in per unit of panel height.
    max_ticks : int
        At most this many time labels.
    fontsize : float | None
        Size of every text in points (e.g. for a figure drawn at its printed size); default matplotlib's.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import pandas as pd

    from ..utils._time import is_multiday
    from ._compute import QEEGResult

    _validate_type(result, QEEGResult, "result")
    _validate_type(max_columns, int, "max_columns")
    _check_range("max_columns", max_columns, 10, None)
    if events is not None:
        _validate_type(events, pd.DataFrame, "events", "pandas.DataFrame")
    n_ep = result.times.size
    extra = []
    if artifact is not None:
        extra.append(("artifact\nstrength", _aligned("artifact", artifact, n_ep)))
    if ecg is not None:
        extra.append(("heart rate\n(bpm)", _aligned("ecg", ecg, n_ep)))

    step = result.params.get("step", 1.0)
    lo = 0.0 if tmin is None else float(tmin)
    hi = (result.duration or (result.times[-1] + step if n_ep else 1.0)) if tmax is None else float(tmax)
    if not hi > lo:
        raise ParameterError(f"tmax ({hi:g} s) must be after tmin ({lo:g} s).")
    if multiday is None:
        multiday = is_multiday(result.meas_date, result.duration or hi)
    keep = np.flatnonzero((result.times >= lo) & (result.times < hi))
    sel = slice(keep[0], keep[-1] + 1) if keep.size else slice(0, 0)
    times = result.times[sel]
    factor = max(1, int(np.ceil(times.size / max_columns)))
    t_h = times[::factor] / 3600.0
    t_edges = np.r_[t_h, t_h[-1] + factor * step / 3600.0] if t_h.size else np.array([lo, hi]) / 3600.0
    f = result.freqs
    f_edges = np.r_[f - (f[1] - f[0]) / 2, f[-1] + (f[1] - f[0]) / 2]

    rows = [("dsa", "left"), ("dsa", "right"), ("asym", None), ("aeeg", None), ("sr", None)]
    heights = [2, 2, 1.6, 2, 1]
    if seizure_probability is not None:
        rows.append(("szp", seizure_probability))
        heights.append(1)
    rows += [("extra", e) for e in extra]
    heights += [1] * len(extra)
    fig = Figure(figsize=figsize or (14, 1.4 * sum(heights) + 1), layout="constrained")
    axes = fig.subplots(len(rows), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    axes = np.atleast_1d(axes)

    def region_db(name):
        if name in result.region_names:
            return result.region_spectrogram[sel, result.region_names.index(name)]
        return None

    dsa = {side: region_db(side) for side in ("left", "right")}
    valid = [d for d in dsa.values() if d is not None and d.size]
    if valid:
        stacked = np.concatenate([_bin_mean(d, factor).ravel() for d in valid])
        vmin, vmax = np.nanpercentile(stacked, [2, 98]) if np.isfinite(stacked).any() else (0, 1)
    for ax, (kind, what) in zip(axes, rows, strict=True):
        if kind == "dsa":
            data = dsa[what]
            if data is None or not data.size:
                ax.text(0.5, 0.5, f"no {what}-hemisphere channels", ha="center", va="center", transform=ax.transAxes)
            else:
                mesh = ax.pcolormesh(
                    t_edges, f_edges, _bin_mean(data, factor).T, cmap="jet", vmin=vmin, vmax=vmax, shading="flat", rasterized=True
                )
                fig.colorbar(mesh, ax=ax, label="dB", pad=0.005, aspect=10)
            ax.set_ylabel(f"{what} DSA\nHz")
        elif kind == "asym":
            if result.pair_names and times.size:
                k = 0  # "left-right" when both hemispheres are present, else the first homologous pair
                mesh = ax.pcolormesh(
                    t_edges,
                    f_edges,
                    _bin_mean(result.asymmetry[sel, k], factor).T,
                    cmap="RdBu_r",
                    vmin=-0.5,
                    vmax=0.5,
                    shading="flat",
                    rasterized=True,
                )
                fig.colorbar(mesh, ax=ax, label=ASYMMETRY_LABEL, pad=0.005, aspect=10)
                ax.set_ylabel(f"asymmetry\n{result.pair_names[k]}\nHz")
            else:
                ax.text(0.5, 0.5, "no homologous pairs", ha="center", va="center", transform=ax.transAxes)
        elif kind == "aeeg":
            colours = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
            aeeg = result.aeeg[(result.aeeg["start"] >= lo) & (result.aeeg["start"] < hi)] if len(result.aeeg) else result.aeeg
            for i, (pair, tab) in enumerate(aeeg.groupby("pair", sort=False)):
                x = tab["start"].to_numpy() / 3600.0
                ax.fill_between(
                    x,
                    _semilog(tab["lower"]),
                    _semilog(tab["upper"]),
                    step="post",
                    alpha=0.45,
                    color=colours[i % 4],
                    label=pair,
                    linewidth=0,
                )
            ticks = [0, 5, 10, 25, 50, 100]
            ax.set_yticks(_semilog(ticks), [str(t) for t in ticks])
            ax.set_ylim(0, 2)
            ax.axhline(1.0, color="0.6", linewidth=0.5)
            ax.set_ylabel("aEEG\nµV")
            if len(aeeg):
                ax.legend(loc="upper right", fontsize="small", ncols=2)
        elif kind == "sr":
            ax.plot(t_h, _bin_mean(result.suppression[sel], factor), color="k", linewidth=0.8)
            ax.set_ylim(-2, 102)
            ax.set_ylabel("suppression\n%")
            for _, ev in result.burst_suppression.iterrows():
                ax.axvspan(ev["onset"] / 3600.0, (ev["onset"] + ev["duration"]) / 3600.0, color="tab:orange", alpha=0.3)
        elif kind == "szp":
            st, sp, threshold = what
            st, sp = np.asarray(st, float), np.asarray(sp, float)
            inside = (st >= lo) & (st < hi)
            st, sp = st[inside], sp[inside]
            pf = max(1, int(np.ceil(st.size / max_columns)))
            n = st.size // pf * pf
            if n:  # the highest value of each group, so a short seizure is not averaged away
                ax.plot(st[:n:pf] / 3600.0, sp[:n].reshape(-1, pf).max(axis=1), color="C0", linewidth=0.8)
            ax.axhline(float(threshold), color="C3", linestyle="--", linewidth=0.7)
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("seizure\nprobability")
        else:
            label, values = what
            ax.plot(t_h, _bin_mean(values[sel], factor), color="k", linewidth=0.8)
            ax.set_ylabel(label)
    if events is not None and len(events):
        _mark_events(axes, events, lo, hi)
    ticks, labels, xlabel = time_ticks(hi - lo, result.meas_date, max_ticks, tmin=lo, multiday=multiday)
    axes[-1].set_xticks(ticks / 3600.0, labels)
    axes[-1].set_xlabel(xlabel)
    axes[-1].set_xlim(lo / 3600.0, hi / 3600.0)
    suptitle = fig.suptitle(title or f"qEEG trends — {result.duration / 3600:.1f} h, {len(result.ch_names)} channels")
    if fontsize is not None:  # per artist, so no global matplotlib state is touched
        for ax in fig.axes:
            ax.tick_params(labelsize=fontsize)
            for text in (ax.xaxis.label, ax.yaxis.label, *ax.texts):
                text.set_fontsize(fontsize)
            legend = ax.get_legend()
            for text in legend.get_texts() if legend is not None else ():
                text.set_fontsize(fontsize)
        suptitle.set_fontsize(fontsize + 1.5)
    return fig


#: Event colours on the trend panels.
_SEIZURE_RED, _PATTERN_AMBER, _TICK = "#c0392b", "#d08c1a", "#222222"


def _mark_events(axes, events, lo: float, hi: float) -> None:
    """Mark events without hiding the trends under them.

    Seizures: a red onset line on every panel, a shaded band only on the line panels (the spectrograms
    stay readable), a numbered label above the top panel. Other events with a duration (rhythmic and
    periodic patterns): amber bands on the line panels. Instantaneous events (spikes): ticks above the
    top panel.
    """
    top = axes[0]
    from matplotlib.collections import QuadMesh

    spectral = [ax for ax in axes if any(isinstance(c, QuadMesh) for c in ax.collections)]
    lines = [ax for ax in axes if ax not in spectral]
    labels = events["label"] if "label" in events.columns else [None] * len(events)
    for onset, dur, kind, label in zip(events["onset"], events["duration"], events["eventType"], labels, strict=True):
        onset, dur = float(onset), float(dur) if np.isfinite(dur) else 0.0
        if onset + dur < lo or onset > hi:
            continue
        x0, x1 = onset / 3600.0, (onset + max(dur, 0.0)) / 3600.0
        if str(kind) == "sz":
            for ax in axes:
                ax.axvline(x0, color=_SEIZURE_RED, linewidth=0.8, zorder=4)
            for ax in lines:
                ax.axvspan(x0, x1, color=_SEIZURE_RED, alpha=0.18, linewidth=0)
            top.plot(
                [x0],
                [1.0],
                marker="v",
                color=_SEIZURE_RED,
                markersize=7,
                transform=top.get_xaxis_transform(),
                clip_on=False,
                zorder=6,
            )
            if label:
                top.annotate(
                    str(label),
                    (x0, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, 9),
                    textcoords="offset points",
                    fontsize=7.5,
                    color=_SEIZURE_RED,
                    fontweight="bold",
                    annotation_clip=False,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6},
                    zorder=7,
                )
        elif dur > 0:
            for ax in lines:
                ax.axvspan(x0, x1, color=_PATTERN_AMBER, alpha=0.18, linewidth=0)
        else:
            top.plot(
                [x0, x0], [1.0, 1.06], color=_TICK, linewidth=0.6, transform=top.get_xaxis_transform(), clip_on=False, zorder=6
            )
