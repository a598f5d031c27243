"""LSL: replay a recording as a stream (``dbrain stream``) and receive a stream (``dbrain monitor``).

Replay: at 1× the recording goes through mne-lsl's :class:`~mne_lsl.player.PlayerLSL`.
PlayerLSL has no speed factor (it sleeps ``chunk_size / sfreq`` between chunks,
and announcing ``sfreq × X`` would tell receivers a false rate), so a faster
replay uses :class:`Replayer`: the same thing with mne-lsl's
:class:`~mne_lsl.lsl.StreamOutlet`, chunks pushed on a schedule ``X`` times
faster, each sample stamped with its scheduled time, the nominal rate and the
channel description (names, types, units) those of the recording.

Receive: :class:`LslSource` connects with :class:`mne_lsl.stream.StreamLSL`
and takes every acquired chunk from its acquisition callback (every sample,
in order, with its timestamp); it notices a silent stream (``lost_after``
seconds without samples), drops the connection, and reconnects when a
stream of that name is back.
"""

from __future__ import annotations

import queue
import threading
import time

import mne
import numpy as np

from ..errors import RecordingError
from ..utils import logger
from ._core import stream_info

_QUIET = False


def _quiet_liblsl() -> None:
    """Keep liblsl's own log (INFO lines on stderr) to errors: a bad stream must give one clear line."""
    global _QUIET
    if not _QUIET:
        from mne_lsl.lsl import set_config_content

        set_config_content("[log]\nlevel = -3\n")
        _QUIET = True


def _stream_info_lsl(raw: mne.io.BaseRaw, name: str, source_id: str):
    _quiet_liblsl()
    from mne_lsl.lsl import StreamInfo

    types = raw.get_channel_types(unique=True)
    sinfo = StreamInfo(name, types[0] if len(types) == 1 else "EEG", len(raw.ch_names), raw.info["sfreq"], np.float64, source_id)
    sinfo.set_channel_info(raw.info)
    return sinfo


