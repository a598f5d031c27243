"""Sources of chunks: a (lazy) file read in bounded pieces, or an array fed in pieces of any size.

A source has ``info`` (a :class:`~dbrain.engine.StreamInfo`) and yields
``(start, data)``: the first sample index and an array (n_channels, n)
float64 in volts, in order, without gaps. A live source (LSL, #21) is the
same interface, yielding as samples arrive; it can also push into an
:class:`~dbrain.engine.Engine` directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import mne
import numpy as np

from ..utils.check import _check_range, _validate_type
from ._protocol import StreamInfo


class FileSource:
    """A recording read chunk by chunk (``raw.get_data(start=, stop=)``): memory bounded by the chunk.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        A (lazy) recording as :func:`dbrain.io.read_recording` returns it.
    chunk_duration : float
        Seconds per read.
    """

    def __init__(self, raw: mne.io.BaseRaw, *, chunk_duration: float = 300.0):
        _validate_type(raw, mne.io.BaseRaw, "raw", "mne.io.BaseRaw")
        _check_range("chunk_duration", chunk_duration, 1.0)
        self.raw = raw
        self.chunk = max(1, int(round(chunk_duration * raw.info["sfreq"])))
        self.info = StreamInfo(raw.info, raw.n_times)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        n = self.raw.n_times
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            yield start, self.raw.get_data(start=start, stop=stop)


class ArraySource:
    """An in-memory signal delivered in chunks of given or random sizes (a stand-in for a live stream).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        Signal in volts.
    info : mne.Info
        Its channels and sampling rate.
    sizes : int | iterable of int | None
        Samples per chunk: one size, a sequence (cycled), or None for random
        sizes between 1 sample and ``max_size``.
    max_size : int
        Largest random chunk.
    seed : int | None
        Seed of the random sizes.
    known_length : bool
        Whether the stream's length is announced in ``info.n_times`` (a live stream's is not).
    """

    def __init__(
        self,
        data: np.ndarray,
        info: mne.Info,
        *,
        sizes: int | Iterable[int] | None = None,
        max_size: int = 4096,
        seed: int | None = 0,
        known_length: bool = False,
    ):
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] != len(info["ch_names"]):
            raise ValueError(f"data must be (n_channels={len(info['ch_names'])}, n_times), got shape {data.shape}")
        self.data = data
        self.sizes = sizes
        self.max_size = int(max_size)
        self.seed = seed
        self.info = StreamInfo(info, data.shape[1] if known_length else None)

    def _sizes(self) -> Iterator[int]:
        if self.sizes is None:
            rng = np.random.default_rng(self.seed)
            while True:
                yield int(rng.integers(1, self.max_size + 1))
        elif isinstance(self.sizes, int | np.integer):
            while True:
                yield int(self.sizes)
        else:
            sizes = [int(s) for s in self.sizes]
            while True:
                yield from sizes

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        n, start = self.data.shape[1], 0
        for size in self._sizes():
            if start >= n:
                return
            stop = min(n, start + max(1, size))
            yield start, self.data[:, start:stop]
            start = stop
