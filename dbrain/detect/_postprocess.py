"""From a seizure probability per second to seizure events.

Moving-average smoothing, hysteresis (an event starts where the smoothed
probability reaches ``on`` and lasts while it stays above ``off``), merging
of events separated by less than ``merge_gap`` seconds, then removal of
events shorter than ``min_duration`` seconds.
"""

from __future__ import annotations

import re

import numpy as np

#: Sensitivity presets: (on, off) thresholds of the smoothed probability.
PRESETS = {"low": (0.85, 0.5), "medium": (0.7, 0.4), "high": (0.5, 0.3)}


def smooth(probability: np.ndarray, seconds: float) -> np.ndarray:
    """Centred moving average over ``seconds`` (1 s samples); edges use what is there."""
    p = np.asarray(probability, dtype=np.float64)
    k = int(round(seconds))
    if k <= 1 or p.size == 0:
        return p.astype(np.float32)
    kernel = np.ones(k)
    num = np.convolve(p, kernel, mode="same")
    den = np.convolve(np.ones_like(p), kernel, mode="same")
    return (num / den).astype(np.float32)


def hysteresis(p: np.ndarray, on: float, off: float) -> list[tuple[int, int]]:
    """Runs ``[start, stop)`` (in samples) where ``p`` rose to ``on`` and stayed above ``off``."""
    above_off = p >= off
    runs = []
    n = p.size
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above_off.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if np.any(p[start:stop] >= on):
            runs.append((int(start), int(min(stop, n))))
    return runs


def merge_and_filter(runs: list[tuple[int, int]], *, merge_gap: float, min_duration: float) -> list[tuple[int, int]]:
    """Merge runs closer than ``merge_gap`` s, then drop those shorter than ``min_duration`` s."""
    merged: list[list[int]] = []
    for start, stop in runs:
        if merged and start - merged[-1][1] < merge_gap:
            merged[-1][1] = stop
        else:
            merged.append([start, stop])
    return [(a, b) for a, b in merged if b - a >= min_duration]


def events_from_probability(
    probability: np.ndarray, *, on: float, off: float, smoothing: float, merge_gap: float, min_duration: float
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Seizure runs (start, stop seconds) and the smoothed probability."""
    ps = smooth(probability, smoothing)
    runs = merge_and_filter(hysteresis(ps, on, off), merge_gap=merge_gap, min_duration=min_duration)
    return runs, ps


_ELECTRODE = re.compile(r"^([A-Za-z]+)(\d+|z|Z)$")


def channel_side(name: str) -> str:
    """``"left"``, ``"right"`` or ``"mid"`` for a referential or bipolar channel label (10-20 numbering)."""
    sides = set()
    for part in name.replace(" ", "").split("-"):
        m = _ELECTRODE.match(part)
        if not m:
            continue
        tail = m.group(2)
        if tail in ("z", "Z"):
            continue
        sides.add("left" if int(tail) % 2 else "right")
    return sides.pop() if len(sides) == 1 else "mid"


def lateralisation(channels: list[str], weights: np.ndarray) -> str:
    """``left`` / ``right`` when two thirds of the involved lateral weight is on one side, else ``bilateral``.

    ``n/a`` when no involved channel is lateral (midline only).
    """
    left = sum(float(w) for c, w in zip(channels, weights, strict=True) if channel_side(c) == "left")
    right = sum(float(w) for c, w in zip(channels, weights, strict=True) if channel_side(c) == "right")
    if left + right <= 0:
        return "n/a"
    share = left / (left + right)
    return "left" if share >= 2 / 3 else "right" if share <= 1 / 3 else "bilateral"
