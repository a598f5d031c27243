"""A page of EEG drawn the way a clinical reviewer prints it.

Only the page (plus a little padding for the display filters) is read from
the recording, so a lazy 24 h recording costs no more than a 10 s one. The
figure is made with the Agg canvas directly; no pyplot, no GUI backend and no
global matplotlib state are touched.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from dataclasses import dataclass
from typing import NamedTuple

import mne
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.transforms import blended_transform_factory

from ..errors import ParameterError
from ..preprocessing import display_padding, filter_display
from ..utils._time import format_time, is_multiday
from ..utils.check import _check_range, _validate_type

# Words that mark an annotation as a seizure; a preceding post/pre/inter
# ("post-ictal", "interictal" is one word anyway) rules "ictal" out.
_SEIZURE_WORDS = {"sz", "szr", "seizure", "seizures", "ictal"}
_NOT_ICTAL = {"post", "pre", "inter", "peri", "non"}

# Channel types drawn at the common EEG sensitivity; others get their own.
_EEG_LIKE = {"eeg", "seeg", "ecog", "dbs", "eog"}
# Sensitivities a reader knows from paper EEG, in µV/mm.
_SENSITIVITIES = np.array([1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 2000, 5000], float)
_BARS = np.array([5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000], float)

_TRACE = "#0d2b52"
_GRID = "#b7c3d3"
_GRID_MINOR = "#e3e8ef"
_EVENT = "#d08c1a"
_EVENT_TEXT = "#7a4e00"
_BAD = "#8c8c8c"

# Page geometry in inches; the width fits A4 landscape inside the report's margins.
_WIDTH = 10.4
_LEFT, _RIGHT, _TOP, _BOTTOM = 0.78, 0.32, 0.42, 0.48
_MAX_HEIGHT = 6.1
_ROW_MAX = 0.30


def _annotation_spans(raw):
    """Annotations as (onset, duration, description) in seconds from the first sample."""
    ann = raw.annotations
    offset = raw.first_samp / raw.info["sfreq"] if ann.orig_time is not None else 0.0
    return [
        (float(o) - offset, max(float(d), 0.0), str(t)) for o, d, t in zip(ann.onset, ann.duration, ann.description, strict=True)
    ]


def _is_seizure(text: str) -> bool:
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    for i, w in enumerate(words):
        if w in _SEIZURE_WORDS and not (w == "ictal" and i > 0 and words[i - 1] in _NOT_ICTAL):
            return True
    return False


def select_page_start(raw: mne.io.BaseRaw, duration: float = 10.0) -> float:
    """Choose where a representative page starts (seconds from the first sample).

    1. If an annotation names a seizure (``sz``, ``seizure``, ``ictal``, in
       any case and spelling such as ``SZ_start`` or ``Seizure (focal)``; not
       ``post-ictal``), the page shows the first one: centred on it if it
       fits in the page, otherwise with its onset at 30 % of the page, so
       the background before the onset and the evolution after it are seen.
    2. Otherwise the page is centred on the middle of the recording, moved
       into the nearest stretch of data without a ``BAD_ACQ_SKIP`` gap that
       is long enough (or the longest one if none is).

    The page always lies within the data. Only annotations are read.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording.
    duration : float
        Page length in seconds.

    Returns
    -------
    start : float
        Seconds from the first sample.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    duration = _number("duration", duration, positive=True)
    length = raw.n_times / raw.info["sfreq"]
    duration = min(float(duration), length)
    latest = max(length - duration, 0.0)
    spans = _annotation_spans(raw)
    for onset, dur, text in spans:
        if _is_seizure(text) and -duration < onset < length:
            if dur <= duration:
                start = onset + dur / 2 - duration / 2
            else:
                start = onset - 0.3 * duration
            return float(np.clip(start, 0.0, latest))

    # Stretches of data between acquisition gaps.
    gaps = sorted((o, o + d) for o, d, t in spans if t == "BAD_ACQ_SKIP" and d > 0)
    pieces, cursor = [], 0.0
    for g0, g1 in gaps:
        if g0 > cursor:
            pieces.append((cursor, min(g0, length)))
        cursor = max(cursor, g1)
    if cursor < length:
        pieces.append((cursor, length))
    pieces = [(a, b) for a, b in pieces if b > a]
    middle = length / 2
    if not pieces:
        return float(np.clip(middle - duration / 2, 0.0, latest))
    fitting = [p for p in pieces if p[1] - p[0] >= duration - 1e-9]
    if fitting:
        a, b = min(fitting, key=lambda p: 0.0 if p[0] <= middle <= p[1] else min(abs(p[0] - middle), abs(p[1] - middle)))
        start = float(np.clip(middle - duration / 2, a, b - duration))
    else:
        a, b = max(pieces, key=lambda p: p[1] - p[0])
        start = (a + b) / 2 - duration / 2
    return float(np.clip(start, 0.0, latest))


