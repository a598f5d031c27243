"""The feature store: Parquet tables of analysed recordings, SQL over them, cases and norms.

Written by :func:`dbrain.batch.run_batch`, read by analysis steps (normative z-scores, similar cases) and
by ``dbrain query``. It sits below both the batch service and the analysis jobs, so neither imports the
other. See ``docs/batch.md`` for the schema.
"""

from ._cases import case_table
from ._norms import AGE_BINS, analysis_values, build_norms, read_norms, recording_values, zscores
from ._query import QueryError, connect, query
from ._store import EVENTS_SCHEMA, FEATURES_SCHEMA, RECORDINGS_SCHEMA, list_tables

__all__ = [
    "AGE_BINS",
    "EVENTS_SCHEMA",
    "FEATURES_SCHEMA",
    "QueryError",
    "RECORDINGS_SCHEMA",
    "analysis_values",
    "build_norms",
    "case_table",
    "connect",
    "list_tables",
    "query",
    "read_norms",
    "recording_values",
    "zscores",
]
