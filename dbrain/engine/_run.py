"""The chunk loop: read each chunk once, compute each product once, feed every step."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import ParameterError
from ._products import ProductCache
from ._protocol import Chunk, Step, StepResult, StreamInfo


class Engine:
    """Feeds one source's chunks to a list of steps (already in run order).

    Push mode (a live stream): :meth:`start`, then :meth:`push` as samples
    arrive (read :meth:`partial` between pushes), then :meth:`finish`.
    Pull mode (a file): :func:`run` does the same over a source.

    Parameters
    ----------
    steps : list of Step
        Step objects, dependencies first. Whole-recording steps
        (``whole_recording = True``) only run in :meth:`finish`.
    results : dict | None
        Where finished results go, by step name (shared with whole-recording
        steps that read earlier results); a new dict by default.
    n_jobs : int | None
        Threads running the updates of the steps marked ``concurrent`` side
        by side, chunk by chunk (default: :func:`dbrain.detect._filter.n_threads`,
        the CPUs this process may use, at most 4; -1: every CPU); 1 runs
        every update in the engine's thread. Results do not depend on it.

    Attributes
    ----------
    seconds : dict of str to float
        Time spent in each step's start, update and finish, in the engine's thread.
    thread_seconds : dict of str to float
        Wall time of work steps run in threads of their own, overlapping the above (e.g. qeeg).
    product_seconds : dict of str to float
        Time spent computing each product.
    read_seconds : float
        Time spent reading the source (pull mode).
    pass_seconds : float
        Wall time of the single pass (pull mode: first chunk read to last chunk pushed, the qEEG
        thread's end included), the steps' finishes excluded.
    """

    def __init__(self, steps: list[Step], *, results: dict | None = None, n_jobs: int | None = None):
        for step in steps:
            if not isinstance(step, Step):
                raise ParameterError(f"engine steps must be dbrain.engine.Step objects, got {type(step).__name__}")
        self.steps = list(steps)
        self.results = {} if results is None else results
        self._streaming = [s for s in self.steps if not s.whole_recording]
        self._cache = ProductCache([p for s in self._streaming for p in s.requires])
        self.seconds = {s.name: 0.0 for s in self.steps}
        self.product_seconds = self._cache.seconds
        self.read_seconds = 0.0
        self.pass_seconds = 0.0
        self.thread_seconds: dict[str, float] = {}
        self.n_times = 0
        self.info: StreamInfo | None = None
        if n_jobs is None:
            from ..detect._filter import n_threads

            n_jobs = n_threads()
        self.n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
        self._concurrent = [s for s in self._streaming if s.concurrent] if self.n_jobs > 1 else []
        if len(self._concurrent) < 2:
            self._concurrent = []
        self._serial = [s for s in self._streaming if s not in self._concurrent]
        if self._concurrent:
            _cap_malloc_arenas()

    def _timed(self, step, method, *args):
        t0 = time.perf_counter()
        try:
            return getattr(step, method)(*args)
        finally:
            self.seconds[step.name] += time.perf_counter() - t0

    def start(self, info: StreamInfo) -> Engine:
        """Start products and streaming steps for a source described by ``info``."""
        self.info = info
        self._cache.start(info)
        info.products = dict(self._cache.instances)
        for step in self._streaming:
            self._timed(step, "start", info)
        return self

    def push(self, data: np.ndarray) -> None:
        """Feed the next samples, shape (n_channels, n), float volts, any ``n`` ≥ 1."""
        if self.info is None:
            raise RuntimeError("Engine.push before Engine.start")
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[0] != len(self.info.ch_names):
            raise ParameterError(f"a chunk must be (n_channels={len(self.info.ch_names)}, n_times), got shape {data.shape}")
        if data.shape[1] == 0:
            return
        chunk = Chunk(self.n_times, data, self._cache)
        # Products first, here, every one for every chunk: the cache is not shared between threads, and a
        # product that keeps state between chunks (ecg_peaks) must see each chunk whatever the steps read.
        for name in self._cache.order:
            chunk[name]
        if self._concurrent:
            pool = _pool(self.n_jobs)
            futures = [pool.submit(self._timed, step, "update", chunk) for step in self._concurrent]
            for future in futures:  # all finish before the others run (e.g. qEEG's process pool at its end)
                future.result()
        for step in self._serial:
            self._timed(step, "update", chunk)
        self.n_times = chunk.stop

    def partial(self) -> dict:
        """Each streaming step's result so far (steps offering none are left out)."""
        out = {}
        for step in self._streaming:
            value = step.partial()
            if value is not None:
                out[step.name] = value
        return out

    def close(self) -> None:
        """Close every step (after :meth:`finish`, or to abandon a run)."""
        for step in self.steps:
            step.close()

    def finish(
        self,
        on_step: Callable[[int, str], None] | None = None,
        on_result: Callable[[str, StepResult], None] | None = None,
    ) -> dict[str, StepResult]:
        """Finish every step in order; returns (and stores in ``results``) their results by name.

        ``on_step(i, name)`` is called before the ``i``-th step finishes (progress of long
        whole-recording steps); ``on_result(name, result)`` right after, before the next
        step runs (write the result out, render it, let go of its large data).
        """
        if self.info is None:
            raise RuntimeError("Engine.finish before Engine.start")
        for i, step in enumerate(self.steps):
            if on_step is not None:
                on_step(i, step.name)
            result = self._timed(step, "finish")
            self.results[step.name] = result
            if step.thread_seconds is not None:
                self.thread_seconds[step.name] = step.thread_seconds
            if on_result is not None:
                on_result(step.name, result)
            _trim_memory()  # the step's working memory (and the data on_result let go of)
        return self.results


_POOLS: dict[int, ThreadPoolExecutor] = {}
_ARENAS_CAPPED = False


def _cap_malloc_arenas(n: int = 2) -> None:
    """Let glibc's allocator use at most ``n`` arenas in this process (unless ``MALLOC_ARENA_MAX`` is set).

    Each thread that allocates gets an arena of its own (up to 8 per CPU), and freed memory stays in
    it: with the steps' updates side by side, a 6 h analysis peaked at 1.25 GB instead of 0.95 GB
    (measured; 0.95 GB with one engine thread, or two with this cap). Only arenas made later are
    affected; elsewhere than glibc this does nothing.
    """
    global _ARENAS_CAPPED
    if _ARENAS_CAPPED or os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    _ARENAS_CAPPED = True
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, n)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


