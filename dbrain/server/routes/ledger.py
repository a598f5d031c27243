"""``/api/ledger/…``: signed checkpoints and inclusion proofs of the provenance ledger, scoped by site.

The checkpoint (tree size, root hash, signature) names no site and no data,
so every signed-in user may read it. An entry belongs to the site of the
recording, analysis or report it names (else of the user who acted); a user
reads only its own site's entries, the instance administrator only the
entries of no site (key rotations …). Another site's entry answers 404.

Entries were recorded with the absolute paths of the files they hash. Those
are server internals, so the API never shows them: every absolute path in a
shown record is replaced by ``"[server path]"``, and then the record's exact
bytes (``data``) cannot be shown either. Such a receipt says
``"redacted": true``; its leaf hash, inclusion proof and signed checkpoint
still prove that the entry is in the signed log (:func:`verify_redacted_receipt`),
and the full receipt, with the bytes, comes from ``dbrain ledger prove`` on
the server.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session

from ..auth import Principal, get_db, require
from ..db import Analysis, Recording, Report, User
from ..roles import ROLES
from ..schemas import CheckpointOut
from ._common import ERRORS, NOT_FOUND

router = APIRouter(tags=["ledger"])
anyone = require(*ROLES)

#: What replaces a server path in a shown record.
REDACTED = "[server path]"
_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|\\\\)")


def _ledger(request: Request):
    settings = request.app.state.settings
    if not settings.ledger:
        raise HTTPException(404, "this data centre keeps no provenance ledger")
    from ...ledger import Ledger

    return Ledger(settings.db_url, keys=settings.home / "keys" / "ledger")


def _redact(value):
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and _ABSOLUTE.match(value):
        return REDACTED
    return value


def public_receipt(receipt: dict) -> dict:
    """A receipt as the API shows it: no absolute server path anywhere.

    Parameters
    ----------
    receipt : dict
        From :meth:`dbrain.ledger.Ledger.receipt`.

    Returns
    -------
    receipt : dict
        Unchanged when its record holds no absolute path (then
        :func:`dbrain.ledger.verify_receipt` checks it whole); else with the
        paths replaced, ``entry.data`` left out and ``redacted: true``.
    """
    entry = receipt["entry"]
    shown = _redact(entry["record"])
    if shown == entry["record"]:
        return receipt
    out = dict(receipt)
    out["entry"] = {k: v for k, v in entry.items() if k != "data"} | {"record": shown}
    out["redacted"] = True
    return out


def verify_redacted_receipt(receipt: dict, keys) -> int:
    """Check a redacted receipt: its leaf is in the tree whose checkpoint a trusted key signed.

    Parameters
    ----------
    receipt : dict
        From ``GET /api/ledger/entries/{index}/receipt``.
    keys : iterable of str
        Trusted verifier keys.

    Returns
    -------
    tree_size : int

    Raises
    ------
    dbrain.ledger.LedgerError
    """
    from ...ledger import LedgerError, verify_checkpoint, verify_inclusion

    leaf = bytes.fromhex(receipt["entry"]["leaf_hash"])
    index = int(receipt["entry"]["index"])
    proof = receipt["inclusion_proof"]
    checkpoint = verify_checkpoint(receipt["checkpoint"], keys)
    if checkpoint.size != int(proof["tree_size"]):
        raise LedgerError("receipt: the proof and the checkpoint are for different tree sizes")
    if not verify_inclusion(leaf, index, checkpoint.size, [bytes.fromhex(h) for h in proof["hashes"]], checkpoint.root):
        raise LedgerError(f"receipt: inclusion proof of entry {index} does not lead to the checkpoint's root")
    return checkpoint.size


def entry_sites(db: Session, record: dict) -> set[int | None]:
    """The sites an entry belongs to: of the rows it names, else of its acting user; ``{None}`` for none.

    Parameters
    ----------
    db : sqlalchemy.orm.Session
    record : dict
        A ledger record.

    Returns
    -------
    sites : set of int | None
    """
    details = record.get("details") or {}
    sites: set[int | None] = set()
    for key, table in (("recording_id", Recording), ("analysis_id", Analysis), ("report_id", Report)):
        value = details.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            row = db.get(table, value)
            # A named row that no longer exists: nobody's (so nobody at a site reads it).
            sites.add(row.site_id if row is not None else -1)
    if sites:
        return sites
    actor = str(record.get("actor") or "")
    if actor.startswith("user:") and actor[5:].isdigit():
        user = db.get(User, int(actor[5:]))
        return {user.site_id if user is not None else -1}
    return {None}


@router.get("/api/ledger/checkpoint", response_model=CheckpointOut, responses={**ERRORS, **NOT_FOUND})
def checkpoint(request: Request, who: Principal = Depends(anyone)) -> CheckpointOut:
    """The latest signed checkpoint and the verifier keys: what an outside witness keeps (docs/ledger.md)."""
    with _ledger(request) as ledger:
        if len(ledger) == 0:
            raise HTTPException(404, "the ledger is empty")
        return CheckpointOut(
            tree_size=len(ledger), checkpoint=ledger.checkpoint(), verifier_keys=[str(k) for k in ledger.verifier_keys()]
        )


@router.get("/api/ledger/entries/{index}/receipt", responses={**ERRORS, **NOT_FOUND})
def receipt(
    request: Request, index: int = Path(..., ge=0, le=2**62), who: Principal = Depends(anyone), db: Session = Depends(get_db)
) -> dict:
    """Entry ``index`` of the caller's site with its inclusion proof in the latest signed tree and that tree's checkpoint.

    Server paths are redacted (see the module's notes); without them, check it
    offline with ``dbrain.ledger.verify_receipt(receipt, keys)``.
    """
    with _ledger(request) as ledger:
        if index >= len(ledger):
            raise HTTPException(404, f"no ledger entry {index} of this site")
        full = ledger.receipt(index)
    sites = entry_sites(db, full["entry"]["record"])
    db.commit()
    if sites != {who.site_id}:
        raise HTTPException(404, f"no ledger entry {index} of this site")
    return public_receipt(full)
