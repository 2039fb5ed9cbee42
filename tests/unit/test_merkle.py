"""RFC 6962 Merkle trees: tree hashes against published values and a reference implementation,
inclusion and consistency proofs and their tampering, large trees, and packaged event proofs."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govsvc.audit import proofs
from govsvc.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from govsvc.audit.proofs import EventProof, ProofError
from govsvc.audit.signing import TreeHead, sign_tree_head

# --- an independent reference: RFC 6962 section 2.1 transcribed as literally as possible ---------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    if len(d) == 0:
        return _sha256(b"")
    if len(d) == 1:
        return _sha256(b"\x00" + d[0])
    k = _largest_power_of_two_below(len(d))
    return _sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _largest_power_of_two_below(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


def ref_sides(m: int, n: int) -> list[str]:
    """Which side each sibling on leaf m's path lies, bottom-up: the shape of its proof."""
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*ref_sides(m, k), "right"]
    return [*ref_sides(m - k, n - k), "left"]


# --- fixtures -------------------------------------------------------------------------------------

# The Certificate Transparency test leaves and the roots of their prefixes (sizes 0..8), as
# published with RFC 6962's reference implementation and reproduced by other implementations.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (
        0,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        2,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# Audit leaves are 32-byte chain hashes; these stand in for them.
LEAVES = [_sha256(f"event {seq}".encode()) for seq in range(1, 65)]
ROOTS = [ref_mth(LEAVES[:n]) for n in range(len(LEAVES) + 1)]
CONSISTENCY_MAX = 40

_rng = random.Random(6962)
RANDOM_SIZES = sorted(_rng.sample(range(65, 2001), 16))


def _flip(value: bytes, at: int = 0) -> bytes:
    changed = bytearray(value)
    changed[at] ^= 0x01
    return bytes(changed)


# --- tree hashes ----------------------------------------------------------------------------------


def test_the_empty_tree_hash_is_sha256_of_nothing() -> None:
    # given / when
    empty = root([])

    # then
    assert empty.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert empty == EMPTY_ROOT
    assert MerkleTree([]).root() == empty


def test_leaf_and_node_hashes_carry_the_rfc_prefixes() -> None:
    # given
    left, right = b"l" * 32, b"r" * 32

    # when / then
    assert leaf_hash(b"abc") == _sha256(b"\x00abc")
    assert node_hash(left, right) == _sha256(b"\x01" + left + right)
    # A one-leaf tree's root is not the leaf, and a leaf never hashes like a node.
    assert root([left + right]) != node_hash(left, right)


@pytest.mark.parametrize("size", range(len(CT_ROOTS)), ids=lambda n: f"n={n}")
def test_root_matches_the_published_ct_roots(size: int) -> None:
    # given
    leaves = CT_LEAVES[:size]

    # when
    roots = (root(leaves), MerkleTree(leaves).root())

    # then
    assert [r.hex() for r in roots] == [CT_ROOTS[size]] * 2


@pytest.mark.parametrize("size", range(65), ids=lambda n: f"n={n}")
def test_root_matches_the_reference_for_small_trees(size: int) -> None:
    # given
    leaves = LEAVES[:size]

    # when
    got, cached = root(leaves), MerkleTree(leaves).root()

    # then
    assert got == cached == ROOTS[size]


@pytest.mark.parametrize("size", RANDOM_SIZES, ids=lambda n: f"n={n}")
def test_root_matches_the_reference_for_random_trees(size: int) -> None:
    # given: leaf inputs of any length, the empty one included
    rng = random.Random(size)
    leaves = [rng.randbytes(rng.randrange(0, 48)) for _ in range(size)]

    # when
    got, cached = root(leaves), MerkleTree(leaves).root()

    # then
    assert got == cached == ref_mth(leaves)


@pytest.mark.slow
def test_a_million_leaf_root_is_quick_and_agrees_with_the_cached_tree() -> None:
    # given
    size = 1_000_000
    leaves = [index.to_bytes(32, "big") for index in range(size)]

    # when
    started = time.perf_counter()
    streamed = root(leaves)
    elapsed = time.perf_counter() - started
    tree = MerkleTree(leaves)

    # then: generous, it takes about a second; and O(log n) proofs from the cache
    assert elapsed < 10
    assert tree.root() == streamed
    for index in (0, 777_777, size - 1):
        proof = tree.inclusion_proof(index)
        assert len(proof) <= 20  # ceil(log2(size))
        assert verify_inclusion(leaves[index], index, size, proof, streamed)
    grown = tree.consistency_proof(654_321)
    assert verify_consistency(654_321, size, root(leaves[:654_321]), streamed, grown)


