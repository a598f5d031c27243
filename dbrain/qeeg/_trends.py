"""ICU-style trend screen of a :class:`~dbrain.qeeg.QEEGResult`."""

from __future__ import annotations

import datetime as dt

import numpy as np
from matplotlib.figure import Figure

from ..errors import ParameterError
from ..utils import _check_range, _validate_type


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


def time_ticks(duration: float, meas_date=None, max_ticks: int = 12):
    """Ticks for a trend axis of ``duration`` s: clock time when the start is known, else elapsed time.

    Parameters
    ----------
    duration : float
        Span of the axis in seconds from the first sample.
    meas_date : datetime.datetime | None
        Start of the recording. Ticks then fall on round clock times
        (``HH:MM``, or ``HH:MM:SS`` for spacings under a minute), as an ICU
        trend screen shows them; otherwise on round elapsed times (``h:mm``).
    max_ticks : int
        Upper bound on the number of ticks.

    Returns
    -------
    ticks : numpy.ndarray
        Tick positions in seconds from the first sample.
    labels : list of str
    xlabel : str
        Axis label naming the start date (clock time) or "elapsed".
    """
    duration = max(float(duration), 1.0)
    spacing = next((s for s in _TICK_STEPS if duration / s <= max_ticks), _TICK_STEPS[-1])
    if meas_date is not None:
        midnight = meas_date.replace(hour=0, minute=0, second=0, microsecond=0)
        offset = (meas_date - midnight).total_seconds()  # clock seconds since midnight at the first sample
        first = np.ceil(offset / spacing) * spacing - offset
        ticks = np.arange(first, duration + 1e-9, spacing)
        fmt = "%H:%M:%S" if spacing < 60 else "%H:%M"
        labels = [(meas_date + dt.timedelta(seconds=float(t))).strftime(fmt) for t in ticks]
        tz = meas_date.strftime(" %Z") if meas_date.tzinfo is not None and meas_date.utcoffset() else ""
        return ticks, labels, f"clock time{tz} (recording started {meas_date:%Y-%m-%d %H:%M:%S})"
    ticks = np.arange(0.0, duration + 1e-9, spacing)
    if spacing < 60:
        labels = [f"{int(t // 60)}:{int(t % 60):02d}" for t in ticks]
        return ticks, labels, "elapsed time (min:s; recording start unknown)"
    labels = [f"{int(t // 3600)}:{int(t % 3600 // 60):02d}" for t in ticks]
    return ticks, labels, "elapsed time (h:mm; recording start unknown)"


def plot_trends(result, *, ecg=None, artifact=None, max_columns: int = 2000, title: str | None = None) -> Figure:
    """Draw the trend screen: DSA per hemisphere, asymmetry, aEEG, suppression (and optional rows).

    Panels share one time axis, labelled in clock time when the recording's
    start is known (:func:`time_ticks`): left and right
    hemisphere density spectral arrays (dB re 1 µV²/Hz), the hemispheric
    asymmetry spectrogram (red = more power on the left, blue = right), the
    aEEG bands of each pair on the semi-log CFM scale (linear 0–10 µV, log
    10–100 µV), the global suppression ratio (%), and if given the artifact
    strength and heart rate.

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

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from ._compute import QEEGResult

    _validate_type(result, QEEGResult, "result")
    _validate_type(max_columns, int, "max_columns")
    _check_range("max_columns", max_columns, 10, None)
    n_ep = result.times.size
    extra = []
    if artifact is not None:
        extra.append(("artifact\nstrength", _aligned("artifact", artifact, n_ep)))
    if ecg is not None:
        extra.append(("heart rate\n(bpm)", _aligned("ecg", ecg, n_ep)))

    factor = max(1, int(np.ceil(n_ep / max_columns)))
    step = result.params.get("step", 1.0)
    t_h = result.times[::factor] / 3600.0
    t_edges = np.r_[t_h, t_h[-1] + factor * step / 3600.0] if t_h.size else np.array([0.0, 1.0])
    f = result.freqs
    f_edges = np.r_[f - (f[1] - f[0]) / 2, f[-1] + (f[1] - f[0]) / 2]

    rows = [("dsa", "left"), ("dsa", "right"), ("asym", None), ("aeeg", None), ("sr", None), *(("extra", e) for e in extra)]
    heights = [2, 2, 1.6, 2, 1, *([1] * len(extra))]
    fig = Figure(figsize=(14, 1.4 * sum(heights) + 1), layout="constrained")
    axes = fig.subplots(len(rows), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    axes = np.atleast_1d(axes)

    def region_db(name):
        if name in result.region_names:
            return result.region_spectrogram[:, result.region_names.index(name)]
        return None

    dsa = {side: region_db(side) for side in ("left", "right")}
    valid = [d for d in dsa.values() if d is not None]
    if valid:
        stacked = np.concatenate([_bin_mean(d, factor).ravel() for d in valid])
        vmin, vmax = np.nanpercentile(stacked, [2, 98]) if stacked.size else (0, 1)
    for ax, (kind, what) in zip(axes, rows, strict=True):
        if kind == "dsa":
            data = dsa[what]
            if data is None:
                ax.text(0.5, 0.5, f"no {what}-hemisphere channels", ha="center", va="center", transform=ax.transAxes)
            else:
                mesh = ax.pcolormesh(
                    t_edges, f_edges, _bin_mean(data, factor).T, cmap="jet", vmin=vmin, vmax=vmax, shading="flat", rasterized=True
                )
                fig.colorbar(mesh, ax=ax, label="dB", pad=0.005, aspect=10)
            ax.set_ylabel(f"{what} DSA\nHz")
        elif kind == "asym":
            if result.pair_names:
                k = 0  # "left-right" when both hemispheres are present, else the first homologous pair
                mesh = ax.pcolormesh(
                    t_edges,
                    f_edges,
                    _bin_mean(result.asymmetry[:, k], factor).T,
                    cmap="RdBu_r",
                    vmin=-0.5,
                    vmax=0.5,
                    shading="flat",
                    rasterized=True,
                )
                fig.colorbar(mesh, ax=ax, label="L>R  (L−R)/(L+R)", pad=0.005, aspect=10)
                ax.set_ylabel(f"asymmetry\n{result.pair_names[k]}\nHz")
            else:
                ax.text(0.5, 0.5, "no homologous pairs", ha="center", va="center", transform=ax.transAxes)
        elif kind == "aeeg":
            colours = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
            for i, (pair, tab) in enumerate(result.aeeg.groupby("pair", sort=False)):
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
            if len(result.aeeg):
                ax.legend(loc="upper right", fontsize="small", ncols=2)
        elif kind == "sr":
            ax.plot(t_h, _bin_mean(result.suppression, factor), color="k", linewidth=0.8)
            ax.set_ylim(-2, 102)
            ax.set_ylabel("suppression\n%")
            for _, ev in result.burst_suppression.iterrows():
                ax.axvspan(ev["onset"] / 3600.0, (ev["onset"] + ev["duration"]) / 3600.0, color="tab:orange", alpha=0.3)
        else:
            label, values = what
            ax.plot(t_h, _bin_mean(values, factor), color="k", linewidth=0.8)
            ax.set_ylabel(label)
    ticks, labels, xlabel = time_ticks(t_edges[-1] * 3600.0, result.meas_date)
    axes[-1].set_xticks(ticks / 3600.0, labels)
    axes[-1].set_xlabel(xlabel)
    axes[-1].set_xlim(t_edges[0], t_edges[-1])
    fig.suptitle(title or f"qEEG trends — {result.duration / 3600:.1f} h, {len(result.ch_names)} channels")
    return fig
