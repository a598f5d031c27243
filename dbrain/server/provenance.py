"""Ledger entries for what happens in the data centre (see ``docs/ledger.md``, Integration).

Two kinds of entry:

* file and event records (:func:`record`: ``recording-ingested``,
  ``annotation-changed``, ``report-signed`` …), appended **after** the
  request's transaction committed (on SQLite the ledger takes the database's
  write lock itself);
* ``row-state`` records of database rows (:func:`record_row`): every change
  that matters clinically (a recording and the object it points at, an
  annotation created, edited or deleted, a report signed, a user's role or
  site, a finished analysis) hashes the row's clinically relevant columns
  (:data:`ROW_COLUMNS`) as canonical JSON, and the audit log is sealed the
  same way in batches (:func:`seal_audit`). :func:`verify_rows` replays these
  entries and names each row of the database that was altered, added or
  deleted behind the service's back.

A failed append is logged, never fatal to the action it records; the row is
then reported by ``dbrain ledger verify`` as not in the ledger.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from .settings import Settings

log = logging.getLogger("dbrain.server")

#: The columns of each table whose state the ledger vouches for, in the order of the
#: per-column digests. Left out on purpose: pointers into the ledger itself
#: (``ledger_index``), password hashes (changed by i15 login code paths and not
#: clinical state), identity-restricted file names (the ledger is read by every role).
#: A change to this table of columns bumps :data:`ROW_LAYOUT`.
ROW_COLUMNS: dict[str, tuple[str, ...]] = {
    "recordings": (
        "id",
        "site_id",
        "patient_id",
        "uploaded_by",
        "original_sha256",
        "sha256",
        "size",
        "format",
        "n_channels",
        "sfreq",
        "duration",
        "start_time",
        "channels",
        "created_at",
    ),
    "annotations": (
        "id",
        "recording_id",
        "site_id",
        "onset",
        "duration",
        "description",
        "channels",
        "author_id",
        "created_at",
        "updated_at",
    ),
    "reports": ("id", "analysis_id", "recording_id", "site_id", "sha256", "status", "signed_by", "signed_at", "created_at"),
    "analyses": (
        "id",
        "recording_id",
        "site_id",
        "requested_by",
        "only",
        "skip",
        "status",
        "error",
        "results",
        "summary",
        "n_events",
        "finished_at",
    ),
    "users": ("id", "username", "role", "site_id", "active"),
    "ward_alarms": (
        "id",
        "uuid",
        "bed_id",
        "site_id",
        "stream",
        "type",
        "raised",
        "onset",
        "confidence",
        "channels",
        "state",
        "received_at",
        "cleared_at",
        "posted_by",
        "recording_id",
    ),
    "ward_acks": ("id", "alarm_id", "site_id", "user_id", "acked_at", "comment"),
    "audit_events": (
        "id",
        "time",
        "user_id",
        "username",
        "site_id",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "outcome",
        "ip",
        "detail",
    ),
    # Neurofeedback (docs/nfb-centre.md): a course's sealed allocation commitment, safety decisions and
    # unblinding; every change of a session's state; outcomes. The allocation's arm itself is never here.
    "nfb_courses": (
        "id",
        "site_id",
        "patient_id",
        "protocol",
        "n_sessions",
        "plan",
        "created_by",
        "allocation_commitment",
        "safety_status",
        "safety",
        "safety_override_by",
        "safety_override_reason",
        "unblinded_by",
        "unblinded_at",
        "unblind_reason",
        "created_at",
    ),
    "nfb_sessions": (
        "id",
        "course_id",
        "site_id",
        "patient_id",
        "number",
        "status",
        "source",
        "speed",
        "blocks",
        "target_reward_fraction",
        "summary",
        "results",
        "error",
        "started_by",
        "started_at",
        "finished_at",
    ),
    "nfb_outcomes": (
        "id",
        "course_id",
        "site_id",
        "kind",
        "timepoint",
        "values",
        "scores",
        "entered_by",
        "via_display",
        "created_at",
    ),
}
ROW_LAYOUT = 1
#: Analyses are vouched for once finished (a queued or running analysis changes on every claim).
FINAL_ANALYSIS = ("done", "failed")
#: Hex digits kept of each column's digest: enough to say which column differs (the row's
#: full SHA-256 is what proves it).
_COL_HEX = 8
#: Audit rows younger than this are left for the next seal (PostgreSQL commits out of id order).
AUDIT_SETTLE_SECONDS = 1.0
#: Seal the audit log at most this often per process (on the commit path of a request).
AUDIT_SEAL_EVERY = 2.0
AUDIT_BATCH = 5000


def record(
    settings: Settings,
    kind: str,
    *,
    files=(),
    role: str = "input",
    content_hash: str | None = None,
    actor: str,
    parent_hash: str | None = None,
    parent_index: int | None = None,
    details: dict | None = None,
) -> int | None:
    """Append one ledger entry; return its index, or None when the ledger is off or the append failed.

    Parameters
    ----------
    settings : Settings
    kind : str
        A ledger record kind (``'annotation-changed'``, ``'report-signed'`` …).
    files : iterable of path-like
        Files to hash and list as artifacts.
    role : str
        Their role (``'input'``, ``'report'`` …).
    content_hash : str | None
        What the record is about, when not the single file.
    actor : str
        ``'user:<id>'``.
    parent_hash : str | None
        Content hash of a ``recording-ingested`` entry to name as parent.
    parent_index : int | None
        Index of an entry to name as parent.
    details : dict | None
        Kind-specific details (no floats, no PHI).

    Returns
    -------
    index : int | None
    """
    if not settings.ledger:
        return None
    try:
        # One shared ledger per process: opening one costs an engine and a schema check.
        ledger = _ledger(settings)
        parents = []
        if parent_index is not None:
            parents.append(ledger.entry(parent_index).leaf_hash.hex())
        elif parent_hash is not None:
            found = ledger.find(kind="recording-ingested", content_hash=parent_hash)
            parents.extend([found[-1].leaf_hash.hex()] if found else [])
        entry = ledger.record(
            kind, list(files), role=role, content_hash=content_hash, actor=actor, parents=parents, details=details or {}
        )
        return entry.index
    except Exception as exc:  # noqa: BLE001 - provenance failure is logged, not fatal
        log.error("ledger append (%s) failed: %s", kind, exc)
        return None


def annotations_hash(rows) -> str:
    """SHA-256 of the canonical JSON of a recording's annotation set (numbers as text: no floats).

    Parameters
    ----------
    rows : iterable of Annotation

    Returns
    -------
    sha256 : str
    """
    from ..ledger.records import canonical_json

    items = [
        {
            "id": r.id,
            "onset": repr(float(r.onset)),
            "duration": repr(float(r.duration)),
            "description": r.description,
            "channels": list(r.channels or []),
        }
        for r in sorted(rows, key=lambda r: r.id)
    ]
    return hashlib.sha256(canonical_json(items)).hexdigest()


def receipts(settings: Settings, indices) -> list[dict]:
    """Receipts (entry, inclusion proof, signed checkpoint, verifier keys) of ledger entries.

    Parameters
    ----------
    settings : Settings
    indices : iterable of int | None
        Entry indices; ``None`` items are skipped.

    Returns
    -------
    receipts : list of dict
        One :meth:`dbrain.ledger.Ledger.receipt` per index, checkable with
        :func:`dbrain.ledger.verify_receipt` and no access to the ledger.
    """
    wanted = [int(i) for i in indices if i is not None]
    if not settings.ledger or not wanted:
        return []
    ledger = _ledger(settings)
    n = len(ledger)
    return [ledger.receipt(i) for i in wanted if 0 <= i < n]


def find_index(settings: Settings, kind: str, content_hash: str | None) -> int | None:
    """Index of the latest ledger entry of ``kind`` about ``content_hash`` (None if there is none).

    Parameters
    ----------
    settings : Settings
    kind : str
        Record kind, e.g. ``"report-signed"``.
    content_hash : str | None
        The hash the entry is about.

    Returns
    -------
    index : int | None
    """
    if not settings.ledger or not content_hash:
        return None
    found = _ledger(settings).find(kind=kind, content_hash=content_hash)
    return found[-1].index if found else None


# --------------------------------------------------------------------------- one ledger per process

_LEDGERS: dict[tuple[str, str], object] = {}
_LEDGERS_LOCK = threading.Lock()


def _ledger(settings: Settings):
    """The process's :class:`~dbrain.ledger.Ledger` of ``settings`` (opened once, shared by threads)."""
    keys = settings.home / "keys" / "ledger"
    key = (str(settings.db_url), str(keys))
    with _LEDGERS_LOCK:
        ledger = _LEDGERS.get(key)
        if ledger is None:
            from ..ledger import Ledger

            ledger = _LEDGERS[key] = Ledger(settings.db_url, keys=keys)
        return ledger


