"""Where a session's samples come from: ``synthetic``, ``file:PATH`` (replayed), ``lsl:NAME`` (live).

Each source has ``info`` (an ``mne.Info``), ``n_times`` (None when live),
``description`` and ``chunks(stop_event)``, which yields ``(data, arrival)``:
samples ``(n_channels, n)`` in volts and the ``time.perf_counter()`` at which
they arrived — the start of the latency the session measures.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import mne
import numpy as np

from ..errors import DbrainError, ParameterError

# liblsl reads its settings once, when first loaded (by mne-lsl, here or in a test's player): quiet its
# INFO lines so that a command's bad input stays one line, unless the user names a settings file.
os.environ.setdefault("LSLAPICFG", str(Path(__file__).with_name("lsl_api.cfg")))

#: Samples per chunk of a replay: 1/32 s, about what an LSL amplifier sends at a time.
CHUNKS_PER_SECOND = 32


class ReplaySource:
    """Samples from memory or a (lazy) recording, handed over at ``speed`` × real time.

    Parameters
    ----------
    raw : mne.io.BaseRaw | None
        A recording (read in 10 s pieces); or None with ``generator``.
    speed : float
        1 = real time; larger replays faster. When the session falls behind the
        schedule, chunks are handed over as soon as it is ready for them.
    seconds : float | None
        Stop after this many seconds (default: the whole recording).
    """

    def __init__(self, raw: mne.io.BaseRaw | None, *, speed: float = 1.0, seconds: float | None = None,
                 description: str = "", generator=None, info: mne.Info | None = None, n_times: int | None = None):  # fmt: skip
        self.raw = raw
        self.info = raw.info if raw is not None else info
        total = raw.n_times if raw is not None else n_times
        if seconds is not None:
            total = min(total, int(round(seconds * self.info["sfreq"])))
        self.n_times = int(total)
        self.speed = float(speed)
        self.description = description
        self._generator = generator
        self.chunk = max(1, int(round(self.info["sfreq"] / CHUNKS_PER_SECOND)))
        self.lag_s = 0.0  # largest delay behind the replay schedule

    def _pieces(self) -> Iterator[np.ndarray]:
        if self._generator is not None:
            yield from self._generator()
            return
        step = int(10 * self.info["sfreq"])
        for start in range(0, self.n_times, step):
            yield self.raw.get_data(start=start, stop=min(self.n_times, start + step))

    def chunks(self, stop_event=None) -> Iterator[tuple[np.ndarray, float]]:
        sfreq = self.info["sfreq"]
        done = 0
        t0 = time.perf_counter()
        for piece in self._pieces():
            piece = piece[:, : self.n_times - done]
            for a in range(0, piece.shape[1], self.chunk):
                if stop_event is not None and stop_event.is_set():
                    return
                data = piece[:, a : a + self.chunk]
                due = t0 + (done + data.shape[1]) / (sfreq * self.speed)
                now = time.perf_counter()
                if now < due:
                    time.sleep(due - now)
                    arrival = due  # the samples exist from their due time on; oversleeping is latency
                else:
                    self.lag_s = max(self.lag_s, now - due)
                    arrival = now  # behind schedule: the chunk is handed over now
                done += data.shape[1]
                yield data, arrival
            if done >= self.n_times:
                return

    def close(self) -> None:
        pass


def _synthetic(seconds: float, speed: float, seed: int) -> ReplaySource:
    from ..simulate._engine import Simulation

    # Whole seconds plus one, so that the last update has its samples; generated lazily in 10 s pieces.
    sim = Simulation(float(np.ceil(seconds)) + 1.0, artifacts=True, ekg=False, seed=seed)
    info = mne.create_info(sim.ch_names, sim.sfreq, sim.ch_types)

    def gen():
        for _, block in sim.chunks(int(10 * sim.sfreq)):
            yield block * 1e-6

    return ReplaySource(None, speed=speed, seconds=seconds, generator=gen, info=info, n_times=sim.n_times,
                        description=f"synthetic (dbrain.simulate, seed {seed}, with artifacts)")  # fmt: skip


class LSLSource:
    """A live LSL stream received with ``mne_lsl.stream.StreamLSL``.

    Each chunk the acquisition thread pulls is handed over through a callback
    (no sample lost or repeated); its arrival time is taken in that callback.

    Parameters
    ----------
    name : str
        The LSL stream's name.
    timeout : float
        Seconds to wait for the stream to be found.
    stall : float
        End the session when no sample arrives for this long.
    """

    def __init__(self, name: str, *, timeout: float = 5.0, stall: float = 5.0):
        from mne_lsl.stream import StreamLSL

        self.name = name
        self.stall = float(stall)
        self.description = f"lsl:{name}"
        self.n_times = None
        self.lag_s = 0.0
        self._queue: queue.Queue = queue.Queue()
        stream = StreamLSL(bufsize=10.0, name=name)
        try:
            stream.connect(acquisition_delay=0.001, timeout=timeout)
        except (RuntimeError, TimeoutError, OSError):
            raise ParameterError(f"no LSL stream named {name!r} found within {timeout:g} s") from None
        self.stream = stream
        info = stream.info
        if not info["sfreq"]:
            stream.disconnect()
            raise ParameterError(f"LSL stream {name!r} has an irregular sampling rate; neurofeedback needs a regular one")
        self.info = info
        self._scale = self._unit_scale(stream)
        stream.add_callback(self._callback)

    @staticmethod
    def _unit_scale(stream) -> np.ndarray:
        """Factors to volts: LSL streams declare µV (most amplifiers) or V (mne-lsl's player)."""
        try:
            units = stream.get_channel_units()
        except (AttributeError, RuntimeError):  # older mne-lsl: assume volts
            return np.ones(len(stream.ch_names))
        return np.array([10.0 ** float(mult) if unit is not None else 1.0 for unit, mult in units])

    def _callback(self, data, timestamps, info):
        self._queue.put((np.array(data, dtype=np.float64).T, time.perf_counter()))
        return data, timestamps

    def chunks(self, stop_event=None) -> Iterator[tuple[np.ndarray, float]]:
        last = time.monotonic()
        while True:
            if stop_event is not None and stop_event.is_set():
                return
            try:
                data, arrival = self._queue.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() - last > self.stall:
                    return
                continue
            last = time.monotonic()
            yield data * self._scale[:, None], arrival

    def close(self) -> None:
        try:
            self.stream.disconnect()
        except (RuntimeError, AttributeError):  # already gone
            pass


class BrainFlowSource:
    """A BrainFlow board, read live (``brainflow:synthetic`` = BrainFlow's synthetic board, no hardware).

    Samples come on the wall clock (the synthetic board: 16 EEG channels named Fz … F8, 250 Hz, µV). The
    board is polled every 5 ms; a chunk's arrival is its newest sample's board timestamp (so the wait in the
    board's queue counts as latency).

    Parameters
    ----------
    board : str
        ``"synthetic"`` or a BrainFlow board id (integer text); other boards need their connection
        parameters, which this source does not take yet.
    """

    def __init__(self, board: str):
        from ..utils._extras import require_extra

        require_extra("devices", "brainflow")
        from brainflow.board_shim import BoardIds, BoardShim, BrainFlowError, BrainFlowInputParams

        if board == "synthetic":
            board_id = BoardIds.SYNTHETIC_BOARD.value
        elif board.lstrip("-").isdigit():
            board_id = int(board)
        else:
            raise ParameterError(f"brainflow board must be 'synthetic' or a board id, got {board!r}")
        BoardShim.disable_board_logger()
        try:
            self.eeg = BoardShim.get_eeg_channels(board_id)
            names = BoardShim.get_eeg_names(board_id)
            sfreq = BoardShim.get_sampling_rate(board_id)
            self.ts_row = BoardShim.get_timestamp_channel(board_id)
            self.board = BoardShim(board_id, BrainFlowInputParams())
            self.board.prepare_session()
            self.board.start_stream()
        except BrainFlowError as exc:
            raise ParameterError(f"brainflow board {board!r} cannot be opened: {' '.join(str(exc).split())[:120]}") from None
        self.info = mne.create_info(list(names), float(sfreq), "eeg")
        self.n_times = None
        self.lag_s = 0.0
        self.description = f"brainflow:{board}"

    def chunks(self, stop_event=None) -> Iterator[tuple[np.ndarray, float]]:
        while stop_event is None or not stop_event.is_set():
            time.sleep(0.005)
            d = self.board.get_board_data()
            if d.shape[1] == 0:
                continue
            arrival = time.perf_counter() - max(0.0, time.time() - float(d[self.ts_row, -1]))
            yield d[self.eeg] * 1e-6, arrival

    def close(self) -> None:
        try:
            self.board.stop_stream()
            self.board.release_session()
        except Exception:  # noqa: BLE001 - releasing a board that already failed must not hide the session's result
            pass


def open_source(spec: str, *, seconds: float | None, speed: float = 1.0, seed: int = 0):
    """The source named by ``spec``.

    Parameters
    ----------
    spec : str
        ``"synthetic"`` (dbrain.simulate 10-20 EEG with blinks and muscle artifacts; replayed at ``speed``),
        ``"file:PATH"`` (any recording :func:`dbrain.io.read_recording` reads, replayed at ``speed``),
        ``"lsl:NAME"`` (a live LSL stream) or ``"brainflow:synthetic"`` (BrainFlow's synthetic board, live);
        ``speed`` does not apply to live sources.
    seconds : float | None
        Session length (replays stop there).
    speed : float
        Replay speed (× real time).
    seed : int
        Seed of the synthetic signal.

    Returns
    -------
    source : ReplaySource | LSLSource
    """
    if not isinstance(spec, str) or not spec:
        raise ParameterError(f"source must be 'synthetic', 'file:PATH', 'lsl:NAME' or 'brainflow:synthetic', got {spec!r}")
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.1 <= speed <= 1e6:
        raise ParameterError(f"speed must be a number in [0.1, 1e6], got {speed!r}")
    if spec == "synthetic":
        if seconds is None:
            raise ParameterError("a synthetic source needs the session length")
        return _synthetic(seconds, speed, seed)
    kind, _, rest = spec.partition(":")
    if kind == "file" and rest:
        from ..io import read_recording

        try:
            raw, _ = read_recording(rest)
        except DbrainError as exc:
            raise ParameterError(f"source {spec!r}: {' '.join(str(exc).split())}") from None
        return ReplaySource(raw, speed=speed, seconds=seconds, description=spec)
    if kind == "lsl" and rest:
        return LSLSource(rest)
    if kind == "brainflow" and rest:
        return BrainFlowSource(rest)
    raise ParameterError(f"source must be 'synthetic', 'file:PATH', 'lsl:NAME' or 'brainflow:synthetic', got {spec!r}")