_LIBC = None
#: Seconds of signal between two hand-backs of freed memory during the single pass (24 h, loaded machine:
#: after every 300 s chunk 36 s of system time, every 900 s 19 s, every 3600 s 15 s but a higher peak).
TRIM_SECONDS = 900.0


def _trim_memory() -> None:
    """Hand memory freed by the process back to the system (glibc ``malloc_trim``; elsewhere nothing).

    Without it, what a step frees stays in the allocator's heaps and arenas: the next step's
    allocations do not always fit there, so the peak resident memory of an analysis was the sum
    of the steps' working memory rather than the largest (measured on 24 h: issue 19).
    """
    global _LIBC
    if _LIBC is None:
        _LIBC = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL("libc.so.6")
                libc.malloc_trim  # noqa: B018 - not glibc: AttributeError
                _LIBC = libc
            except (OSError, AttributeError):
                pass
    if _LIBC:
        _LIBC.malloc_trim(0)


def _pool(n: int) -> ThreadPoolExecutor:
    # The engine's own threads: a step's update may itself wait on the detectors' pools (dbrain.detect._filter).
    if n not in _POOLS:
        _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="dbrain-engine")
    return _POOLS[n]


def run(
    steps: list[Step],
    source,
    *,
    results: dict | None = None,
    on_progress: Callable[[float], None] | None = None,
    on_step: Callable[[int, str], None] | None = None,
    on_result: Callable[[str, StepResult], None] | None = None,
    n_jobs: int | None = None,
) -> Engine:
    """Run ``steps`` over every chunk of ``source`` and finish them.

    Parameters
    ----------
    steps : list of Step
        In run order.
    source : FileSource | ArraySource | object
        Has ``info`` and yields ``(start, data)``.
    results : dict | None
        As for :class:`Engine`.
    on_progress : callable | None
        Called with the fraction of the source consumed (when its length is known).
    on_step, on_result : callable | None
        Passed to :meth:`Engine.finish`.
    n_jobs : int | None
        As for :class:`Engine`.

    Returns
    -------
    engine : Engine
        Finished; results in ``engine.results``, timings in ``engine.seconds`` and ``engine.product_seconds``.
    """
    engine = Engine(steps, results=results, n_jobs=n_jobs)
    try:
        engine.start(source.info)
        if engine._streaming:
            t0 = time.perf_counter()
            with _one_blas_thread():
                _pass(engine, source, on_progress)
            engine.pass_seconds = time.perf_counter() - t0
        engine.finish(on_step, on_result)
    finally:
        engine.close()
    return engine


@contextlib.contextmanager
def _one_blas_thread():
    """One BLAS thread per call during the single pass (threadpoolctl; process-wide while it lasts).

    The pass already keeps the CPUs busy with its own threads (steps side by side, the qEEG thread, the
    detectors' pools); BLAS threads on top only compete for them, and each holds a buffer of its own
    (6 h, loaded machine: 32.1 → 29.1 s user time, peak RSS 792 → 680 MB). Every table of the pass is the
    same with one or two BLAS threads (compared); the whole-recording steps after the pass (network:
    least squares that round differently with the thread count) keep the default.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency of dbrain (and scikit-learn)
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _pass(engine: Engine, source, on_progress) -> None:
    """Push every chunk of ``source`` into ``engine`` (the single pass)."""
    total = source.info.n_times
    trimmed, trim_every = 0, int(TRIM_SECONDS * source.info.sfreq)
    t0 = time.perf_counter()
    for start, data in source:
        if start != engine.n_times:
            raise RuntimeError(f"source skipped or repeated samples: chunk at {start}, expected {engine.n_times}")
        engine.read_seconds += time.perf_counter() - t0
        engine.push(data)
        del data
        if engine.n_times >= trimmed + trim_every:
            # Freed temporaries back to the system every TRIM_SECONDS of signal: after every 300 s chunk
            # it cost ~0.7 s of system time per hour of recording (pages returned, then faulted in again).
            _trim_memory()
            trimmed = engine.n_times
        if on_progress is not None and total:
            on_progress(engine.n_times / total)
        t0 = time.perf_counter()
