"""Chunked reading of a (lazy) Raw with the overlap and padding that epochs need.

Epoch ``i`` covers samples ``[i·n_step, i·n_step + n_win)``. A chunk holds
epochs ``[e0, e1)`` and *owns* the samples ``[e0·n_step, e1·n_step)`` (up to
the end of the recording for the last chunk): block measures such as the
aEEG envelope are computed for blocks starting in the owned range, so each
block is computed once. The chunk is read with ``pad`` samples of real
signal on each side, zero-filled beyond the recording, so that every chunk
has the same layout whatever the chunk size. Only one chunk is in memory at
a time: memory is bounded by ``chunk_duration``, not by recording length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class Chunk:
    e0: int  # first epoch
    e1: int  # one past the last epoch
    own_start: int  # first owned sample (recording samples)
    own_stop: int  # one past the last owned sample
    offset: int  # recording sample of data[..., 0] (may be negative: zero padding)
    data: np.ndarray  # (n_channels, n) float32 µV, padded

    def local(self, sample):
        """Recording sample index → index into :attr:`data`."""
        return sample - self.offset


def iter_chunks(
    raw, picks, *, n_times: int, n_win: int, n_step: int, n_epochs: int, epochs_per_chunk: int, pad: int
) -> Iterator[Chunk]:
    """Yield :class:`Chunk` objects covering all epochs in order."""
    for e0 in range(0, n_epochs, epochs_per_chunk):
        e1 = min(e0 + epochs_per_chunk, n_epochs)
        own_start = e0 * n_step
        own_stop = e1 * n_step if e1 < n_epochs else n_times
        need_stop = max((e1 - 1) * n_step + n_win, own_stop)
        lo, hi = own_start - pad, need_stop + pad
        rlo, rhi = max(lo, 0), min(hi, n_times)
        data = np.zeros((len(picks), hi - lo), np.float32)
        block = raw.get_data(picks=picks, start=rlo, stop=rhi)
        block *= 1e6  # V -> µV
        data[:, rlo - lo : rhi - lo] = block
        del block
        yield Chunk(e0, e1, own_start, own_stop, lo, data)
