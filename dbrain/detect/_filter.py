"""Zero-phase filtering shared by the spike detector and the pattern classifier.

Filter designs are cached, and long multichannel blocks are filtered in
threads, a group of rows each (SciPy's second-order-section loop releases
the GIL). Each row is filtered exactly as :func:`scipy.signal.sosfiltfilt`
would filter it alone, so the result does not depend on the number of
threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from scipy import signal

_MIN_SAMPLES_PER_THREAD = 20_000  # below this, threads cost more than they save
_POOL: ThreadPoolExecutor | None = None


def n_threads() -> int:
    """Threads used for filtering: the CPUs this process may use, at most 4 (``DBRAIN_FILTER_THREADS`` overrides)."""
    env = os.environ.get("DBRAIN_FILTER_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def thread_pool(n: int) -> ThreadPoolExecutor:
    """A process-wide pool of at least ``n`` threads (created on first use, kept for later calls)."""
    global _POOL
    if _POOL is None or _POOL._max_workers < n:  # noqa: SLF001 (the pool's size)
        _POOL = ThreadPoolExecutor(max_workers=n, thread_name_prefix="dbrain-detect")
    return _POOL


_FILTER_POOLS: dict[int, ThreadPoolExecutor] = {}


def _filter_pool(n: int) -> ThreadPoolExecutor:
    # Separate from :func:`thread_pool`: a chunk running in that pool may filter in threads of its own.
    if n not in _FILTER_POOLS:
        _FILTER_POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="dbrain-filter")
    return _FILTER_POOLS[n]


@lru_cache(maxsize=64)
def butter_sos(order: int, freq, btype: str, sfreq: float) -> np.ndarray:
    """A cached Butterworth design in second-order sections (``freq`` a float or a tuple); do not modify it."""
    sos = signal.butter(order, freq, btype, fs=sfreq, output="sos")
    return sos


def sosfiltfilt_rows(sos: np.ndarray, x: np.ndarray, threads: int | None = None) -> np.ndarray:
    """``scipy.signal.sosfiltfilt(sos, x, axis=-1)`` of a 2-D array, rows split across ``threads`` (default :func:`n_threads`)."""
    n = n_threads() if threads is None else max(1, int(threads))
    if n == 1 or x.ndim != 2 or x.shape[0] < 2 or x.size < _MIN_SAMPLES_PER_THREAD * 2:
        return signal.sosfiltfilt(sos, x, axis=-1)
    n = min(n, x.shape[0])
    bounds = np.linspace(0, x.shape[0], n + 1).astype(int)
    parts = list(
        _filter_pool(n).map(
            lambda ab: signal.sosfiltfilt(sos, x[ab[0] : ab[1]], axis=-1), zip(bounds[:-1], bounds[1:], strict=True)
        )
    )
    return np.concatenate(parts, axis=0)
