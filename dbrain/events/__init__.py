"""The project's one events table (SzCORE / HED-SCORE TSV columns)."""

from ._table import (
    EVENT_COLUMNS,
    empty_events,
    events_from_annotations,
    make_events,
    read_events,
    with_datetime,
    write_annotations_edf,
    write_events,
)

__all__ = [
    "EVENT_COLUMNS",
    "empty_events",
    "events_from_annotations",
    "make_events",
    "read_events",
    "with_datetime",
    "write_annotations_edf",
    "write_events",
]