# --- inclusion proofs -----------------------------------------------------------------------------


class Inclusion(NamedTuple):
    leaf: bytes
    leaf_index: int
    tree_size: int
    proof: list[bytes]
    root: bytes

    def holds(self) -> bool:
        return verify_inclusion(self.leaf, self.leaf_index, self.tree_size, self.proof, self.root)


def _honest_inclusions() -> Iterator[Inclusion]:
    for size in range(1, 65):
        tree = MerkleTree(LEAVES[:size])
        for index in range(size):
            yield Inclusion(LEAVES[index], index, size, tree.inclusion_proof(index), ROOTS[size])


def _leaf_changed(c: Inclusion) -> Iterator[Inclusion]:
    yield c._replace(leaf=_flip(c.leaf))
    yield c._replace(leaf=leaf_hash(c.leaf))  # the leaf's hash passed off as its input


def _index_changed(c: Inclusion) -> Iterator[Inclusion]:
    for index in range(-1, c.tree_size + 1):
        if index != c.leaf_index:
            yield c._replace(leaf_index=index)


def _size_and_root_changed(c: Inclusion) -> Iterator[Inclusion]:
    # What a forger would need: the proof accepted against another, genuine, tree head.
    for size in range(len(ROOTS)):
        if size != c.tree_size:
            yield c._replace(tree_size=size, root=ROOTS[size])


def _root_changed(c: Inclusion) -> Iterator[Inclusion]:
    yield c._replace(root=_flip(c.root, 31))
    yield c._replace(root=EMPTY_ROOT)


def _element_changed(c: Inclusion) -> Iterator[Inclusion]:
    for at in range(len(c.proof)):
        proof = list(c.proof)
        proof[at] = _flip(proof[at], at)
        yield c._replace(proof=proof)


def _truncated(c: Inclusion) -> Iterator[Inclusion]:
    if c.proof:
        yield c._replace(proof=c.proof[:-1])
        yield c._replace(proof=c.proof[1:])
    yield c._replace(proof=[h[:31] for h in c.proof] or [b""])


def _extended(c: Inclusion) -> Iterator[Inclusion]:
    yield c._replace(proof=[*c.proof, LEAVES[0]])
    yield c._replace(proof=[LEAVES[0], *c.proof])
    if c.proof:
        yield c._replace(proof=[*c.proof, c.proof[-1]])


def _reordered(c: Inclusion) -> Iterator[Inclusion]:
    if len(set(c.proof)) > 1:
        yield c._replace(proof=c.proof[::-1])


INCLUSION_TAMPERING: list[Callable[[Inclusion], Iterator[Inclusion]]] = [
    _leaf_changed,
    _index_changed,
    _size_and_root_changed,
    _root_changed,
    _element_changed,
    _truncated,
    _extended,
    _reordered,
]


@pytest.mark.parametrize("size", range(1, 65), ids=lambda n: f"n={n}")
def test_every_inclusion_proof_matches_the_reference_and_verifies(size: int) -> None:
    # given
    leaves = LEAVES[:size]
    tree = MerkleTree(leaves)

    for index in range(size):
        # when
        proof = inclusion_proof(leaves, index)

        # then
        assert proof == tree.inclusion_proof(index) == ref_path(index, leaves), index
        assert verify_inclusion(leaves[index], index, size, proof, ROOTS[size]), index


@pytest.mark.parametrize(
    "tamper", INCLUSION_TAMPERING, ids=lambda f: f.__name__.strip("_").replace("_", " ")
)
def test_a_tampered_inclusion_proof_fails(
    tamper: Callable[[Inclusion], Iterator[Inclusion]],
) -> None:
    # given
    accepted = []
    tried = 0

    for honest in _honest_inclusions():
        for forged in tamper(honest):
            # when
            tried += 1
            if forged.holds():
                accepted.append(
                    (honest.leaf_index, honest.tree_size, forged.leaf_index, forged.tree_size)
                )

    # then
    assert tried > 0
    assert accepted == []


def test_inclusion_proofs_match_the_published_ct_proofs() -> None:
    for index, expected in CT_INCLUSION:
        # when
        proof = inclusion_proof(CT_LEAVES, index)

        # then
        assert [p.hex() for p in proof] == expected
        assert verify_inclusion(CT_LEAVES[index], index, 8, proof, bytes.fromhex(CT_ROOTS[8]))


