"""The Merkle tree of RFC 9162 (section 2.1, as RFC 6962) over the audit
entries' hashes in `seq` order: leaf `SHA-256(0x00 || hash)`, node
`SHA-256(0x01 || left || right)`, the hash of nothing for an empty tree.
A signed checkpoint commits to the root at one size; an inclusion proof
shows one entry is in it, a consistency proof that a bigger tree extends a
smaller one. Plain bytes in and out: no database here."""

import hashlib
from collections.abc import Iterable, Sequence


def leaf_hash(entry_hash: str) -> bytes:
    """The leaf of one entry, from its hex hash."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_root(leaves, lo, lo + k), _root(leaves, lo + k, hi))


def root(leaves: Sequence[bytes]) -> bytes:
    return _root(leaves, 0, len(leaves)) if leaves else EMPTY_ROOT


def roots_at(leaf_stream: Iterable[bytes], sizes: Iterable[int]) -> tuple[int, dict[int, bytes]]:
    """One pass over the leaves: how many there are, and the root at each of
    `sizes` that they reach. Keeps only the O(log n) perfect subtrees that a
    tree of the size so far is made of, biggest (leftmost) first."""
    wanted = set(sizes)
    found = {0: EMPTY_ROOT} if 0 in wanted else {}
    stack: list[tuple[int, bytes]] = []  # (leaf count, subtree root)
    count = 0
    for leaf in leaf_stream:
        count += 1
        size, value = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, value = left_size + size, node_hash(left, value)
        stack.append((size, value))
        if count in wanted:
            value = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                value = node_hash(left, value)
            found[count] = value
    return count, found


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 2.1.3.1, n = len(leaves)."""
    if not 0 <= index < len(leaves):
        raise ValueError("index outside the tree")
    proof: list[bytes] = []
    lo, hi = 0, len(leaves)
    # Walk from the root down, collecting siblings; the proof lists them leaf first.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_root(leaves, lo, lo + k))
            lo = lo + k
    return proof[::-1]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[n]) of RFC 9162 2.1.4.1; empty when first is 0 or n."""
    n = len(leaves)
    if not 0 <= first <= n:
        raise ValueError("first size outside the tree")
    if first in (0, n):
        return []
    return _subproof(first, leaves, 0, n, True)


def _subproof(m: int, leaves: Sequence[bytes], lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [_root(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves, lo, lo + k, whole), _root(leaves, lo + k, hi)]
    return [*_subproof(m - k, leaves, lo + k, hi, False), _root(leaves, lo, lo + k)]
