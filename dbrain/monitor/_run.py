"""The monitor's loop: read a source, push into a :class:`Monitor`, watch for a lost stream, finish."""

from __future__ import annotations

import threading
from pathlib import Path

from ..utils import logger
from ._core import Monitor


def run_monitor(
    source,
    out,
    *,
    name: str,
    speed: float = 1.0,
    until_end: bool = False,
    poster=None,
    stop: threading.Event | None = None,
    analysis: bool = False,
    on_alarm=None,
    monitor_kwargs: dict | None = None,
) -> Monitor:
    """Monitor ``source`` until it ends (``until_end``) or ``stop`` is set; write the outputs in ``out``.

    Parameters
    ----------
    source : LslSource | SyntheticSource
        Has ``info``, ``read(timeout) -> (data, timestamps) | None``, ``lost``, ``reconnections``, ``close()``.
    out : path-like
        Output folder.
    name : str
        Stream name.
    speed : float
        Replay speed of the source.
    until_end : bool
        Stop once the stream is gone (after the first samples) instead of raising "stream lost"
        and waiting for it to come back.
    poster : Poster | None
        Where frames and alarms are posted.
    stop : threading.Event | None
        Set to stop (the outputs are still written).
    analysis : bool
        Also run the file analysis (``dbrain analyze``, all default steps) on ``recording.edf`` at the end,
        into ``out/analysis``.
    on_alarm : callable | None
        Called with each alarm change.
    monitor_kwargs : dict | None
        More :class:`Monitor` parameters.

    Returns
    -------
    monitor : Monitor
        Finished.
    """
    stop = stop or threading.Event()
    listeners = [f for f in (on_alarm, poster.alarm if poster else None) if f is not None]

    def alarm(a):
        for f in listeners:
            f(a)

    monitor = Monitor(
        source.info,
        out,
        name=name,
        speed=speed,
        on_alarm=alarm if listeners else None,
        on_frame=poster.frame if poster else None,
        **(monitor_kwargs or {}),
    )
    try:
        while not stop.is_set():
            got = source.read(0.1)
            if got is not None:
                monitor.push(*got)
            is_open = monitor.book.is_open("stream_lost")
            if source.lost and not is_open:
                if until_end and monitor.n_times:
                    logger.info("%s: the stream ended at %.1f s", name, monitor.seconds)
                    break
                monitor.stream_lost(True, detail=f"no samples for {getattr(source, 'lost_after', 0):g} s")
            elif not source.lost and is_open:
                monitor.stream_lost(False, detail=f"(reconnection {source.reconnections})")
                logger.warning("%s: stream reconnected (reconnection %d)", name, source.reconnections)
        monitor.finish()
    except BaseException:
        monitor.close()
        raise
    finally:
        source.close()
        if poster is not None:
            poster.close()
    if analysis and out is not None and monitor.n_times:
        from ..analyze import analyze

        analyze(Path(out) / "recording.edf", Path(out) / "analysis", overwrite=True)
    return monitor