@pytest.mark.parametrize("size", [65, *RANDOM_SIZES[::4]], ids=lambda n: f"n={n}")
def test_inclusion_proofs_in_larger_trees_match_the_reference(size: int) -> None:
    # given
    leaves = [_sha256(index.to_bytes(4, "big")) for index in range(size)]
    tree, expected_root = MerkleTree(leaves), ref_mth(leaves)

    for index in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
        # when
        proof = tree.inclusion_proof(index)

        # then
        assert proof == inclusion_proof(leaves, index) == ref_path(index, leaves), index
        assert verify_inclusion(leaves[index], index, size, proof, expected_root), index


@pytest.mark.slow
def test_with_the_root_kept_a_changed_size_passes_only_if_the_proof_has_the_same_shape() -> None:
    # A root does not state its tree's size: leaf 0 sits two left turns deep in trees of both
    # 3 and 4 leaves. The signed tree head binds size to root; proofs.check compares the sizes.
    for honest in _honest_inclusions():
        for size in range(honest.leaf_index + 1, len(ROOTS)):
            # when
            forged = honest._replace(tree_size=size)

            # then
            same_shape = ref_sides(honest.leaf_index, size) == ref_sides(
                honest.leaf_index, honest.tree_size
            )
            assert forged.holds() == same_shape, (honest.leaf_index, honest.tree_size, size)


@pytest.mark.parametrize(
    ("leaves", "index"),
    [(LEAVES[:4], 4), (LEAVES[:4], -1), ([], 0)],
    ids=["past the end", "negative", "empty tree"],
)
def test_an_inclusion_proof_outside_the_tree_is_refused(leaves: list[bytes], index: int) -> None:
    # given
    tree = MerkleTree(leaves)

    # when / then
    with pytest.raises(ValueError, match="outside a tree"):
        inclusion_proof(leaves, index)
    with pytest.raises(ValueError, match="outside a tree"):
        tree.inclusion_proof(index)


# --- consistency proofs ---------------------------------------------------------------------------


class Consistency(NamedTuple):
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]

    def holds(self) -> bool:
        return verify_consistency(
            self.old_size, self.new_size, self.old_root, self.new_root, self.proof
        )


def _honest_consistencies() -> Iterator[Consistency]:
    for new_size in range(1, CONSISTENCY_MAX + 1):
        tree = MerkleTree(LEAVES[:new_size])
        for old_size in range(1, new_size + 1):
            proof = tree.consistency_proof(old_size)
            yield Consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof)


def _old_root_changed(c: Consistency) -> Iterator[Consistency]:
    yield c._replace(old_root=_flip(c.old_root, 7))


def _new_root_changed(c: Consistency) -> Iterator[Consistency]:
    yield c._replace(new_root=_flip(c.new_root, 7))


def _old_size_and_root_changed(c: Consistency) -> Iterator[Consistency]:
    # Size 0 is left out: the empty tree really is a prefix of every tree.
    for size in range(1, c.new_size + 1):
        if size != c.old_size:
            yield c._replace(old_size=size, old_root=ROOTS[size])


def _new_size_and_root_changed(c: Consistency) -> Iterator[Consistency]:
    for size in range(c.old_size, len(ROOTS)):
        if size != c.new_size:
            yield c._replace(new_size=size, new_root=ROOTS[size])


def _proof_element_changed(c: Consistency) -> Iterator[Consistency]:
    for at in range(len(c.proof)):
        proof = list(c.proof)
        proof[at] = _flip(proof[at], at)
        yield c._replace(proof=proof)


def _proof_truncated(c: Consistency) -> Iterator[Consistency]:
    if c.proof:
        yield c._replace(proof=c.proof[:-1])
        yield c._replace(proof=c.proof[1:])


def _proof_extended(c: Consistency) -> Iterator[Consistency]:
    yield c._replace(proof=[*c.proof, LEAVES[0]])
    yield c._replace(proof=[LEAVES[0], *c.proof])
    # The old root is only implied when the old tree is a perfect subtree; sending it anyway
    # must not pass either.
    yield c._replace(proof=[c.old_root, *c.proof])


def _proof_reordered(c: Consistency) -> Iterator[Consistency]:
    if len(set(c.proof)) > 1:
        yield c._replace(proof=c.proof[::-1])


CONSISTENCY_TAMPERING: list[Callable[[Consistency], Iterator[Consistency]]] = [
    _old_root_changed,
    _new_root_changed,
    _old_size_and_root_changed,
    _new_size_and_root_changed,
    _proof_element_changed,
    _proof_truncated,
    _proof_extended,
    _proof_reordered,
]


