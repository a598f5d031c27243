"""The :class:`Ledger` facade: append records, sign tree heads, hand out proofs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..utils import dbrain_home, logger, verbose
from ._errors import LedgerError, LedgerParameterError
from .checkpoint import Checkpoint, VerifierKey, format_signed_note, note_key_hash
from .hashing import (
    EMPTY_ROOT,
    append_leaf,
    consistency_ranges,
    fold_right,
    hashes_for_ranges,
    inclusion_ranges,
    leaf_hash,
    perfect_subtrees,
)
from .keys import KeyStore, SigningKey
from .records import _dumps, check_kind, file_artifact, make_record, validate_record
from .storage import SCHEMA_VERSION, EntryRow, HeadRow, KeyRow, LedgerStorage, StorageReader, iter_entries, open_storage
from .verify import verify_consistency, verify_inclusion

__all__ = [
    "Ledger",
    "Entry",
    "SignedTreeHead",
    "InclusionProof",
    "ConsistencyProof",
    "default_url",
]


def default_url() -> str:
    """Return the default ledger URL: ``$DBRAIN_DATABASE_URL``, else SQLite at ``$DBRAIN_HOME/dbrain.sqlite``."""
    return os.environ.get("DBRAIN_DATABASE_URL") or f"sqlite:///{dbrain_home() / 'dbrain.sqlite'}"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    """One log entry: its index, leaf hash and the canonical record bytes."""

    index: int
    leaf_hash: bytes
    data: bytes
    #: False when :meth:`Ledger.append` found the same record already in the log.
    appended: bool = True

    @property
    def record(self) -> dict:
        return json.loads(self.data)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "leaf_hash": self.leaf_hash.hex(),
            "record": self.record,
            "data": base64.b64encode(self.data).decode(),
        }


@dataclass(frozen=True)
class SignedTreeHead:
    """A signed tree head (one row of ``ledger_heads``)."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.origin, self.tree_size, self.root_hash, self.timestamp_ms)

    def to_dict(self) -> dict:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp_ms": self.timestamp_ms,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``tree_size`` leaves."""

    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: tuple[bytes, ...]
    root: bytes

    def verify(self) -> bool:
        return verify_inclusion(self.leaf_hash, self.index, self.tree_size, self.hashes, self.root)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "hashes": [h.hex() for h in self.hashes],
            "root_hash": self.root.hex(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof between trees of ``old_size`` and ``new_size`` leaves."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    hashes: tuple[bytes, ...]

    def verify(self) -> bool:
        return verify_consistency(self.old_size, self.new_size, self.hashes, self.old_root, self.new_root)

    def to_dict(self) -> dict:
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root_hash": self.old_root.hex(),
            "new_root_hash": self.new_root.hex(),
            "hashes": [h.hex() for h in self.hashes],
        }


def _lookup(reader: StorageReader) -> Callable:
    def lookup(keys):
        found = reader.nodes(keys)
        missing = [k for k in keys if k not in found]
        if missing:
            level, idx = missing[0]
            what = f"entry {idx}" if level == 0 else f"ledger_nodes level {level} index {idx}"
            raise LedgerError(f"ledger storage is damaged: {what} is missing (run 'dbrain ledger verify')")
        return found

    return lookup