def _number(name: str, value, *, positive: bool = False, optional: bool = False):
    """``value`` as a finite float (numpy scalars accepted), or None when allowed."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {value!r}.")
    if positive:
        _check_range(name, float(value), 0, None, inclusive=False)
    return float(value)


class _Page(NamedTuple):
    """One page of EEG as drawn: filtered, in µV, not yet centred on its rows."""

    times: np.ndarray  # seconds from the first sample
    data: np.ndarray  # (n_channels, n_times); NaN where nothing was recorded
    has_data: np.ndarray  # per channel: any finite sample on the page
    flat: np.ndarray  # per channel: no data, or under 0.5 µV peak to peak before filtering
    used: dict  # the display filters applied (see dbrain.preprocessing.filter_display)


def _read_page(raw, start: float, duration: float, highpass, lowpass, notch) -> _Page:
    """Read one page plus the display filters' padding and filter it as the viewer does."""
    sfreq = float(raw.info["sfreq"])
    i0 = int(round(start * sfreq))
    i1 = min(i0 + max(int(round(duration * sfreq)), 1), raw.n_times)
    pad = display_padding(sfreq, highpass)
    p0, p1 = max(i0 - pad, 0), min(i1 + pad, raw.n_times)
    n_ch = len(raw.ch_names)
    data = np.asarray(raw.get_data(start=p0, stop=p1) * 1e6 if n_ch else np.zeros((0, p1 - p0)), float)
    filtered, used = filter_display(data, sfreq, highpass=highpass, lowpass=lowpass, notch=notch)
    unfiltered = data[:, i0 - p0 : i1 - p0]
    finite = np.isfinite(unfiltered)
    has_data = finite.any(axis=1)
    flat = np.array([not has_data[k] or np.ptp(unfiltered[k, finite[k]]) < 0.5 for k in range(n_ch)], bool)
    times = start + np.arange(i1 - i0) / sfreq
    return _Page(times, filtered[:, i0 - p0 : i1 - p0], has_data, flat, used)


def _robust_amplitude(rows: np.ndarray) -> np.ndarray:
    """Per row, the 95th percentile of |x - median| over finite samples (0 for none)."""
    out = np.zeros(len(rows))
    for k, row in enumerate(rows):
        row = row[np.isfinite(row)]
        if row.size:
            out[k] = np.percentile(np.abs(row - np.median(row)), 95)
    return out


def _nearest(values: np.ndarray, wanted: float) -> float:
    return float(values[np.argmin(np.abs(np.log(values / wanted)))])


