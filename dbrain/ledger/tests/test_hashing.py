"""RFC 9162 / RFC 6962 hashing and proofs, checked against an independent, naive implementation.

The reference functions below are written straight from the recursive
definitions of RFC 9162 section 2.1 (MTH, PATH, PROOF/SUBPROOF) and verify
proofs by rebuilding the roots recursively, not with the RFC's bit-walking
algorithms that ``dbrain.ledger.verify`` uses. The known answers are the
RFC 6962 test vectors of the Certificate Transparency / transparency-dev
projects (eight leaves).
"""

from __future__ import annotations

import hashlib

import pytest

from dbrain.ledger import hashing as H
from dbrain.ledger.verify import root_from_inclusion_proof, verify_consistency, verify_inclusion

# --- independent reference implementation ---------------------------------------------


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return sha(b"")
    if len(d) == 1:
        return sha(b"\x00" + d[0])
    k = split(len(d))
    return sha(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    return subproof(m, d, True) if 0 < m < len(d) else []


def naive_root_from_path(m: int, n: int, leaf: bytes, p: list[bytes]) -> bytes:
    """Rebuild the root from PATH's structure: the last element is the top-level sibling."""
    if n == 1:
        assert not p
        return leaf
    k = split(n)
    if m < k:
        return sha(b"\x01" + naive_root_from_path(m, k, leaf, p[:-1]) + p[-1])
    return sha(b"\x01" + p[-1] + naive_root_from_path(m - k, n - k, leaf, p[:-1]))


def naive_roots_from_proof(m: int, n: int, p: list[bytes], old_root: bytes, b: bool = True) -> tuple[bytes, bytes]:
    """Rebuild (old root, new root) from SUBPROOF's structure."""
    if m == n:
        if b:
            assert not p
            return old_root, old_root
        assert len(p) == 1
        return p[0], p[0]
    k = split(n)
    if m <= k:
        old, new = naive_roots_from_proof(m, k, p[:-1], old_root, b)
        return old, sha(b"\x01" + new + p[-1])
    old, new = naive_roots_from_proof(m - k, n - k, p[:-1], old_root, False)
    return sha(b"\x01" + p[-1] + old), sha(b"\x01" + p[-1] + new)


# --- known answers ------------------------------------------------------------------------

LEAVES = [
    bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# PATH(0, D[8]) and PROOF(6, D[8]) of the same vectors.
PATH_0_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]
PROOF_6_8 = [
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
]


def test_empty_leaf_and_node_hashes():
    assert H.EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert H.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert H.root_from_leaf_hashes([]) == H.EMPTY_ROOT
    assert H.leaf_hash(b"abc") == sha(b"\x00abc")
    assert H.node_hash(b"L" * 32, b"R" * 32) == sha(b"\x01" + b"L" * 32 + b"R" * 32)
    assert H.leaf_hash(b"") != H.EMPTY_ROOT  # domain separation


@pytest.mark.parametrize("n", range(1, 9))
def test_rfc6962_known_roots(n):
    hashes = [H.leaf_hash(x) for x in LEAVES[:n]]
    assert H.root_from_leaf_hashes(hashes).hex() == ROOTS[n - 1]
    assert mth(LEAVES[:n]).hex() == ROOTS[n - 1]


def test_rfc6962_known_proofs():
    hashes = [H.leaf_hash(x) for x in LEAVES]
    assert [h.hex() for h in H.inclusion_proof(0, hashes)] == PATH_0_8
    assert [h.hex() for h in H.consistency_proof(6, hashes)] == PROOF_6_8
    assert verify_inclusion(hashes[0], 0, 8, [bytes.fromhex(h) for h in PATH_0_8], bytes.fromhex(ROOTS[7]))
    assert verify_consistency(6, 8, [bytes.fromhex(h) for h in PROOF_6_8], bytes.fromhex(ROOTS[5]), bytes.fromhex(ROOTS[7]))


DATA = [f"leaf {i}".encode() for i in range(65)]
HASHES = [H.leaf_hash(d) for d in DATA]


@pytest.mark.parametrize("n", range(1, 66))
def test_roots_and_inclusion_proofs_match_reference(n):
    d, hashes = DATA[:n], HASHES[:n]
    root = mth(d)
    assert H.root_from_leaf_hashes(hashes) == root
    for m in range(n):
        p = H.inclusion_proof(m, hashes)
        assert p == path(m, d)
        assert len(p) <= max(1, (n - 1).bit_length())
        assert naive_root_from_path(m, n, hashes[m], p) == root
        assert verify_inclusion(hashes[m], m, n, p, root)


@pytest.mark.parametrize("n", range(1, 66))
def test_consistency_proofs_match_reference(n):
    d, hashes = DATA[:n], HASHES[:n]
    new_root = mth(d)
    for m in range(0, n + 1):
        p = H.consistency_proof(m, hashes)
        assert p == proof(m, d)
        old_root = mth(d[:m])
        assert verify_consistency(m, n, p, old_root, new_root)
        if 0 < m < n:
            assert naive_roots_from_proof(m, n, p, old_root) == (old_root, new_root)


def test_bad_proofs_are_rejected():
    n = 13
    hashes = HASHES[:n]
    root = H.root_from_leaf_hashes(hashes)
    for m in range(n):
        p = H.inclusion_proof(m, hashes)
        assert not verify_inclusion(hashes[m], m, n, p, H.node_hash(root, root))
        assert not verify_inclusion(hashes[(m + 1) % n], m, n, p, root)
        assert not verify_inclusion(hashes[m], m, n, p + [root], root)
        if p:
            assert not verify_inclusion(hashes[m], m, n, p[:-1], root)
            bad = [bytes([p[0][0] ^ 1]) + p[0][1:]] + p[1:]
            assert not verify_inclusion(hashes[m], m, n, bad, root)
        assert root_from_inclusion_proof(hashes[m], n, n, p) is None
    for m in range(1, n):
        p = H.consistency_proof(m, hashes)
        old = H.root_from_leaf_hashes(hashes[:m])
        assert not verify_consistency(m, n, p, old, H.EMPTY_ROOT)
        assert not verify_consistency(m, n, p, H.EMPTY_ROOT, root)
        assert not verify_consistency(m, n, p[:-1], old, root)
        assert not verify_consistency(m, n, [], old, root)
    assert verify_consistency(0, n, [], H.EMPTY_ROOT, root)
    assert not verify_consistency(0, n, [root], H.EMPTY_ROOT, root)
    assert verify_consistency(n, n, [], root, root)
    assert not verify_consistency(n, n, [], root, H.EMPTY_ROOT)
    assert not verify_consistency(n + 1, n, [], root, root)


def test_frontier_append_produces_every_perfect_node():
    frontier: list = []
    made = {}
    for i, h in enumerate(HASHES):
        for level, idx, node in H.append_leaf(frontier, i, h):
            assert (level, idx) not in made
            made[(level, idx)] = node
        assert H.fold_right([x for _, x in frontier]) == mth(DATA[: i + 1])
        assert [lv for lv, _ in frontier] == [lv for lv, _ in H.perfect_subtrees(0, i + 1)]
    levels = H.tree_levels(HASHES)
    expected = {(lv, i): h for lv in range(1, len(levels)) for i, h in enumerate(levels[lv])}
    assert made == expected


def test_perfect_subtrees_and_errors():
    assert H.perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert H.perfect_subtrees(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="not a subtree"):
        H.perfect_subtrees(3, 7)
    with pytest.raises(ValueError, match="at least 2"):
        H.largest_power_of_two_below(1)
    with pytest.raises(ValueError, match="not in a tree"):
        H.inclusion_ranges(5, 5)
    with pytest.raises(ValueError, match="cannot prove"):
        H.consistency_ranges(6, 5)


@pytest.mark.parametrize("n", [1000, 10_000, 100_000])
def test_proof_sizes_are_logarithmic(n):
    limit = (n - 1).bit_length()
    assert max(len(H.inclusion_ranges(m, n)) for m in range(0, n, max(1, n // 97))) <= limit
    assert max(len(H.consistency_ranges(m, n)) for m in range(1, n, max(1, n // 97))) <= limit + 1
