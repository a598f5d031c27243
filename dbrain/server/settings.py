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
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.db_url is None:
            self.db_url = default_db_url()
        self.home = Path(self.home) if self.home is not None else dbrain_home()
