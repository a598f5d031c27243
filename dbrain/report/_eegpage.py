"""A page of EEG drawn the way a clinical reviewer shows it."""

from __future__ import annotations

import datetime as dt

import mne
import numpy as np
from matplotlib.figure import Figure as MplFigure

_SEIZURE_WORDS = ("sz", "seizure", "ictal", "szr")


def select_page_start(raw: mne.io.BaseRaw, duration: float = 10.0) -> float:
    """Choose where a representative page starts (seconds from the first sample).

    The page is centred on the first annotation that names a seizure
    (``sz``, ``seizure``, ``ictal``); otherwise it starts in the middle of
    the recording, moved out of any ``BAD_ACQ_SKIP`` gap. The page always
    lies within the data.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (annotations are read, samples are not).
    duration : float
        Page length in seconds.

    Returns
    -------
    start : float
    """
    length = raw.n_times / raw.info["sfreq"]
    duration = min(duration, length)
    first = raw.first_samp / raw.info["sfreq"]
    ann = raw.annotations
    offset = first if ann.orig_time is not None else 0.0
    for onset, dur, text in zip(ann.onset, ann.duration, ann.description, strict=True):
        words = text.lower().replace("(", " ").replace(",", " ").split()
        if any(w in _SEIZURE_WORDS for w in words):
            centre = onset - offset + dur / 2
            return float(np.clip(centre - duration / 2, 0, length - duration))
    start = (length - duration) / 2
    for onset, dur, text in zip(ann.onset, ann.duration, ann.description, strict=True):
        onset -= offset
        if text == "BAD_ACQ_SKIP" and onset < start + duration and start < onset + dur:
            start = onset + dur if onset + dur + duration <= length else max(onset - duration, 0)
    return float(np.clip(start, 0, length - duration))


def _filtered(data: np.ndarray, sfreq: float, highpass, lowpass, notch) -> np.ndarray:
    nyq = sfreq / 2
    lp = lowpass if lowpass and lowpass < nyq * 0.95 else None
    hp = highpass if highpass and highpass > 0 else None
    if hp or lp:
        data = mne.filter.filter_data(
            data, sfreq, hp, lp, method="iir", iir_params={"order": 2, "ftype": "butter"}, verbose="error"
        )
    if notch and notch < nyq * 0.95:
        data = mne.filter.notch_filter(data, sfreq, notch, method="iir", verbose="error")
    return data


