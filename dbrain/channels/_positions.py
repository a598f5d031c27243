"""Standard head positions of electrodes, for every head map (one helper, one rule).

Clinical recordings carry electrodes the 10-5 template has no position for
(T1/T2 anterior temporal, Sp1/Sp2 sphenoidal, Pg1/Pg2 nasopharyngeal),
vendor labels that are not electrodes at all, bipolar pairs, and sometimes
the same electrode twice. MNE's ``plot_topomap`` refuses such a set
(``overlapping positions``) and once made the whole spikes step fail
(issue #25). :func:`head_positions` keeps the electrodes with a distinct
standard position and says which were left out and why, so a head map is
drawn from the rest and the figure names what it does not show.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

#: The template: MNE's standard 10-5 positions on the Colin27 head.
TEMPLATE = "colin27_1005"
#: Two electrodes closer than this (m) are the same position on a head map.
MIN_DISTANCE = 0.002


@functools.cache
def _template() -> dict[str, np.ndarray]:
    import mne

    pos = mne.channels.make_standard_montage(TEMPLATE).get_positions()["ch_pos"]
    return {name.lower(): np.asarray(xyz, float) for name, xyz in pos.items()}


@dataclass(frozen=True)
class HeadPositions:
    """Which electrodes a head map can show.

    Attributes
    ----------
    channels : list of str
        Electrodes kept, in input order.
    index : numpy.ndarray of int
        Their indices in the input.
    xyz : numpy.ndarray, shape (n_kept, 3)
        Template positions (m).
    left_out : list of (str, str)
        Each electrode left out and why (``'no standard position'``,
        ``'same position as Fp1'``, ``'duplicate'``, ``'no value'``).
    """

    channels: list[str]
    index: np.ndarray
    xyz: np.ndarray
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def note(self, limit: int = 12) -> str:
        """One line for the figure, e.g. ``'not shown: T1, T2 (no standard position)'``; '' if all shown."""
        if not self.left_out:
            return ""
        by_reason: dict[str, list[str]] = {}
        for name, reason in self.left_out:
            by_reason.setdefault(reason, []).append(name)
        parts = []
        for reason, names in by_reason.items():
            shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
            parts.append(f"{shown} ({reason})")
        return "not shown: " + "; ".join(parts)


def head_positions(channels, values=None) -> HeadPositions:
    """Select the electrodes that have a distinct standard position.

    Parameters
    ----------
    channels : list of str
        Electrode names (normalised 10-10/10-5 spelling; case is ignored).
    values : array-like | None
        One value per channel; a channel with a non-finite value is left out.

    Returns
    -------
    positions : HeadPositions
    """
    template = _template()
    channels = [str(c) for c in channels]
    vals = None if values is None else np.asarray(values, float).reshape(-1)
    kept, index, xyz, left = [], [], [], []
    seen: set[str] = set()
    for i, name in enumerate(channels):
        key = name.strip().lower()
        pos = template.get(key)
        if key in seen:
            left.append((name, "duplicate"))
        elif pos is None or not np.all(np.isfinite(pos)):
            left.append((name, "no standard position"))
        elif vals is not None and (i >= vals.size or not np.isfinite(vals[i])):
            left.append((name, "no value"))
        else:
            near = [k for k, p in zip(kept, xyz, strict=True) if np.linalg.norm(p - pos) < MIN_DISTANCE]
            if near:
                left.append((name, f"same position as {near[0]}"))
            else:
                kept.append(name)
                index.append(i)
                xyz.append(pos)
        seen.add(key)
    return HeadPositions(kept, np.asarray(index, int), np.asarray(xyz, float).reshape(-1, 3), left)
