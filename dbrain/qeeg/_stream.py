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

import threading
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


class SampleFeed:
    """Samples pushed by one thread, read by :func:`iter_chunks` in another, as ``raw.get_data`` gives them.

    The analysis engine pushes each chunk it reads (the EEG channels
    :func:`compute_qeeg` uses, float64 volts); ``compute_qeeg`` runs in a
    thread of its own and reads through :meth:`get_data` exactly the sample
    ranges it would read from the file, so its chunks and results are the
    same. Memory is bounded: :meth:`push` waits while ``max_buffer`` samples
    are held, and samples before the latest request's start are dropped
    (requests only move forward).

    Parameters
    ----------
    n_channels : int
        Channels pushed (already picked).
    n_times : int
        Length of the whole stream in samples (known in advance).
    max_buffer : int
        Samples ahead of the reader before :meth:`push` waits; at least the span from
        one request's start to the next one's stop.
    """

    def __init__(self, n_channels: int, n_times: int, max_buffer: int):
        self.n_channels, self.n_times, self.max_buffer = int(n_channels), int(n_times), int(max_buffer)
        self._cond = threading.Condition()
        self._blocks: list[tuple[int, np.ndarray]] = []  # (first sample, data)
        self._start = 0  # first sample still held
        self._pos = 0  # start of the latest request: the reader never goes back before it
        self._end = 0  # samples pushed
        self._aborted = False

    def push(self, data: np.ndarray) -> None:
        """Append the next samples, shape (n_channels, n), float64 volts."""
        with self._cond:
            # Wait on the reader's position, not on what is held (a long block may straddle it):
            # any request spans at most max_buffer samples from the previous one's start, so a
            # waiting writer has always given the reader enough, and neither side can block the other.
            while self._end - self._pos >= self.max_buffer and not self._aborted:
                self._cond.wait()
            if self._aborted:
                return
            self._blocks.append((self._end, data))
            self._end += data.shape[1]
            self._cond.notify_all()

    def abort(self) -> None:
        """Release a waiting reader or writer (the other side failed)."""
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def get_data(self, picks=None, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Samples ``[start, stop)`` of the pushed channels (``picks`` are already applied); waits for them."""
        stop = self.n_times if stop is None else stop
        with self._cond:
            while self._end < stop and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise RuntimeError("the sample feed was aborted")
            out = np.empty((self.n_channels, stop - start))
            for first, block in self._blocks:
                lo, hi = max(start, first), min(stop, first + block.shape[1])
                if lo < hi:
                    out[:, lo - start : hi - start] = block[:, lo - first : hi - first]
            self._blocks = [(f, b) for f, b in self._blocks if f + b.shape[1] > start]
            self._start = self._blocks[0][0] if self._blocks else self._end
            self._pos = max(self._pos, start)
            self._cond.notify_all()
        return out