class Replayer:
    """Replay a recording over LSL ``speed`` times faster than real time (any speed, 1× included).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (lazy is fine: chunks are read as they are sent).
    name : str
        LSL stream name.
    speed : float
        Samples are sent ``speed`` × faster than their rate; timestamps follow the schedule.
    loop : bool
        Start again at the end (the timestamps go on).
    chunk_seconds : float
        Wall seconds between pushes.
    wait_for : float | None
        Seconds to wait for a first receiver before sending (None: send at once).
    """

    def __init__(
        self,
        raw,
        name: str,
        *,
        speed: float = 1.0,
        loop: bool = False,
        chunk_seconds: float = 1 / 16,
        wait_for: float | None = 30.0,
    ):
        _quiet_liblsl()
        from mne_lsl.lsl import StreamOutlet

        self.raw, self.name, self.speed, self.loop = raw, name, float(speed), bool(loop)
        self.sfreq = float(raw.info["sfreq"])
        self.chunk = max(1, int(round(self.sfreq * self.speed * chunk_seconds)))
        self.outlet = StreamOutlet(_stream_info_lsl(raw, name, f"dbrain-{name}"), chunk_size=1)
        self.sent = 0
        self.wait_for = wait_for
        from mne_lsl.lsl import local_clock

        self._created = local_clock()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"dbrain-replay-{name}", daemon=True)

    def start(self) -> Replayer:
        self._thread.start()
        return self

    def _run(self) -> None:
        from mne_lsl.lsl import local_clock

        n = self.raw.n_times
        period = 1.0 / (self.sfreq * self.speed)
        if self.wait_for is not None:
            # At X× a receiver that connects a second late misses X seconds: start once one listens.
            while not self._stop.is_set() and not self.outlet.wait_for_consumers(0.2):
                if local_clock() - self._created > self.wait_for:
                    break
        t0 = local_clock()
        pos = 0
        while not self._stop.is_set():
            stop = min(n, pos + self.chunk)
            data = self.raw.get_data(start=pos, stop=stop)
            idx = self.sent + np.arange(stop - pos)
            stamps = t0 + idx * period
            wait = stamps[-1] - local_clock()
            if wait > 0 and self._stop.wait(wait):
                break
            self.outlet.push_chunk(np.ascontiguousarray(data.T), timestamp=stamps)
            self.sent += stop - pos
            pos = stop
            if pos >= n:
                if not self.loop:
                    break
                pos = 0
        if not self._stop.is_set():
            # The end of the recording: receivers see the stream end. liblsl drops what is still in
            # flight when an outlet is destroyed, so give the last chunk a moment to arrive.
            self._stop.wait(1.0)
            self._close_outlet()

    @property
    def running(self) -> bool:
        """Whether samples are still being sent."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the end of the replay; True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop sending and remove the outlet (receivers see the stream vanish)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._close_outlet()

    def _close_outlet(self) -> None:
        with self._lock:
            outlet, self.outlet = self.outlet, None
        if outlet is not None:
            outlet._del()


def replay(raw, name: str, *, speed: float = 1.0, loop: bool = False):
    """Start replaying ``raw`` over LSL: PlayerLSL at 1×, :class:`Replayer` otherwise.

    Returns
    -------
    player : Replayer | mne_lsl.player.PlayerLSL
        Started; ``stop()`` it (a PlayerLSL stops by itself at the end unless ``loop``).
    """
    _quiet_liblsl()
    if speed == 1.0:
        from mne_lsl.player import PlayerLSL

        chunk = max(2, int(round(raw.info["sfreq"] / 16)))
        while raw.n_times % chunk == 0:  # PlayerLSL (mne-lsl 1.14) fails on an empty last chunk
            chunk += 1
        return PlayerLSL(
            raw, chunk_size=chunk, n_repeat=np.inf if loop else 1, name=name, source_id=f"dbrain-{name}", annotations=False
        ).start()
    return Replayer(raw, name, speed=speed, loop=loop).start()


def find_stream(name: str, timeout: float = 5.0):
    """The LSL stream info of the one stream called ``name``, or None when there is none."""
    _quiet_liblsl()
    from mne_lsl.lsl import resolve_streams

    found = resolve_streams(timeout=timeout, name=name)
    if len(found) > 1:
        raise RecordingError(f"{len(found)} LSL streams are called {name!r}: give the stream a unique name")
    return found[0] if found else None


def _units_scale(sinfo) -> np.ndarray:
    """Factor per channel from the stream's declared units to volts (MNE streams are already in volts)."""
    scale = np.ones(sinfo.n_channels)
    try:
        units = sinfo.get_channel_units() or []
    except Exception:  # noqa: BLE001 - a stream without a description: assume volts
        return scale
    for i, u in enumerate(units[: scale.size]):
        text = str(u).lower()
        if text in ("microvolts", "uv", "µv", "-6"):
            scale[i] = 1e-6
        elif text in ("millivolts", "mv", "-3"):
            scale[i] = 1e-3
    return scale


