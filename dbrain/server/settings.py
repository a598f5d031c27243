"""Settings of the data centre: database URL, object store, cookies, job leases."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..utils._home import dbrain_home


def default_db_url() -> str:
    """Return ``$DBRAIN_DATABASE_URL``, else SQLite at ``$DBRAIN_HOME/dbrain.sqlite``.

    Returns
    -------
    url : str
        The same default as the provenance ledger, so one file holds both.
    """
    return os.environ.get("DBRAIN_DATABASE_URL") or f"sqlite:///{dbrain_home() / 'dbrain.sqlite'}"


@dataclass
class Settings:
    """How one data-centre process (web or worker) is configured.

    Parameters
    ----------
    db_url : str | None
        ``sqlite:///path`` or ``postgresql://user:password@host:port/db``
        (pg8000). None: :func:`default_db_url`.
    home : path-like | None
        The folder holding ``objects/`` (the object store) and ``tmp/``;
        default ``$DBRAIN_HOME``. Web and workers must share it.
    cookie_secure : bool
        Mark the session cookie ``Secure`` (browsers send it over HTTPS and
        to ``http://localhost`` / ``127.0.0.1`` only).
    session_hours : float
        Lifetime of a browser session.
    lease_seconds : float
        How long a claimed job stays the worker's without a heartbeat; after
        that it counts as abandoned (the worker died) and is queued again.
    heartbeat_seconds : float
        How often a worker renews its lease and writes progress.
    max_attempts : int
        Claims a job gets before it is marked failed.
    ledger : bool
        Append ``recording-ingested`` and ``analysis-run`` entries to the
        provenance ledger in the same database.
    max_upload_bytes : int
        Largest accepted upload.
    deid_remove_date : bool
        De-identify uploads with the start date removed (EDF+ 01.01.85, time
        of day kept) instead of kept; the original date stays in no table.
    max_body_bytes : int
        Largest request body of every route but the upload (JSON bodies are
        tiny); larger answers 413.
    max_url_bytes : int
        Longest request target (path and query); longer answers 414.
    login_client_rate : str
        Login attempts one client address may make (a ``limits`` rate string,
        e.g. ``"30/minute"``); more answer 429 with ``Retry-After``.
    login_free_failures : int
        Consecutive failed logins of one account (or from one client) before
        it is locked out.
    login_lock_seconds : float
        The first lock-out; it doubles with every further failure
        (exponential back-off) up to ``login_lock_max_seconds``.
    login_lock_max_seconds : float
        The longest lock-out.
    login_failure_window : float
        Seconds after which an account's (or client's) failure count is
        forgotten when no new failure came.
    login_storage : str
        Where the throttle's counters live, as a ``limits`` storage URI:
        ``"memory://"`` (per web process) or ``"redis://host:6379"`` (shared by
        all web processes of a deployment).
    login_tarpit_seconds : float
        How long a refused (429) login attempt is held before the answer: it
        costs the server nothing (no thread, no CPU) and slows a flooding
        client to one attempt per this time per connection.
    argon2_workers : int
        Threads that may verify passwords at once (Argon2 is deliberately
        slow; the rest of the service keeps the other cores).
    argon2_queue : int
        Logins allowed to wait for a verification thread; more answer 429.
    web_processes : int
        Web processes serving this deployment (``dbrain serve --web-workers``).
        Above 1 the live ward and neurofeedback routes answer 503: their live
        data is held in one process's memory.
    """

    db_url: str | None = None
    home: Path | None = None
    cookie_secure: bool = True
    session_hours: float = 12.0
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    max_attempts: int = 3
    ledger: bool = True
    max_upload_bytes: int = 20 * 1024**3
    deid_remove_date: bool = False
    max_body_bytes: int = 1024**2
    max_url_bytes: int = 8192
    login_client_rate: str = "30/minute"
    login_free_failures: int = 5
    login_lock_seconds: float = 2.0
    login_lock_max_seconds: float = 900.0
    login_failure_window: float = 3600.0
    login_storage: str = "memory://"
    login_tarpit_seconds: float = 1.0
    argon2_workers: int = 1
    argon2_queue: int = 16
    web_processes: int = 1
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.db_url is None:
            self.db_url = default_db_url()
        self.home = Path(self.home) if self.home is not None else dbrain_home()