def _short(text: str, n: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


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
    clip: float | None = 2.0,
) -> MplFigure:
    """Draw one page of EEG: stacked traces, 1 s grid, scale bar, filter settings.

    The page is drawn for A4 landscape (10.4 in wide); printed at that size,
    as :func:`render_html` does, the stated sensitivity in µV/mm is exact.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        Already in the montage to show (see :func:`dbrain.montages.apply_montage`).
        Channels are drawn top to bottom in its order. Only the page, plus
        padding for the filters, is read, so it may be lazy and long.
    start : float
        Page start in seconds from the first sample. A page running past
        the end is moved back so that it ends with the data.
    duration : float
        Page length in seconds (clipped to the recording).
    title : str | None
        Title above the page; default "EEG".
    scale_uv : float | None
        Distance between neighbouring traces in µV. By default it is chosen
        from the page itself: about 2.5 times the median over channels of each
        channel's robust amplitude (95th percentile of its absolute
        deviation), rounded to a standard sensitivity (… 5, 7, 10, 15 … µV/mm).
    highpass : float | None
        Display high-pass in Hz (2nd-order Butterworth, zero phase); None for off.
    lowpass : float | None
        Display low-pass in Hz (4th-order Butterworth, zero phase); None for off.
        Each filter is off when at or above 90 % of Nyquist.
    notch : float | None
        Mains notch in Hz (50 or 60), with its harmonics; None for off. The
        filters are :func:`dbrain.preprocessing.filter_display`, the viewer's,
        so a page looks the same printed and on screen.
    groups : list of list of str | None
        Channel groups (the chains of a bipolar montage); a blank space is
        left wherever the next channel belongs to another group. Channels in no
        group form one group of their own.
    clip : float | None
        Clip each trace at ``clip`` trace distances from its baseline so a large
        artifact cannot cover the page; None draws everything.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes. Traces are drawn negative up, as in clinical EEG; each is
        a line with gid ``"trace:<channel>"``. Flat channels are marked
        "flat" under their label; missing samples (NaN) are left blank.
        Channels that are not EEG (ECG, EMG …) get their own sensitivity,
        shown under their label.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
    start, duration, highpass, lowpass, notch, scale_uv, clip = _check_page_args(
        start, duration, highpass, lowpass, notch, scale_uv, clip, groups
    )
    sfreq = float(raw.info["sfreq"])
    length = raw.n_times / sfreq
    duration = min(float(duration), length)
    start = float(np.clip(start, 0.0, max(length - duration, 0.0)))
    names = list(raw.ch_names)
    t, page, has_data, flat, used = _read_page(raw, start, duration, highpass, lowpass, notch)
    for k in range(len(names)):
        if has_data[k]:
            page[k] -= np.nanmedian(page[k])

    rows = _PageRows.of(names, groups)
    types = raw.get_channel_types() if names else []
    scale_uv, scales, own_scale, sens_label = _page_scales(page, types, flat, scale_uv, rows.mm_per_row)
    fig = MplFigure(figsize=(_WIDTH, rows.height), facecolor="white")
    FigureCanvasAgg(fig)
    axes_w_in = _WIDTH - _LEFT - _RIGHT
    ax = fig.add_axes((_LEFT / _WIDTH, _BOTTOM / rows.height, axes_w_in / _WIDTH, (rows.height - _TOP - _BOTTOM) / rows.height))
    ax.set_xlim(start, start + duration)
    ax.set_ylim(rows.y_bottom, rows.y_top)
    _draw_grid(ax, start, duration, rows)
    _draw_annotations(ax, raw, start, duration, rows.y_top, sec_per_in=duration / axes_w_in)
    _draw_traces(ax, t, page, names, rows.pos, scales, clip)
    _draw_channel_labels(ax, names, rows.pos, flat, has_data, own_scale, axes_w_in)
    _draw_scale_bar(ax, scale_uv, start, duration, rows.y_bottom)
    origin, multiday = _draw_time_axis(ax, raw, start, duration)
    _draw_header(fig, rows.height, title, origin, multiday, start, duration, used, sens_label)
    return fig


def _check_page_args(start, duration, highpass, lowpass, notch, scale_uv, clip, groups):
    """The page's numbers as floats (or None where allowed), checked."""
    start = _number("start", start)
    duration = _number("duration", duration, positive=True)
    highpass, lowpass, notch, scale_uv, clip = (
        _number(name, value, positive=True, optional=True)
        for name, value in (
            ("highpass", highpass),
            ("lowpass", lowpass),
            ("notch", notch),
            ("scale_uv", scale_uv),
            ("clip", clip),
        )
    )
    if highpass and lowpass and highpass >= lowpass:
        raise ParameterError(f"highpass ({highpass:g} Hz) must be below lowpass ({lowpass:g} Hz).")
    if groups is not None:
        _validate_type(groups, (list, tuple), "groups", "list of lists of channel names")
    return start, duration, highpass, lowpass, notch, scale_uv, clip


@dataclass
class _PageRows:
    """Vertical layout in "rows" (one row = one trace distance), top to bottom, and the page height it needs."""

    pos: np.ndarray  # each channel's baseline
    y_top: float
    y_bottom: float
    height: float  # inches
    mm_per_row: float

    @classmethod
    def of(cls, names: list[str], groups) -> _PageRows:
        group_of = {}
        for gi, g in enumerate(groups or []):
            for c in g:
                group_of.setdefault(str(c), gi)
        pos, y, last = [], 0.0, object()
        for c in names:
            g = group_of.get(c, -1)
            if pos and g != last:
                y -= 0.6  # a blank between groups (the chains of a bipolar montage)
            pos.append(y)
            last = g
            y -= 1.0
        pos = np.array(pos, float)
        top_extra, bottom_extra = 1.25, 2.35  # annotation strip above, scale bar below
        span_rows = (pos[0] - pos[-1] if names else 0.0) + top_extra + bottom_extra
        row_in = min(_ROW_MAX, (_MAX_HEIGHT - _TOP - _BOTTOM) / span_rows)
        return cls(
            pos=pos,
            y_top=(pos[0] if names else 0.0) + top_extra,
            y_bottom=(pos[-1] if names else 0.0) - bottom_extra,
            height=_TOP + _BOTTOM + row_in * span_rows,
            mm_per_row=row_in * 25.4,
        )


