"""The provenance ledger: a verifiable, append-only transparency log (RFC 9162 style).

Who ingested which recording, which dbrain and model versions produced which
result, who changed which annotation, which report was signed: each is a
record, hashed as a leaf of an RFC 9162 Merkle tree whose heads are signed
with Ed25519. Inclusion proofs show a record is in a signed head, consistency
proofs that a later head extends an earlier one, and ``dbrain ledger verify``
recomputes everything and re-hashes every file the records name. See
``docs/ledger.md``.

::

    from dbrain.ledger import Ledger
    with Ledger() as ledger:                          # $DBRAIN_HOME/dbrain.sqlite
        entry = ledger.record("recording-ingested", ["p1.edf"], actor="tech1")
        receipt = ledger.receipt(entry.index)         # entry + inclusion proof + signed checkpoint
        report = ledger.verify()                      # report.ok, report.problems
"""

from ._audit import Problem, VerificationReport, audit
from ._errors import LedgerError, LedgerParameterError
from ._ledger import (
    ConsistencyProof,
    Entry,
    InclusionProof,
    Ledger,
    SignedTreeHead,
    default_url,
)
from .checkpoint import Checkpoint, VerifierKey
from .keys import KeyStore
from .records import KINDS, canonical_json, file_artifact, make_record, sha256_file
from .storage import LedgerStorage, MemoryStorage, SQLStorage, open_storage
from .verify import verify_checkpoint, verify_consistency, verify_inclusion, verify_receipt

__all__ = [
    "Ledger",
    "Entry",
    "SignedTreeHead",
    "InclusionProof",
    "ConsistencyProof",
    "Checkpoint",
    "VerifierKey",
    "KeyStore",
    "KINDS",
    "make_record",
    "file_artifact",
    "canonical_json",
    "sha256_file",
    "default_url",
    "audit",
    "Problem",
    "VerificationReport",
    "verify_inclusion",
    "verify_consistency",
    "verify_checkpoint",
    "verify_receipt",
    "LedgerStorage",
    "MemoryStorage",
    "SQLStorage",
    "open_storage",
    "LedgerError",
    "LedgerParameterError",
]
