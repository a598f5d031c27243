"""The clinical layout of the report: findings first, then the EEG at each seizure, trends, appendix.

Page 1 reads like the first page of a clinical EEG report: the seizures (clock time, duration, side,
channels, confidence), spike focus and rate, rhythmic and periodic pattern burden, background
(posterior dominant rhythm, symmetry, slowing), artifact burden and the screens, one line each.
It is built only from what the analysis steps already computed (their summaries, tables, events and
in-memory results); nothing is computed here but what is drawn. Then come a 10 s EEG excerpt at each
detected seizure onset (the first :data:`MAX_SEIZURE_EXCERPTS`), the trends in pages of at most
:data:`TREND_PAGE_HOURS` hours with the events marked, and the steps' own sections as the appendix.

Every time is written by :func:`dbrain.utils._time.format_time`: clock time, ``D<n>`` on
recordings crossing midnight, ``+h:mm:ss`` only when the start is unknown.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from ..utils._time import format_time, is_multiday
from ._blocks import Figure, KeyValues, Note, Paragraph, Section, Table

#: EEG excerpts drawn, one per detected seizure, in time order (later seizures are listed on page 1).
MAX_SEIZURE_EXCERPTS = 3
#: Seizures listed on page 1 (all are in the appendix table and in events.tsv).
MAX_PAGE1_SEIZURES = 8
#: Longest span of one trend page.
TREND_PAGE_HOURS = 6.0
#: Size of a trend page's figure in inches: the room on a portrait A4 page of the report.
TREND_FIGSIZE = (7.15, 9.2)
#: Length of an EEG excerpt; the detected onset is at its centre.
EXCERPT_SECONDS = 10.0
#: |(L − R)/(L + R)| of alpha or delta power at or above this is called asymmetric: a power ratio
#: of 2.2, i.e. about a 50 % amplitude difference, the usual visual criterion for an abnormal asymmetry.
ASYMMETRY_LIMIT = 0.38
#: Artifact strength at or above this makes an epoch unusable (the qEEG step's scale, 0 clean – 1).
UNUSABLE_ARTIFACT = 0.5
#: (θ+δ)/(α+β) above this is called excess slow activity (the diagnosis step's slowing threshold).
SLOW_RATIO = 1.5
#: Seizures covering at least this share of the recording leave no background to describe.
SEIZURE_DOMINATED = 0.5
#: Channels named per seizure on page 1.
_MAX_CHANNELS = 6


class Clock:
    """Times of one recording, written the one dbrain way.

    Parameters
    ----------
    start : datetime.datetime | None
        Clock time of the first sample.
    duration : float
        Recording length in seconds (decides the ``D<n>`` prefix).
    """

    def __init__(self, start, duration: float):
        self.start = start
        self.duration = float(duration)
        self.multiday = is_multiday(start, duration)

    def __call__(self, seconds: float) -> str:
        return format_time(float(seconds), self.start, multiday=self.multiday)


def duration_text(seconds: float) -> str:
    """A duration for a reader: ``"45 s"``, ``"1 min 12 s"``, ``"2 h 05 min"``."""
    s = int(round(float(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


#: Recordings shorter than this (s) get no hourly rate: a rate per hour from 50 s of EEG ("0.0 per hour") claims a
#: measurement of hours it does not have; the count and the duration it comes from are given instead.
MIN_RATE_DURATION = 600.0


def count_rate_text(n: int, seconds: float) -> str:
    """A count of events with its rate per hour, or with the duration on recordings too short for a rate.

    Parameters
    ----------
    n : int
        Number of events.
    seconds : float
        Duration of the EEG they were counted in (s).

    Returns
    -------
    text : str
        ``"12 (3.4 per hour)"``; below :data:`MIN_RATE_DURATION`: ``"0 in 50 s (no rate per hour under 10 min)"``.
    """
    seconds = float(seconds)
    if seconds >= MIN_RATE_DURATION:
        return f"{n} ({n / (seconds / 3600.0):.1f} per hour)"
    return f"{n} in {duration_text(seconds)} (no rate per hour under {MIN_RATE_DURATION / 60:g} min)"


def percent(p) -> str:
    """A probability as a percentage: ``"87 %"``, ``"> 99 %"``, ``"< 1 %"``, ``"n/a"``."""
    if p is None or not np.isfinite(float(p)):
        return "n/a"
    p = float(p)
    # a rounded "100 %" (or "0 %") would claim a certainty no detector has
    return "> 99 %" if p > 0.99 else "< 1 %" if p < 0.01 else f"{100 * p:.0f} %"


def _channels_text(channels, n: int = _MAX_CHANNELS) -> str:
    if channels is None or (isinstance(channels, float) and math.isnan(channels)):
        return "n/a"
    names = [c.strip() for c in str(channels).split(",") if c.strip() and c.strip() != "n/a"]
    if not names:
        return "n/a"
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def seizure_table(events: pd.DataFrame, start, multiday: bool, *, max_channels: int = _MAX_CHANNELS) -> pd.DataFrame:
    """Detected seizures as a report table: number, clock time, duration, side, confidence %, channels.

    Parameters
    ----------
    events : pandas.DataFrame
        ``onset``, ``duration``, ``confidence``, ``channels`` and optionally ``lateralisation``.
    start : datetime.datetime | None
        Clock time of the first sample.
    multiday : bool
        Day prefix on every time (:func:`dbrain.utils._time.is_multiday` of the recording).
    max_channels : int
        Channels named per seizure, the most involved first.

    Returns
    -------
    table : pandas.DataFrame
        All cells text, so no time or percentage is reformatted on the way to the page.
    """
    side = events["lateralisation"] if "lateralisation" in events.columns else ["n/a"] * len(events)
    return pd.DataFrame(
        {
            "#": [str(i + 1) for i in range(len(events))],
            "onset": [format_time(float(t), start, multiday=multiday) for t in events["onset"]],
            "duration": [duration_text(d) for d in events["duration"]],
            "side": [str(s) for s in side],
            "confidence": [percent(c) for c in events["confidence"]],
            "channels": [_channels_text(c, max_channels) for c in events["channels"]],
        }
    )


def _get(results, name):
    return results.get(name)


_SCREEN_NAMES = {"adhd": "ADHD", "dementia": "Dementia", "epilepsy": "Epilepsy"}
#: Where a screen's limits, drivers and model card are on the report.
_DIAGNOSIS_APPENDIX = "Appendix: Diagnosis support"


def _data(results, name, key):
    r = _get(results, name)
    return None if r is None else (getattr(r, "data", None) or {}).get(key)


def _not_computed(results, name) -> str | None:
    """Why a step gave no result: it did not run, or its own reason."""
    r = _get(results, name)
    if r is None:
        return "not run"
    if not r.summary.get("computed", True):
        return f"not assessed ({r.summary.get('reason', 'no reason given')})"
    return None


def _seizures(results) -> pd.DataFrame:
    r = _get(results, "seizures")
    rows = [] if r is None else r.summary.get("seizures", [])
    return pd.DataFrame(rows, columns=["onset", "duration", "confidence", "lateralisation", "channels"])


def _seizure_line(results, clock: Clock) -> str:
    why = _not_computed(results, "seizures")
    if why:
        return why
    s = _get(results, "seizures").summary
    sz = _seizures(results)
    if not len(sz):
        return (
            f"none detected (sensitivity {s.get('sensitivity', 'n/a')}; highest probability {percent(s.get('max_probability'))})"
        )
    sides = sz["lateralisation"].value_counts()
    return (
        f"{len(sz)} detected, {duration_text(sz['duration'].sum())} in all; first {clock(sz['onset'].iloc[0])}; "
        + "sides: "
        + ", ".join(f"{v} {k}" for k, v in sides.items())
    )


def _spike_line(results, duration: float | None = None) -> str:
    why = _not_computed(results, "spikes")
    if why:
        return why
    s = _get(results, "spikes").summary
    n = int(s.get("n_spikes", 0))
    if not n:
        return spike_cutoff_text(s)
    short = duration is not None and duration < MIN_RATE_DURATION
    if short:
        text = f"{n} detections in {duration_text(duration)} (no rate per hour under {MIN_RATE_DURATION / 60:g} min)"
    else:
        text = f"{n} detections, {s.get('per_hour', float('nan')):.1f} per hour"
    clusters = s.get("clusters") or []
    if clusters:
        top = clusters[0]
        text += f"; main focus {top['focus']} ({top['region']}), {top['count']} of {n} ({100 * top['count'] / n:.0f} %)"
        if len(clusters) > 1:
            nxt = clusters[1]
            text += f"; next {nxt['focus']} ({nxt['region']}) {nxt['count']}"
    regions = s.get("per_region_per_hour") or {}
    if regions and not short:
        name, rate = max(regions.items(), key=lambda kv: kv[1])
        text += f"; highest regional rate {name} {rate:.1f}/h"
    if s.get("cutoff") is not None:
        text += f"; {spike_cutoff_text(s)}"
    return text


def spike_cutoff_text(summary: dict) -> str:
    """What the spike count means, from the spikes step's summary: the cut-off and the candidates below it.

    The second stage reports a discharge only at or above its preset's confidence cut-off, and it misses
    many real discharges (docs/spikes.md), so no detection must read as "none at or above the cut-off",
    with the number of scored candidates left below it, never as "no spikes". Summaries of step versions
    before the cut-off (no ``cutoff`` key) keep the old wording.

    Parameters
    ----------
    summary : dict
        The ``spikes`` step summary (``n_spikes``, ``sensitivity``, ``cutoff``, ``n_below_cutoff``).

    Returns
    -------
    text : str
        Without detections e.g. ``"none at or above the medium cut-off (confidence 0.92); 34 candidates
        below it, not listed: this does not exclude discharges"``; with detections ``"all at or above the
        medium cut-off (confidence 0.92); 34 candidates below it, not listed"``.
    """
    n = int(summary.get("n_spikes", 0) or 0)
    sens, cutoff = summary.get("sensitivity", "n/a"), summary.get("cutoff")
    if cutoff is None:
        return f"none detected (sensitivity {sens})" if not n else f"{n} detected (sensitivity {sens})"
    below = int(summary.get("n_below_cutoff", 0) or 0)
    text = f"{'none' if not n else 'all'} at or above the {sens} cut-off (confidence {float(cutoff):.2f}); "
    text += f"{below} candidate{'' if below == 1 else 's'} below it, not listed"
    return text + (": this does not exclude discharges" if not n else "")


def _pattern_line(results) -> str:
    why = _not_computed(results, "patterns")
    if why:
        return why
    s = _get(results, "patterns").summary
    share = s.get("percent_of_windows") or {}
    events = s.get("n_events") or {}
    parts = [
        f"{k.upper()} {v:.1f} % of windows ({events.get(k, 0)} event{'s' if events.get(k, 0) != 1 else ''})"
        for k, v in share.items()
        if k not in ("other", "seizure") and v > 0
    ]
    if not parts:
        return "no LPD, GPD, LRDA or GRDA window"
    return "; ".join(parts) + f" (of {s.get('n_windows', 'n/a')} windows of 10 s)"


def _diagnosis_doc(results) -> dict:
    r = _get(results, "diagnosis")
    if r is None or "diagnosis.json" not in r.files:
        return {}
    try:
        return json.loads(r.files["diagnosis.json"])
    except (ValueError, TypeError):
        return {}


def _background_line(results, duration: float) -> str:
    r = _get(results, "diagnosis")
    feats = {} if r is None else dict(r.summary.get("features") or {})
    if not feats:
        return "not assessed (the diagnosis step computed no background features)"
    sz = _seizures(results)
    ictal = float(sz["duration"].sum()) / duration if len(sz) and duration > 0 else 0.0
    if ictal >= SEIZURE_DOMINATED:
        # a rhythm measured during a seizure is not the patient's background
        return f"not assessable: seizure activity during {100 * min(ictal, 1.0):.0f} % of the recording"
    parts = []
    paf = feats.get("alpha_peak")
    parts.append(
        f"posterior dominant rhythm {paf:.1f} Hz" if paf is not None else "no posterior dominant rhythm (no 7–13 Hz peak)"
    )
    from ..qeeg import ASYMMETRY_LABEL

    # the diagnosis features are (R - L)/(R + L); shown negated, in the qEEG tables' and trend page's (L - R)/(L + R)
    asym = {b: -feats[f"asym_{b}"] for b in ("alpha", "delta") if feats.get(f"asym_{b}") is not None}
    shown = {b: v for b, v in asym.items() if math.isfinite(v)}
    if shown:
        worst = max(shown.items(), key=lambda kv: abs(kv[1]))
        # + 0.0: a value that rounds to zero is "+0.00", never "−0.00"
        values = ", ".join(f"{b} {round(v, 2) + 0.0:+.2f}" for b, v in shown.items()).replace("-", "−")
        if abs(worst[1]) >= ASYMMETRY_LIMIT:
            side = "left" if worst[1] > 0 else "right"
            parts.append(f"asymmetric, more {worst[0]} power on the {side} ({ASYMMETRY_LABEL}: {values})")
        else:
            parts.append(f"symmetric ({ASYMMETRY_LABEL}: {values})")
    ratio = feats.get("slowing_ratio")
    doc = _diagnosis_doc(results)
    # the diagnosis step's own call (slow posterior rhythm, or no rhythm and a high ratio) ...
    slow = any(f.get("finding") == "diffuse_slowing" for f in doc.get("findings") or [])
    ratio_text = f"(θ+δ)/(α+β) {ratio:.2f}" if ratio is not None else "no slowing ratio"
    if slow:
        parts.append(f"diffuse slowing, {ratio_text}")
    elif ratio is not None and ratio > SLOW_RATIO:
        # ... which a normal-frequency rhythm overrules; an excess of slow power is still worth a line
        parts.append(f"excess slow activity, {ratio_text} (> {SLOW_RATIO:g})")
    else:
        parts.append(f"no diffuse slowing, {ratio_text}")
    clean = doc.get("clean_seconds")
    if clean:
        parts.append(f"from {clean:.0f} s of clean EEG")
    if ictal > 0:
        # the diagnosis step chooses its clean EEG without leaving the detected seizures out: say so, or a seizure's
        # rhythm and slow waves read as the patient's background
        share = f"{100 * ictal:.0f} %" if ictal >= 0.01 else f"{100 * ictal:.1f} %"
        parts.append(
            f"the detected seizures ({duration_text(sz['duration'].sum())}, {share} of the recording) are not left out "
            "of this EEG: it may reflect them rather than the background"
        )
    return "; ".join(parts)


def _artifact_line(results) -> str:
    why = _not_computed(results, "qeeg")
    if why:
        return why
    q = _data(results, "qeeg", "qeeg")
    if q is None or not q.artifact.size:
        s = _get(results, "qeeg").summary
        return f"mean artifact strength {s.get('mean_artifact_strength', float('nan')):.2f} (0 clean – 1 unusable)"
    from ..qeeg import ARTIFACT_TYPES

    # Outside the detected seizures: a seizure's own high amplitude and rhythm would count as artifact.
    step = float(q.params.get("step", 1.0))
    outside = np.ones(q.times.size, bool)
    for onset, dur in zip(_seizures(results)["onset"], _seizures(results)["duration"], strict=True):
        outside &= ~((q.times + step > float(onset)) & (q.times < float(onset) + float(dur)))
    caveat = ""
    if not outside.any():  # the whole recording is ictal: give the figures, with what they may hold
        outside[:] = True
        caveat = " (every epoch lies within a detected seizure: the seizure's own high amplitude counts here)"
    art = q.artifact[outside]
    per_epoch = np.nanmean(art, axis=1)
    unusable = float(np.mean(per_epoch >= UNUSABLE_ARTIFACT))
    where = "of the recording" if outside.all() else "of the recording outside the seizures"
    text = (
        f"{100 * unusable:.1f} % {where} unusable (strength ≥ {UNUSABLE_ARTIFACT:g}); mean strength {np.nanmean(per_epoch):.2f}"
    )
    kinds = q.artifact_type[outside][art >= 0.1] if q.artifact_type.shape == q.artifact.shape else np.array([], int)
    kinds = kinds[kinds > 0]
    if kinds.size:
        counts = np.bincount(kinds, minlength=len(ARTIFACT_TYPES))
        order = np.argsort(counts)[::-1]
        top = [f"{ARTIFACT_TYPES[k]} {100 * counts[k] / kinds.size:.0f} %" for k in order[:3] if counts[k]]
        text += "; by type: " + ", ".join(top)
    return text + caveat


def _screen_lines(results) -> list[tuple[str, str]]:
    doc = _diagnosis_doc(results)
    screens = doc.get("screens")
    if screens is None:
        r = _get(results, "diagnosis")
        if r is None:
            return [("Screens", "not run")]
        summary = r.summary.get("screens") or {}
        screens = [{"screen": k, **v} for k, v in summary.items()]
    if not screens:
        return [("Screens", "none computed")]
    lines = []
    for s in screens:
        name = str(s.get("screen", "screen"))
        lines.append((f"{_SCREEN_NAMES.get(name, name.capitalize())} screen", screen_text(s)))
    return lines


def screen_text(s: dict) -> str:
    """One screen result in summary form, as page 1 of the report states it.

    A probability never stands alone: it comes with its 5-95 % interval, the threshold, the caveat
    ("research screen, not a diagnosis"), the people the model was validated on and where the detail
    is. A screen without a probability says why ("not applicable", "insufficient data").

    Parameters
    ----------
    s : dict
        One entry of ``diagnosis.json`` ``screens`` (or of the diagnosis step's summary ``screens``).

    Returns
    -------
    text : str
    """
    outcome = str(s.get("outcome") or "n/a")
    p = s.get("probability")
    if p is None or outcome in ("not applicable", "insufficient data"):
        return outcome + (f" — {s['reason']}" if s.get("reason") else "")
    text = f"{outcome}, probability {percent(p)}"
    detail = []
    if s.get("interval"):
        lo, hi = s["interval"]
        detail.append(f"5–95 % interval {percent(lo)} to {percent(hi)}")
    notes = " ".join(s.get("interval_notes") or [])
    if "age unknown" in notes:  # a probability for a person the model may never have seen the like of
        detail.append("age unknown: assumed inside the training ages, interval widened")
    elif "widened" in notes:
        detail.append("interval widened for this recording")
    if s.get("threshold") is not None:
        detail.append(f"threshold {percent(s['threshold'])}")
    if detail:
        text += f" ({'; '.join(detail)})"
    caveat = s.get("caveat") or "research screen, not a diagnosis"
    scope = f"; {s['scope']}" if s.get("scope") else ""
    return f"{text}. {caveat[0].upper()}{caveat[1:]}{scope}; see {_DIAGNOSIS_APPENDIX}."


def _next_eeg(n: int) -> str:
    if n == 0:
        return "an EEG excerpt"
    if n == 1:
        return "the EEG at the detected seizure onset"
    if n <= MAX_SEIZURE_EXCERPTS:
        return f"the EEG at the {n} detected seizure onsets"
    return f"the EEG at the first {MAX_SEIZURE_EXCERPTS} of the {n} detected seizure onsets"


def findings_section(raw, info, results) -> Section:
    """Page 1: the findings of every step, one line each, and the detected seizures.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording analysed.
    info : dbrain.io.RecordingInfo
    results : dict of str to StepResult
        The analysis steps' results by step name.

    Returns
    -------
    section : Section
        Key ``"findings"``.
    """
    clock = Clock(info.start_time, info.duration)
    n_eeg = sum(1 for t in raw.get_channel_types() if t == "eeg")
    if info.start_time is None:
        span = "start not recorded"
    elif clock.multiday:  # absolute dates once; D1, D2 … below count from the first
        end = info.start_time + dt.timedelta(seconds=info.duration)
        span = f"{info.start_time:%Y-%m-%d %H:%M:%S} (D1) – {end:%Y-%m-%d %H:%M:%S} (D{(end.date() - info.start_time.date()).days + 1})"
    else:
        span = f"{info.start_time:%Y-%m-%d} {clock(0)} – {clock(info.duration)}"
    facts = [
        ("Recording", f"{span}, {duration_text(info.duration)}, {n_eeg} EEG channels at {info.sfreq:g} Hz"),
        ("Seizures", _seizure_line(results, clock)),
    ]
    blocks = []
    sz = _seizures(results)
    tail = [
        ("Spikes", _spike_line(results, info.duration)),
        ("Rhythmic/periodic patterns", _pattern_line(results)),
        ("Background", _background_line(results, info.duration)),
        ("Artifact", _artifact_line(results)),
        *_screen_lines(results),
    ]
    blocks.append(KeyValues(facts))
    if len(sz):
        blocks.append(
            Table(
                seizure_table(sz, info.start_time, clock.multiday),
                max_rows=MAX_PAGE1_SEIZURES,
                caption="Detected seizures: onset (clock time), duration, side, detector confidence, channels most involved.",
                more_in="the appendix and events.tsv",
            )
        )
    blocks.append(KeyValues(tail))
    blocks.append(
        Paragraph(
            "Times are clock times"
            + (" with the day (D1 = the day the recording started)" if clock.multiday else "")
            + ("" if info.start_time else "; the start is not recorded, so times are elapsed from the first sample (+h:mm:ss)")
            + ". Next: "
            + _next_eeg(len(sz))
            + f", the trends (≤ {TREND_PAGE_HOURS:g} h per page), then the appendix with every step's tables."
        )
    )
    return Section("Findings", "findings", blocks)


def _montaged(raw, montage: str = "double-banana"):
    from ..montages import apply_montage_with_fallback

    source, picks, result, _ = apply_montage_with_fallback(raw, (montage, "referential"))
    if result is None:  # the EEG channels as recorded are the referential recording
        return source.copy().pick(picks), None, "referential"
    return source, result.groups, result.name


def _with_marks(derived, marks):
    """``derived`` with extra annotations at ``marks`` [(onset s from the first sample, duration, text)]."""
    import mne

    ann = derived.annotations
    offset = derived.first_samp / derived.info["sfreq"] if ann.orig_time is not None else 0.0
    extra = mne.Annotations([m[0] + offset for m in marks], [m[1] for m in marks], [m[2] for m in marks], orig_time=ann.orig_time)
    out = derived.copy()
    out.set_annotations(ann + extra)
    return out


def _excerpt(derived, groups, montage, clock, *, centre, title, caption, mark):
    from ._eegpage import plot_eeg_page

    length = derived.n_times / derived.info["sfreq"]
    page = min(EXCERPT_SECONDS, length)
    start = float(np.clip(centre - page / 2, 0.0, max(length - page, 0.0)))
    shown = _with_marks(derived, [mark]) if mark is not None else derived
    # mains notch on, as a reviewer sets it for a printed page; the page header states it
    notch = float(derived.info["line_freq"] or 50.0)
    fig = plot_eeg_page(shown, start=start, duration=page, groups=groups, title=title, notch=notch)
    where = (
        "at the centre"
        if abs(start + page / 2 - centre) < 0.05
        else f"off-centre (the recording starts or ends within {page / 2:g} s of it)"
    )
    caption = caption.replace("{where}", where)
    return Figure(fig, caption=f"{caption} {montage} montage, {clock(start)} – {clock(start + page)}.", colors=64)


def _clean_centre(results, length: float) -> float | None:
    """Middle of the cleanest 10 s of the recording by the qEEG artifact strength, or None."""
    q = _data(results, "qeeg", "qeeg")
    if q is None or not q.artifact.size:
        return None
    per_epoch = np.nanmean(q.artifact, axis=1)
    step = float(q.params.get("step", 1.0))
    n = max(int(EXCERPT_SECONDS / step), 1)
    if per_epoch.size < n:
        return None
    score = np.convolve(np.nan_to_num(per_epoch, nan=1.0), np.ones(n) / n, mode="valid")
    # prefer the middle of the recording among near-equal clean stretches
    best = np.flatnonzero(score <= score.min() + 0.01)
    k = best[np.argmin(np.abs(q.times[best] - length / 2))]
    return float(q.times[k] + EXCERPT_SECONDS / 2)


def excerpt_sections(raw, info, results) -> list[Section]:
    """The EEG at each detected seizure onset, or at the strongest spike cluster, or a clean page.

    The first :data:`MAX_SEIZURE_EXCERPTS` detected seizures each get a 10 s page in double banana with
    the detected onset at its centre and marked on the page. Without a detected seizure the page shows
    the most confident detection of the largest spike cluster, and without either the cleanest 10 s
    (lowest artifact strength, nearest the middle); the page says which.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    info : dbrain.io.RecordingInfo
    results : dict of str to StepResult

    Returns
    -------
    sections : list of Section
        Keys ``seizure-eeg-1`` … or ``eeg-excerpt``; empty when the recording has no EEG channel.
    """
    if not any(t == "eeg" for t in raw.get_channel_types()):
        return []
    clock = Clock(info.start_time, info.duration)
    derived, groups, montage = _montaged(raw)
    sz = _seizures(results)
    out = []
    for i, row in enumerate(sz.head(MAX_SEIZURE_EXCERPTS).itertuples(index=False)):
        when = clock(row.onset)
        label = f"Sz {i + 1} detected onset ({percent(row.confidence)})"
        fig = _excerpt(
            derived,
            groups,
            montage,
            clock,
            centre=float(row.onset),
            title=f"Seizure {i + 1} — detected onset {when}",
            caption=f"Seizure {i + 1} of {len(sz)}: detected onset {when} {{where}} (orange line), "
            f"duration {duration_text(row.duration)}, side {row.lateralisation}, confidence {percent(row.confidence)};",
            mark=(float(row.onset), float(row.duration), label),
        )
        out.append(Section(f"Seizure {i + 1} — EEG at the detected onset {when}", f"seizure-eeg-{i + 1}", [fig]))
    if len(sz) > MAX_SEIZURE_EXCERPTS:
        out[-1].blocks.append(
            Note(
                f"{len(sz) - MAX_SEIZURE_EXCERPTS} later seizure(s) are listed on page 1 and in the appendix, not drawn.", "info"
            )
        )
    if out:
        return out
    spikes = _get(results, "spikes")
    table = None if spikes is None else spikes.tables.get("spikes")
    if table is not None and len(table) and "cluster" in table.columns:
        main = table[table["cluster"] == 1]
        if len(main):
            best = main.loc[main["confidence"].idxmax()]
            focus = (spikes.summary.get("clusters") or [{}])[0]
            where = f"{focus.get('focus', '?')}, {focus.get('region', '?')}"
            when = clock(best["onset"])
            note = Note(
                f"No seizure was detected. This page is centred on the most confident detection ({percent(best['confidence'])}) "
                f"of the largest spike cluster (cluster 1, focus {where}, {len(main)} detections) at {when}.",
                "info",
            )
            fig = _excerpt(
                derived,
                groups,
                montage,
                clock,
                centre=float(best["onset"]),
                title=f"Spike cluster 1 ({where}) — {when}",
                caption=f"Most confident detection of spike cluster 1 {{where}} (orange dashed line), {when};",
                mark=(float(best["onset"]), 0.0, f"spike, cluster 1 ({percent(best['confidence'])})"),
            )
            return [Section(f"EEG excerpt — strongest spike cluster, {when}", "eeg-excerpt", [note, fig])]
    length = raw.n_times / raw.info["sfreq"]
    centre = _clean_centre(results, length)
    how = "the cleanest 10 s by artifact strength, nearest the middle of the recording"
    if centre is None:
        centre, how = length / 2, "the middle of the recording"
    note = Note(f"No seizure and no spike cluster was detected. This page is a representative page: {how}.", "info")
    fig = _excerpt(
        derived, groups, montage, clock, centre=centre, title="Representative page", caption="Representative page;", mark=None
    )
    return [
        Section(f"EEG excerpt — representative page, {clock(max(centre - EXCERPT_SECONDS / 2, 0))}", "eeg-excerpt", [note, fig])
    ]


def _event_marks(results, clock: Clock) -> pd.DataFrame:
    """Detector events to mark on the trends: seizures labelled ``Sz n D1 03:12:45``, patterns, spikes."""
    frames = []
    sz = _seizures(results)
    if len(sz):
        frames.append(
            pd.DataFrame(
                {
                    "onset": sz["onset"].astype(float),
                    "duration": sz["duration"].astype(float),
                    "eventType": "sz",
                    "label": [f"Sz {i + 1} {clock(t)}" for i, t in enumerate(sz["onset"])],
                }
            )
        )
    for name in ("patterns", "spikes"):
        r = _get(results, name)
        if r is not None and r.events is not None and len(r.events):
            ev = r.events[["onset", "duration", "eventType"]].copy()
            if name == "spikes":
                ev["duration"] = 0.0  # drawn as ticks
            ev["label"] = None
            frames.append(ev)
    if not frames:
        return pd.DataFrame(columns=["onset", "duration", "eventType", "label"])
    return pd.concat(frames, ignore_index=True)


def trend_sections(raw, info, results, *, rasterize: bool = False) -> list[Section]:
    """The trend screen in pages of at most :data:`TREND_PAGE_HOURS` h, events marked, clock-time axis.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    info : dbrain.io.RecordingInfo
    results : dict of str to StepResult
    rasterize : bool | callable
        Draw each page's PNG as soon as it is made and let go of its matplotlib figure
        (:meth:`Figure.rasterize`), so that the pages' figures are not all held at once; a callable
        is handed each page's :class:`Figure` instead (e.g. :meth:`FigureDrawer.submit
        <dbrain.report._drawer.FigureDrawer.submit>`, which draws it in another process).

    Returns
    -------
    sections : list of Section
        Keys ``trends-1`` …; empty when the qEEG step computed no trends.
    """
    from ..qeeg import plot_trends

    q = _data(results, "qeeg", "qeeg")
    if q is None:
        return []
    clock = Clock(info.start_time, info.duration)
    hr = _data(results, "qeeg", "heart_rate")
    marks = _event_marks(results, clock)
    szr = _data(results, "seizures", "seizures")
    prob = None
    if szr is not None:
        prob = (np.arange(szr.smoothed.size, dtype=float), szr.smoothed, szr.thresholds[0])
    total = float(q.duration or info.duration)
    page = TREND_PAGE_HOURS * 3600.0
    n_pages = max(1, math.ceil(total / page - 1e-9))
    # The qEEG step of dbrain analyze keeps its trends decimated per page (the columns plot_trends draws),
    # not per epoch (issue 19); each page then draws the same figure from them.
    decimated = _data(results, "qeeg", "trend_pages")
    out = []
    for k in range(n_pages):
        a, b = k * page, min((k + 1) * page, total)
        title = f"Trends {clock(a)} – {clock(b)}" + (f" (page {k + 1} of {n_pages})" if n_pages > 1 else "")
        drawn, ecg, artifact = q, hr, q.artifact
        if decimated is not None and len(decimated) == n_pages:
            drawn, ecg, artifact = decimated[k].result, decimated[k].ecg, decimated[k].artifact
        # drawn at the printed size (portrait A4), so labels print at their point size, not shrunk by half
        fig = plot_trends(
            drawn,
            ecg=ecg,
            artifact=artifact,
            title=title,
            tmin=a,
            tmax=b,
            events=marks,
            seizure_probability=prob,
            multiday=clock.multiday,
            figsize=TREND_FIGSIZE,
            max_ticks=7,
            fontsize=6.5,
        )
        caption = (
            "Left/right DSA, asymmetry, aEEG, suppression, smoothed seizure probability (dashed: on threshold), artifact "
            "strength and heart rate. Marks: detected seizures (red band, numbered), rhythmic/periodic patterns (amber), "
            "spikes (ticks above the top panel)."
        )
        figure = Figure(fig, caption=caption, dpi=200)
        if callable(rasterize):
            rasterize([figure])
        elif rasterize:  # drawn now and the figure let go: a 24 h report's four pages are not held at once
            figure.rasterize()
        out.append(Section(title, f"trends-{k + 1}", [figure]))
    return out


def report_pages(raw, info, results, *, rasterize=False) -> list[Section]:
    """The EEG excerpts and the trend pages (:func:`excerpt_sections`, :func:`trend_sections`).

    They read only the results of the ``seizures``, ``qeeg``, ``spikes`` and ``patterns`` steps (page 1
    reads every step's), so ``dbrain analyze`` makes them as soon as those have finished and has
    their figures drawn while the later steps run; pass them to :func:`clinical_sections` as ``pages``.
    ``rasterize`` is as for :func:`trend_sections`; a callable is handed the excerpts' figures too.
    """
    excerpts = excerpt_sections(raw, info, results)
    if callable(rasterize):
        rasterize(excerpts)
    return [*excerpts, *trend_sections(raw, info, results, rasterize=rasterize)]


#: The steps whose results :func:`report_pages` reads.
PAGE_STEPS = ("seizures", "qeeg", "spikes", "patterns")


def clinical_sections(raw, info, results, sections: list, *, rasterize: bool = False, pages: list | None = None) -> list[Section]:
    """The whole report in reading order: findings, seizure EEG, trends, then the steps' sections as appendix.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording analysed.
    info : dbrain.io.RecordingInfo
    results : dict of str to StepResult
        The steps' results by name (each with ``summary``, ``events``, ``tables``, ``files``, ``data``).
    sections : list of Section
        The steps' own sections in run order; they become the appendix, titled "Appendix: …".
    rasterize : bool | callable
        Draw the trend pages as they are made (see :func:`trend_sections`).
    pages : list of Section | None
        The excerpts and trend pages if already made (:func:`report_pages`); made here when None.

    Returns
    -------
    sections : list of Section
    """
    if pages is None:
        pages = report_pages(raw, info, results, rasterize=rasterize)
    head = [findings_section(raw, info, results), *pages]
    appendix = [Section(f"Appendix: {s.title}", s.key, s.blocks, break_before=i == 0) for i, s in enumerate(sections)]
    return head + appendix
