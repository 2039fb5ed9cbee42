"""Signed tree heads: an Ed25519 signature over a Merkle tree's size, root hash and time, so that a
root checkpointed to WORM storage can be checked by an auditor holding only the public key.

The signed message is exactly these four lines, ASCII, each ending in a line feed:

    govsvc-tree-head/1
    <tree_size: decimal, no sign, no leading zeros>
    <root_hash: 64 lowercase hex digits>
    <timestamp: YYYY-MM-DDTHH:MM:SS.ffffffZ, UTC>

The first line names the format and its version: a signature over a tree head can never pass for
one over any other message, and a future format gets a new first line rather than a silent
reinterpretation of this one. Each field is checked against an alphabet without a line feed, so
one message means one (size, root, time) and nothing else.

`key_id` is not signed. It only tells a verifier which key to try; `verify_tree_head` rejects a
head whose key_id does not name the key it is given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TREE_HEAD_FORMAT = "govsvc-tree-head/1"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# [0-9], not \d: \d also matches non-ASCII digits, which would make the message ambiguous.
_ROOT_HASH = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_HEX_RAW_KEY = re.compile(r"[0-9a-fA-F]{64}")
_RAW_KEY_SIZE = 32
_JSON_FIELDS = {"format", "tree_size", "root_hash", "timestamp", "key_id", "signature"}


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: str  # hex
    timestamp: str  # RFC 3339 UTC, microseconds: 2026-11-27T08:00:00.000000Z
    key_id: str  # the first 16 hex digits of SHA-256(raw public key)
    signature: str  # base64 of the 64-byte Ed25519 signature over `tree_head_message`

    def __post_init__(self) -> None:
        # Refuse to hold a head whose fields could not have been signed; the signature itself is
        # judged by verify_tree_head, so that a tampered head can still be loaded and rejected.
        _check_fields(self.tree_size, self.root_hash, self.timestamp)
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise ValueError("key_id must be 16 lowercase hex digits")
        if not isinstance(self.signature, str):
            raise ValueError("signature must be a base64 string")


def tree_head_message(tree_size: int, root_hash: str, timestamp: str) -> bytes:
    """The exact bytes signed for a tree head (see the module's docstring)."""
    _check_fields(tree_size, root_hash, timestamp)
    return f"{TREE_HEAD_FORMAT}\n{tree_size}\n{root_hash}\n{timestamp}\n".encode("ascii")


def format_timestamp(moment: datetime) -> str:
    """A timezone-aware datetime in the tree-head timestamp form."""
    if moment.tzinfo is None:
        raise ValueError("a tree-head time must be timezone-aware")
    return moment.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def sign_tree_head(
    private_key: Ed25519PrivateKey, *, tree_size: int, root_hash: str, timestamp: str
) -> TreeHead:
    message = tree_head_message(tree_size, root_hash, timestamp)
    return TreeHead(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=timestamp,
        key_id=key_id(private_key),
        signature=base64.b64encode(private_key.sign(message)).decode("ascii"),
    )


def verify_tree_head(head: TreeHead, public_key: Ed25519PublicKey) -> bool:
    if head.key_id != key_id(public_key):
        return False
    try:
        signature = base64.b64decode(head.signature, validate=True)
    except binascii.Error:
        return False
    # Only the canonical encoding passes, so a signed head has exactly one textual form.
    if base64.b64encode(signature).decode("ascii") != head.signature:
        return False
    try:
        public_key.verify(
            signature, tree_head_message(head.tree_size, head.root_hash, head.timestamp)
        )
    except InvalidSignature:
        return False
    return True


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 key from an unencrypted PKCS8 PEM, or from its raw 32-byte seed in hex or base64.

    A 64-character hex string is read as hex: base64 of 32 bytes is 44 characters, never 64.
    """
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(stripped.encode("ascii"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError("not an unencrypted PKCS8 PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM private key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw_key(stripped, "private key seed"))


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from a SubjectPublicKeyInfo PEM, or its raw 32 bytes in hex or base64.

    For auditors, who hold only the public half.
    """
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError("not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw_key(stripped, "public key"))


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def to_json(head: TreeHead) -> dict[str, Any]:
    return {
        "format": TREE_HEAD_FORMAT,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
    }


def from_json(data: Mapping[str, Any]) -> TreeHead:
    """The head `to_json` wrote; ValueError names what is wrong with anything else."""
    if not isinstance(data, Mapping):
        raise ValueError("a tree head must be a JSON object")
    # A versioned format adds fields in a new version, so unknown ones mean a misread document.
    if missing := sorted(_JSON_FIELDS - data.keys()):
        raise ValueError(f"tree head is missing {', '.join(missing)}")
    if unknown := sorted(str(key) for key in data.keys() - _JSON_FIELDS):
        raise ValueError(f"tree head has unknown fields {', '.join(unknown)}")
    if data["format"] != TREE_HEAD_FORMAT:
        raise ValueError(f"tree head format is {data['format']!r}, expected {TREE_HEAD_FORMAT!r}")
    return TreeHead(
        tree_size=data["tree_size"],
        root_hash=data["root_hash"],
        timestamp=data["timestamp"],
        key_id=data["key_id"],
        signature=data["signature"],
    )


def _check_fields(tree_size: int, root_hash: str, timestamp: str) -> None:
    # bool is an int, but True is not a tree size.
    if not isinstance(tree_size, int) or isinstance(tree_size, bool) or tree_size < 0:
        raise ValueError(f"tree_size must be a non-negative integer, not {tree_size!r}")
    if not isinstance(root_hash, str) or not _ROOT_HASH.fullmatch(root_hash):
        raise ValueError("root_hash must be 64 lowercase hex digits")
    if not isinstance(timestamp, str) or not _TIMESTAMP.fullmatch(timestamp):
        raise ValueError(f"timestamp must look like 2026-11-27T08:00:00.000000Z, not {timestamp!r}")
    try:
        datetime.fromisoformat(timestamp)
    except ValueError:
        raise ValueError(f"timestamp {timestamp!r} is not a real time") from None


def _raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _raw_key(text: str, what: str) -> bytes:
    compact = "".join(text.split())
    if _HEX_RAW_KEY.fullmatch(compact):
        return bytes.fromhex(compact)
    try:
        raw = base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise ValueError(f"the {what} is neither PEM, 64 hex digits nor base64") from None
    if len(raw) != _RAW_KEY_SIZE:
        raise ValueError(f"the {what} must be {_RAW_KEY_SIZE} bytes, not {len(raw)}")
    return raw