@pytest.mark.parametrize("new_size", range(1, CONSISTENCY_MAX + 1), ids=lambda n: f"n={n}")
def test_every_consistency_proof_matches_the_reference_and_verifies(new_size: int) -> None:
    # given
    leaves = LEAVES[:new_size]
    tree = MerkleTree(leaves)

    for old_size in range(1, new_size + 1):
        # when
        proof = consistency_proof(leaves, old_size)

        # then
        assert proof == tree.consistency_proof(old_size) == ref_proof(old_size, leaves), old_size
        assert verify_consistency(old_size, new_size, ROOTS[old_size], ROOTS[new_size], proof), (
            old_size
        )


@pytest.mark.parametrize(
    "tamper", CONSISTENCY_TAMPERING, ids=lambda f: f.__name__.strip("_").replace("_", " ")
)
def test_a_tampered_consistency_proof_fails(
    tamper: Callable[[Consistency], Iterator[Consistency]],
) -> None:
    # given
    accepted = []
    tried = 0

    for honest in _honest_consistencies():
        for forged in tamper(honest):
            # when
            tried += 1
            if forged.holds():
                accepted.append(
                    (honest.old_size, honest.new_size, forged.old_size, forged.new_size)
                )

    # then
    assert tried > 0
    assert accepted == []


def test_consistency_proofs_match_the_published_ct_proofs() -> None:
    for old_size, expected in CT_CONSISTENCY:
        # when
        proof = consistency_proof(CT_LEAVES, old_size)

        # then
        assert [p.hex() for p in proof] == expected
        old_root, new_root = bytes.fromhex(CT_ROOTS[old_size]), bytes.fromhex(CT_ROOTS[8])
        assert verify_consistency(old_size, 8, old_root, new_root, proof)


def test_the_empty_tree_is_consistent_with_every_tree_and_needs_no_proof() -> None:
    for new_size in range(len(ROOTS)):
        # when
        proof = consistency_proof(LEAVES[:new_size], 0)

        # then
        assert proof == []
        assert verify_consistency(0, new_size, EMPTY_ROOT, ROOTS[new_size], proof)
        assert not verify_consistency(0, new_size, ROOTS[1], ROOTS[new_size], proof)
        assert not verify_consistency(0, new_size, EMPTY_ROOT, ROOTS[new_size], [LEAVES[0]])


@pytest.mark.parametrize(
    ("old_size", "new_size"),
    [(5, 4), (-1, 4), (4, -1)],
    ids=["shrinking", "negative old size", "negative new size"],
)
def test_consistency_between_impossible_sizes_fails(old_size: int, new_size: int) -> None:
    # given
    proof = consistency_proof(LEAVES[:5], 4)

    # when / then
    assert not verify_consistency(old_size, new_size, ROOTS[4], ROOTS[5], proof)


@pytest.mark.parametrize("old_size", [5, -1], ids=["larger than the tree", "negative"])
def test_a_consistency_proof_for_an_impossible_size_is_refused(old_size: int) -> None:
    # when / then
    with pytest.raises(ValueError, match="old tree size"):
        consistency_proof(LEAVES[:4], old_size)
    with pytest.raises(ValueError, match="old tree size"):
        MerkleTree(LEAVES[:4]).consistency_proof(old_size)


def test_a_size_is_bound_to_its_root_only_by_the_signed_tree_head() -> None:
    # given: honest proofs for trees of 3 leaves, presented as if for 4
    three = LEAVES[:3]

    # when
    included = verify_inclusion(three[0], 0, 4, inclusion_proof(three, 0), ROOTS[3])
    consistent = verify_consistency(2, 4, ROOTS[2], ROOTS[3], consistency_proof(three, 2))

    # then: both pass, as RFC 9162 specifies; which is why heads sign size and root together
    # and proofs.check refuses a proof whose size differs from the head's
    assert included
    assert consistent


# --- event proofs, as an audit pack carries them -------------------------------------------------

EVENT_HASHES = [leaf.hex() for leaf in LEAVES[:10]]
SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _head(size: int) -> TreeHead:
    leaves = [bytes.fromhex(h) for h in EVENT_HASHES[:size]]
    return sign_tree_head(
        SIGNER,
        tree_size=size,
        root_hash=root(leaves).hex(),
        timestamp="2026-11-27T08:00:00.000000Z",
    )


def test_every_event_proof_checks_against_its_head() -> None:
    # given
    head = _head(10)

    # when
    packed = proofs.prove(EVENT_HASHES, range(1, 11), 10)

    # then
    assert [p.seq for p in packed] == list(range(1, 11))
    assert all(p.leaf_index == p.seq - 1 and p.tree_size == 10 for p in packed)
    assert [proofs.explain(p, head) for p in packed] == [None] * 10
    assert all(proofs.check(p, head) for p in packed)