def _page_scales(page, types, flat, scale_uv, mm_per_row: float) -> tuple[float, np.ndarray, dict, str]:
    """µV per row of the EEG and of each trace, the own sensitivity (µV/mm) of non-EEG channels, the EEG's label."""
    n_ch = len(page)
    eeg_like = np.array([ty in _EEG_LIKE for ty in types], bool)
    amp = _robust_amplitude(page)
    if scale_uv is None:
        pool = amp[eeg_like & ~flat] if np.any(eeg_like & ~flat) else amp[~flat]
        typical = float(np.median(pool)) if pool.size else 25.0
        sensitivity = _nearest(_SENSITIVITIES, max(2.5 * typical, 1e-3) / mm_per_row)
        scale_uv = sensitivity * mm_per_row
        sens_label = f"{sensitivity:g} µV/mm"
    else:
        sensitivity = scale_uv / mm_per_row
        sens_label = f"{sensitivity:.2g} µV/mm"
    scales = np.full(n_ch, float(scale_uv))
    own_scale = {}
    for k in range(n_ch):
        if not eeg_like[k] and not flat[k]:
            scales[k] = _nearest(_SENSITIVITIES, max(2.5 * amp[k], 1e-3) / mm_per_row) * mm_per_row
            own_scale[k] = scales[k] / mm_per_row
    return scale_uv, scales, own_scale, sens_label


def _draw_grid(ax, start: float, duration: float, rows: _PageRows) -> None:
    """1 s lines, and 200 ms lines on short pages (as on paper EEG)."""
    end = start + duration
    if duration <= 15:
        minor = np.arange(math.ceil(start * 5) / 5, end + 1e-9, 0.2)
        ax.vlines(minor, rows.y_bottom, rows.y_top, colors=_GRID_MINOR, linewidth=0.3, zorder=0)
    step = 1.0 if duration <= 60 else float(10 ** math.floor(math.log10(duration / 6)))
    seconds = np.arange(math.ceil(start / step) * step, end + 1e-9, step)
    ax.vlines(seconds, rows.y_bottom, rows.y_top, colors=_GRID, linewidth=0.55, zorder=0)


def _draw_annotations(ax, raw, start: float, duration: float, y_top: float, *, sec_per_in: float) -> None:
    """Shaded spans, onset lines and labels (on alternating levels, never overlapping) in the strip above the traces."""
    end = start + duration
    levels: list[float] = []
    for onset, dur, text in _annotation_spans(raw):
        a0, a1 = onset, onset + dur
        if a1 < start or a0 > end or (dur == 0 and a0 == end):
            continue
        bad = text.upper().startswith("BAD")
        color = _BAD if bad else _EVENT
        if dur > 0:
            ax.axvspan(max(a0, start), min(a1, end), color=color, alpha=0.08 if not bad else 0.14, zorder=0.5, linewidth=0)
        if start <= a0 <= end:
            ax.axvline(a0, color=color, linewidth=0.9, linestyle="-" if dur > 0 else "--", zorder=0.6)
        label = _short(text.replace("BAD_ACQ_SKIP", "gap (no data)"))
        x = max(a0, start) + 0.03 * sec_per_in
        width = (len(label) * 6.5 * 0.58 / 72 + 0.1) * sec_per_in
        level = next((i for i, free in enumerate(levels) if free <= x), len(levels))
        if level == len(levels):
            levels.append(0.0)
        levels[level] = x + width
        ax.text(
            x,
            y_top - 0.12 - 0.5 * (level % 2),
            label,
            fontsize=6.5,
            color=_BAD if bad else _EVENT_TEXT,
            va="top",
            ha="left",
            clip_on=True,
        )


def _draw_traces(ax, t, page, names, pos, scales, clip) -> None:
    """One line per channel on its row, clipped at ``clip`` rows, negative up (the clinical convention)."""
    for k, c in enumerate(names):
        trace = page[k] / scales[k]
        if clip is not None:
            trace = np.clip(trace, -clip, clip)
        ax.plot(t, pos[k] - trace, color=_TRACE, linewidth=0.42, gid=f"trace:{c}", solid_joinstyle="round")


