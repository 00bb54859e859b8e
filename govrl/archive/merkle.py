"""The log as a Merkle tree, hashed as RFC 9162 (Certificate Transparency 2.0) hashes it.

A leaf is SHA-256(0x00 || line) and a node SHA-256(0x01 || left || right); a tree of n
leaves splits at the largest power of two below n (RFC 9162 §2.1.1). Inclusion and
consistency proofs are made and checked as §2.1.3 and §2.1.4 describe. Hashes are bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


class Frontier:
    """The right edge of a growing tree: one perfect subtree's root per set bit of its size.

    Appending is O(log n) and needs nothing but this state, which is what lets an add
    stay independent of the archive's size.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} edge subtrees")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = node_hash(self.hashes.pop(), node)
            size >>= 1
        self.hashes.append(node)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        root = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH of the leaf hashes given, in one pass."""
    frontier = Frontier()
    frontier.extend(leaves)
    return frontier.root()


class MerkleTree:
    """Every level of the tree over known leaf hashes, for proofs about any prefix of it."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves[start:end], where start is aligned as RFC 9162's splits align it."""
        size = end - start
        if size == 0:
            return EMPTY_ROOT
        if size & (size - 1) == 0:  # a perfect subtree: stored, since start is aligned
            level = size.bit_length() - 1
            return self.levels[level][start >> level]
        k = _split(size)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self.subtree(0, self.size if size is None else self._checked(size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]), RFC 9162 §2.1.3.1."""
        end = self.size if size is None else self._checked(size)
        if not 0 <= index < end:
            raise ValueError(f"leaf {index} is not in a tree of {end} leaves")
        path: list[bytes] = []
        start = 0
        while end - start > 1:
            k = _split(end - start)
            if index - start < k:
                path.append(self.subtree(start + k, end))
                end = start + k
            else:
                path.append(self.subtree(start, start + k))
                start += k
        return path[::-1]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """PROOF(old, D[0:new]), RFC 9162 §2.1.4.1; empty when old is 0 or equals new."""
        end = self.size if new is None else self._checked(new)
        if not 0 <= old <= end:
            raise ValueError(f"a tree of {old} leaves is not a prefix of one of {end}")
        if old == 0 or old == end:
            return []
        proof: list[bytes] = []
        start, m, whole = 0, old, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            proof.append(self.subtree(start, end))
        return proof[::-1]

    def _checked(self, size: int) -> int:
        if not 0 <= size <= self.size:
            raise ValueError(f"no prefix of {size} leaves in a tree of {self.size}")
        return size


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: ``leaf`` sits at ``index`` of the tree of ``size`` with ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: the tree of ``old_size`` is a prefix of the tree of ``new_size``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
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
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
