"""SQL over the feature store with DuckDB: one view per table."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DbrainError, ParameterError
from ..utils._extras import require_extra
from . import _store


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(store: str | os.PathLike):
    """Open an in-memory DuckDB connection with one view per table of the store.

    Parameters
    ----------
    store : path-like
        A feature store written by :func:`run_batch`.

    Returns
    -------
    connection : duckdb.DuckDBPyConnection
        Views ``recordings``, ``events``, ``features`` (always, possibly
        empty) and one per step table found (``qeeg``, ``network`` …), each
        with the partition columns ``dataset`` and ``subject`` (text).
    """
    require_extra("batch", "duckdb")
    import duckdb

    store = Path(store).expanduser()
    if not (store / "recordings").is_dir():
        raise ParameterError(f"'{store}' is not a dbrain feature store (no recordings table)")
    con = duckdb.connect(":memory:")
    present = set(_store.list_tables(store))
    for name in sorted(present | set(_store.SCHEMAS)):
        if name in present:
            pattern = _sql_string(str(store / name / "**" / "*.parquet"))
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({pattern}, hive_partitioning = true, '
                "hive_types_autocast = false, union_by_name = true)"
            )
        else:  # a fixed table with no rows yet: an empty view with its columns
            schema = _store.SCHEMAS[name]
            empty = pd.DataFrame({f.name: pd.Series(dtype=f.type.to_pandas_dtype()) for f in schema})
            empty["dataset"] = pd.Series(dtype=object)
            empty["subject"] = pd.Series(dtype=object)
            con.register(f"_{name}_empty", empty)
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "_{name}_empty"')
    return con


def query(sql: str, store: str | os.PathLike) -> pd.DataFrame:
    """Run a SQL query over the feature store.

    Parameters
    ----------
    sql : str
        DuckDB SQL naming the store's tables as views, e.g.
        ``SELECT subject, avg(value) FROM qeeg WHERE measure = 'alpha' GROUP BY subject``.
    store : path-like
        A feature store written by :func:`run_batch`.

    Returns
    -------
    result : pandas.DataFrame
    """
    require_extra("batch", "duckdb")
    import duckdb

    con = connect(store)
    try:
        return con.execute(sql).df()
    except duckdb.Error as exc:
        raise QueryError(" ".join(str(exc).split())) from exc
    finally:
        con.close()


class QueryError(DbrainError, ValueError):
    """A SQL query over the feature store failed (syntax, unknown table or column)."""
