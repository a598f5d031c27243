"""Full verification of a ledger: every leaf, node, head, signature, key and artifact."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._errors import LedgerError
from .checkpoint import Checkpoint, VerifierKey
from .hashing import EMPTY_ROOT, root_from_levels, tree_levels
from .keys import key_id_for
from .records import parse_record, sha256_file
from .storage import iter_entries
from .verify import verify_checkpoint, verify_signature

__all__ = ["Problem", "VerificationReport", "audit"]

_PAGE = 50_000


@dataclass(frozen=True)
class Problem:
    """One thing found wrong: ``item`` names it (``entry 17``, ``artifact /x/report.html`` …)."""

    item: str
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.message}"


@dataclass
class VerificationReport:
    """What :func:`audit` checked and what it found."""

    url: str
    origin: str
    n_entries: int = 0
    n_heads: int = 0
    n_nodes: int = 0
    n_keys: int = 0
    n_artifacts: int = 0
    n_superseded: int = 0
    n_checkpoints: int = 0
    root: bytes = EMPTY_ROOT
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def _add(self, item: str, message: str) -> None:
        """Record a problem with ``item``."""
        self.problems.append(Problem(item, message))

    def items(self) -> list[str]:
        """The items named by the problems."""
        return [p.item for p in self.problems]

    def summary(self) -> str:
        what = (
            f"{self.n_entries} entries, {self.n_heads} signed tree heads, {self.n_nodes} tree nodes, "
            f"{self.n_keys} keys, {self.n_artifacts} artifacts re-hashed"
            + (f" ({self.n_superseded} superseded records of re-written files)" if self.n_superseded else "")
            + (f", {self.n_checkpoints} external checkpoints" if self.n_checkpoints else "")
        )
        if self.ok:
            return f"ledger OK: {what}; root {self.root.hex()} at size {self.n_entries} ({self.seconds:.1f} s)"
        return f"ledger verification FAILED: {len(self.problems)} problem(s) in {what}"

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "url": self.url,
            "origin": self.origin,
            "entries": self.n_entries,
            "heads": self.n_heads,
            "nodes": self.n_nodes,
            "keys": self.n_keys,
            "artifacts": self.n_artifacts,
            "superseded": self.n_superseded,
            "checkpoints": self.n_checkpoints,
            "root_hash": self.root.hex(),
            "seconds": round(self.seconds, 3),
            "problems": [{"item": p.item, "message": p.message} for p in self.problems],
        }


def audit(
    ledger, *, check_files: bool = True, checkpoints: Sequence[str | tuple[str, str]] = (), trusted_keys=None
) -> VerificationReport:
    """Recompute the whole ledger from its rows and re-hash the files it names.

    Checks, and names in the report, every:

    * entry whose data does not hash to its stored leaf hash, is not a valid
      canonical record, whose ``kind``/``content_hash`` columns disagree with
      its record, that repeats an earlier entry or names an unknown parent, and
      every index missing from ``ledger_entries``;
    * stored tree node that differs from the node recomputed from the entries
      (or is missing or extra);
    * signed tree head whose root differs from the recomputed root at its
      size, whose signature is invalid or whose key is unknown (or not among
      ``trusted_keys``), and entries not covered by any head;
    * key row whose public key does not match its id or the local key file,
      and key rotation whose endorsement does not verify;
    * external checkpoint (``checkpoints``: signed note texts, or ``(name,
      text)``) whose root differs from the log's root at its size (a fork);
    * artifact (recording, result, report) that is missing or whose SHA-256
      differs from the latest record naming its path.

    Parameters
    ----------
    ledger : Ledger
        The ledger to check.
    check_files : bool
        Re-hash the files the records name.
    checkpoints : sequence of str or (str, str)
        Signed checkpoints kept outside the ledger (by a witness), as texts or ``(name, text)``.
    trusted_keys : sequence of VerifierKey or str | None
        If given, every head must be signed by one of these keys.

    Returns
    -------
    report : VerificationReport
    """
    t0 = time.perf_counter()
    report = VerificationReport(ledger.url, ledger.origin)
    with ledger.storage.read() as r:
        meta = r.meta()
        if meta.get("origin") != ledger.origin:
            report._add("ledger_meta origin", f"is {meta.get('origin')!r}, was {ledger.origin!r} when the ledger was opened")
        public = _check_keys(r, ledger, report)
        scan = _check_entries(r, report)
        levels = tree_levels(scan.leaves) if scan.leaves else [[]]
        report.root = root_from_levels(levels, len(scan.leaves)) if scan.leaves else EMPTY_ROOT
        _check_nodes(r, levels, report)
        heads, failed_sizes = _check_heads(r, ledger, levels, len(scan.leaves), public, trusted_keys, report)
        _explain_leaf_columns(scan.bad_leaf_column, heads, failed_sizes, report)
        _check_rotations(scan.rotations, ledger.origin, public, report)
        _check_checkpoints(checkpoints, ledger.origin, public, levels, len(scan.leaves), report)
    # artifacts (outside the database snapshot)
    if check_files:
        _check_artifacts(scan.artifacts, report)
    report.seconds = time.perf_counter() - t0
    return report


def _check_keys(r, ledger, report: VerificationReport) -> dict[str, bytes]:
    """Key rows whose public key matches their id and the local key file: ``{key id: public key}``."""
    key_rows = r.keys()
    report.n_keys = len(key_rows)
    local = ledger.keys.public_keys()
    public = {}
    for k in key_rows:
        if key_id_for(k.public_key) != k.key_id:
            report._add(f"ledger_keys key {k.key_id}", "public key does not match the key id (the key row was altered)")
        elif k.key_id in local and local[k.key_id] != k.public_key:
            report._add(f"ledger_keys key {k.key_id}", f"differs from the public key file in {ledger.keys.directory}")
        else:
            public[k.key_id] = k.public_key
    return public


@dataclass
class _EntryScan:
    """What one pass over the entries collects for the later checks."""

    leaves: list[bytes] = field(default_factory=list)  # recomputed leaf hashes (zeros for deleted rows)
    artifacts: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)  # path -> (index, sha256, role)
    rotations: list[tuple[int, dict]] = field(default_factory=list)
    bad_leaf_column: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # (index, stored, recomputed)


def _check_entries(r, report: VerificationReport) -> _EntryScan:
    """Recompute every leaf hash and check every record, in index order, page by page."""
    scan = _EntryScan()
    seen: dict[bytes, int] = {}
    expected = 0
    for e in iter_entries(r, 0, r.size(), page=_PAGE):
        while expected < e.index:
            report._add(f"entry {expected}", "is missing from ledger_entries (the row was deleted)")
            scan.leaves.append(bytes(32))
            expected += 1
        expected += 1
        h = hashlib.sha256(b"\x00" + e.data).digest()
        scan.leaves.append(h)
        if h != e.leaf_hash:
            scan.bad_leaf_column.append((e.index, e.leaf_hash, h))
        try:
            rec = parse_record(e.data)
        except LedgerError as exc:
            report._add(f"entry {e.index}", f"record is not valid ({exc}): its data was altered")
            continue
        _check_record(e, rec, seen, report)
        if h in seen:
            report._add(f"entry {e.index}", f"repeats entry {seen[h]}")
        else:
            seen[h] = e.index
        for art in rec["artifacts"]:
            scan.artifacts.setdefault(art["path"], []).append((e.index, art["sha256"], art["role"]))
        if rec["kind"] == "key-rotated":
            scan.rotations.append((e.index, rec))
    report.n_entries = len(scan.leaves)
    return scan


def _check_record(e, rec: dict, seen: dict[bytes, int], report: VerificationReport) -> None:
    """The entry's columns agree with its record, and its parents are earlier entries."""
    if e.kind != rec["kind"]:
        report._add(
            f"entry {e.index}", f"ledger_entries.kind is {e.kind!r} but the record says {rec['kind']!r} (the column was altered)"
        )
    if e.content_hash != rec["content_hash"]:
        report._add(
            f"entry {e.index}",
            f"ledger_entries.content_hash is {e.content_hash!r} but the record says {rec['content_hash']!r} (the column was altered)",
        )
    for p in rec["parents"]:
        if bytes.fromhex(p) not in seen:
            report._add(f"entry {e.index}", f"names parent {p}, which is not an earlier entry")


