"""One time convention for every place dbrain shows a time (report, events table, viewer, API).

Clock time when the recording start is known: ``HH:MM:SS``, and ``D<n> HH:MM:SS`` (day 1 = the start's
calendar day) when the recording runs past midnight, so the same instant reads the same everywhere and a
24 h or 72 h recording never shows two different 11:26:10s. Elapsed time ``+h:mm:ss`` only where the
start is unknown (the plus sign keeps it from being read as a clock time). Never scientific notation.
The viewer's JavaScript (``server/static``) implements the same rule; tests pin the two together.
"""

from __future__ import annotations

import datetime as dt
import math


def is_multiday(start: dt.datetime | None, duration: float) -> bool:
    """Whether a recording starting at ``start`` and lasting ``duration`` s crosses midnight.

    Parameters
    ----------
    start : datetime.datetime | None
        Clock time of the first sample (None when unknown).
    duration : float
        Length in seconds.

    Returns
    -------
    multiday : bool
        False when ``start`` is None.
    """
    if start is None:
        return False
    end = start + dt.timedelta(seconds=max(float(duration), 0.0))
    return end.date() > start.date()


def format_time(seconds: float, start: dt.datetime | None = None, *, multiday: bool = False, decimals: int = 0) -> str:
    """A time in a recording, written the one dbrain way.

    Parameters
    ----------
    seconds : float
        Seconds from the first sample.
    start : datetime.datetime | None
        Clock time of the first sample; None when unknown (elapsed time is written).
    multiday : bool
        Prefix the day (``D1``, ``D2`` …); pass :func:`is_multiday` of the recording so every time in one
        recording carries the prefix or none does.
    decimals : int
        Digits after the seconds (0–3), e.g. 1 for the viewer's cursor.

    Returns
    -------
    text : str
        ``"14:03:27"``, ``"D2 11:26:10"``, ``"14:03:27.4"`` or, without a start, ``"+1:05:09"``.

    Examples
    --------
    >>> import datetime as dt
    >>> format_time(3723.0)
    '+1:02:03'
    >>> format_time(90000.0, dt.datetime(2026, 1, 1, 8, 0, 0), multiday=True)
    'D2 09:00:00'
    """
    if not isinstance(seconds, int | float) or not math.isfinite(float(seconds)):
        raise ValueError(f"seconds must be a finite number, got {seconds!r}")
    if not 0 <= decimals <= 3:
        raise ValueError(f"decimals must be 0–3, got {decimals!r}")
    scale = 10**decimals
    ticks = round(float(seconds) * scale)  # round once, so 59.96 s never prints as "00:00:60.0"
    if start is None:
        sign = "-" if ticks < 0 else "+"
        whole, frac = divmod(abs(ticks), scale)
        text = f"{sign}{whole // 3600:d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
        return text + (f".{frac:0{decimals}d}" if decimals else "")
    stamp = start.replace(microsecond=0) + dt.timedelta(microseconds=start.microsecond) + dt.timedelta(seconds=ticks / scale)
    frac = round(stamp.microsecond / 10 ** (6 - decimals)) if decimals else 0
    if frac >= scale:  # microseconds rounded up to the next second
        stamp, frac = stamp.replace(microsecond=0) + dt.timedelta(seconds=1), 0
    text = stamp.strftime("%H:%M:%S") + (f".{frac:0{decimals}d}" if decimals else "")
    if multiday:
        text = f"D{(stamp.date() - start.date()).days + 1} {text}"
    return text