def plot_eeg_page(
    raw: mne.io.BaseRaw,
    *,
    start: float,
    duration: float = 10.0,
    title: str | None = None,
    scale_uv: float | None = None,
    highpass: float | None = 1.0,
    lowpass: float | None = 70.0,
    notch: float | None = None,
    groups: list[list[str]] | None = None,
) -> MplFigure:
    """Draw one page of EEG: stacked traces, 1 s grid, scale bar, filter settings.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Already in the montage to show (see :func:`dbrain.montages.apply_montage`);
        only the page (plus padding for the filters) is read, so it may be lazy
        and long.
    start, duration : float
        The page, in seconds from the first sample; clipped to the data.
    title : str | None
        Title above the page.
    scale_uv : float | None
        Vertical distance between traces in µV; by default from the page's
        robust amplitude.
    highpass, lowpass, notch : float | None
        Display filters in Hz (IIR, as a reviewer's); None switches one off.
    groups : list of list of str | None
        Channel groups drawn with a gap between them (the chains of a bipolar
        montage).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    sfreq = raw.info["sfreq"]
    length = raw.n_times / sfreq
    duration = max(min(duration, length), 1.0 / sfreq)
    start = float(np.clip(start, 0, max(length - duration, 0)))
    pad = 2.0  # seconds each side so the filters settle outside the page
    i0 = int(round(start * sfreq))
    i1 = min(i0 + int(round(duration * sfreq)), raw.n_times)
    p0, p1 = max(i0 - int(pad * sfreq), 0), min(i1 + int(pad * sfreq), raw.n_times)
    names = list(raw.ch_names)
    order = [c for g in groups for c in g if c in names] if groups else names
    data = raw.get_data(picks=order, start=p0, stop=p1) * 1e6
    data = np.nan_to_num(data)
    if data.shape[1] > 3 * 8:
        data = _filtered(data, sfreq, highpass, lowpass, notch)
    data = data[:, i0 - p0 : i1 - p0]
    data = data - np.median(data, axis=1, keepdims=True)
    t = start + np.arange(data.shape[1]) / sfreq

    if scale_uv is None:
        spread = np.percentile(np.abs(data), 95, axis=1) if data.size else np.array([0.0])
        typical = float(np.median(spread[spread > 0])) if np.any(spread > 0) else 50.0
        wanted = float(np.clip(2.0 * typical, 10.0, 2000.0))
        # Round to a value a reader knows from paper EEG (…, 50, 100, 150, 200, 300, 500 µV).
        nice = np.array([10, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 1500, 2000], float)
        scale_uv = float(nice[np.argmin(np.abs(np.log(nice / wanted)))])
    # Vertical positions, top to bottom, with a blank row between groups.
    y, pos = 0.0, []
    group_of = {c: gi for gi, g in enumerate(groups or [names]) for c in g}
    last_group = None
    for c in order:
        if last_group is not None and group_of.get(c) != last_group:
            y -= 0.6
        pos.append(y)
        last_group = group_of.get(c)
        y -= 1.0

    height = max(2.5, 0.28 * len(order) + 1.2)
    fig = MplFigure(figsize=(11.0, height))
    # Fixed margins in inches, so one channel and forty look alike.
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.55 / height, top=1 - 0.35 / height)
    ax = fig.add_subplot()
    for k, (row, yy) in enumerate(zip(data, pos, strict=True)):
        ax.plot(t, yy + row / scale_uv, color="#10305a", linewidth=0.45)
        ax.text(start - duration * 0.005, yy, order[k], ha="right", va="center", fontsize=7)
    for sec in np.arange(np.ceil(start), start + duration + 1e-9):
        ax.axvline(sec, color="#b9c4d4", linewidth=0.4, zorder=0)
    first = raw.first_samp / sfreq
    ann = raw.annotations
    offset = first if ann.orig_time is not None else 0.0
    for onset, dur, text in zip(ann.onset, ann.duration, ann.description, strict=True):
        a0, a1 = onset - offset, onset - offset + max(dur, 0)
        if a1 < start or a0 > start + duration:
            continue
        color = "#bbbbbb" if text.startswith("BAD") else "#e3a33c"
        if dur > 0:
            ax.axvspan(max(a0, start), min(a1, start + duration), color=color, alpha=0.08, zorder=0)
        else:
            ax.axvline(a0, color=color, linewidth=1.0)
        ax.text(max(a0, start), pos[0] + 0.9, text[:40], fontsize=6.5, color="#8a5a00", va="bottom")
    # Scale bar: 1 s by scale_uv µV, bottom right.
    x0 = start + duration - 1.05
    ybar = pos[-1] - 0.9
    ax.plot([x0, x0 + 1.0], [ybar, ybar], color="black", linewidth=1.0)
    ax.plot([x0, x0], [ybar, ybar + 1.0], color="black", linewidth=1.0)
    ax.text(x0 + 0.5, ybar - 0.15, "1 s", ha="center", va="top", fontsize=6.5)
    ax.text(x0 - 0.05, ybar + 0.5, f"{scale_uv:.0f} µV", ha="right", va="center", fontsize=6.5)
    filters = []
    if highpass:
        filters.append(f"HP {highpass:g} Hz")
    if lowpass:
        filters.append(f"LP {lowpass:g} Hz")
    filters.append(f"notch {notch:g} Hz" if notch else "notch off")
    ax.set_xlim(start - duration * 0.07, start + duration)
    ax.set_ylim(pos[-1] - 1.6, pos[0] + 1.4)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    meas = raw.info["meas_date"]
    ticks = np.arange(np.ceil(start), start + duration + 1e-9)
    ax.set_xticks(ticks)
    if meas is not None:
        labels = [
            (meas + dt.timedelta(seconds=first + s)).strftime("%H:%M:%S") if i % 2 == 0 else "" for i, s in enumerate(ticks)
        ]
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_xlabel("time of day", fontsize=7)
    else:
        ax.set_xticklabels([f"{s:g}" for s in ticks], fontsize=7)
        ax.set_xlabel("time (s)", fontsize=7)
    ax.set_title(f"{title or 'EEG'}   ·   {', '.join(filters)}   ·   {scale_uv:.0f} µV between traces", fontsize=8, loc="left")
    return fig
