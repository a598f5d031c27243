"""Alarms: raised once per episode (hysteresis), with a "cleared" event, and the alarms table."""

from __future__ import annotations

import csv
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: Columns of ``alarms.tsv`` (stream seconds; ``channels`` comma-separated).
ALARM_COLUMNS = ("raised", "type", "onset", "confidence", "channels")

#: Alarm types the monitor raises.
ALARM_TYPES = (
    "seizure",
    "burst_suppression",
    "suppression",
    "flat_channel",
    "clipping",
    "line_noise",
    "dropped_samples",
    "timestamp_jitter",
    "stream_lost",
)


@dataclass
class Alarm:
    """One alarm episode.

    Attributes
    ----------
    id : str
        A UUID, the same for the raised and cleared events of the episode.
    type : str
        One of :data:`ALARM_TYPES`.
    raised : float
        Stream seconds when the monitor raised it.
    onset : float
        Estimated onset of the event (stream seconds); ≤ ``raised``.
    confidence : float
        0–1.
    channels : list of str
        Channels involved (empty when it concerns the whole stream).
    state : str
        ``"raised"`` or ``"cleared"``.
    cleared : float | None
        Stream seconds when it cleared.
    wall : float
        Unix time when raised.
    detail : str
        A short human-readable reason.
    """

    type: str
    raised: float
    onset: float
    confidence: float
    channels: list[str] = field(default_factory=list)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "raised"
    cleared: float | None = None
    wall: float = field(default_factory=time.time)
    detail: str = ""

    def to_json(self) -> dict:
        """The alarm as posted to the data centre (``docs/monitor.md``)."""
        return {
            "id": self.id,
            "raised": round(float(self.raised), 3),
            "type": self.type,
            "onset": round(float(self.onset), 3),
            "confidence": round(float(self.confidence), 4),
            "channels": list(self.channels),
            "state": self.state,
        }

    def row(self) -> dict:
        """The alarm's row in ``alarms.tsv``."""
        return {
            "raised": f"{self.raised:.3f}",
            "type": self.type,
            "onset": f"{self.onset:.3f}",
            "confidence": f"{self.confidence:.3f}",
            "channels": ",".join(self.channels),
        }


class AlarmBook:
    """Keeps one open episode per (type, key): raise once, update, clear once.

    A condition reported by a check is ``on`` (the alarm's raise criterion
    is met) or ``off`` (its clear criterion is met); anything between keeps
    the current state. Each change calls the listeners with the alarm.
    """

    def __init__(self):
        self.open: dict[tuple[str, str], Alarm] = {}
        self.history: list[Alarm] = []
        self.listeners: list = []

    def _emit(self, alarm: Alarm) -> None:
        for listener in self.listeners:
            listener(alarm)

    def raise_(self, kind: str, key: str, *, t: float, onset: float, confidence: float, channels=(), detail="") -> Alarm | None:
        """Raise an alarm unless its episode is already open; returns the new alarm or None."""
        if (kind, key) in self.open:
            return None
        alarm = Alarm(kind, float(t), float(min(onset, t)), float(confidence), list(channels), detail=detail)
        self.open[(kind, key)] = alarm
        self.history.append(alarm)
        self._emit(alarm)
        return alarm

    def clear(self, kind: str, key: str, *, t: float) -> Alarm | None:
        """Clear an open episode; returns it (state ``cleared``) or None when none was open."""
        alarm = self.open.pop((kind, key), None)
        if alarm is None:
            return None
        alarm.state, alarm.cleared = "cleared", float(t)
        self._emit(alarm)
        return alarm

    def is_open(self, kind: str, key: str = "") -> bool:
        return (kind, key) in self.open

    def open_keys(self, kind: str) -> list[str]:
        return [k for (t, k) in self.open if t == kind]


class AlarmTable:
    """``alarms.tsv``: one row per raised alarm, appended and flushed at once.

    Parameters
    ----------
    path : path-like
        The file (created with its header; replaced if present).
    """

    def __init__(self, path):
        self.path = Path(path)
        self._fid = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - kept open for appends
        self._writer = csv.DictWriter(self._fid, fieldnames=ALARM_COLUMNS, delimiter="\t", lineterminator="\n")
        self._writer.writeheader()
        self._fid.flush()

    def add(self, alarm: Alarm) -> None:
        if alarm.state != "raised":
            return
        self._writer.writerow(alarm.row())
        self._fid.flush()

    def close(self) -> None:
        self._fid.close()