class Ledger:
    """An append-only, verifiable provenance log.

    Parameters
    ----------
    url : str | path-like | LedgerStorage | None
        Where the log lives: ``None`` for the default (:func:`default_url`), a
        SQLite path, ``sqlite:///…``, ``postgresql://…`` or ``memory://``.
    keys : str | path-like | KeyStore | None
        Folder of the Ed25519 signing keys; default ``$DBRAIN_HOME/keys/ledger``.

    Every :meth:`append` / :meth:`append_many` call appends its records in one
    transaction and signs one tree head covering them. Appending a record that
    is already in the log returns the existing entry (``appended=False``).
    """

    def __init__(self, url: str | os.PathLike | LedgerStorage | None = None, *, keys: str | os.PathLike | KeyStore | None = None):
        self.storage = url if isinstance(url, LedgerStorage) else open_storage(default_url() if url is None else url)
        self.keys = keys if isinstance(keys, KeyStore) else KeyStore(keys)
        self._registered: set[str] = set()
        self._cached: tuple[int, bytes, list] | None = None
        self.origin = self._init_meta()

    # ------------------------------------------------------------------ housekeeping

    def _init_meta(self) -> str:
        with self.storage.read() as r:
            meta = r.meta()
        if "schema_version" not in meta:
            with self.storage.write() as w:
                if "schema_version" not in w.meta():
                    w.set_meta("schema_version", str(SCHEMA_VERSION))
                    w.set_meta("origin", f"dbrain.ledger/{secrets.token_hex(8)}")
                    w.set_meta("created", _utc_now())
            with self.storage.read() as r:
                meta = r.meta()
        version = meta.get("schema_version", "")
        if version != str(SCHEMA_VERSION):
            raise LedgerError(
                f"ledger schema version {version!r} in {self.storage.url} is not the version this dbrain reads ({SCHEMA_VERSION})"
            )
        if "origin" not in meta:
            raise LedgerError(f"ledger in {self.storage.url} has no origin in ledger_meta (run 'dbrain ledger verify')")
        return meta["origin"]

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.storage.url!r}, origin={self.origin!r})"

    def __len__(self) -> int:
        with self.storage.read() as r:
            return r.size()

    @property
    def url(self) -> str:
        return self.storage.url

    # ------------------------------------------------------------------ appending

    def _ensure_key(self, w, key: SigningKey) -> None:
        if key.key_id in self._registered:
            return
        rows = {k.key_id: k for k in w.keys()}
        row = rows.get(key.key_id)
        if row is None:
            w.insert_key(KeyRow(key.key_id, key.public_bytes, _utc_now(), None))
        elif row.public_key != key.public_bytes:
            raise LedgerError(
                f"ledger_keys row {key.key_id} holds another public key than the signing key (run 'dbrain ledger verify')"
            )
        self._registered.add(key.key_id)

    def _frontier(self, w) -> tuple[int, list[tuple[int, bytes]]]:
        """Size of the log and its frontier (perfect subtrees over all entries), checked against the latest head."""
        head = w.head()
        n = 0 if head is None else head.tree_size
        if self._cached is not None and self._cached[0] == n and head is not None and self._cached[1] == head.root_hash:
            return n, list(self._cached[2])
        keys = perfect_subtrees(0, n)
        found = _lookup(w)(keys)
        frontier = [(level, found[(level, i)]) for level, i in keys]
        if fold_right([h for _, h in frontier]) != (EMPTY_ROOT if head is None else head.root_hash):
            raise LedgerError(
                f"ledger storage is damaged: the stored tree does not match the latest signed head (size {n}); run 'dbrain ledger verify'"
            )
        return n, frontier

    def _sign(self, key: SigningKey, size: int, root: bytes) -> HeadRow:
        ts = int(time.time() * 1000)
        signature = key.sign(Checkpoint(self.origin, size, root, ts).body())
        return HeadRow(size, root, ts, key.key_id, signature)

    def append(self, record: Mapping, *, verbose=None) -> Entry:
        """Append one record (see :func:`dbrain.ledger.make_record`); return its entry."""
        return self.append_many([record], verbose=verbose)[0]

    @verbose
    def append_many(self, records: Iterable[Mapping], *, _before_head: Callable | None = None, verbose=None) -> list[Entry]:
        """Append records in one transaction under one signed tree head; return their entries.

        Parents named by a record must already be in the log (or earlier in
        ``records``). Duplicates are not appended again: the existing entry is
        returned with ``appended=False``.
        """
        prepared = []
        for record in records:
            validate_record(record)
            data = _dumps(record)
            prepared.append((record, data, leaf_hash(data)))
        if not prepared:
            return []
        key = self.keys.current()
        parents = {bytes.fromhex(p) for record, _, _ in prepared for p in record["parents"]}
        with self.storage.write() as w:
            self._ensure_key(w, key)
            existing = w.find_leaf_hashes({h for _, _, h in prepared} | parents)
            n, frontier = self._frontier(w)
            rows, nodes, out, seen = [], [], [], {}
            for record, data, h in prepared:
                old = existing.get(h, seen.get(h))
                if old is not None:
                    out.append(Entry(old, h, data, appended=False))
                    continue
                for p in record["parents"]:
                    if bytes.fromhex(p) not in existing and bytes.fromhex(p) not in seen:
                        raise LedgerParameterError(f"parent {p} is not an entry of the ledger")
                index = n + len(rows)
                nodes.extend(append_leaf(frontier, index, h))
                rows.append(EntryRow(index, h, record["kind"], record["content_hash"], data))
                seen[h] = index
                out.append(Entry(index, h, data))
            if _before_head is not None:
                _before_head(w)
            if rows:
                head = self._sign(key, n + len(rows), fold_right([h for _, h in frontier]))
                w.insert_entries(rows)
                w.insert_nodes(nodes)
                w.insert_head(head)
                self._cached = (head.tree_size, head.root_hash, list(frontier))
                logger.info("ledger: appended entries %d..%d, tree size %d", n, n + len(rows) - 1, head.tree_size)
        return out

    def record(
        self,
        kind: str,
        files: Iterable[str | os.PathLike] = (),
        *,
        role: str = "input",
        content_hash: str | None = None,
        actor: str | None = None,
        parents: Iterable[str] = (),
        model_versions: Mapping[str, str] | None = None,
        details: Mapping | None = None,
    ) -> Entry:
        """Hash ``files``, build a record of ``kind`` and append it (the data centre's one call).

        ``content_hash`` defaults to the hash of the only file. Examples::

            ledger.record("recording-ingested", ["p1.edf"], actor="tech1")
            ledger.record("report-signed", ["report.pdf"], role="report", actor="dr.a")
            ledger.record("annotation-changed", content_hash=sha, parents=[ingest.leaf_hash.hex()],
                          details={"recording": rec_sha, "change": "onset 12.0 -> 12.5"})
        """
        check_kind(kind)
        artifacts = [file_artifact(f, role) for f in files]
        rec = make_record(
            kind,
            content_hash=content_hash,
            artifacts=artifacts,
            actor=actor,
            parents=parents,
            model_versions=model_versions,
            details=details,
        )
        return self.append(rec)

    def rotate_key(self, *, destroy_old: bool = False, actor: str | None = None) -> Entry:
        """Switch to a new signing key; append a ``key-rotated`` entry signed with the new key.

        The old key endorses the new one: the entry's ``details.endorsement`` is
        the old key's signature of ``b"dbrain ledger key rotation\\n" + origin +
        b"\\n" + new public key``. Old heads keep verifying with the old public key,
        which stays in ``ledger_keys`` (marked retired) and in the key folder.
        """
        old, new = self.keys.rotate()
        message = b"dbrain ledger key rotation\n" + self.origin.encode() + b"\n" + new.public_bytes
        details = {"new_key_id": new.key_id, "new_public_key": base64.b64encode(new.public_bytes).decode()}
        if old is not None:
            details |= {"old_key_id": old.key_id, "endorsement": base64.b64encode(old.sign(message)).decode()}
        import hashlib

        rec = make_record("key-rotated", content_hash=hashlib.sha256(new.public_bytes).hexdigest(), actor=actor, details=details)

        def retire(w):
            if old is not None:
                w.retire_key(old.key_id, _utc_now())

        entry = self.append_many([rec], _before_head=retire)[0]
        if destroy_old and old is not None:
            self.keys.destroy_private(old.key_id)
        logger.info("ledger: signing key rotated from %s to %s", old.key_id if old else None, new.key_id)
        return entry

    # ------------------------------------------------------------------ reading

    def entry(self, index: int) -> Entry:
        """The entry at ``index``."""
        with self.storage.read() as r:
            rows = r.entries(index, index + 1) if isinstance(index, int) and index >= 0 else []
            size = r.size()
        if not rows:
            raise LedgerParameterError(f"no entry {index!r}: the ledger has {size} entries (0..{size - 1})")
        row = rows[0]
        return Entry(row.index, row.leaf_hash, row.data, appended=False)

    def entries(self, start: int = 0, stop: int | None = None) -> list[Entry]:
        """Entries ``start <= index < stop``."""
        with self.storage.read() as r:
            return [Entry(e.index, e.leaf_hash, e.data, appended=False) for e in iter_entries(r, start, stop)]

    def find(self, *, kind: str | None = None, content_hash: str | None = None, limit: int | None = None) -> list[Entry]:
        """Entries of a kind and/or content hash (e.g. every entry about one recording)."""
        with self.storage.read() as r:
            return [
                Entry(e.index, e.leaf_hash, e.data, appended=False)
                for e in r.find(kind=kind, content_hash=content_hash, limit=limit)
            ]

    def _head(self, r: StorageReader, tree_size: int | None) -> SignedTreeHead:
        row = r.head(tree_size)
        if row is None:
            if tree_size is None:
                raise LedgerParameterError("the ledger is empty: it has no signed tree head yet")
            sizes = [h.tree_size for h in r.heads()]
            near = ", ".join(str(s) for s in sizes[-5:])
            raise LedgerParameterError(f"no signed tree head at size {tree_size} (latest heads: {near or 'none'})")
        return SignedTreeHead(self.origin, row.tree_size, row.root_hash, row.timestamp_ms, row.key_id, row.signature)

    def head(self, tree_size: int | None = None) -> SignedTreeHead:
        """The signed tree head at ``tree_size`` (default: the latest)."""
        with self.storage.read() as r:
            return self._head(r, tree_size)

    def heads(self) -> list[SignedTreeHead]:
        with self.storage.read() as r:
            return [
                SignedTreeHead(self.origin, h.tree_size, h.root_hash, h.timestamp_ms, h.key_id, h.signature) for h in r.heads()
            ]

    def verifier_keys(self) -> list[VerifierKey]:
        """Verifier keys (``name+hash+key``) of every key in ``ledger_keys``; give them to witnesses."""
        with self.storage.read() as r:
            return [VerifierKey(self.origin, k.public_key) for k in r.keys()]

    def checkpoint(self, tree_size: int | None = None) -> str:
        """The signed checkpoint (C2SP signed note) of the head at ``tree_size`` (default latest)."""
        with self.storage.read() as r:
            head = self._head(r, tree_size)
            keys = {k.key_id: k.public_key for k in r.keys()}
        if head.key_id not in keys:
            raise LedgerError(f"tree head {head.tree_size} is signed by key {head.key_id}, which is not in ledger_keys")
        pub = keys[head.key_id]
        return format_signed_note(head.checkpoint.body(), [(self.origin, note_key_hash(self.origin, pub), head.signature)])

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Prove entry ``index`` is in the signed tree of ``tree_size`` (default: the latest head)."""
        with self.storage.read() as r:
            head = self._head(r, tree_size)
            if not isinstance(index, int) or not 0 <= index < head.tree_size:
                raise LedgerParameterError(f"entry {index!r} is not in the tree of size {head.tree_size}")
            lookup = _lookup(r)
            hashes = hashes_for_ranges(inclusion_ranges(index, head.tree_size), lookup)
            leaf = lookup([(0, index)])[(0, index)]
        proof = InclusionProof(index, head.tree_size, leaf, tuple(hashes), head.root_hash)
        if not proof.verify():
            raise LedgerError(
                f"stored tree does not prove entry {index} in the head at size {head.tree_size} (run 'dbrain ledger verify')"
            )
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Prove the signed tree of ``old_size`` is a prefix of the one of ``new_size`` (default latest)."""
        with self.storage.read() as r:
            new = self._head(r, new_size)
            if not isinstance(old_size, int) or not 0 <= old_size <= new.tree_size:
                raise LedgerParameterError(f"old size {old_size!r} must be between 0 and {new.tree_size}")
            old_root = EMPTY_ROOT if old_size == 0 else self._head(r, old_size).root_hash
            hashes = hashes_for_ranges(consistency_ranges(old_size, new.tree_size), _lookup(r))
        proof = ConsistencyProof(old_size, new.tree_size, old_root, new.root_hash, tuple(hashes))
        if not proof.verify():
            raise LedgerError(
                f"stored tree does not prove head {old_size} consistent with head {new.tree_size} (run 'dbrain ledger verify')"
            )
        return proof

    def receipt(self, index: int, tree_size: int | None = None) -> dict:
        """Everything an outsider needs to check entry ``index``: entry, inclusion proof, checkpoint, keys.

        Check it with :func:`dbrain.ledger.verify_receipt` (no ledger needed).
        """
        proof = self.inclusion_proof(index, tree_size)
        return {
            "entry": self.entry(index).to_dict(),
            "inclusion_proof": proof.to_dict(),
            "checkpoint": self.checkpoint(proof.tree_size),
            "verifier_keys": [str(k) for k in self.verifier_keys()],
        }

    # ------------------------------------------------------------------ verification

    @verbose
    def verify(
        self,
        *,
        check_files: bool = True,
        checkpoints: Sequence[str] = (),
        trusted_keys: Sequence[VerifierKey | str] | None = None,
        verbose=None,
    ):
        """Recompute and check everything; return a :class:`~dbrain.ledger.VerificationReport`.

        See :func:`dbrain.ledger.audit`.
        """
        from ._audit import audit

        return audit(self, check_files=check_files, checkpoints=checkpoints, trusted_keys=trusted_keys)
