"""One events table for all of dbrain.

Columns follow the SzCORE / HED-SCORE events TSV used by epilepsy2bids:

=================  =======  ====================================================
column             unit     meaning
=================  =======  ====================================================
onset              s        start, from the first sample of the recording
duration           s        length (0 for an instantaneous event)
eventType          text     ``sz`` for seizures, ``bckg`` for background, or a
                            HED-SCORE / free-text label (``spike``, ``LPD`` …)
confidence         0–1      detector confidence; ``n/a`` for human annotations
channels           text     comma-separated channel names; ``n/a`` if global
dateTime           ISO      wall-clock start of the event, ISO 8601
                            (``2024-03-01T22:15:12.500``; ``n/a`` if unknown)
recordingDuration  s        duration of the whole recording
=================  =======  ====================================================

Missing values are written as ``n/a`` as BIDS requires.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EventsError
from ..utils._atomic import atomic_file

EVENT_COLUMNS = ["onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration"]
# ISO 8601 (BIDS ``dateTime``), to the millisecond, in the recording's own clock (no UTC offset: EDF has none).
_DT_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def empty_events() -> pd.DataFrame:
    """Return an events table with no rows and the standard columns."""
    return pd.DataFrame(
        {
            "onset": pd.Series(dtype=float),
            "duration": pd.Series(dtype=float),
            "eventType": pd.Series(dtype=object),
            "confidence": pd.Series(dtype=float),
            "channels": pd.Series(dtype=object),
            "dateTime": pd.Series(dtype=object),
            "recordingDuration": pd.Series(dtype=float),
        }
    )


def _format_datetime(start: dt.datetime | None, onset: float) -> str:
    if start is None:
        return "n/a"
    return (start + dt.timedelta(seconds=float(onset))).strftime(_DT_FORMAT)[:-3]


def with_datetime(events: pd.DataFrame, start: dt.datetime | None) -> pd.DataFrame:
    """The events with ``dateTime`` written again from their onsets and the recording start.

    Steps build their events independently; the results folder gives every row the same
    clock, the one of :class:`dbrain.io.RecordingInfo` (``start_time`` = the first sample).

    Parameters
    ----------
    events : pandas.DataFrame
        A table with :data:`EVENT_COLUMNS`.
    start : datetime.datetime | None
        Clock time of the first sample; None writes ``n/a``.

    Returns
    -------
    events : pandas.DataFrame
        A copy.
    """
    out = events.copy()
    out["dateTime"] = [_format_datetime(start, o) for o in out["onset"]] if len(out) else pd.Series(dtype=object)
    return out


def make_events(
    onset,
    duration,
    event_type,
    *,
    confidence=None,
    channels=None,
    meas_date: dt.datetime | None = None,
    recording_duration: float | None = None,
) -> pd.DataFrame:
    """Build an events table from columns.

    Parameters
    ----------
    onset, duration : array-like of float
        Seconds from the first sample.
    event_type : str or array-like of str
        One label for all rows or one per row.
    confidence : array-like of float | None
        Per-event confidence in [0, 1]; ``None`` for human annotations.
    channels : array-like of (str | list of str | None) | None
        Channels involved per event.
    meas_date : datetime | None
        Wall-clock start of the recording, for the ``dateTime`` column.
    recording_duration : float | None
        Duration of the recording in seconds.

    Returns
    -------
    events : pandas.DataFrame
        The table with :data:`EVENT_COLUMNS`, sorted by onset.
    """
    onset = np.atleast_1d(np.asarray(onset, dtype=float))
    n = onset.size
    duration = np.broadcast_to(np.asarray(duration, dtype=float), (n,)).copy()
    types = [event_type] * n if isinstance(event_type, str) else list(event_type)
    conf = np.full(n, np.nan) if confidence is None else np.broadcast_to(np.asarray(confidence, float), (n,)).copy()
    if channels is None:
        chans = ["n/a"] * n
    else:
        chans = [",".join(c) if isinstance(c, list | tuple) else ("n/a" if c is None else str(c)) for c in channels]
    if len(types) != n or len(chans) != n:
        raise EventsError(f"events columns differ in length: {n} onsets, {len(types)} types, {len(chans)} channel lists")
    if np.any(~np.isfinite(onset)) or np.any(duration < 0):
        raise EventsError("event onsets must be finite and durations non-negative")
    if np.any((conf < 0) | (conf > 1)):
        raise EventsError("event confidence must be within [0, 1]")
    df = pd.DataFrame(
        {
            "onset": onset,
            "duration": duration,
            "eventType": types,
            "confidence": conf,
            "channels": chans,
            "dateTime": [_format_datetime(meas_date, o) for o in onset],
            "recordingDuration": np.nan if recording_duration is None else float(recording_duration),
        },
        columns=EVENT_COLUMNS,
    )
    if n == 0:
        return empty_events()
    return df.sort_values("onset", kind="stable").reset_index(drop=True)


def events_from_annotations(raw, *, skip_internal: bool = True) -> pd.DataFrame:
    """Turn an MNE ``Raw``'s annotations into an events table.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording.
    skip_internal : bool
        Drop dbrain's own ``BAD_ACQ_SKIP`` gap markers and EDF ``EDF Annotations``
        bookkeeping entries, which are not clinical events.

    Returns
    -------
    events : pandas.DataFrame
    """
    ann = raw.annotations
    meas_date = raw.info["meas_date"]
    first = raw.first_samp / raw.info["sfreq"]
    onset = np.asarray(ann.onset, float)
    if ann.orig_time is not None:
        onset = onset - first
    keep = np.ones(len(ann), bool)
    if skip_internal:
        keep = np.array([d not in ("BAD_ACQ_SKIP", "EDF Annotations") for d in ann.description], bool)
    chans = [list(c) if len(c) else None for c in ann.ch_names]
    return make_events(
        onset[keep],
        np.asarray(ann.duration, float)[keep],
        [d for d, k in zip(ann.description, keep, strict=True) if k],
        channels=[c for c, k in zip(chans, keep, strict=True) if k],
        meas_date=meas_date,
        recording_duration=raw.n_times / raw.info["sfreq"],
    )


def write_events(events: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write an events table as a BIDS/SzCORE TSV (``n/a`` for missing values).

    Parameters
    ----------
    events : pandas.DataFrame
        A table with :data:`EVENT_COLUMNS`.
    path : path-like
        Output file, written atomically.

    Returns
    -------
    path : pathlib.Path
    """
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise EventsError(f"events table lacks columns {missing}")
    out = events[EVENT_COLUMNS].copy()
    out["confidence"] = out["confidence"].map(lambda v: "n/a" if pd.isna(v) else f"{float(v):.4f}")
    for col in ("onset", "duration", "recordingDuration"):
        out[col] = out[col].map(lambda v: "n/a" if pd.isna(v) else f"{float(v):.4f}")
    out = out.fillna("n/a")
    path = Path(path)
    with atomic_file(path) as tmp:
        out.to_csv(tmp, sep="\t", index=False, lineterminator="\n")
    return path


