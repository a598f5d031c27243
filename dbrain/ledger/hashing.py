"""RFC 9162 (RFC 6962) Merkle tree hashing, tree shapes and proof layouts.

Everything here is pure: it works on 32-byte SHA-256 hashes and on index
ranges, never on storage. The definitions are those of RFC 9162 section 2.1:

* ``MTH({}) = SHA-256()`` (the empty tree),
* ``MTH({d}) = SHA-256(0x00 || d)`` (a leaf),
* ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` with ``k`` the
  largest power of two smaller than ``n``.

Every subtree that appears in such a tree starts at a multiple of its largest
power of two, so it is a run of *perfect* (complete, aligned) subtrees of
decreasing size: ``(level, index)`` covers leaves ``[index * 2**level,
(index + 1) * 2**level)``. The ledger stores the hash of every perfect subtree
once it is complete, so any subtree hash, and therefore any proof, needs
O(log n) stored hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "largest_power_of_two_below",
    "perfect_subtrees",
    "fold_right",
    "root_from_leaf_hashes",
    "tree_levels",
    "root_from_levels",
    "append_leaf",
    "inclusion_ranges",
    "consistency_ranges",
    "hashes_for_ranges",
    "inclusion_proof",
    "consistency_proof",
]

_sha256 = hashlib.sha256

#: Size of every hash in the tree, in bytes.
HASH_SIZE = 32

#: Root of the empty tree: SHA-256 of the empty string.
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two ``k`` with ``k < n`` (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, stop: int) -> list[tuple[int, int]]:
    """Split the subtree over leaves ``[start, stop)`` into perfect subtrees.

    Returns ``(level, index)`` pairs from left to right, of decreasing level.
    ``[start, stop)`` must be a subtree of an RFC 9162 tree (``start`` a
    multiple of the largest power of two not above ``stop - start``), as every
    range used by a proof is; ``(0, n)`` gives the "frontier" of a tree of size n.
    """
    out = []
    while start < stop:
        level = (stop - start).bit_length() - 1
        if start & ((1 << level) - 1):
            raise ValueError(f"[{start}, {stop}) is not a subtree of an RFC 9162 tree")
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree hashes (left to right) into their subtree hash."""
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = _sha256(b"\x01" + left + h).digest()
    return h


def tree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Return the hashes of all perfect subtrees, level by level.

    ``levels[0]`` are the leaf hashes, ``levels[L][i]`` the hash of the perfect
    subtree ``(L, i)``. An odd node at the end of a level has no complete parent
    yet and is simply not paired, as RFC 9162 prescribes.
    """
    levels = [list(leaf_hashes)]
    sha = _sha256
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([sha(b"\x01" + a + b).digest() for a, b in zip(below[0::2], below[1::2], strict=False)])
    return levels


def root_from_levels(levels: Sequence[Sequence[bytes]], size: int) -> bytes:
    """Root of the tree of the first ``size`` leaves, from :func:`tree_levels` output."""
    return fold_right([levels[level][index] for level, index in perfect_subtrees(0, size)])


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (root) of a list of leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return root_from_levels(tree_levels(leaf_hashes), len(leaf_hashes))


def append_leaf(frontier: list[tuple[int, bytes]], size: int, leaf: bytes) -> list[tuple[int, int, bytes]]:
    """Append ``leaf`` (a leaf hash) at index ``size`` to a tree's frontier.

    ``frontier`` holds ``(level, hash)`` of the perfect subtrees of
    :func:`perfect_subtrees` ``(0, size)`` and is updated in place. Returns the
    perfect subtrees completed by this leaf as ``(level, index, hash)`` (level
    >= 1), amortised one per append.
    """
    completed = []
    frontier.append((0, leaf))
    end = size + 1
    while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
        level, right = frontier.pop()
        _, left = frontier.pop()
        h = _sha256(b"\x01" + left + right).digest()
        level += 1
        frontier.append((level, h))
        completed.append((level, (end >> level) - 1, h))
    return completed


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose subtree hashes form ``PATH(index, D[size])``, bottom up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    out = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    return out[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose subtree hashes form ``PROOF(old_size, D[new_size])``."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove consistency from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    out = []
    lo, hi, m, complete = 0, new_size, old_size, True
    while True:
        if m == hi - lo:
            if not complete:
                out.append((lo, hi))
            break
        k = largest_power_of_two_below(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    return out[::-1]


def hashes_for_ranges(ranges: Iterable[tuple[int, int]], lookup: Callable[[list[tuple[int, int]]], dict]) -> list[bytes]:
    """Hash each RFC subtree range using ``lookup``, which maps (level, index) keys to hashes."""
    ranges = list(ranges)
    parts = [perfect_subtrees(a, b) for a, b in ranges]
    known = lookup(sorted({key for keys in parts for key in keys}))
    return [fold_right([known[key] for key in keys]) for keys in parts]


def _list_lookup(leaf_hashes: Sequence[bytes]):
    levels = None

    def lookup(keys):
        nonlocal levels
        if levels is None:
            levels = tree_levels(leaf_hashes)
        return {(level, index): levels[level][index] for level, index in keys}

    return lookup


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Inclusion proof (audit path) of leaf ``index`` in the tree of ``leaf_hashes``."""
    return hashes_for_ranges(inclusion_ranges(index, len(leaf_hashes)), _list_lookup(leaf_hashes))


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof between the first ``old_size`` leaves and all ``leaf_hashes``."""
    return hashes_for_ranges(consistency_ranges(old_size, len(leaf_hashes)), _list_lookup(leaf_hashes))