def _draw_channel_labels(ax, names, pos, flat, has_data, own_scale: dict, axes_w_in: float) -> None:
    """Channel names at their rows, each with "flat", "no data" or its own sensitivity on a smaller second line."""
    left_margin = blended_transform_factory(ax.transAxes, ax.transData)
    ax.set_yticks(pos, names)
    ax.tick_params(axis="y", length=0, pad=4, labelsize=7.5)
    for k, tick in enumerate(ax.get_yticklabels()):
        status = ("flat" if has_data[k] else "no data") if flat[k] else (f"{own_scale[k]:g} µV/mm" if k in own_scale else "")
        if flat[k]:
            tick.set_color(_BAD)
        if status:
            # A second, smaller line under the channel name, in the left margin.
            ax.text(
                -4 / 72 / axes_w_in,
                pos[k] - 0.42,
                status,
                transform=left_margin,
                fontsize=5.5,
                color=_BAD,
                ha="right",
                va="center",
            )


def _draw_scale_bar(ax, scale_uv: float, start: float, duration: float, y_bottom: float) -> None:
    """Calibration bar, bottom right: a round µV value tall, 1 s wide."""
    end = start + duration
    bar_uv = float(_BARS[_BARS <= 1.15 * scale_uv].max()) if np.any(_BARS <= 1.15 * scale_uv) else float(_BARS[0])
    bar_rows = bar_uv / scale_uv
    yb = y_bottom + 0.3
    xb = end - min(1.0, duration) - 0.02 * duration
    ax.plot([xb, xb, xb + min(1.0, duration)], [yb + bar_rows, yb, yb], color="black", linewidth=0.9, gid="scalebar")
    ax.text(xb - 0.01 * duration, yb + bar_rows / 2, f"{bar_uv:g} µV", ha="right", va="center", fontsize=6.8)
    ax.text(
        xb + min(1.0, duration) / 2,
        yb + 0.08,
        "1 s" if duration >= 1 else f"{duration:g} s",
        ha="center",
        va="bottom",
        fontsize=6.8,
    )


def _draw_time_axis(ax, raw, start: float, duration: float):
    """Time labels in dbrain's one convention (clock time, D<n> across midnight, +h:mm:ss without a start).

    Returns the clock time of the first sample (None when unknown) and whether the recording crosses midnight.
    """
    end = start + duration
    sfreq = float(raw.info["sfreq"])
    label_step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if duration / s <= 12)
    ticks = np.arange(math.ceil(start / label_step) * label_step, end + 1e-9, label_step)
    meas = raw.info["meas_date"]
    first = raw.first_samp / sfreq
    origin = None if meas is None else meas + dt.timedelta(seconds=first)
    multiday = is_multiday(origin, raw.n_times / sfreq)
    tick_labels = [format_time(float(s), origin, multiday=multiday) for s in ticks]
    ax.set_xticks(ticks, tick_labels)
    ax.tick_params(axis="x", labelsize=6.8, length=2.5, pad=2, color="#555555")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color("#555555")
    ax.spines["bottom"].set_linewidth(0.6)
    return origin, multiday


def _draw_header(
    fig, height: float, title, origin, multiday: bool, start: float, duration: float, used: dict, sens_label: str
) -> None:
    """Title and date on the left, display settings on the right."""
    end = start + duration
    heading = title or "EEG"
    if origin is not None:
        t0 = origin + dt.timedelta(seconds=start)
        t1 = origin + dt.timedelta(seconds=end)
        heading += f"    {t0:%Y-%m-%d %H:%M:%S} – {t1:%H:%M:%S}"
        if multiday:  # the day index the tick labels carry
            heading += f"  ({format_time(start, origin, multiday=True).split()[0]})"
    fig.text(_LEFT / _WIDTH, 1 - 0.2 / height, heading, ha="left", va="center", fontsize=8.5, fontweight="bold", color="#1d2430")
    hp, lp, nt = used["highpass"], used["lowpass"], used["notch"]
    settings = [
        f"HP {hp:g} Hz" if hp else "HP off",
        f"LP {lp:g} Hz" if lp else "LP off",
        f"Notch {nt:g} Hz" if nt else "Notch off",
        sens_label,
        f"{duration:g} s/page",
    ]
    fig.text(1 - _RIGHT / _WIDTH, 1 - 0.2 / height, "   ".join(settings), ha="right", va="center", fontsize=7.5, color="#33404f")