def read_events(path: str | os.PathLike) -> pd.DataFrame:
    """Read an events TSV written by dbrain or epilepsy2bids.

    Parameters
    ----------
    path : path-like
        The TSV; ``onset``, ``duration`` and ``eventType`` are required, the
        other standard columns are filled with missing values when absent.

    Returns
    -------
    events : pandas.DataFrame
        With :data:`EVENT_COLUMNS`.

    Raises
    ------
    dbrain.errors.EventsError
        If the file is missing a required column or has unparsable values.
    """
    path = Path(path)
    try:
        df = pd.read_csv(
            path, sep="\t", na_values=["n/a"], keep_default_na=False, dtype={"eventType": str, "channels": str, "dateTime": str}
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise EventsError(f"cannot read events '{path}': {exc}") from exc
    for col in ("onset", "duration", "eventType"):
        if col not in df.columns:
            raise EventsError(f"events '{path}' has no '{col}' column (found: {', '.join(df.columns)})")
    for col in EVENT_COLUMNS:
        if col not in df.columns:
            df[col] = "n/a" if col in ("channels", "dateTime") else np.nan
    for col in ("onset", "duration", "confidence", "recordingDuration"):
        try:
            df[col] = pd.to_numeric(df[col])
        except (TypeError, ValueError) as exc:
            raise EventsError(f"events '{path}': column '{col}' is not numeric") from exc
    df["channels"] = df["channels"].fillna("n/a")
    df["dateTime"] = df["dateTime"].fillna("n/a").astype(str)
    return df[EVENT_COLUMNS]


def write_annotations_edf(
    events: pd.DataFrame,
    path: str | os.PathLike,
    *,
    meas_date: dt.datetime | None = None,
) -> Path:
    """Write events as an annotation-only EDF+ file (opens in EDFbrowser).

    The file has one ``EDF Annotations`` signal and no data signals, the
    layout of Sleep-EDF hypnogram files; EDFbrowser imports it with
    *Tools > Import annotations* or opens it beside the recording.
    Patient and recording fields carry the EDF+ anonymous placeholder ``X``.

    Parameters
    ----------
    events : pandas.DataFrame
        A table with :data:`EVENT_COLUMNS`; channels are appended to the text
        as ``@F7,T7``.
    path : path-like
        Output ``.edf`` file, written atomically.
    meas_date : datetime | None
        Recording start for the header; 01.01.85 (EDF+ "unknown") if None.

    Returns
    -------
    path : pathlib.Path
    """
    import edfio

    anns = []
    for row in events.itertuples(index=False):
        text = str(row.eventType)
        if isinstance(row.channels, str) and row.channels not in ("", "n/a"):
            text = f"{text} @{row.channels}"
        dur = float(row.duration)
        anns.append(edfio.EdfAnnotation(float(row.onset), dur if dur > 0 else None, text))
    start = meas_date or dt.datetime(1985, 1, 1)
    path = Path(path)
    if not anns:
        with atomic_file(path) as tmp:
            tmp.write_bytes(_empty_annotations_edf(start))
        return path
    edf = edfio.Edf(
        [],
        annotations=anns,
        recording=edfio.Recording(startdate=start.date()),
        starttime=start.time().replace(microsecond=0, tzinfo=None),
    )
    with atomic_file(path) as tmp:
        edf.write(tmp)
    return path


def _empty_annotations_edf(start: dt.datetime) -> bytes:
    """An EDF+ file with an annotation signal and no annotation in it.

    edfio refuses an EDF with neither signals nor annotations, but "no events"
    is a valid result and still needs a file that EDFbrowser opens: one data
    record of duration 0 holding only the time-keeping TAL.
    """

    def field(value, width):
        return str(value).encode("ascii").ljust(width, b" ")

    header = b"".join(
        [
            field("0", 8),
            field("X X X X", 80),
            field(f"Startdate {start.strftime('%d-%b-%Y').upper()} X X X", 80),
            field(start.strftime("%d.%m.%y"), 8),
            field(start.strftime("%H.%M.%S"), 8),
            field(512, 8),
            field("EDF+C", 44),
            field(1, 8),
            field(0, 8),
            field(1, 4),
            field("EDF Annotations", 16),
            field("", 80),
            field("", 8),
            field(-1, 8),
            field(1, 8),
            field(-32768, 8),
            field(32767, 8),
            field("", 80),
            field(8, 8),
            field("", 32),
        ]
    )
    return header + b"+0\x14\x14\x00".ljust(16, b"\x00")
