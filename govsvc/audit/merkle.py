"""RFC 6962 Merkle trees over the audit chain: tree hashes, inclusion and consistency proofs, and
their verification (RFC 9162 section 2.1). Pure functions over bytes; no database.

Leaves. For the audit event with seq i the leaf index is i - 1 and the leaf input is the 32 raw
bytes of the event's chain hash (`bytes.fromhex(event.hash)`), not the event's own encoding. The
chain hash is SHA-256 over the canonical encoding of every field of the event, so committing to it
commits to the whole event; and an auditor given one disclosed event can recompute its leaf from
that event alone. The functions below accept any bytes as leaf input, as RFC 6962 does.

Cost, for n leaves:
- `root` is one pass with a stack of at most log2(n) + 1 subtree hashes: O(n) hashing, O(log n)
  memory, no recursion.
- `inclusion_proof` and `consistency_proof` keep no cache: each call hashes the subtrees it needs
  from the leaves, O(n) hashing per proof (and O(log n) memory beyond the leaves).
- `MerkleTree` hashes every level once (O(n) hashing, 32 bytes per node: about 64 MB for a
  million leaves) and then answers each proof with O(log n) lookups and no hashing. Use it when
  proving many events of one tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
# MTH({}) = SHA-256(""): RFC 6962 section 2.1.
EMPTY_ROOT = hashlib.sha256(b"").digest()
# The prefixes keep a leaf from ever being passed off as an interior node (second preimages).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# (start, end) -> MTH(D[start:end]) for a subtree of the tree being proved.
_Subtree = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf input."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the leaf inputs (RFC 6962 section 2.1)."""
    # The RFC's split at the largest power of two below n makes the tree a row of perfect
    # subtrees, one per set bit of n, largest first, joined right to left. The stack holds the
    # perfect subtrees closed so far; leaf number `count` closes one level per trailing zero bit.
    stack: list[bytes] = []
    for count, leaf in enumerate(leaves, start=1):
        digest = leaf_hash(leaf)
        closing = count
        while not closing & 1:
            digest = node_hash(stack.pop(), digest)
            closing >>= 1
        stack.append(digest)
    if not stack:
        return EMPTY_ROOT
    digest = stack.pop()
    while stack:
        digest = node_hash(stack.pop(), digest)
    return digest


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) (RFC 6962 section 2.1.1), bottom-up; O(n) hashing, no cache."""
    _check_index(index, len(leaves))
    return _path(lambda start, end: root(leaves[start:end]), index, len(leaves))


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) (RFC 6962 section 2.1.2); O(n) hashing, no cache.

    Empty when old_size is 0 or n: nothing needs proving (see `verify_consistency`).
    """
    _check_old_size(old_size, len(leaves))
    return _consistency(lambda start, end: root(leaves[start:end]), old_size, len(leaves))


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows leaf input `leaf` at `index` in the tree of `tree_size` with `root`.

    RFC 9162 section 2.1.3.2, step by step (the RFC takes the leaf's hash; this takes the leaf
    input and hashes it). The tree size is bound to the root only by whoever vouches for the pair:
    trees of different sizes can share a proof's shape, so take both from one signed tree head.
    """
    if not 0 <= index < tree_size or not _all_hashes(proof):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False  # the proof is longer than the path to the root
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A last node with no right sibling moves up unchanged: skip those levels.
            while not fn & 1 and fn != 0:
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
    """Whether `proof` shows the tree of old_size with old_root is a prefix of the new one.

    RFC 9162 section 2.1.4.2 for 0 < old_size < new_size. The RFC leaves the two degenerate cases
    to the caller; here an equal size holds with an empty proof and equal roots, and the empty
    tree (root SHA-256("")) is a prefix of every tree, with an empty proof.
    """
    if not 0 <= old_size <= new_size or not _all_hashes(proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a perfect subtree of the new one, so the proof leaves its root out.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # the proof is longer than the path to the root
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MerkleTree:
    """One tree with every level kept, so that proofs are lookups rather than hashing."""

    def __init__(self, leaves: Iterable[bytes]) -> None:
        # Each level is one bytes object of 32-byte hashes: a third of the memory of a list of
        # small bytes objects, and slicing two neighbours gives `left || right` directly.
        level = b"".join(leaf_hash(leaf) for leaf in leaves)
        self._levels = [level]
        pair = 2 * HASH_SIZE
        while len(level) > HASH_SIZE:
            paired = len(level) - len(level) % pair
            parents = b"".join(
                hashlib.sha256(_NODE_PREFIX + level[at : at + pair]).digest()
                for at in range(0, paired, pair)
            )
            # An unpaired last node moves up unchanged; the tree is then the one RFC 6962 builds
            # by splitting at the largest power of two (each of its subtrees is a node here).
            level = parents + level[paired:]
            self._levels.append(level)

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def root(self) -> bytes:
        return self._levels[-1] if self.size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """As the module's `inclusion_proof`, in O(log n) lookups."""
        _check_index(index, self.size)
        return _path(self._subtree, index, self.size)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """As the module's `consistency_proof`, in O(log n) lookups."""
        _check_old_size(old_size, self.size)
        return _consistency(self._subtree, old_size, self.size)

    def _subtree(self, start: int, end: int) -> bytes:
        # Every subtree RFC 6962 names covers [start, end) with start a multiple of 2^height and
        # end = min(start + 2^height, n), where 2^height is the least power of two >= end - start.
        height = (end - start - 1).bit_length()
        at = (start >> height) * HASH_SIZE
        return self._levels[height][at : at + HASH_SIZE]


def _split(size: int) -> int:
    """The largest power of two smaller than size (size >= 2): where RFC 6962 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def _path(subtree: _Subtree, index: int, size: int) -> list[bytes]:
    # RFC 6962's recursive PATH, unrolled: walk down from the root noting the sibling subtree
    # at each split. The recursion appends the top sibling last, so the proof runs bottom-up.
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            siblings.append(subtree(middle, end))
            end = middle
        else:
            siblings.append(subtree(start, middle))
            start = middle
    siblings.reverse()
    return siblings


def _consistency(subtree: _Subtree, old_size: int, size: int) -> list[bytes]:
    # RFC 6962's SUBPROOF, unrolled the same way. `whole` is its flag b: whether the subtree
    # being walked is still the left edge of the tree, whose root the verifier already has.
    if old_size in (0, size):
        return []
    siblings: list[bytes] = []
    start, end, whole = 0, size, True
    while old_size < end:
        middle = start + _split(end - start)
        if old_size <= middle:
            siblings.append(subtree(middle, end))
            end = middle
        else:
            siblings.append(subtree(start, middle))
            start, whole = middle, False
    if not whole:
        siblings.append(subtree(start, end))
    siblings.reverse()
    return siblings


def _all_hashes(values: Sequence[bytes]) -> bool:
    return all(len(value) == HASH_SIZE for value in values)


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")


def _check_old_size(old_size: int, size: int) -> None:
    if not 0 <= old_size <= size:
        raise ValueError(f"old tree size {old_size} is not between 0 and the tree's {size} leaves")
