"""The feature store as a table of cases for similar-case search (one row per recording)."""

from __future__ import annotations

import os

import pandas as pd

from ..errors import ParameterError
from ._query import connect

#: Prefix of the diagnosis step's feature vector in the ``features`` table.
_PREFIX = "features."


def case_table(store: str | os.PathLike) -> pd.DataFrame:
    """One row per analysed recording of the store with its diagnosis features and recorded outcome.

    A recording analysed under several configurations counts once (its
    latest ``ok`` row that has diagnosis features). The outcome is the
    manifest's or ``participants.tsv``'s ``outcome`` column where given, else
    its ``group`` (``not recorded`` without either).

    Parameters
    ----------
    store : path-like
        A feature store written by :func:`run_batch` with the ``diagnosis`` step.

    Returns
    -------
    cases : pandas.DataFrame
        Columns ``recording`` (``dataset/subject``), ``sha256``, ``outcome``
        and one column per diagnosis feature, as
        :func:`dbrain.diagnosis.similar_cases` takes them.
    """
    con = connect(store)
    try:
        rows = con.execute(
            "WITH latest AS (SELECT r.key, r.sha256, r.dataset || '/' || r.subject AS recording, "
            "coalesce(nullif(json_extract_string(r.meta, '$.outcome'), ''), nullif(r.\"group\", ''), 'not recorded') AS outcome, "
            "row_number() OVER (PARTITION BY r.sha256 ORDER BY r.created DESC) AS n FROM recordings r "
            "WHERE r.status = 'ok' AND EXISTS (SELECT 1 FROM features f WHERE f.key = r.key AND f.step = 'diagnosis' "
            "AND starts_with(f.feature, ?))) "
            "SELECT l.recording, l.sha256, l.outcome, substr(f.feature, ?) AS feature, f.value FROM latest l "
            "JOIN features f ON f.key = l.key AND f.step = 'diagnosis' AND starts_with(f.feature, ?) WHERE l.n = 1",
            [_PREFIX, len(_PREFIX) + 1, _PREFIX],
        ).df()
    finally:
        con.close()
    if rows.empty:
        raise ParameterError(f"the feature store '{store}' has no recordings analysed with the diagnosis step")
    wide = rows.pivot_table(index="sha256", columns="feature", values="value", aggfunc="first")
    wide.columns.name = None
    facts = rows[["recording", "sha256", "outcome"]].drop_duplicates("sha256")
    return facts.merge(wide, left_on="sha256", right_index=True).reset_index(drop=True)
