"""Treatment decision support: findings → cited guideline considerations, and similar cases.

The knowledge base is ``knowledge/treatment.yaml`` (package data): entries
mapping the finding types dbrain emits (:data:`FINDING_TYPES`) to the
investigations, referrals and medication classes to consider or avoid that a
named guideline lists for them, each with its source and the recommendation
it paraphrases — or an explicit "no guideline-based suggestion". Every entry
carries a ``review`` block saying what was checked against which text and
what could not be checked. For the treating clinician, never the patient.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..utils.check import _check_range, _validate_type

_KB = Path(__file__).parent / "knowledge" / "treatment.yaml"

#: Event types of dbrain's detectors (seizures, spikes, patterns, qEEG, ECG).
EVENT_FINDINGS: tuple[str, ...] = (
    "sz",
    "spike",
    "lpd",
    "gpd",
    "lrda",
    "grda",
    "burst_suppression",
    "bradycardia",
    "tachycardia",
    "pause",
)
#: Findings of the diagnosis step itself.
SCREEN_FINDINGS: tuple[str, ...] = (
    "dementia_screen_positive",
    "dementia_screen_negative",
    "epilepsy_screen_positive",
    "epilepsy_screen_negative",
    "adhd_screen_positive",
    "adhd_screen_negative",
    "diffuse_slowing",
    "insufficient_data",
)
#: Every finding type the knowledge base must cover.
FINDING_TYPES: tuple[str, ...] = EVENT_FINDINGS + SCREEN_FINDINGS

#: Qualifiers of ``spike`` findings derived from the channels of the events.
QUALIFIERS: tuple[str, ...] = ("generalised", "focal", "focal_temporal")

#: Review states of a knowledge-base entry (``review.status``).
REVIEW_STATUSES: tuple[str, ...] = ("checked", "partly checked", "not checked")

#: Statement shown with every suggestion.
DISCLAIMER = (
    "Decision aids for a qualified clinician, not a diagnosis or a treatment plan: each suggestion paraphrases the "
    "cited guideline for the finding that triggered it; check the current guideline text and the patient's context."
)

_TEMPORAL = {"f7", "f8", "t7", "t8", "p7", "p8", "t9", "t10", "ft7", "ft8", "ft9", "ft10", "tp9", "tp10"}
_LEFT = {"fp1", "af3", "f3", "f7", "fc5", "c3", "t7", "p3", "p7", "o1", "t9", "ft9", "tp9", "fc3", "cp3", "cp5"}
_RIGHT = {"fp2", "af4", "f4", "f8", "fc6", "c4", "t8", "p4", "p8", "o2", "t10", "ft10", "tp10", "fc4", "cp4", "cp6"}


@lru_cache(maxsize=1)
def _load(path: str):
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ParameterError(f"knowledge base '{path}' has no entries.")
    ids = set()
    for e in entries:
        for key in ("id", "findings", "title", "considerations", "sources"):
            if key not in e:
                raise ParameterError(f"knowledge-base entry {e.get('id', '?')!r} lacks {key!r}.")
        if e["id"] in ids:
            raise ParameterError(f"knowledge-base entry id {e['id']!r} is duplicated.")
        ids.add(e["id"])
        unknown = set(e["findings"]) - set(FINDING_TYPES)
        if unknown:
            raise ParameterError(f"knowledge-base entry {e['id']!r} names unknown findings {sorted(unknown)}.")
        if e.get("qualifier") is not None and e["qualifier"] not in QUALIFIERS:
            raise ParameterError(f"knowledge-base entry {e['id']!r} has unknown qualifier {e['qualifier']!r}.")
        cons = e["considerations"]
        if not isinstance(cons, dict) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in cons.values()
        ):
            raise ParameterError(f"knowledge-base entry {e['id']!r}: considerations must be lists of text.")
        if not e.get("no_guideline_suggestion") and not any(
            cons.get(k) for k in ("investigations", "referral", "consider", "avoid")
        ):
            raise ParameterError(f"knowledge-base entry {e['id']!r} suggests nothing; mark it no_guideline_suggestion.")
        for s in e["sources"]:
            if not all(str(s.get(k, "")).strip() for k in ("name", "year", "section", "url")):
                raise ParameterError(f"knowledge-base entry {e['id']!r} has a source without name, year, section or url.")
            if not str(s.get("recommendation", "")).strip():
                raise ParameterError(
                    f"knowledge-base entry {e['id']!r}: source {s['name'][:40]!r} lacks 'recommendation' "
                    "(the recommendation numbers or section it paraphrases, or 'not identified: <why>')."
                )
        _check_review(e)
    return data


def _check_review(e):
    """Validate the ``review`` block of a knowledge-base entry."""
    r = e.get("review")
    if not isinstance(r, dict):
        raise ParameterError(f"knowledge-base entry {e['id']!r} lacks a 'review' block.")
    for key in ("reviewed", "by", "status"):
        if not str(r.get(key, "")).strip():
            raise ParameterError(f"knowledge-base entry {e['id']!r}: review lacks {key!r}.")
    if r["status"] not in REVIEW_STATUSES:
        raise ParameterError(
            f"knowledge-base entry {e['id']!r}: review status must be one of {REVIEW_STATUSES}, got {r['status']!r}."
        )
    for key in ("checked", "not_checked", "changes"):
        v = r.get(key, [])
        if not isinstance(v, list) or not all(isinstance(i, str) for i in v):
            raise ParameterError(f"knowledge-base entry {e['id']!r}: review {key!r} must be a list of text.")
    if r["status"] != "not checked" and not r.get("checked"):
        raise ParameterError(f"knowledge-base entry {e['id']!r}: review says {r['status']!r} but lists nothing checked.")
    if r["status"] != "checked" and not r.get("not_checked"):
        raise ParameterError(f"knowledge-base entry {e['id']!r}: review says {r['status']!r} but lists nothing unchecked.")


def load_knowledge(path=None) -> dict:
    """The validated knowledge base.

    Parameters
    ----------
    path : str | pathlib.Path | None
        A knowledge-base YAML file; the shipped ``knowledge/treatment.yaml`` when None.

    Returns
    -------
    knowledge : dict
        ``version``, ``reviewed`` and ``entries`` (each with ``id``,
        ``findings``, optional ``qualifier``, ``title``, ``considerations``,
        ``sources`` (``name``, ``year``, ``section``, ``recommendation``,
        ``url``), optional ``no_guideline_suggestion`` and ``review``
        (``reviewed``, ``by``, ``status`` in :data:`REVIEW_STATUSES`,
        ``checked``, ``not_checked``, ``changes``)).
    """
    return _load(str(Path(path) if path is not None else _KB))


def _qualify_spike(channels: str, n_channels: int | None) -> str:
    chs = {c.strip().lower() for c in str(channels or "").replace(";", ",").split(",") if c.strip()}
    if not chs:
        return "focal"
    wide = n_channels and len(chs) >= max(4, 0.5 * n_channels)
    if wide and chs & _LEFT and chs & _RIGHT:
        return "generalised"
    if chs <= _TEMPORAL:
        return "focal_temporal"
    return "focal"


def findings_from_events(events: pd.DataFrame, *, n_channels: int | None = None, when=None) -> list[dict]:
    """Summarise an events table into findings (one per type and qualifier).

    Parameters
    ----------
    events : pandas.DataFrame
        A dbrain events table (``eventType``, ``onset``, ``channels``).
    n_channels : int | None
        Number of EEG channels of the recording; spikes on at least half of
        them and on both hemispheres count as ``generalised``.
    when : callable | None
        ``when(seconds) -> str``: how ``evidence`` writes the first onset (the report passes
        :func:`dbrain.utils._time.format_time` of the recording, i.e. clock time); None: ``"4859.4 s"``.

    Returns
    -------
    findings : list of dict
        ``finding``, ``qualifier`` (spikes only), ``count``, ``first_onset`` (s)
        and ``evidence`` (one line).
    """
    _validate_type(events, pd.DataFrame, "events", "pandas.DataFrame")
    if not len(events):
        return []
    ev = events.copy()
    ev["_type"] = ev["eventType"].astype(str).str.lower()
    ev.loc[ev["_type"].str.startswith("sz"), "_type"] = "sz"
    ev = ev[ev["_type"].isin(EVENT_FINDINGS)]
    chans = ev["channels"] if "channels" in ev.columns else pd.Series("", index=ev.index)
    ev["_qual"] = [
        _qualify_spike(c, n_channels) if t == "spike" else None for t, c in zip(ev["_type"], chans.fillna(""), strict=True)
    ]
    out = []
    for (t, q), g in ev.groupby(["_type", ev["_qual"].fillna("")], sort=True):
        where = f" ({q.replace('_', ' ')})" if q else ""
        out.append(
            {
                "finding": t,
                "qualifier": q or None,
                "count": int(len(g)),
                "first_onset": float(g["onset"].min()),
                "evidence": f"{len(g)} {t} event(s){where}, first at "
                + (when(float(g["onset"].min())) if when is not None else f"{float(g['onset'].min()):.1f} s"),
            }
        )
    return out


def suggestions(findings, *, knowledge=None) -> list[dict]:
    """The knowledge-base considerations triggered by findings, each with its source.

    Parameters
    ----------
    findings : list of dict or str
        Findings (``finding`` and optional ``qualifier``, ``evidence``), e.g.
        from :func:`findings_from_events`, or bare finding names.
    knowledge : dict | None
        A knowledge base from :func:`load_knowledge`; the shipped one when None.

    Returns
    -------
    suggestions : list of dict
        Per triggered entry and finding: ``entry``, ``title``, ``finding``,
        ``qualifier``, ``trigger`` (the evidence), ``considerations``,
        ``sources``, ``no_guideline_suggestion``, ``review_status`` (how far
        the entry was checked against its sources) and ``disclaimer``.
    """
    kb = knowledge or load_knowledge()
    out = []
    for f in findings:
        f = {"finding": f} if isinstance(f, str) else dict(f)
        name = f.get("finding")
        if name not in FINDING_TYPES:
            raise ParameterError(f"unknown finding {name!r}; known: {', '.join(FINDING_TYPES)}.")
        q = f.get("qualifier")
        for e in kb["entries"]:
            if name not in e["findings"]:
                continue
            eq = e.get("qualifier")
            if eq is not None and not (q == eq or (eq == "focal" and q == "focal_temporal")):
                continue
            out.append(
                {
                    "entry": e["id"],
                    "title": e["title"],
                    "finding": name,
                    "qualifier": q,
                    "trigger": f.get("evidence", name),
                    "considerations": e["considerations"],
                    "sources": e["sources"],
                    "no_guideline_suggestion": bool(e.get("no_guideline_suggestion", False)),
                    "review_status": (e.get("review") or {}).get("status"),
                    "disclaimer": DISCLAIMER,
                }
            )
    return out


def similar_cases(features, store, *, k: int = 5, outcome_column: str = "outcome", id_column: str = "recording") -> pd.DataFrame:
    """The recordings of a data store with the nearest feature profiles.

    Distance: Euclidean over the features both sides have, each standardised
    by the store's median and interquartile range (robust z), divided by the
    square root of the number of features compared; features missing in the
    query or in a store row are left out of that row's distance.

    Parameters
    ----------
    features : pandas.Series | pandas.DataFrame
        The query's feature values (one row; :data:`FEATURES` names).
    store : pandas.DataFrame | str | pathlib.Path
        Feature table of a data store (or a Parquet file of it): one row per
        recording with feature columns, ``outcome_column`` and ``id_column``.
    k : int
        Number of cases returned.
    outcome_column : str
        Column of the recorded outcome (diagnosis, treatment response …).
    id_column : str
        Column identifying the recording.

    Returns
    -------
    cases : pandas.DataFrame
        ``k`` rows, nearest first: ``id_column``, ``outcome_column``,
        ``distance`` and ``n_features`` (features compared).
    """
    from ._features import DESCRIPTORS, FEATURES

    _check_range("k", k, 1, None)
    if isinstance(store, (str, Path)):
        store = pd.read_parquet(store)
    _validate_type(store, pd.DataFrame, "store", "pandas.DataFrame")
    for col in (outcome_column, id_column):
        if col not in store.columns:
            raise ParameterError(f"store lacks the {col!r} column.")
    if isinstance(features, pd.DataFrame):
        if len(features) != 1:
            raise ParameterError(f"features must be one row, got {len(features)}.")
        features = features.iloc[0]
    cols = [c for c in FEATURES if c in store.columns and c in features.index and c not in DESCRIPTORS]
    if not cols:
        raise ParameterError("the store and the query share no feature column.")
    S = store[cols].to_numpy(float)
    q = features[cols].to_numpy(float)
    med = np.nanmedian(S, axis=0)
    iqr = np.nanpercentile(S, 75, axis=0) - np.nanpercentile(S, 25, axis=0)
    iqr = np.where(np.isfinite(iqr) & (iqr > 0), iqr, 1.0)
    d = ((S - med) / iqr - (q - med) / iqr) ** 2
    n = np.isfinite(d).sum(axis=1)
    dist = np.where(n > 0, np.sqrt(np.nansum(d, axis=1) / np.maximum(n, 1)), np.inf)
    order = np.argsort(dist, kind="stable")[: int(k)]
    return pd.DataFrame(
        {
            id_column: store[id_column].to_numpy()[order],
            outcome_column: store[outcome_column].to_numpy()[order],
            "distance": dist[order],
            "n_features": n[order],
        }
    )
