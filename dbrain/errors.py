"""Exceptions raised by dbrain.

Every problem caused by what a user gave us (a file, a parameter) is a
:class:`DbrainError`. The command line turns a ``DbrainError`` into one
``dbrain: …`` line on stderr and exit code 2; anything else is a bug in
dbrain and exits with code 1.

::

    DbrainError
    ├── ParameterError (also ValueError)       bad argument value
    ├── RecordingError                          a recording cannot be used
    │   ├── UnsupportedFormatError              no reader for this file type
    │   └── CorruptRecordingError (ValueError)  the file is damaged or inconsistent
    ├── MontageError (also ValueError)          montage file or definition invalid
    ├── EventsError (also ValueError)           events table invalid
    └── OutputError                             output location unusable
"""

__all__ = [
    "DbrainError",
    "ParameterError",
    "RecordingError",
    "UnsupportedFormatError",
    "CorruptRecordingError",
    "MontageError",
    "EventsError",
    "OutputError",
]


class DbrainError(Exception):
    """Base class of all errors that are the input's fault, not dbrain's."""


class ParameterError(DbrainError, ValueError):
    """A parameter has a value dbrain cannot use."""


class RecordingError(DbrainError):
    """A recording cannot be read or used."""


class UnsupportedFormatError(RecordingError):
    """No reader is known for this kind of file."""


class CorruptRecordingError(RecordingError, ValueError):
    """The file claims to be a known format but is damaged or inconsistent."""


class MontageError(DbrainError, ValueError):
    """A montage definition is invalid."""


class EventsError(DbrainError, ValueError):
    """An events table is invalid."""


class OutputError(DbrainError):
    """An output location cannot be written."""