def _check_nodes(r, levels: list[list[bytes]], report: VerificationReport) -> None:
    """Every stored tree node equals the node recomputed from the entries; none is missing or extra."""
    for level in sorted(set(range(1, len(levels))) | set(r.node_levels())):
        want = levels[level] if level < len(levels) else []
        width = 1 << level
        stored_idx = 0
        bounds = [(a, a + _PAGE) for a in range(0, len(want), _PAGE)] + [(len(want), 1 << 62)]
        for start, stop in bounds:
            for idx, stored in r.node_rows(level, start, stop):
                report.n_nodes += 1
                while stored_idx < idx and stored_idx < len(want):
                    report._add(f"ledger_nodes level {level} index {stored_idx}", "is missing (the row was deleted)")
                    stored_idx += 1
                stored_idx = idx + 1
                span = f"entries {idx * width}..{(idx + 1) * width - 1}"
                if idx >= len(want):
                    report._add(
                        f"ledger_nodes level {level} index {idx}",
                        f"should not exist: the log has no complete subtree over {span}",
                    )
                elif stored != want[idx]:
                    report._add(
                        f"ledger_nodes level {level} index {idx}", f"stored hash differs from the hash recomputed from {span}"
                    )
        while stored_idx < len(want):
            report._add(f"ledger_nodes level {level} index {stored_idx}", "is missing (the row was deleted)")
            stored_idx += 1


