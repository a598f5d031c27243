"""Signed tree heads as C2SP signed-note checkpoints.

A checkpoint states the size and root hash of the log at one moment. Its text
(the note body) is, line by line::

    <origin>
    <tree size, decimal>
    <root hash, standard base64>
    timestamp <milliseconds since 1970-01-01 UTC>

(the first three lines are the C2SP ``tlog-checkpoint`` body; the timestamp of
the RFC 9162 signed tree head is the one extension line). It is signed as a
C2SP ``signed-note``: the body, a blank line, then one line per signature::

    — <key name> <base64(key hash[4] || Ed25519 signature[64])>

with key hash = ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``. The
key name is the log's origin. A verifier key is shared as the text
``<name>+<key hash hex>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from ._errors import LedgerError

__all__ = ["Checkpoint", "VerifierKey", "note_key_hash", "format_signed_note", "parse_signed_note"]

_DASH = "\u2014 "
_ED25519 = b"\x01"


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key hash of an Ed25519 key named ``name``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519 + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A public key that checkpoints are verified with."""

    name: str
    public_key: bytes

    @property
    def key_hash(self) -> bytes:
        return note_key_hash(self.name, self.public_key)

    def __str__(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(_ED25519 + self.public_key).decode()}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read ``<name>+<hash hex>+<base64(0x01 || key)>``."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise LedgerError(f"not a verifier key (expected NAME+HASH+KEY): {text.strip()[:80]!r}")
        name, hash_hex, key_b64 = parts
        try:
            raw = base64.b64decode(key_b64, validate=True)
            expected = bytes.fromhex(hash_hex)
        except (binascii.Error, ValueError) as exc:
            raise LedgerError(f"verifier key {text.strip()[:80]!r} is not valid: {exc}") from exc
        if len(raw) != 33 or raw[:1] != _ED25519:
            raise LedgerError(f"verifier key for {name!r} is not an Ed25519 key")
        key = cls(name, raw[1:])
        if key.key_hash != expected:
            raise LedgerError(f"verifier key for {name!r}: key hash {hash_hex} does not match the key")
        return key


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size, root hash and time (ms since the epoch, UTC)."""

    origin: str
    size: int
    root: bytes
    timestamp_ms: int

    def body(self) -> bytes:
        """The signed text."""
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntimestamp {self.timestamp_ms}\n".encode()

    @classmethod
    def parse_body(cls, body: bytes) -> Checkpoint:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LedgerError("checkpoint is not UTF-8") from exc
        lines = text.split("\n")
        if len(lines) != 5 or lines[-1] != "" or not lines[3].startswith("timestamp "):
            raise LedgerError("checkpoint body must be 4 lines: origin, size, root hash, timestamp")
        try:
            size = int(lines[1])
            root = base64.b64decode(lines[2], validate=True)
            ts = int(lines[3].removeprefix("timestamp "))
        except (ValueError, binascii.Error) as exc:
            raise LedgerError(f"checkpoint body is malformed: {exc}") from exc
        if size < 0 or len(root) != 32 or str(size) != lines[1]:
            raise LedgerError("checkpoint body is malformed: bad size or root hash")
        return cls(lines[0], size, root, ts)


def format_signed_note(body: bytes, signatures: list[tuple[str, bytes, bytes]]) -> str:
    """Return the signed note: ``body``, a blank line, one line per (name, key hash, signature)."""
    lines = [f"{_DASH}{name} {base64.b64encode(key_hash + sig).decode()}\n" for name, key_hash, sig in signatures]
    return body.decode("utf-8") + "\n" + "".join(lines)


def parse_signed_note(text: str) -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its body and its (name, key hash, signature) lines."""
    if "\r" in text:
        raise LedgerError("signed note contains carriage returns")
    cut = text.rfind("\n\n")
    if cut < 0 or not text.endswith("\n"):
        raise LedgerError("not a signed note: no blank line before the signatures")
    body = text[: cut + 1].encode("utf-8")
    signatures = []
    for line in text[cut + 2 :].splitlines():
        if not line.startswith(_DASH):
            raise LedgerError(f"malformed signature line {line[:60]!r}")
        try:
            name, blob = line[len(_DASH) :].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise LedgerError(f"malformed signature line {line[:60]!r}") from exc
        if len(raw) < 5:
            raise LedgerError(f"malformed signature line {line[:60]!r}")
        signatures.append((name, raw[:4], raw[4:]))
    if not signatures:
        raise LedgerError("signed note has no signature")
    return body, signatures
