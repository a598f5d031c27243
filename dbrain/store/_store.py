"""The Parquet feature store: layout, schema and atomic writes.

Layout::

    STORE/<table>/dataset=<dataset>/subject=<subject>/<key>.parquet   one file per recording and table
    STORE/results/<key>/                                               the `dbrain analyze` folder (report …)
    STORE/results/<key>/_SUCCESS                                       written last: the recording is done

``dataset`` and ``subject`` are Hive partition columns (folder names), not
columns inside the files. See ``docs/batch.md`` for every table's columns.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Fixed schemas of the store's own tables (the step tables keep their step's columns, plus ``key``).
RECORDINGS_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("config_hash", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("error_type", pa.string()),
        ("format", pa.string()),
        ("start_time", pa.string()),
        ("duration", pa.float64()),
        ("sfreq", pa.float64()),
        ("n_channels", pa.int64()),
        ("n_eeg", pa.int64()),
        ("n_events", pa.int64()),
        ("steps", pa.string()),
        ("seconds", pa.float64()),
        ("age", pa.float64()),
        ("group", pa.string()),
        ("meta", pa.string()),
        ("dbrain_version", pa.string()),
        ("created", pa.string()),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("onset", pa.float64()),
        ("duration", pa.float64()),
        ("eventType", pa.string()),
        ("confidence", pa.float64()),
        ("channels", pa.string()),
        ("dateTime", pa.string()),
        ("recordingDuration", pa.float64()),
    ]
)
FEATURES_SCHEMA = pa.schema([("key", pa.string()), ("step", pa.string()), ("feature", pa.string()), ("value", pa.float64())])
SCHEMAS = {"recordings": RECORDINGS_SCHEMA, "events": EVENTS_SCHEMA, "features": FEATURES_SCHEMA}
#: Names that are not tables of the store.
RESERVED = {"results"}
SUCCESS = "_SUCCESS"


def partition_dir(store: Path, table: str, dataset: str, subject: str) -> Path:
    """Folder of one table's files for a dataset and subject."""
    return Path(store) / table / f"dataset={dataset}" / f"subject={subject}"


def result_dir(store: Path, key: str) -> Path:
    """The ``dbrain analyze`` folder of one recording in the store."""
    return Path(store) / "results" / key


def is_done(store: Path, key: str) -> dict | None:
    """The marker's content when the recording with this key is complete in the store, else None."""
    marker = result_dir(store, key) / SUCCESS
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_table(table: pa.Table, final: Path) -> None:
    """Write one Parquet file atomically (a temporary name beside it, then a rename)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")  # not *.parquet: never matched by readers
    pq.write_table(table, tmp)
    os.replace(tmp, final)


def write_marker(store: Path, key: str, content: dict) -> None:
    """Write the ``_SUCCESS`` marker of a recording last, atomically."""
    folder = result_dir(store, key)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{SUCCESS}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(content, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, folder / SUCCESS)


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype):
            frame[col] = frame[col].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return frame


def events_table(key: str, events: pd.DataFrame) -> pa.Table:
    """The ``events`` rows of one recording (the ``dbrain.events`` columns plus ``key``)."""
    frame = _as_strings(events.reset_index(drop=True))
    frame.insert(0, "key", key)
    for col in EVENTS_SCHEMA.names:
        if col not in frame:
            frame[col] = None
    return pa.Table.from_pandas(frame[EVENTS_SCHEMA.names], schema=EVENTS_SCHEMA, preserve_index=False)


def step_table(key: str, frame: pd.DataFrame) -> pa.Table:
    """A step's result table (``qeeg``, ``network`` …) with ``key`` as first column and categories as text."""
    frame = _as_strings(frame.reset_index(drop=True))
    frame.insert(0, "key", key)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _flatten(prefix: str, value, out: list):
    if isinstance(value, bool):
        out.append((prefix, float(value)))
    elif isinstance(value, (int, float)):
        out.append((prefix, float(value)))
    elif isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)


def features_table(key: str, steps: list[dict]) -> pa.Table:
    """Every number in the steps' summaries as ``(key, step, feature, value)`` rows; nested names joined by dots."""
    rows = []
    for step in steps:
        flat: list = []
        _flatten("", step.get("summary") or {}, flat)
        rows.extend((key, step["name"], name, value) for name, value in flat)
    frame = pd.DataFrame(rows, columns=FEATURES_SCHEMA.names)
    return pa.Table.from_pandas(frame, schema=FEATURES_SCHEMA, preserve_index=False)


def recordings_table(row: dict) -> pa.Table:
    """The one ``recordings`` row of a recording, in :data:`RECORDINGS_SCHEMA`."""
    full = {name: row.get(name) for name in RECORDINGS_SCHEMA.names}
    return pa.Table.from_pylist([full], schema=RECORDINGS_SCHEMA)


def list_tables(store: str | os.PathLike) -> list[str]:
    """Names of the tables that have at least one file in the store.

    Parameters
    ----------
    store : path-like
        A feature store written by :func:`dbrain.batch.run_batch`.

    Returns
    -------
    names : list of str
        Sorted; the ``results`` folder is not a table.
    """
    store = Path(store)
    if not store.is_dir():
        return []
    return sorted(
        p.name
        for p in store.iterdir()
        if p.is_dir() and p.name not in RESERVED and not p.name.startswith(".") and next(p.rglob("*.parquet"), None)
    )
