"""Live EEG monitoring: a stream pushed through the analysis engine's step objects, alarms, outputs.

See ``docs/monitor.md``. :class:`Monitor` is one bed; the LSL source and
player are in :mod:`dbrain.monitor._lsl`; the signal checks are a reusable
streaming step (:class:`SignalCheckStep`).
"""

from ._alarms import ALARM_COLUMNS, ALARM_TYPES, Alarm, AlarmBook, AlarmTable
from ._checks import SignalCheckStep
from ._core import Monitor, stream_info
from ._edf import EdfAppender
from ._trends import LiveTrendStep

__all__ = [
    "ALARM_COLUMNS",
    "ALARM_TYPES",
    "Alarm",
    "AlarmBook",
    "AlarmTable",
    "EdfAppender",
    "LiveTrendStep",
    "Monitor",
    "SignalCheckStep",
    "stream_info",
]
