"""``/api/ledger/…``: signed checkpoints and inclusion proofs of the provenance ledger.

Entries hold hashes, kinds, user ids and record ids, never patient data, so
every signed-in role may read them: a researcher can check that a result is
the one the ledger recorded without seeing whose recording it was.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from ..auth import ANY_ROLE, Principal, require
from ..schemas import CheckpointOut
from ._common import ERRORS, NOT_FOUND

router = APIRouter(tags=["ledger"])
anyone = require(*ANY_ROLE)


def _ledger(request: Request):
    settings = request.app.state.settings
    if not settings.ledger:
        raise HTTPException(404, "this data centre keeps no provenance ledger")
    from ...ledger import Ledger

    return Ledger(settings.db_url, keys=settings.home / "keys" / "ledger")


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
def receipt(request: Request, index: int = Path(..., ge=0, le=2**62), who: Principal = Depends(anyone)) -> dict:
    """Entry ``index`` with its inclusion proof in the latest signed tree and that tree's checkpoint.

    Check it offline with ``dbrain.ledger.verify_receipt(receipt, keys)``.
    """
    with _ledger(request) as ledger:
        if index >= len(ledger):
            raise HTTPException(404, f"the ledger has no entry {index} ({len(ledger)} entries)")
        return ledger.receipt(index)
