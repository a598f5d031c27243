"""Ledger entries for what happens in the data centre (see ``docs/ledger.md``, Integration).

Each call opens the provenance ledger in the service's own database and appends
one entry. It must run **after** the request's transaction committed: on SQLite
the ledger takes the database's write lock itself. A failed append is logged,
never fatal to the action it records.
"""

from __future__ import annotations

import hashlib
import logging

from .settings import Settings

log = logging.getLogger("dbrain.server")


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
    from ..ledger import Ledger

    try:
        with Ledger(settings.db_url, keys=settings.home / "keys" / "ledger") as ledger:
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
    from ..ledger import Ledger

    with Ledger(settings.db_url, keys=settings.home / "keys" / "ledger") as ledger:
        return [ledger.receipt(i) for i in wanted if 0 <= i < len(ledger)]


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
    from ..ledger import Ledger

    with Ledger(settings.db_url, keys=settings.home / "keys" / "ledger") as ledger:
        found = ledger.find(kind=kind, content_hash=content_hash)
        return found[-1].index if found else None