def _check_heads(r, ledger, levels, n_leaves: int, public: dict, trusted_keys, report: VerificationReport):
    """Every signed tree head: its root, its signature, its key; return the heads and the sizes whose root failed."""
    trusted = None
    if trusted_keys is not None:
        trusted = {(VerifierKey.parse(k) if isinstance(k, str) else k).public_key for k in trusted_keys}
    heads = r.heads()
    report.n_heads = len(heads)
    failed_sizes = []
    bad_signatures = 0
    for head in heads:
        item = f"tree head {head.tree_size}"
        if not 0 < head.tree_size <= n_leaves:
            report._add(item, f"signs a tree of {head.tree_size} entries but ledger_entries holds {n_leaves}")
            failed_sizes.append(head.tree_size)
        elif root_from_levels(levels, head.tree_size) != head.root_hash:
            report._add(
                item,
                f"root hash {head.root_hash.hex()[:16]}… differs from the root recomputed from entries 0..{head.tree_size - 1}",
            )
            failed_sizes.append(head.tree_size)
        pub = public.get(head.key_id)
        if pub is None:
            report._add(item, f"is signed by key {head.key_id!r}, which is not a (valid) row of ledger_keys")
            continue
        body = Checkpoint(ledger.origin, head.tree_size, head.root_hash, head.timestamp_ms).body()
        if not verify_signature(pub, body, head.signature):
            bad_signatures += 1
            report._add(item, f"signature by key {head.key_id} is invalid (the head's size, root, time or signature was altered)")
        if trusted is not None and pub not in trusted:
            report._add(item, f"is signed by key {head.key_id}, which is not one of the trusted keys")
    if len(heads) > 1 and bad_signatures == len(heads):
        report._add(
            "ledger_meta origin",
            f"every tree head fails its signature: the origin {ledger.origin!r}, part of every signed checkpoint, was altered",
        )
    covered = heads[-1].tree_size if heads else 0
    if covered < n_leaves:
        report._add(
            f"entries {covered}..{n_leaves - 1}",
            "are not covered by any signed tree head (rows added outside dbrain, or the head was deleted)",
        )
    return heads, failed_sizes


def _explain_leaf_columns(bad_leaf_column, heads, failed_sizes: list[int], report: VerificationReport) -> None:
    """Name each entry whose stored leaf hash disagrees with its data, and say which of the two was altered."""
    for index, stored, actual in bad_leaf_column:
        later_fail = any(size > index for size in failed_sizes)
        later_ok = any(head.tree_size > index and head.tree_size not in failed_sizes for head in heads)
        if later_ok and not later_fail:
            why = "the stored leaf hash was altered (the data still matches the signed tree)"
        else:
            why = "the entry's data was altered"
        report._add(
            f"entry {index}", f"data hashes to {actual.hex()[:16]}… but ledger_entries.leaf_hash is {stored.hex()[:16]}…: {why}"
        )


def _check_rotations(rotations, origin: str, public: dict, report: VerificationReport) -> None:
    """Every key rotation is endorsed by the old key."""
    for index, rec in rotations:
        det = rec["details"]
        old = public.get(det.get("old_key_id", ""))
        if "old_key_id" not in det:
            continue
        try:
            new = base64.b64decode(det["new_public_key"], validate=True)
            endorsement = base64.b64decode(det["endorsement"], validate=True)
        except (KeyError, ValueError):
            report._add(f"entry {index}", "key rotation record lacks a readable new key or endorsement")
            continue
        message = b"dbrain ledger key rotation\n" + origin.encode() + b"\n" + new
        if old is None or not verify_signature(old, message, endorsement):
            report._add(
                f"entry {index}", f"key rotation to {det.get('new_key_id')} is not endorsed by the old key {det['old_key_id']}"
            )


def _check_checkpoints(checkpoints, origin: str, public: dict, levels, n_leaves: int, report: VerificationReport) -> None:
    """External checkpoints (witnesses) agree with the log's root at their size: no fork, no removed entries."""
    vkeys = [VerifierKey(origin, pub) for pub in public.values()]
    for i, cp in enumerate(checkpoints):
        name, text = cp if isinstance(cp, tuple) else (f"#{i + 1}", cp)
        item = f"checkpoint {name}"
        report.n_checkpoints += 1
        try:
            point = verify_checkpoint(text, vkeys)
        except LedgerError as exc:
            report._add(item, str(exc))
            continue
        if point.size > n_leaves:
            report._add(item, f"is for {point.size} entries but the log holds {n_leaves}: entries were removed")
        elif (root_from_levels(levels, point.size) if point.size else EMPTY_ROOT) != point.root:
            report._add(item, f"root at size {point.size} differs from the log's: the history was rewritten (forked)")


def _check_artifacts(artifacts: dict[str, list[tuple[int, str, str]]], report: VerificationReport) -> None:
    """Re-hash every file the records name against the latest record naming it."""
    for path, named in sorted(artifacts.items()):
        index, digest, role = named[-1]  # the latest record naming a file is the one it must match
        report.n_artifacts += 1
        report.n_superseded += sum(d != digest for _, d, _ in named[:-1])
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            report._add(f"artifact {path}", f"is missing (entry {index}, {role}; expected sha256 {digest})")
            continue
        except OSError as exc:
            report._add(f"artifact {path}", f"cannot be read (entry {index}, {role}): {exc.strerror or exc}")
            continue
        if actual != digest:
            report._add(f"artifact {path}", f"was altered (entry {index}, {role}): expected sha256 {digest}, actual {actual}")
