"""Samples kept between chunks as a list of pieces, read back without joining them all first."""

from __future__ import annotations

import numpy as np


def gather(pieces: list[np.ndarray], first: int, lo: int, hi: int, n_rows: int) -> np.ndarray:
    """Samples ``[lo, hi)`` of consecutive ``pieces`` (the first starting at sample ``first``), one C-contiguous copy.

    The same values as ``np.concatenate(pieces, axis=1)[:, lo - first : hi - first]`` copied contiguous,
    without the intermediate copy of every kept sample.
    """
    out = np.empty((n_rows, hi - lo))
    pos = first
    for piece in pieces:
        n = piece.shape[1]
        a, b = max(lo, pos), min(hi, pos + n)
        if a < b:
            out[:, a - lo : b - lo] = piece[:, a - pos : b - pos]
        pos += n
    return out


def drop_before(pieces: list[np.ndarray], first: int, keep_from: int) -> list[np.ndarray]:
    """The pieces from sample ``keep_from`` on (views; the first piece starting at ``first``)."""
    out, pos = [], first
    for piece in pieces:
        n = piece.shape[1]
        if pos + n > keep_from:
            out.append(piece[:, max(0, keep_from - pos) :])
        pos += n
    return out
