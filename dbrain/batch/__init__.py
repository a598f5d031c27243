"""Batch analysis at scale on Dask, into a Parquet feature store queried with DuckDB.

::

    from dbrain.batch import run_batch, query
    result = run_batch("bids_root/", "store/", steps=["recording", "qeeg"], n_jobs=2)
    query("SELECT dataset, subject, duration FROM recordings WHERE status = 'ok'", "store/")

Each recording is one Dask task calling :func:`dbrain.analyze.analyze`;
results are keyed by the recording's SHA-256 and the analysis configuration,
so reruns skip finished work. See ``docs/batch.md`` for the store's schema.
"""

from ..utils._extras import require_extra

require_extra("batch")

from ..store import (  # noqa: E402  # the store is its own package (analysis steps read it too); re-exported for batch users
    AGE_BINS,
    EVENTS_SCHEMA,
    FEATURES_SCHEMA,
    RECORDINGS_SCHEMA,
    QueryError,
    analysis_values,
    build_norms,
    case_table,
    connect,
    list_tables,
    query,
    read_norms,
    recording_values,
    zscores,
)
from ._inputs import BatchInput, collect_inputs  # noqa: E402
from ._run import BatchResult, analysis_config, config_hash, hash_recording, run_batch  # noqa: E402

__all__ = [
    "AGE_BINS",
    "analysis_values",
    "build_norms",
    "case_table",
    "read_norms",
    "zscores",
    "recording_values",
    "BatchInput",
    "BatchResult",
    "EVENTS_SCHEMA",
    "FEATURES_SCHEMA",
    "QueryError",
    "RECORDINGS_SCHEMA",
    "analysis_config",
    "collect_inputs",
    "config_hash",
    "connect",
    "hash_recording",
    "list_tables",
    "query",
    "run_batch",
]