def close_ledgers() -> None:
    """Close the ledgers this process opened (their connection pools)."""
    with _LEDGERS_LOCK:
        for ledger in _LEDGERS.values():
            ledger.close()
        _LEDGERS.clear()


# --------------------------------------------------------------------------- row states


def _canon(value):
    """A column value as canonical-JSON-able data: floats and times as text (ledger records hold no floats)."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return "f:" + repr(value)
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return str(value)


def row_state(table: str, values) -> dict:
    """The ledger item of one row: its table, id, SHA-256 and per-column digests.

    Parameters
    ----------
    table : str
        One of :data:`ROW_COLUMNS`.
    values : mapping
        The row's columns as read back from the database (at least :data:`ROW_COLUMNS`\\[table]).

    Returns
    -------
    item : dict
        ``{"table", "id", "sha256", "columns"}``: ``sha256`` of the canonical JSON
        ``{column: value}`` (floats and times written as text), and ``columns`` the
        first 8 hex digits of each column's own digest, in :data:`ROW_COLUMNS` order.
    """
    from ..ledger.records import _dumps, canonical_json

    cols = ROW_COLUMNS[table]
    canon = {c: _canon(values[c]) for c in cols}
    digest = hashlib.sha256(canonical_json(canon)).hexdigest()  # checks every value once (no floats, JSON types)
    # The per-column items hold the values just checked: the same bytes as canonical_json, without checking again
    # (every audit row is sealed, so this runs once per request).
    per_col = "".join(hashlib.sha256(_dumps([c, canon[c]])).hexdigest()[:_COL_HEX] for c in cols)
    return {"table": table, "id": int(values["id"]), "sha256": digest, "columns": per_col}


def _select(table: str):
    import sqlalchemy as sa

    from .db import Base

    t = Base.metadata.tables[table]
    return t, sa.select(*(t.c[c] for c in ROW_COLUMNS[table]))


def record_row(session, kind: str, row, *, actor: str = "server", deleted: bool = False) -> None:
    """Vouch for a row's new state in the ledger once ``session`` commits.

    The row is flushed and read back (so the hash is of what the database
    holds, after type conversion), and one ``row-state`` ledger entry per
    commit lists every row recorded in the transaction. Call it for every
    change that matters clinically: a recording stored, an annotation created,
    edited or deleted, a report signed, a user's role, site or activity
    changed, an analysis finished.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session of :func:`dbrain.server.db.make_sessionmaker` (with settings).
    kind : str
        What changed, e.g. ``'annotation.update'``, ``'user.role'`` (kept in the entry).
    row : Recording | Annotation | Report | Analysis | User
        The ORM row (for a deletion: before it is deleted).
    actor : str
        Who did it (``'user:<id>'``, ``'worker:<id>'``).
    deleted : bool
        The row is being deleted.
    """
    table = row.__table__.name
    if table not in ROW_COLUMNS:
        raise ValueError(f"the ledger does not vouch for rows of {table!r} (tables: {', '.join(ROW_COLUMNS)})")
    if deleted:
        item = {"table": table, "id": int(row.id), "sha256": None, "columns": None}
    else:
        session.flush()
        t, stmt = _select(table)
        item = row_state(table, session.execute(stmt.where(t.c.id == row.id)).mappings().one())
    item["change"] = str(kind)
    session.info.setdefault("dbrain_rows", []).append((str(actor), item))


def _rows_record(items: list[dict], actor: str, extra: dict | None = None) -> dict:
    from ..ledger.records import canonical_json, make_record

    return make_record(
        "row-state",
        content_hash=hashlib.sha256(canonical_json(items)).hexdigest(),
        actor=actor,
        details={"layout": ROW_LAYOUT, "rows": items, **(extra or {})},
    )


def _after_commit(session) -> None:
    pending = session.info.pop("dbrain_rows", None)
    settings = session.info.get("dbrain_settings")
    if settings is None or not settings.ledger:
        return
    if pending:
        by_actor: dict[str, list] = {}
        for actor, item in pending:
            by_actor.setdefault(actor, []).append(item)
        try:
            _ledger(settings).append_many([_rows_record(items, actor) for actor, items in by_actor.items()])
        except Exception as exc:  # noqa: BLE001 - provenance failure is logged; verify names the rows
            log.error("ledger append of %d row state(s) failed: %s", len(pending), exc)
    maybe_seal_audit(settings, session.get_bind())


def _after_rollback(session, _previous=None) -> None:
    session.info.pop("dbrain_rows", None)


def attach(factory) -> None:
    """Append the rows given to :func:`record_row` once a session of ``factory`` commits.

    Parameters
    ----------
    factory : sqlalchemy.orm.sessionmaker
    """
    import sqlalchemy as sa

    sa.event.listen(factory, "after_commit", _after_commit)
    sa.event.listen(factory, "after_soft_rollback", _after_rollback)


# --------------------------------------------------------------------------- the audit log

_SEAL_META = "row_seal.audit_events"
_SEALING = threading.Lock()
_LAST_SEAL: dict[str, float] = {}


class _Overtaken(Exception):
    """Another process sealed these audit rows first."""


def seal_audit(settings: Settings, engine, *, settle: float = AUDIT_SETTLE_SECONDS, limit: int = AUDIT_BATCH) -> int:
    """Seal the audit rows written since the last seal in one ``row-state`` ledger entry.

    Audit rows are written on every request; one ledger entry per request
    would double the writes, so they are sealed in batches (by id, once a
    second old), at most every :data:`AUDIT_SEAL_EVERY` seconds by the
    request that commits next. Until sealed, a row is reported as pending by
    :func:`verify_rows`, not vouched for.

    Parameters
    ----------
    settings : Settings
    engine : sqlalchemy.Engine
        The data centre's engine.
    settle : float
        Seconds an audit row must be old to be sealed.
    limit : int
        Most rows per entry.

    Returns
    -------
    n : int
        Rows sealed.
    """
    from .db import utcnow

    ledger = _ledger(settings)
    with ledger.storage.read() as r:
        through = int(r.meta().get(_SEAL_META, "0"))
    t, stmt = _select("audit_events")
    with engine.connect() as conn:
        rows = conn.execute(stmt.where(t.c.id > through).order_by(t.c.id).limit(limit)).mappings().all()
        conn.rollback()
    cutoff = utcnow() - dt.timedelta(seconds=settle)
    ready = []
    for m in rows:
        if m["time"] is not None and m["time"] > cutoff:
            break  # keep id order: a younger row's transaction may precede an older id's commit
        ready.append(m)
    if not ready:
        return 0
    items = [row_state("audit_events", m) | {"change": "audit"} for m in ready]
    top = items[-1]["id"]

    def advance(w):
        if int(w.meta().get(_SEAL_META, "0")) != through:
            raise _Overtaken
        w.set_meta(_SEAL_META, str(top))

    try:
        ledger.append_many(
            [_rows_record(items, "server", {"audit_from": items[0]["id"], "audit_through": top})], _before_head=advance
        )
    except _Overtaken:
        return 0
    return len(items)


def maybe_seal_audit(settings: Settings, engine) -> None:
    """:func:`seal_audit` if the last seal of this process is :data:`AUDIT_SEAL_EVERY` seconds old (never blocks)."""
    now = time.monotonic()
    if now - _LAST_SEAL.get(str(settings.db_url), 0.0) < AUDIT_SEAL_EVERY or not _SEALING.acquire(blocking=False):
        return
    try:
        _LAST_SEAL[str(settings.db_url)] = now
        seal_audit(settings, engine)
    except Exception as exc:  # noqa: BLE001 - retried at the next commit; verify reports unsealed rows
        log.error("sealing the audit log failed: %s", exc)
    finally:
        _SEALING.release()


def seal_baseline(settings: Settings, engine, *, actor: str = "admin") -> int:
    """Vouch for every row the ledger does not know yet (a database from before row sealing).

    Run once, by an administrator, after upgrading an existing data centre
    (``dbrain ledger seal --baseline``): the rows as they are then become the
    reference. It never re-vouches for a row the ledger already knows (that
    would hide a change).

    Parameters
    ----------
    settings : Settings
    engine : sqlalchemy.Engine
    actor : str

    Returns
    -------
    n : int
        Rows sealed.
    """
    known = _replay(_ledger(settings))[0]
    items = []
    with engine.connect() as conn:
        for table in ROW_COLUMNS:
            t, stmt = _select(table)
            for m in conn.execute(stmt.order_by(t.c.id)).mappings():
                if (table, int(m["id"])) in known or (table == "analyses" and m["status"] not in FINAL_ANALYSIS):
                    continue
                items.append(row_state(table, m) | {"change": "baseline"})
        conn.rollback()
    ledger = _ledger(settings)
    for i in range(0, len(items), AUDIT_BATCH):
        batch = items[i : i + AUDIT_BATCH]
        audit_ids = [it["id"] for it in batch if it["table"] == "audit_events"]

        def advance(w, audit_ids=audit_ids):
            if audit_ids and int(w.meta().get(_SEAL_META, "0")) < max(audit_ids):
                w.set_meta(_SEAL_META, str(max(audit_ids)))

        ledger.append_many([_rows_record(batch, actor)], _before_head=advance)
    return len(items)


# --------------------------------------------------------------------------- verification


@dataclass
class RowCheck:
    """What :func:`verify_rows` checked and found."""

    n_rows: int = 0
    n_vouched: int = 0
    n_pending: int = 0
    problems: list = None

    def __post_init__(self):
        self.problems = [] if self.problems is None else self.problems


def _replay(ledger) -> tuple[dict, list, int]:
    """``{(table, id): (item, entry index)}`` of the latest state of every row the ledger vouches for."""
    import json

    from ..ledger import Problem

    state: dict[tuple[str, int], tuple[dict, int]] = {}
    problems = []
    through = 0
    with ledger.storage.read() as r:
        entries = r.find(kind="row-state")
    for e in entries:
        det = json.loads(e.data)["details"]
        if det.get("layout") != ROW_LAYOUT:
            problems.append(
                Problem(f"entry {e.index}", f"row-state layout {det.get('layout')!r} is not one this dbrain reads ({ROW_LAYOUT})")
            )
            continue
        for item in det.get("rows", []):
            key = (item["table"], int(item["id"]))
            prev = state.get(key)
            if item["table"] == "audit_events":
                through = max(through, key[1])
                if prev is not None and prev[0]["sha256"] != item["sha256"]:
                    problems.append(
                        Problem(
                            f"audit_events {key[1]}",
                            f"sealed twice with different contents (ledger entries {prev[1]} and {e.index}); audit rows never change",
                        )
                    )
            state[key] = (item, e.index)
    return state, problems, through


def verify_rows(ledger, engine) -> RowCheck:
    """Check every vouched-for table of the database against the ledger's ``row-state`` entries.

    Parameters
    ----------
    ledger : dbrain.ledger.Ledger
    engine : sqlalchemy.Engine
        The data centre's database.

    Returns
    -------
    check : RowCheck
        ``problems`` names each row (``"annotations 12"``) that was altered
        (with the columns that differ), added without a ledger entry, deleted,
        or re-appeared after a recorded deletion. Audit rows newer than the last
        seal are counted as ``n_pending``, not as problems.
    """
    from ..ledger import Problem

    state, problems, through = _replay(ledger)
    out = RowCheck(problems=problems)
    with engine.connect() as conn:
        for table, cols in ROW_COLUMNS.items():
            t, stmt = _select(table)
            present = set()
            for m in conn.execute(stmt.order_by(t.c.id)).mappings():
                rid = int(m["id"])
                present.add(rid)
                out.n_rows += 1
                known = state.get((table, rid))
                name = f"{table} {rid}"
                if known is None:
                    if table == "analyses" and m["status"] not in FINAL_ANALYSIS:
                        continue
                    if table == "audit_events" and rid > through:
                        out.n_pending += 1
                        continue
                    out.problems.append(
                        Problem(
                            name, "added: the row is not in the ledger (written outside the service, or its ledger append failed)"
                        )
                    )
                    continue
                item, index = known
                if item["sha256"] is None:
                    out.problems.append(Problem(name, f"present, but ledger entry {index} records its deletion"))
                    continue
                now = row_state(table, m)
                if now["sha256"] == item["sha256"]:
                    out.n_vouched += 1
                    continue
                w = _COL_HEX
                differ = [
                    c
                    for i, c in enumerate(cols)
                    if now["columns"][i * w : (i + 1) * w] != (item["columns"] or "")[i * w : (i + 1) * w]
                ]
                what = ", ".join(differ) if differ else "its contents"
                out.problems.append(
                    Problem(name, f"altered: {what} differ{'s' if len(differ) == 1 else ''} from ledger entry {index}")
                )
            conn.rollback()
            for (tb, rid), (item, index) in state.items():
                if tb == table and rid not in present and item["sha256"] is not None:
                    out.problems.append(
                        Problem(f"{table} {rid}", f"deleted: the row vouched for by ledger entry {index} is gone")
                    )
    return out
