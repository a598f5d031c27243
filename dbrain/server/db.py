"""The data centre's tables (SQLAlchemy 2) and how to connect to them.

Tables: ``sites``, ``users``, ``api_tokens``, ``user_sessions``, ``patients``
(pseudonymised), ``patient_identities`` (the identity link, readable only by
clinicians of the patient's site), ``recordings``, ``analyses``, ``jobs`` (the
work queue), ``annotations``, ``event_reviews`` (accept/reject of detected events), ``ward_beds``, ``ward_alarms``,
``ward_acks`` (the live ward, docs/ward.md), ``reports`` and ``audit_events``. The schema is
created and upgraded by Alembic (:func:`migrate`); the provenance ledger's
``ledger_*`` tables live in the same database but are managed by
:mod:`dbrain.ledger`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from .roles import ROLES  # noqa: F401 - re-exported (the one role list is in roles.py)


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            value = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of the data-centre tables."""


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    #: None only for the instance-level administrator (roles.INSTANCE_ADMIN).
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class UserSession(Base):
    __tablename__ = "user_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PatientIdentity(Base):
    __tablename__ = "patient_identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    patient_code: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    birthdate: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sex: Mapped[str | None] = mapped_column(String(10), nullable=True)
    header_patient: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Recording(Base):
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The uploaded file name and header recording field can identify the patient: identity-restricted.
    original_filename: Mapped[str] = mapped_column(String(500))
    header_recording: Mapped[str | None] = mapped_column(String(200), nullable=True)
    original_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    format: Mapped[str] = mapped_column(String(20))
    n_channels: Mapped[int] = mapped_column(Integer)
    sfreq: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)
    start_time: Mapped[str | None] = mapped_column(String(40), nullable=True)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    ledger_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Analysis(Base):
    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    only: Mapped[list] = mapped_column(JSON, default=list)
    skip: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: ``{relative path: {"sha256": …, "size": …}}`` of the result files in the object store.
    results: Mapped[dict] = mapped_column(JSON, default=dict)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    n_events: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ledger_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), default="analyze")
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: Epoch seconds; a running job whose lease is in the past was abandoned.
    lease_expires: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Annotation(Base):
    __tablename__ = "annotations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    onset: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    description: Mapped[str] = mapped_column(String(500))
    channels: Mapped[list] = mapped_column(JSON, default=list)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EventReview(Base):
    """A reviewer's decision on one detected event of an analysis (the viewer's triage): accepted or rejected."""

    __tablename__ = "event_reviews"
    __table_args__ = (sa.UniqueConstraint("analysis_id", "event_key", name="uq_event_reviews_analysis_event"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: ``<onset in µs>|<eventType>|<channels>``: which row of the analysis's events.tsv.
    event_key: Mapped[str] = mapped_column(String(400))
    onset: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    event_type: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decision: Mapped[str] = mapped_column(String(20))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UserSettings(Base):
    """A user's viewer settings kept on the server: montages, screen calibrations, per-channel gains (JSON)."""

    __tablename__ = "user_settings"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Report(Base):
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), unique=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WardBed(Base):
    """A bed of a site's ward: a bedside monitor posts its live frames and alarms to it (docs/ward.md)."""

    __tablename__ = "ward_beds"
    __table_args__ = (sa.UniqueConstraint("site_id", "name", name="uq_ward_beds_site_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WardAlarm(Base):
    """One alarm a bedside monitor raised (and perhaps cleared); ``uuid`` is the monitor's id of it."""

    __tablename__ = "ward_alarms"
    __table_args__ = (sa.UniqueConstraint("bed_id", "uuid", name="uq_ward_alarms_bed_uuid"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    bed_id: Mapped[int] = mapped_column(ForeignKey("ward_beds.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    #: The monitor's stream name: one stream of a bed is one session, and one recording.
    stream: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(40))
    #: Stream seconds (the recording's time axis).
    raised: Mapped[float] = mapped_column(Float)
    onset: Mapped[float | None] = mapped_column(Float, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), default="raised")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    posted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The session's uploaded recording, once linked (its annotations then hold this alarm).
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"), nullable=True, index=True)


class WardAck(Base):
    """A clinician's acknowledgement of a ward alarm: who, when, comment (one per alarm)."""

    __tablename__ = "ward_acks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("ward_alarms.id"), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    acked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    comment: Mapped[str] = mapped_column(String(500), default="")


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(150), nullable=True)
    site_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------- connecting


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` to the pg8000 driver; leave other URLs alone.

    Parameters
    ----------
    url : str
        A database URL.

    Returns
    -------
    url : str
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+pg8000://" + url[len(prefix) :]
    return url


#: Connections per process: enough for every request the in-flight limit admits
#: (:data:`dbrain.server.limits.MAX_IN_FLIGHT`) plus the job, ledger and health paths.
POOL_SIZE = int(os.environ.get("DBRAIN_DB_POOL_SIZE", "24"))
#: Seconds a request waits for a pooled connection before failing (never reached while
#: the in-flight limit is below the pool size).
POOL_TIMEOUT = 30.0
#: Seconds a SQLite transaction waits for the write lock before failing ("database is locked").
WRITE_LOCK_TIMEOUT = 60.0
#: SQLite's busy timeout of one try for the write lock, in ms (see ``begin_immediate`` in :func:`make_engine`).
_WRITE_LOCK_POLL_MS = 3
_WRITE_SQL = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


def make_engine(url: str, *, pool_size: int | None = None) -> sa.Engine:
    """Create the engine: SQLite in WAL mode (readers never take the write lock), or PostgreSQL.

    Parameters
    ----------
    url : str
        ``sqlite:///path`` or ``postgresql://…``.
    pool_size : int | None
        Pooled connections (no overflow); default :data:`POOL_SIZE`.

    Returns
    -------
    engine : sqlalchemy.Engine

    Notes
    -----
    On SQLite a transaction starts as a plain (deferred) ``BEGIN``: it reads
    one WAL snapshot and never blocks writers or other readers. The first
    statement that writes (an ``INSERT``/``UPDATE``/``DELETE`` …, e.g. the
    request's audit row) ends that read snapshot and starts a ``BEGIN
    IMMEDIATE`` write transaction instead of upgrading it: SQLite cannot
    upgrade a snapshot another connection has since written past (it fails at
    once with "database is locked", whatever the busy timeout), while a fresh
    ``BEGIN IMMEDIATE`` waits its turn. The write lock is thus held only from
    a transaction's first write to its commit. The consequence is PostgreSQL's
    READ COMMITTED: reads before the first write are not repeated under the
    lock. Code that must read and write atomically (claiming a job) calls
    :func:`write_lock` first, which starts the transaction as a writer.
    """
    sa_url = sa.engine.make_url(normalise_url(url))
    backend = sa_url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        from ..errors import ParameterError

        raise ParameterError(f"the data-centre database must be SQLite or PostgreSQL, got {backend!r}")
    size = POOL_SIZE if pool_size is None else int(pool_size)
    if backend == "postgresql":
        return sa.create_engine(sa_url, pool_pre_ping=True, pool_size=size, max_overflow=0, pool_timeout=POOL_TIMEOUT)
    db = sa_url.database
    if db and db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        pool = {"poolclass": sa.pool.QueuePool, "pool_size": size, "max_overflow": 0, "pool_timeout": POOL_TIMEOUT}
    else:
        pool = {}
    engine = sa.create_engine(sa_url, connect_args={"timeout": 60, "check_same_thread": False}, **pool)
    # One thread of this process at a time waits for SQLite's write lock; the others wait for that one here.
    waiting_for_the_lock = threading.Lock()

    def begin_immediate(raw) -> None:
        # SQLite's own busy handler sleeps longer the longer it has waited (1, 2, 5 ... then 100 ms between
        # tries), so under a stream of writers an old waiter loses the lock to every newcomer: the audit
        # commit of a read waited up to ~1 s. A short busy timeout, retried, keeps every waiter trying
        # every few milliseconds (one per process, the others queued on a lock) for the same 60 s in all.
        deadline = time.monotonic() + WRITE_LOCK_TIMEOUT
        if not waiting_for_the_lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
            raw.execute("BEGIN IMMEDIATE")  # the 60 s busy timeout, then "database is locked" as before
            return
        try:
            raw.execute(f"PRAGMA busy_timeout={_WRITE_LOCK_POLL_MS}")
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY) != sqlite3.SQLITE_BUSY:
                        raise
                    if time.monotonic() > deadline:
                        raise
        finally:
            raw.execute("PRAGMA busy_timeout=60000")
            waiting_for_the_lock.release()

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself (below)
        cur = dbapi_connection.cursor()
        if db and db != ":memory:":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        write = bool(conn.get_execution_options().get("dbrain_write"))
        if write:
            begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN")
        conn.info["dbrain_tx"] = "write" if write else "read"

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _first_write(conn, cursor, statement, parameters, context, executemany):
        if conn.info.get("dbrain_tx") == "read" and _WRITE_SQL.match(statement):
            # End the read snapshot (it wrote nothing) and queue for the write lock.
            raw = conn.connection.dbapi_connection
            raw.execute("COMMIT")
            begin_immediate(raw)
            conn.info["dbrain_tx"] = "write"

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def _end(conn):
        conn.info.pop("dbrain_tx", None)

    return engine


def make_sessionmaker(engine: sa.Engine, settings=None) -> sessionmaker:
    """Return a session factory bound to ``engine``.

    Sessions read in short snapshots (see :func:`make_engine`); a session that
    must read and write atomically calls :func:`write_lock` first. With
    ``settings``, rows passed to :func:`dbrain.server.provenance.record_row`
    are appended to the provenance ledger once the session commits.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    settings : dbrain.server.Settings | None
        The process's settings (ledger on or off, keys folder).

    Returns
    -------
    factory : sqlalchemy.orm.sessionmaker
    """
    factory = sessionmaker(engine, expire_on_commit=False, info={"dbrain_settings": settings, _AUDIT_QUEUE: True})
    sa.event.listen(factory, "before_commit", _insert_audit)
    sa.event.listen(factory, "after_soft_rollback", _drop_audit)
    sa.event.listen(factory, "after_transaction_end", _end_audit)
    from .provenance import attach

    attach(factory)
    return factory


_AUDIT_QUEUE = "dbrain_audit_queue"
_AUDIT_ROWS = "dbrain_audit_rows"


def queue_audit(session, values: dict) -> bool:
    """Queue one audit row for the commit of ``session``'s transaction (False: not a session of this module).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    values : dict
        The row's columns.

    Returns
    -------
    queued : bool
    """
    if not session.info.get(_AUDIT_QUEUE):
        return False
    if session.get_transaction() is None:
        session.begin()  # no I/O: gives the rows a transaction whose end (commit, rollback, close) decides them
    session.info.setdefault(_AUDIT_ROWS, []).append(values)
    return True


def _insert_audit(session) -> None:
    # First thing of the commit, in the committing transaction: the audit rows and the change they describe
    # are written together or not at all. One plain INSERT (executemany for several), no unit of work.
    rows = session.info.pop(_AUDIT_ROWS, None)
    if rows:
        # On the session's connection, in its transaction: a plain Core INSERT needs none of the ORM's execution
        # machinery (about a third of the audit row's cost, on every request).
        session.connection().execute(AuditEvent.__table__.insert(), rows[0] if len(rows) == 1 else rows)


def _drop_audit(session, _previous=None) -> None:
    session.info.pop(_AUDIT_ROWS, None)


def _end_audit(session, transaction) -> None:
    # A session closed without committing keeps none of its audit rows (as the ORM dropped pending rows).
    if transaction.parent is None:
        session.info.pop(_AUDIT_ROWS, None)


def write_lock(session) -> None:
    """Start the session's transaction as a writer (SQLite ``BEGIN IMMEDIATE``).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session with no transaction begun yet.
    """
    session.connection(execution_options={"dbrain_write": True})


@contextlib.contextmanager
def _migration_lock(engine: sa.Engine):
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(774411)")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(774411)")
                conn.commit()
        return
    db = engine.url.database
    if not db or db == ":memory:":
        yield
        return
    with open(f"{db}.migrate-lock", "a+") as fid:
        fcntl.flock(fid, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fid, fcntl.LOCK_UN)


def migrate(engine: sa.Engine) -> None:
    """Create or upgrade the data-centre tables to the newest Alembic revision.

    Safe to call from several processes at once (a file lock for SQLite, an
    advisory lock for PostgreSQL).

    Parameters
    ----------
    engine : sqlalchemy.Engine
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _migration_lock(engine), engine.connect().execution_options(dbrain_write=True) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


# The neurofeedback tables (their own module) belong to the same metadata: the ledger's row replay finds them.
from . import nfb_db  # noqa: E402,F401