class LslSource:
    """Receive an LSL stream by name with :class:`mne_lsl.stream.StreamLSL`, every sample with its timestamp.

    Parameters
    ----------
    name : str
        Stream name.
    timeout : float
        Seconds to wait for the stream at the first connection.
    lost_after : float
        Wall seconds without samples after which the stream counts as lost.
    speed : float
        Replay speed of the stream (sizes the buffers).
    poll : float
        Seconds between reads.
    """

    def __init__(self, name: str, *, timeout: float = 10.0, lost_after: float = 2.0, speed: float = 1.0, poll: float = 0.1):
        self.name, self.lost_after, self.poll = name, float(lost_after), float(poll)
        # The inlet buffers ceil(bufsize) s of nominal-rate samples and each acquire() pulls at most bufsize s:
        # both must hold what a replay X times faster sends between two polls, and during the ~3 s the
        # monitor takes to set up after connecting (loading the model).
        self.bufsize = max(10.0, float(speed) * (4.0 * self.poll + 3.0) + 5.0)
        sinfo = find_stream(name, timeout)
        if sinfo is None:
            raise RecordingError(f"no LSL stream called {name!r} was found within {timeout:g} s")
        if not sinfo.sfreq > 0:
            raise RecordingError(f"stream {name!r} has no regular sampling rate (nominal rate 0): cannot monitor it")
        stream_info(["Cz"], ["eeg"], sinfo.sfreq)  # the rate alone, before connecting
        self._check = (sinfo.n_channels, float(sinfo.sfreq))
        self._queue: queue.Queue = queue.Queue()
        self.stream = None
        self.lost = False
        self.reconnections = 0
        self._connect(sinfo)
        # The channel description comes with the connection (a resolved stream info has no description).
        try:
            self.info = stream_info(self.stream.info["ch_names"], self.stream.get_channel_types(), sinfo.sfreq)
        except BaseException:
            self._disconnect()
            raise

    def _connect(self, sinfo) -> None:
        from mne_lsl.stream import StreamLSL

        scale = _units_scale(sinfo)
        stream = StreamLSL(self.bufsize, name=self.name, source_id=sinfo.source_id)

        def take(data, timestamps, info):
            self._queue.put((np.array(data, dtype=np.float64) * scale, np.array(timestamps)))
            return data, timestamps

        # Manual acquisition (no acquisition thread per stream): read() calls acquire(), whose callback
        # hands over every chunk pulled, in order, with its timestamps.
        stream.connect(acquisition_delay=None, processing_flags=None, timeout=5.0)
        stream.add_callback(take)
        self.stream = stream
        self._connected = time.monotonic()
        if not getattr(self, "lost", False):
            self._last = self._connected

    def _disconnect(self) -> None:
        stream, self.stream = self.stream, None
        if stream is None:
            return

        def close():
            try:
                stream.disconnect()
            except Exception as exc:  # noqa: BLE001 - the stream is gone anyway
                logger.debug("disconnect: %s", exc)

        # liblsl's inlet destruction can block while its outlet is silent but still open (seen with
        # liblsl 1.17): let it finish in the background rather than stall the monitor.
        thread = threading.Thread(target=close, name=f"dbrain-lsl-close-{self.name}", daemon=True)
        thread.start()
        thread.join(1.0)

    def read(self, timeout: float = 0.1):
        """Samples received since the last call: ``(data (n_channels, n) V, timestamps)`` or None.

        Also updates :attr:`lost`: True once the stream has been silent ``lost_after`` s;
        while lost, each call tries to reconnect (and sets it back to False on success).
        """
        chunks = []
        if self.stream is not None:
            time.sleep(timeout)
            while True:  # each acquire() pulls at most one buffer: go on while buffers come full
                before = self._queue.qsize()
                self.stream.acquire()
                if self._queue.qsize() == before or self._queue.queue[-1][1].size < self.stream.n_buffer:
                    break
        try:
            chunks.append(self._queue.get_nowait())
            while True:
                chunks.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if chunks:
            self._last = time.monotonic()
            if self.lost:  # samples again: back
                self.lost = False
                self.reconnections += 1
            data = np.concatenate([c[0] for c in chunks], axis=0).T
            ts = np.concatenate([c[1] for c in chunks])
            return data, ts
        if time.monotonic() - self._last > self.lost_after:
            if not self.lost:
                self.lost = True
                self._disconnect()
            elif self.stream is not None and time.monotonic() - self._connected > self.lost_after:
                self._disconnect()  # connected again, but still silent: drop it and look again later
            elif self.stream is None:
                self._try_reconnect()
        return None

    def _try_reconnect(self) -> None:
        sinfo = find_stream(self.name, timeout=0.5)
        if sinfo is None:
            return
        if (sinfo.n_channels, float(sinfo.sfreq)) != self._check:
            raise RecordingError(
                f"stream {self.name!r} came back with {sinfo.n_channels} channels at {sinfo.sfreq:g} Hz "
                f"instead of {self._check[0]} at {self._check[1]:g} Hz"
            )
        try:
            self._connect(sinfo)
        except Exception as exc:  # noqa: BLE001 - try again at the next read
            logger.info("reconnection to %s failed: %s", self.name, exc)

    def close(self) -> None:
        self._disconnect()
