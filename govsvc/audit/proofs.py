"""Event proofs as an audit pack carries them: for each disclosed event, the inclusion path that
ties its chain hash to a signed tree head, and the check an auditor runs on it.

An auditor holding a pack:
1. verifies the tree head's signature (`signing.verify_tree_head`) - `check` does not;
2. recomputes each disclosed event's chain hash and compares it with the proof's `event_hash`;
3. runs `check` (or `explain`, for the reason) on each proof against that head.

Checking never raises: `explain` says why a proof does not hold, `check` is its yes or no. Building
proofs from bad input, or reading a malformed proof, raises ProofError.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govsvc.audit.merkle import MerkleTree, verify_inclusion
from govsvc.audit.signing import TreeHead

_DIGEST = re.compile(r"[0-9a-f]{64}")
_JSON_FIELDS = {"seq", "event_hash", "leaf_index", "tree_size", "path"}


class ProofError(ValueError):
    """Input from which no proof can be built or read."""


@dataclass(frozen=True)
class EventProof:
    seq: int  # 1-based, as in the chain
    event_hash: str  # the event's chain hash, hex; its raw bytes are the Merkle leaf input
    leaf_index: int  # seq - 1
    tree_size: int  # the events in the tree the proof is for: 1..tree_size
    path: list[str]  # RFC 6962 inclusion path, bottom-up, hex


def prove(event_hashes: Sequence[str], seqs: Iterable[int], tree_size: int) -> list[EventProof]:
    """Proofs for the events `seqs` in the tree over events 1..tree_size, ascending by seq.

    event_hashes are the chain hashes of events 1..tree_size in order. The tree is hashed once,
    O(tree_size), and each proof is then O(log tree_size) lookups.
    """
    if len(event_hashes) != tree_size:
        raise ProofError(
            f"a tree of {tree_size} events needs {tree_size} event hashes, got {len(event_hashes)}"
        )
    wanted = sorted(set(seqs))
    if outside := [seq for seq in wanted if not 1 <= seq <= tree_size]:
        raise ProofError(f"events {outside} are outside a tree of events 1..{tree_size}")
    if not wanted:
        return []
    for seq, event_hash in enumerate(event_hashes, start=1):
        if not _is_digest(event_hash):
            raise ProofError(f"event {seq}'s hash is not 64 lowercase hex digits")
    tree = MerkleTree(bytes.fromhex(event_hash) for event_hash in event_hashes)
    return [
        EventProof(
            seq=seq,
            event_hash=event_hashes[seq - 1],
            leaf_index=seq - 1,
            tree_size=tree_size,
            path=[node.hex() for node in tree.inclusion_proof(seq - 1)],
        )
        for seq in wanted
    ]


def explain(proof: EventProof, head: TreeHead) -> str | None:
    """Why `proof` does not tie its event to `head`'s root; None when it does."""
    if proof.tree_size != head.tree_size:
        return (
            f"event {proof.seq}'s proof is for a tree of {proof.tree_size} events, "
            f"but the tree head covers {head.tree_size}"
        )
    if not 1 <= proof.seq <= proof.tree_size:
        return f"event {proof.seq} is outside a tree of events 1..{proof.tree_size}"
    if proof.leaf_index != proof.seq - 1:
        return (
            f"event {proof.seq}'s proof names leaf {proof.leaf_index}, "
            f"but event {proof.seq} is leaf {proof.seq - 1}"
        )
    if not _is_digest(proof.event_hash):
        return f"event {proof.seq}'s hash is not 64 lowercase hex digits"
    for position, node in enumerate(proof.path):
        if not _is_digest(node):
            return f"event {proof.seq}'s proof has a malformed hash at position {position}"
    if not verify_inclusion(
        bytes.fromhex(proof.event_hash),
        proof.leaf_index,
        proof.tree_size,
        [bytes.fromhex(node) for node in proof.path],
        bytes.fromhex(head.root_hash),
    ):
        return (
            f"event {proof.seq}'s inclusion proof does not lead to the tree head's root "
            f"{head.root_hash[:16]}...: the event, its hash or the proof has been changed"
        )
    return None


def check(proof: EventProof, head: TreeHead) -> bool:
    return explain(proof, head) is None


def to_json(proof: EventProof) -> dict[str, Any]:
    return {
        "seq": proof.seq,
        "event_hash": proof.event_hash,
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "path": list(proof.path),
    }


def from_json(data: Mapping[str, Any]) -> EventProof:
    """The proof `to_json` wrote. Only the shape is checked here; `explain` judges the content."""
    if not isinstance(data, Mapping):
        raise ProofError("an event proof must be a JSON object")
    if missing := sorted(_JSON_FIELDS - data.keys()):
        raise ProofError(f"event proof is missing {', '.join(missing)}")
    if unknown := sorted(str(key) for key in data.keys() - _JSON_FIELDS):
        raise ProofError(f"event proof has unknown fields {', '.join(unknown)}")
    for field in ("seq", "leaf_index", "tree_size"):
        if not isinstance(data[field], int) or isinstance(data[field], bool):
            raise ProofError(f"event proof's {field} must be an integer")
    path = data["path"]
    if not isinstance(data["event_hash"], str):
        raise ProofError("event proof's event_hash must be a string")
    if not isinstance(path, list) or not all(isinstance(node, str) for node in path):
        raise ProofError("event proof's path must be a list of strings")
    return EventProof(
        seq=data["seq"],
        event_hash=data["event_hash"],
        leaf_index=data["leaf_index"],
        tree_size=data["tree_size"],
        path=list(path),
    )


def _is_digest(value: object) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None
