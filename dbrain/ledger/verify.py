"""Pure verification: inclusion and consistency proofs, signatures, checkpoints, receipts.

Nothing here touches storage or the network, so a client, a witness or a
report reader can check what the ledger hands out without trusting it. The
proof algorithms are those of RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._errors import LedgerError
from .checkpoint import Checkpoint, VerifierKey, parse_signed_note
from .hashing import HASH_SIZE, leaf_hash

__all__ = [
    "root_from_inclusion_proof",
    "verify_inclusion",
    "verify_consistency",
    "verify_signature",
    "verify_checkpoint",
    "verify_receipt",
]


def _hash(prefix: bytes, left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(prefix + left + right).digest()


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """Root implied by an inclusion proof (RFC 9162 2.1.3.2), or None if the proof has the wrong shape."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _hash(b"\x01", p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _hash(b"\x01", r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Check an RFC 9162 inclusion proof.

    Parameters
    ----------
    leaf : bytes
        The leaf hash ``SHA-256(0x00 || data)``.
    index : int
        The leaf's index.
    size : int
        The tree size the proof is for.
    proof : sequence of bytes
        The audit path, bottom up.
    root : bytes
        The (signed) root hash of the tree of ``size`` leaves.

    Returns
    -------
    ok : bool
    """
    return root_from_inclusion_proof(leaf, index, size, proof) == root


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> bool:
    """Check an RFC 9162 consistency proof: the old tree is a prefix of the new one.

    The empty tree is consistent with every tree (empty proof), and a tree
    with itself (empty proof, equal roots).

    Parameters
    ----------
    old_size, new_size : int
        The two tree sizes.
    proof : sequence of bytes
        The consistency proof.
    old_root, new_root : bytes
        The two (signed) root hashes.

    Returns
    -------
    ok : bool
    """
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == 0:
        return not proof
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _hash(b"\x01", c, fr)
            sr = _hash(b"\x01", c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _hash(b"\x01", sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key`` (32 raw bytes)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_checkpoint(text: str, keys: Iterable[VerifierKey | str]) -> Checkpoint:
    """Check a signed checkpoint against trusted verifier keys and return it.

    At least one signature must come from a trusted key, and every signature
    by a trusted key must be valid.

    Parameters
    ----------
    text : str
        The signed note.
    keys : iterable of VerifierKey or str
        Trusted keys (``name+hash+key`` strings are parsed).

    Returns
    -------
    checkpoint : Checkpoint

    Raises
    ------
    LedgerError
        If the note is malformed or not validly signed by a trusted key.
    """
    trusted = {}
    for key in keys:
        key = VerifierKey.parse(key) if isinstance(key, str) else key
        trusted[(key.name, key.key_hash)] = key
    body, signatures = parse_signed_note(text)
    checkpoint = Checkpoint.parse_body(body)
    good = 0
    for name, key_hash, signature in signatures:
        key = trusted.get((name, key_hash))
        if key is None:
            continue
        if not verify_signature(key.public_key, body, signature):
            raise LedgerError(f"checkpoint signature by {name} (key {key_hash.hex()}) is invalid")
        good += 1
    if not good:
        raise LedgerError("checkpoint is not signed by any trusted key")
    if checkpoint.origin not in {name for name, _ in trusted}:
        raise LedgerError(f"checkpoint origin {checkpoint.origin!r} is not the name of a trusted key")
    return checkpoint


def _b64(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise LedgerError(f"receipt: {what} is not base64") from exc
    return raw


def verify_receipt(receipt: dict, keys: Iterable[VerifierKey | str]) -> Checkpoint:
    """Verify a receipt from :meth:`dbrain.ledger.Ledger.receipt` without the ledger.

    Checks that the record's canonical bytes hash to the leaf, that the
    inclusion proof leads from the leaf to the checkpoint's root, and that the
    checkpoint is signed by a trusted key.

    Parameters
    ----------
    receipt : dict
        As returned by :meth:`Ledger.receipt` (or the JSON of ``dbrain ledger prove``).
    keys : iterable of VerifierKey or str
        Trusted keys, obtained out of band (``dbrain ledger keys``).

    Returns
    -------
    checkpoint : Checkpoint

    Raises
    ------
    LedgerError
        Naming the first check that failed.
    """
    try:
        data = _b64(receipt["entry"]["data"], "entry data")
        index = int(receipt["entry"]["index"])
        stated = bytes.fromhex(receipt["entry"]["leaf_hash"])
        proof = [bytes.fromhex(h) for h in receipt["inclusion_proof"]["hashes"]]
        size = int(receipt["inclusion_proof"]["tree_size"])
        note = receipt["checkpoint"]
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"receipt is malformed: {exc}") from exc
    leaf = leaf_hash(data)
    if leaf != stated:
        raise LedgerError(f"receipt: entry {index}'s data does not hash to its leaf hash")
    checkpoint = verify_checkpoint(note, keys)
    if checkpoint.size != size:
        raise LedgerError(f"receipt: proof is for tree size {size} but the checkpoint is for size {checkpoint.size}")
    if not verify_inclusion(leaf, index, size, proof, checkpoint.root):
        raise LedgerError(f"receipt: inclusion proof of entry {index} does not lead to the checkpoint's root")
    return checkpoint
