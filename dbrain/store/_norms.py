"""Normative values from a cohort in the feature store, and z-scores against them."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..utils._extras import require_extra
from ..utils.check import _validate_type
from ._query import connect

#: Default age-bin edges in years (bins are [lo, hi)).
AGE_BINS = (0, 1, 3, 6, 12, 18, 30, 45, 60, 75, 120)
NORM_COLUMNS = ["source", "feature", "channel", "age_min", "age_max", "n", "mean", "sd"]


#: qEEG minutes whose channel artifact strength reaches this are left out of the recording's mean.
ARTIFACT_LIMIT = 0.5


def _cohort_values(con, keys: list[str]) -> pd.DataFrame:
    # The one definition of "a recording's feature values", used for the cohort (store views) and for a single
    # analysis (`analysis_values`, same views over in-memory tables), so norms and z-scores compare like with like.
    con.register("_cohort", pd.DataFrame({"key": keys}))
    parts = []
    views = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "qeeg" in views:
        parts.append(
            con.execute(
                "SELECT q.key, 'qeeg' AS source, CAST(q.measure AS VARCHAR) AS feature, CAST(q.channel AS VARCHAR) AS channel, "
                "avg(q.value) AS value FROM qeeg q JOIN _cohort USING (key) LEFT JOIN "
                "(SELECT key, start, CAST(channel AS VARCHAR) AS channel, value AS art FROM qeeg "
                "WHERE measure = 'artifact_strength') a "
                "ON a.key = q.key AND a.start = q.start AND a.channel = CAST(q.channel AS VARCHAR) "
                "WHERE q.measure <> 'artifact_strength' AND (a.art IS NULL OR a.art < ?) GROUP BY ALL",
                [ARTIFACT_LIMIT],
            ).df()
        )
    parts.append(
        con.execute(
            "SELECT key, step AS source, feature, '' AS channel, value FROM features JOIN _cohort USING (key) "
            "WHERE step IN ('qeeg', 'network')"
        ).df()
    )
    values = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if values is None:
        return pd.DataFrame(columns=["key", "source", "feature", "channel", "value"])
    values["channel"] = values["channel"].fillna("").astype(str)
    return values[np.isfinite(values["value"].astype(float))]


def _stats(frame: pd.DataFrame, age_min, age_max, min_count: int) -> pd.DataFrame:
    grouped = frame.groupby(["source", "feature", "channel"], observed=True)["value"]
    out = grouped.agg(n="count", mean="mean", sd=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan).reset_index()
    out = out[out["n"] >= min_count]
    out.insert(3, "age_min", age_min)
    out.insert(4, "age_max", age_max)
    return out


def build_norms(
    store: str | os.PathLike,
    *,
    group: str = "normal",
    age_bins: tuple[float, ...] | list[float] = AGE_BINS,
    min_count: int = 2,
) -> pd.DataFrame:
    """Means and spreads of qEEG and network features over a normal cohort.

    The cohort is every ``ok`` recording of the store whose ``group`` (from
    the manifest or ``participants.tsv``) equals ``group`` (case-insensitive);
    a recording analysed under several configurations counts once (its
    latest row). qEEG values are each recording's mean over time per measure
    and channel (``qeeg`` table) over the minutes whose artifact strength on
    that channel is below :data:`ARTIFACT_LIMIT` (the artifact-strength
    measure itself gets no norm); network and qEEG summary numbers come from
    the ``features`` table (``channel`` empty).

    Parameters
    ----------
    store : path-like
        A feature store written by :func:`run_batch`.
    group : str
        The cohort's group label.
    age_bins : sequence of float
        Age-bin edges in years; bins are ``[lo, hi)``. Recordings of unknown
        age count only in the all-ages rows.
    min_count : int
        Fewest recordings for a feature and bin to get a row.

    Returns
    -------
    norms : pandas.DataFrame
        Columns ``source, feature, channel, age_min, age_max, n, mean, sd``;
        the all-ages rows have ``age_min`` and ``age_max`` NaN.
    """
    _validate_type(group, str, "group")
    _validate_type(min_count, int, "min_count")
    edges = [float(e) for e in age_bins]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ParameterError(f"age_bins must be at least two increasing edges, got {list(age_bins)}")
    con = connect(store)
    try:
        cohort = con.execute(
            "SELECT key, age FROM (SELECT key, age, row_number() OVER (PARTITION BY sha256 ORDER BY created DESC) AS r "
            "FROM recordings WHERE status = 'ok' AND lower(\"group\") = lower(?)) WHERE r = 1",
            [group],
        ).df()
        if cohort.empty:
            raise ParameterError(f"no recordings with group {group!r} and status ok in the store")
        values = _cohort_values(con, cohort["key"].tolist())
    finally:
        con.close()
    values = values.merge(cohort, on="key")
    parts = [_stats(values, math.nan, math.nan, min_count)]
    for lo, hi in zip(edges, edges[1:], strict=False):
        in_bin = values[(values["age"] >= lo) & (values["age"] < hi)]
        if len(in_bin):
            parts.append(_stats(in_bin, lo, hi, min_count))
    norms = pd.concat(parts, ignore_index=True)[NORM_COLUMNS]
    norms.attrs["group"] = group
    return norms


def zscores(values: pd.DataFrame, norms: pd.DataFrame, *, age: float | None = None) -> pd.DataFrame:
    """Z-scores of one recording's features against normative values.

    Parameters
    ----------
    values : pandas.DataFrame
        Columns ``source, feature, channel, value`` (as :func:`build_norms` uses them).
    norms : pandas.DataFrame
        From :func:`build_norms` (or its saved Parquet file).
    age : float | None
        Age in years: the matching age bin is used where it exists, else the
        all-ages row.

    Returns
    -------
    table : pandas.DataFrame
        ``values`` with ``mean``, ``sd``, ``n``, ``age_min``, ``age_max`` and
        ``z = (value - mean) / sd`` (NaN where no norm or sd is 0).
    """
    keys = ["source", "feature", "channel"]
    overall = norms[norms["age_min"].isna()]
    chosen = overall
    if age is not None:
        binned = norms[(norms["age_min"] <= age) & (norms["age_max"] > age)]
        chosen = pd.concat([binned, overall[~overall.set_index(keys).index.isin(binned.set_index(keys).index)]])
    out = values.merge(chosen[[*keys, "age_min", "age_max", "n", "mean", "sd"]], on=keys, how="left")
    sd = out["sd"].where(out["sd"] > 0)
    out["z"] = (out["value"] - out["mean"]) / sd
    return out


def recording_values(store: str | os.PathLike, key: str) -> pd.DataFrame:
    """One stored recording's features in the form :func:`zscores` takes.

    Parameters
    ----------
    store : path-like
        A feature store written by :func:`run_batch`.
    key : str
        The recording's result key (``recordings.key``).

    Returns
    -------
    values : pandas.DataFrame
        Columns ``source, feature, channel, value``.
    """
    con = connect(store)
    try:
        values = _cohort_values(con, [key])
    finally:
        con.close()
    return values.drop(columns="key").reset_index(drop=True)


def analysis_values(results: dict) -> pd.DataFrame:
    """One analysis's features in the form :func:`zscores` takes, computed as the store computes them.

    Parameters
    ----------
    results : dict of str to dbrain.analyze.StepResult
        The step results of one ``dbrain analyze`` run (``AnalysisContext.results``).

    Returns
    -------
    values : pandas.DataFrame
        Columns ``source, feature, channel, value``; equal to
        :func:`recording_values` of the same analysis stored by :func:`run_batch`.
    """
    require_extra("batch", "duckdb")
    import duckdb

    from . import _store

    key = "analysis"
    con = duckdb.connect(":memory:")
    try:
        qeeg = results.get("qeeg")
        if qeeg is not None and "qeeg" in qeeg.tables:
            con.register("qeeg", _store.step_table(key, qeeg.tables["qeeg"]))
        steps = [{"name": name, "summary": result.summary} for name, result in results.items()]
        con.register("features", _store.features_table(key, steps))
        values = _cohort_values(con, [key])
    finally:
        con.close()
    return values.drop(columns="key").reset_index(drop=True)


def read_norms(path: str | os.PathLike) -> pd.DataFrame:
    """Read a normative-values file written by ``dbrain norms build``.

    Parameters
    ----------
    path : path-like
        The Parquet file.

    Returns
    -------
    norms : pandas.DataFrame
        Columns as :func:`build_norms` returns them.
    """
    from pathlib import Path

    import pyarrow as pa

    path = Path(path).expanduser()
    if not path.is_file():
        raise ParameterError(f"normative file '{path}' does not exist")
    try:
        norms = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ParameterError(f"'{path}' is not a normative-values Parquet file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in NORM_COLUMNS if c not in norms.columns]
    if missing:
        raise ParameterError(
            f"'{path}' is not a normative-values file from 'dbrain norms build' (no {', '.join(missing)} column)"
        )
    return norms[NORM_COLUMNS]
