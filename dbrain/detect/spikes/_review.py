"""Spike review: detections grouped by focus, with an averaged spike and its map per group.

A reader confirms or rejects a whole cluster at once, as in Persyst's Spike
Review. Clustering is deterministic and explainable:

1. every detection's *topography* is the deflection of each electrode (common
   average, 1–40 Hz) at the detection's peak, from its 200–80 ms baseline;
2. detections are first grouped by peak electrode;
3. groups whose mean topographies correlate at ``min_correlation`` or more
   are merged, most similar pair first (average linkage on the group means),
   so a focus whose maximum alternates between two neighbouring electrodes
   is one cluster, while two foci with different fields stay apart;
4. per cluster: the count, the focus (most frequent peak electrode), the
   averaged waveform of all electrodes, the mean topography (head map) and
   the ``n_examples`` detections whose topography is closest to the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mne
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure
from scipy import signal

from ...errors import ParameterError
from ...utils import _check_range, _validate_type
from ._detector import _BAND, _BASELINE, SPIKE_REGIONS, _montages

_PAD = 1.0  # s of signal read either side of the window, for the filter


@dataclass
class SpikeCluster:
    """One group of detections with the same focus and field.

    Attributes
    ----------
    label : int
        Cluster number, 0 for the largest.
    focus : str
        Most frequent peak electrode.
    region : str
        Region of the focus (see :data:`dbrain.detect.spikes.SPIKE_REGIONS`).
    indices : ndarray of int
        Rows of the spike table in this cluster.
    peak_channels : dict of str to int
        Count of detections per peak electrode.
    times : ndarray, shape (n_times,)
        Seconds from the peak of the waveforms.
    mean_waveform : ndarray, shape (n_channels, n_times)
        Averaged spike (µV, common average, 1–40 Hz) of the detections read.
    topography : ndarray, shape (n_channels,)
        Mean deflection at the peak (µV; negative = surface-negative).
    examples : ndarray, shape (n_examples, n_channels, n_times)
        Waveforms of the representative detections.
    example_indices : ndarray of int
        Their rows in the spike table.
    n_averaged : int
        Detections averaged (all of them unless ``max_per_cluster`` capped it).
    """

    label: int
    focus: str
    region: str
    indices: np.ndarray
    peak_channels: dict
    times: np.ndarray
    mean_waveform: np.ndarray
    topography: np.ndarray
    examples: np.ndarray
    example_indices: np.ndarray
    n_averaged: int

    @property
    def count(self) -> int:
        """Number of detections in the cluster."""
        return int(self.indices.size)


@dataclass
class SpikeReview:
    """Spike detections clustered by focus.

    Attributes
    ----------
    clusters : list of SpikeCluster
        Largest first.
    labels : ndarray of int, shape (n_spikes,)
        Cluster label of each row of the spike table.
    channels : list of str
        Electrodes of the waveforms and topographies (common average).
    duration : float
        Recording duration in seconds (for rates).
    spikes : pandas.DataFrame
        The spike table the review was made from (rows match ``labels``).
    """

    clusters: list[SpikeCluster]
    labels: np.ndarray
    channels: list[str]
    duration: float
    spikes: pd.DataFrame = field(repr=False, default=None)

    def to_frame(self) -> pd.DataFrame:
        """One row per cluster: ``cluster, focus, region, count, per_hour, amplitude, confidence, peak_channels``."""
        rows = []
        for c in self.clusters:
            sub = self.spikes.iloc[c.indices]
            rows.append(
                {
                    "cluster": c.label,
                    "focus": c.focus,
                    "region": c.region,
                    "count": c.count,
                    "per_hour": c.count / (self.duration / 3600.0),
                    "amplitude": float(sub["amplitude"].median()),
                    "confidence": float(sub["confidence"].mean()),
                    "peak_channels": ", ".join(f"{k} {v}" for k, v in c.peak_channels.items()),
                }
            )
        cols = ["cluster", "focus", "region", "count", "per_hour", "amplitude", "confidence", "peak_channels"]
        return pd.DataFrame(rows, columns=cols)


def _epochs(avg, peaks: np.ndarray, sfreq: float, lo: int, hi: int) -> np.ndarray:
    """Waveforms of samples ``[peak + lo, peak + hi)`` (n, n_channels, hi - lo), µV, 1–40 Hz; read per detection."""
    sos = signal.butter(4, _BAND, "bandpass", fs=sfreq, output="sos")
    pad = int(round(_PAD * sfreq))
    out = np.zeros((peaks.size, len(avg.ch_names), hi - lo), np.float32)
    for k, p in enumerate(peaks):
        a, b = p + lo - pad, p + hi + pad
        ra, rb = max(a, 0), min(b, avg.n_times)
        seg = np.zeros((len(avg.ch_names), b - a))
        seg[:, ra - a : rb - a] = avg.get_data(start=ra, stop=rb) * 1e6
        out[k] = signal.sosfiltfilt(sos, seg, axis=-1)[:, pad : pad + hi - lo]
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def review_spikes(
    raw,
    spikes: pd.DataFrame,
    *,
    window=(-0.3, 0.5),
    min_correlation: float = 0.8,
    n_examples: int = 5,
    max_per_cluster: int = 500,
) -> SpikeReview:
    """Group spike detections by focus (peak electrode and field topography).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording the spikes were detected in (lazy is fine).
    spikes : pandas.DataFrame
        Output of :meth:`dbrain.detect.spikes.SpikeDetector.detect`.
    window : tuple of float
        Seconds before (negative) and after the peak of the waveforms.
    min_correlation : float
        Peak-electrode groups whose mean topographies correlate at least this
        much are merged (0–1).
    n_examples : int
        Representative detections kept per cluster.
    max_per_cluster : int
        At most this many detections, evenly spaced in time, are read to form
        a cluster's averaged waveform (all are counted).

    Returns
    -------
    review : SpikeReview
    """
    _validate_type(spikes, pd.DataFrame, "spikes", "DataFrame")
    for col in ("peak_time", "peak_channel"):
        if col not in spikes.columns:
            raise ParameterError(f"spikes lacks column {col!r}: pass the table returned by SpikeDetector.detect")
    _check_range("min_correlation", float(min_correlation), 0.0, 1.0)
    _check_range("n_examples", int(n_examples), 1, 100)
    _check_range("max_per_cluster", int(max_per_cluster), 10, 100000)
    if not (len(window) == 2 and window[0] < 0 < window[1]):
        raise ParameterError(f"window must be (before < 0, after > 0) seconds around the peak, got {window!r}")
    sfreq = float(raw.info["sfreq"])
    avg, _, names = _montages(raw)
    duration = raw.n_times / sfreq
    spikes = spikes.reset_index(drop=True)
    n = len(spikes)
    if n == 0:
        return SpikeReview([], np.zeros(0, int), names, duration, spikes)
    peaks = np.round(spikes["peak_time"].to_numpy(float) * sfreq).astype(int)
    # Topographies: read every detection around its peak only (cheap), in groups of the peak electrode.
    near = max(1, int(round(0.015 * sfreq)))
    b0, b1 = int(round(_BASELINE[0] * sfreq)), int(round(_BASELINE[1] * sfreq))
    topo_epochs = _epochs(avg, peaks, sfreq, b0, near + 1)
    base = topo_epochs[:, :, : b1 - b0].mean(axis=-1)
    at_peak = topo_epochs[:, :, -b0 - near :]
    focus_idx = np.array([names.index(c) if c in names else 0 for c in spikes["peak_channel"]])
    # Value of every electrode at the time the peak electrode is most negative.
    where = at_peak[np.arange(n), focus_idx].argmin(axis=-1)
    topo = at_peak[np.arange(n), :, where] - base

    groups = {ch: np.flatnonzero(spikes["peak_channel"].to_numpy() == ch) for ch in pd.unique(spikes["peak_channel"])}
    members = [g for g in groups.values()]
    means = [topo[g].mean(axis=0) for g in members]
    while len(members) > 1:
        best, pair = -2.0, None
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                r = _corr(means[i], means[j])
                if r > best:
                    best, pair = r, (i, j)
        if best < min_correlation:
            break
        i, j = pair
        merged = np.sort(np.concatenate([members[i], members[j]]))
        members = [m for k, m in enumerate(members) if k not in (i, j)] + [merged]
        means = [topo[m].mean(axis=0) for m in members]
    members.sort(key=lambda m: (-m.size, m[0]))
    labels = np.empty(n, int)
    clusters = []
    lo, hi = int(round(window[0] * sfreq)), int(round(window[1] * sfreq))
    times = np.arange(lo, hi) / sfreq
    for label, idx in enumerate(members):
        labels[idx] = label
        counts = spikes["peak_channel"].iloc[idx].value_counts()
        focus = str(counts.index[0])
        mean_topo = topo[idx].mean(axis=0)
        sim = np.array([_corr(topo[k], mean_topo) for k in idx])
        # Representative: the closest to the cluster's mean field, highest confidence breaking ties.
        conf = spikes["confidence"].to_numpy(float)[idx]
        order = np.lexsort((-np.nan_to_num(conf), -np.round(sim, 3)))
        ex_idx = idx[order[: int(n_examples)]]
        read = idx if idx.size <= max_per_cluster else idx[np.linspace(0, idx.size - 1, int(max_per_cluster)).astype(int)]
        waves = _epochs(avg, peaks[read], sfreq, lo, hi)
        examples = _epochs(avg, peaks[ex_idx], sfreq, lo, hi)
        clusters.append(
            SpikeCluster(
                label=label,
                focus=focus,
                region=SPIKE_REGIONS.get(focus, "other"),
                indices=idx,
                peak_channels={str(k): int(v) for k, v in counts.items()},
                times=times,
                mean_waveform=waves.mean(axis=0),
                topography=mean_topo,
                examples=examples,
                example_indices=ex_idx,
                n_averaged=int(read.size),
            )
        )
    return SpikeReview(clusters, labels, names, duration, spikes)


def _info(channels: list[str], sfreq: float = 100.0):
    info = mne.create_info(list(channels), sfreq, "eeg")
    info.set_montage(mne.channels.make_standard_montage("colin27_1005"), match_case=False, on_missing="ignore")
    return info


#: Fewest electrodes a head map is interpolated from.
MIN_HEAD_MAP_CHANNELS = 3


def plot_topomap_values(values, channels, *, ax, cmap="RdBu_r", vlim=None, label=""):
    """Draw one value per electrode as a head map (MNE's ``plot_topomap`` on standard 10-05 positions).

    Electrodes without a distinct standard position (T1/T2, Sp1/Sp2, Pg1/Pg2,
    unknown labels, a second name for the same place) and non-finite values
    are left out (:func:`dbrain.channels.head_positions`) and named under the
    map; with fewer than three left the axes say why no map is drawn.

    Parameters
    ----------
    values : array-like, shape (n_channels,)
        Values to map.
    channels : list of str
        Electrode names (10-20/10-10).
    ax : matplotlib.axes.Axes
        Axes to draw into.
    cmap : str
        Colour map.
    vlim : tuple of float | None
        Colour limits; symmetric around 0 from the data if None and the values
        change sign, else from 0 to the maximum.
    label : str
        Colour-bar label.

    Returns
    -------
    image : matplotlib.image.AxesImage | None
        None when no map could be drawn.
    """
    from ...channels import head_positions

    values = np.asarray(values, float).reshape(-1)
    sel = head_positions(list(channels), values)
    note = sel.note()
    if len(sel.channels) < MIN_HEAD_MAP_CHANNELS:
        ax.set_axis_off()
        why = f"head map not drawn: {len(sel.channels)} electrode(s) with a standard position"
        ax.text(
            0.5, 0.5, why + (f"\n{note}" if note else ""), ha="center", va="center", fontsize=7, wrap=True, transform=ax.transAxes
        )
        return None
    values = values[sel.index]
    if vlim is None:
        m = float(np.nanmax(np.abs(values))) or 1.0
        vlim = (-m, m) if np.nanmin(values) < 0 else (0.0, m)
    im, _ = mne.viz.plot_topomap(
        values, _info(sel.channels), axes=ax, show=False, cmap=cmap, vlim=vlim, names=sel.channels, sensors=True, contours=0
    )
    cbar = ax.figure.colorbar(im, ax=ax, shrink=0.7)
    cbar.set_label(label, fontsize="small")
    if note:
        ax.text(0.5, -0.02, note, ha="center", va="top", fontsize=6, wrap=True, transform=ax.transAxes)
    return im


def plot_spike_cluster(
    review: SpikeReview, cluster: SpikeCluster, *, title: str | None = None, start=None, multiday: bool | None = None
) -> MplFigure:
    """The review page of one cluster: averaged spike on all electrodes, head map, representative examples.

    Parameters
    ----------
    review : SpikeReview
        Output of :func:`review_spikes`.
    cluster : SpikeCluster
        One of ``review.clusters``.
    title : str | None
        Figure title (a default names the cluster, focus and count).
    start : datetime.datetime | None
        Clock time of the first sample: the examples are labelled in clock time (``D2 …`` across
        midnight), else in elapsed time (``+0:01:05.1``), by :func:`dbrain.utils._time.format_time`.
    multiday : bool | None
        Day prefix on the labels (default: whether the recording crosses midnight).

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    from ...utils._time import format_time, is_multiday

    if multiday is None:
        multiday = is_multiday(start, review.duration)
    chans = review.channels
    fig = MplFigure(figsize=(11, 4.6), layout="constrained")
    gs = fig.add_gridspec(1, 3, width_ratios=[1.3, 1.0, 1.6])
    ax_w, ax_t, ax_e = fig.add_subplot(gs[0]), fig.add_subplot(gs[1]), fig.add_subplot(gs[2])
    t = cluster.times * 1000.0
    wave = cluster.mean_waveform
    spacing = max(20.0, float(np.percentile(np.ptp(wave, axis=-1), 90)) * 0.6)
    fi = chans.index(cluster.focus) if cluster.focus in chans else 0
    for k in range(len(chans)):
        # EEG convention: negative up.
        ax_w.plot(t, -wave[k] - k * spacing, color="C3" if k == fi else "0.2", lw=1.2 if k == fi else 0.7)
    ax_w.set_yticks([-k * spacing for k in range(len(chans))], chans, fontsize=7)
    ax_w.axvline(0, color="0.6", lw=0.6, ls=":")
    ax_w.set_xlabel("ms from peak")
    ax_w.set_title(f"averaged spike (n = {cluster.n_averaged}, average ref., negative up)", fontsize="small")
    ax_w.plot([t[-1] - 5, t[-1] - 5], [0, -50], color="k", lw=2)
    ax_w.text(t[-1] - 10, -25, "50 µV", ha="right", va="center", fontsize=6)
    plot_topomap_values(cluster.topography, chans, ax=ax_t, label="µV at peak")
    ax_t.set_title("field at the peak", fontsize="small")
    times = review.spikes["peak_time"].to_numpy()
    ex_spacing = max(40.0, float(np.percentile(np.ptp(cluster.examples[:, fi], axis=-1), 90)) * 0.8)
    for k, ex in enumerate(cluster.examples):
        ax_e.plot(t, -ex[fi] - k * ex_spacing, color="0.2", lw=0.8)
        ax_e.text(
            t[0],
            -k * ex_spacing + 0.3 * ex_spacing,
            format_time(float(times[cluster.example_indices[k]]), start, multiday=multiday, decimals=1),
            fontsize=6,
            color="0.3",
        )
    ax_e.set_yticks([])
    ax_e.set_xlabel("ms from peak")
    ax_e.set_title(f"representative detections at {cluster.focus} (negative up)", fontsize="small")
    fig.suptitle(title or f"Cluster {cluster.label + 1}: focus {cluster.focus} ({cluster.region}), {cluster.count} detections")
    return fig


def plot_spike_rate_map(rates: pd.DataFrame, channels, *, title: str | None = None) -> MplFigure:
    """Head map of the spike rate per hour by peak electrode, with the regional rates beside it.

    Parameters
    ----------
    rates : pandas.DataFrame
        Output of :func:`dbrain.detect.spikes.spike_rates`.
    channels : list of str
        Electrodes to map (those of the recording).
    title : str | None
        Figure title.

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    per_ch = rates[rates["level"] == "channel"].set_index("name")["per_hour"]
    values = np.array([float(per_ch.get(c, 0.0)) for c in channels])
    fig = MplFigure(figsize=(8.5, 3.6), layout="constrained")
    ax_m, ax_b = fig.subplots(1, 2, width_ratios=[1.0, 1.2])
    plot_topomap_values(values, list(channels), ax=ax_m, cmap="Reds", vlim=(0.0, max(values.max(), 1.0)), label="spikes / h")
    ax_m.set_title("rate by peak electrode", fontsize="small")
    reg = rates[rates["level"] == "region"].sort_values("per_hour")
    ax_b.barh(reg["name"], reg["per_hour"], color="C3")
    ax_b.set_xlabel("spikes per hour")
    ax_b.set_title("rate by region", fontsize="small")
    ax_b.tick_params(axis="y", labelsize=7)
    if title:
        fig.suptitle(title)
    return fig