def test_prove_returns_one_proof_per_event_in_seq_order() -> None:
    # when
    packed = proofs.prove(EVENT_HASHES, [7, 3, 7], 10)

    # then
    assert [(p.seq, p.event_hash) for p in packed] == [(3, EVENT_HASHES[2]), (7, EVENT_HASHES[6])]
    assert proofs.prove(EVENT_HASHES, [], 10) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tree_size": 9}, "proof is for a tree of 9 events, but the tree head covers 10"),
        ({"seq": 5}, "proof names leaf 3, but event 5 is leaf 4"),
        ({"leaf_index": 4}, "proof names leaf 4, but event 4 is leaf 3"),
        ({"seq": 11, "leaf_index": 10}, "event 11 is outside a tree of events 1..10"),
        ({"event_hash": EVENT_HASHES[4]}, "does not lead to the tree head's root"),
        ({"event_hash": EVENT_HASHES[3].upper()}, "hash is not 64 lowercase hex digits"),
        ({"path": ["00" * 32, *proofs.prove(EVENT_HASHES, [4], 10)[0].path[1:]]}, "does not lead"),
        ({"path": proofs.prove(EVENT_HASHES, [4], 10)[0].path[:-1]}, "does not lead"),
        ({"path": ["not hex"]}, "malformed hash at position 0"),
    ],
    ids=[
        "another tree size",
        "seq moved",
        "leaf index moved",
        "seq outside the tree",
        "another event's hash",
        "event hash not canonical hex",
        "path element changed",
        "path truncated",
        "path element not hex",
    ],
)
def test_a_broken_event_proof_says_why(change: dict[str, object], reason: str) -> None:
    # given
    head = _head(10)
    honest = proofs.prove(EVENT_HASHES, [4], 10)[0]
    broken = proofs.from_json({**proofs.to_json(honest), **change})

    # when
    explained = proofs.explain(broken, head)

    # then
    assert explained is not None
    assert reason in explained
    assert not proofs.check(broken, head)


def test_an_event_proof_fails_against_the_head_of_a_grown_tree() -> None:
    # given: the proof is for events 1..9, the head for 1..10
    proof = proofs.prove(EVENT_HASHES[:9], [4], 9)[0]

    # when / then
    assert proofs.check(proof, _head(9))
    assert not proofs.check(proof, _head(10))


def test_an_event_proof_survives_json() -> None:
    # given
    proof = proofs.prove(EVENT_HASHES, [6], 10)[0]

    # when
    loaded = proofs.from_json(proofs.to_json(proof))

    # then
    assert loaded == proof
    assert isinstance(loaded, EventProof)


@pytest.mark.parametrize(
    ("hashes", "seqs", "size", "message"),
    [
        (EVENT_HASHES, [1], 9, "needs 9 event hashes, got 10"),
        (EVENT_HASHES, [0], 10, r"events \[0\] are outside"),
        (EVENT_HASHES, [11, 1], 10, r"events \[11\] are outside"),
        ([*EVENT_HASHES[:9], "zz" * 32], [1], 10, "event 10's hash is not"),
    ],
    ids=["hash count differs", "seq zero", "seq past the end", "malformed hash"],
)
def test_proving_from_bad_input_is_refused(
    hashes: list[str], seqs: list[int], size: int, message: str
) -> None:
    # when / then
    with pytest.raises(ProofError, match=message):
        proofs.prove(hashes, seqs, size)


VALID_PROOF = proofs.to_json(proofs.prove(EVENT_HASHES, [1], 10)[0])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"seq": 1}, "missing event_hash, leaf_index, path, tree_size"),
        ({**VALID_PROOF, "extra": 1}, "unknown fields extra"),
        ({**VALID_PROOF, "seq": "1"}, "seq must be an integer"),
        ({**VALID_PROOF, "tree_size": True}, "tree_size must be an integer"),
        ({**VALID_PROOF, "event_hash": None}, "event_hash must be a string"),
        ({**VALID_PROOF, "path": "ab"}, "path must be a list of strings"),
    ],
    ids=[
        "not an object",
        "missing fields",
        "unknown field",
        "seq as text",
        "size as bool",
        "hash missing",
        "path as text",
    ],
)
def test_a_malformed_event_proof_is_refused(data: Any, message: str) -> None:
    # when / then
    with pytest.raises(ProofError, match=message):
        proofs.from_json(data)
