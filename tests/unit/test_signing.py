"""Signed tree heads: the signed message, tampering, keys, and the JSON form."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govsvc.audit.merkle import EMPTY_ROOT
from govsvc.audit.signing import (
    TreeHead,
    format_timestamp,
    from_json,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_tree_head,
    to_json,
    tree_head_message,
    verify_tree_head,
)

SEED = bytes(range(32))
KEY = Ed25519PrivateKey.from_private_bytes(SEED)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
ROOT_HASH = hashlib.sha256(b"a tree").hexdigest()
TIMESTAMP = "2026-11-27T08:00:00.000000Z"


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _pkcs8_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def head() -> TreeHead:
    return sign_tree_head(KEY, tree_size=42, root_hash=ROOT_HASH, timestamp=TIMESTAMP)


# --- signing and verifying ------------------------------------------------------------------------


def test_a_signed_head_verifies_with_its_key(head: TreeHead) -> None:
    # when
    verified = verify_tree_head(head, KEY.public_key())

    # then
    assert verified
    assert (head.tree_size, head.root_hash, head.timestamp) == (42, ROOT_HASH, TIMESTAMP)
    assert head.key_id == hashlib.sha256(_raw_public(KEY)).hexdigest()[:16] == key_id(KEY)


def test_the_signature_is_over_the_documented_message(head: TreeHead) -> None:
    # given
    message = b"govsvc-tree-head/1\n42\n" + ROOT_HASH.encode() + b"\n2026-11-27T08:00:00.000000Z\n"

    # when
    built = tree_head_message(42, ROOT_HASH, TIMESTAMP)

    # then: verify raises if the signature is not over exactly these bytes
    assert built == message
    KEY.public_key().verify(base64.b64decode(head.signature), message)


def test_the_empty_tree_has_a_head_too() -> None:
    # when
    empty = sign_tree_head(KEY, tree_size=0, root_hash=EMPTY_ROOT.hex(), timestamp=TIMESTAMP)

    # then
    assert verify_tree_head(empty, KEY.public_key())


def _root_byte_flipped(head: TreeHead) -> Iterator[TreeHead]:
    raw = bytes.fromhex(head.root_hash)
    for at in range(len(raw)):
        changed = bytearray(raw)
        changed[at] ^= 0x01
        yield dataclasses.replace(head, root_hash=changed.hex())


def _size_changed(head: TreeHead) -> Iterator[TreeHead]:
    for bit in range(8):
        yield dataclasses.replace(head, tree_size=head.tree_size ^ (1 << bit))
    yield dataclasses.replace(head, tree_size=head.tree_size + 1)
    yield dataclasses.replace(head, tree_size=0)


def _timestamp_changed(head: TreeHead) -> Iterator[TreeHead]:
    signed_at = datetime.fromisoformat(head.timestamp)
    for step in ("microseconds", "seconds", "minutes", "hours", "days", "weeks"):
        for sign in (1, -1):
            moved = signed_at + sign * timedelta(**{step: 1})
            yield dataclasses.replace(head, timestamp=format_timestamp(moved))


def _signature_byte_flipped(head: TreeHead) -> Iterator[TreeHead]:
    raw = base64.b64decode(head.signature)
    for at in range(len(raw)):
        changed = bytearray(raw)
        changed[at] ^= 0x01
        yield dataclasses.replace(head, signature=base64.b64encode(changed).decode())


def _signature_mangled(head: TreeHead) -> Iterator[TreeHead]:
    raw = base64.b64decode(head.signature)
    yield dataclasses.replace(head, signature="")
    yield dataclasses.replace(head, signature="not base64!")
    yield dataclasses.replace(head, signature=base64.b64encode(raw[:-1]).decode())
    yield dataclasses.replace(head, signature=base64.b64encode(raw + b"\x00").decode())
    yield dataclasses.replace(head, signature=base64.b64encode(bytes(64)).decode())
    yield dataclasses.replace(head, signature=base64.urlsafe_b64encode(raw).decode())
    # The same bytes spelt another way: the unused low bits of the last character set.
    encoded = head.signature
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(encoded[-3]) | 0x0F]
    if last != encoded[-3]:
        yield dataclasses.replace(head, signature=encoded[:-3] + last + "==")


def _key_id_changed(head: TreeHead) -> Iterator[TreeHead]:
    yield dataclasses.replace(head, key_id=key_id(OTHER_KEY))


TAMPERING: list[Callable[[TreeHead], Iterator[TreeHead]]] = [
    _root_byte_flipped,
    _size_changed,
    _timestamp_changed,
    _signature_byte_flipped,
    _signature_mangled,
    _key_id_changed,
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda f: f.__name__.strip("_").replace("_", " "))
def test_a_tampered_head_fails(
    head: TreeHead, tamper: Callable[[TreeHead], Iterator[TreeHead]]
) -> None:
    # given
    forged = list(tamper(head))

    # when
    accepted = [f for f in forged if verify_tree_head(f, KEY.public_key())]

    # then
    assert forged
    assert all(f != head for f in forged)
    assert accepted == []


def test_another_key_fails(head: TreeHead) -> None:
    # given: also a head claiming the other key's id, so that the signature itself is judged
    claimed = dataclasses.replace(head, key_id=key_id(OTHER_KEY))

    # when / then
    assert not verify_tree_head(head, OTHER_KEY.public_key())
    assert not verify_tree_head(claimed, OTHER_KEY.public_key())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tree_size": -1}, "tree_size must be a non-negative integer"),
        ({"tree_size": True}, "tree_size must be a non-negative integer"),
        ({"tree_size": "42"}, "tree_size must be a non-negative integer"),
        ({"root_hash": ROOT_HASH.upper()}, "root_hash must be 64 lowercase hex digits"),
        ({"root_hash": ROOT_HASH[:-1]}, "root_hash must be 64 lowercase hex digits"),
        ({"root_hash": ROOT_HASH + "\n"}, "root_hash must be 64 lowercase hex digits"),
        ({"timestamp": "2026-11-27T08:00:00Z"}, "timestamp must look like"),
        ({"timestamp": "2026-11-27T08:00:00.000000+00:00"}, "timestamp must look like"),
        ({"timestamp": "2026-11-27 08:00:00.000000Z"}, "timestamp must look like"),
        ({"timestamp": "\uff12026-11-27T08:00:00.000000Z"}, "timestamp must look like"),
        ({"timestamp": TIMESTAMP + "\n"}, "timestamp must look like"),
        ({"timestamp": "2026-02-30T08:00:00.000000Z"}, "is not a real time"),
    ],
    ids=[
        "negative size",
        "size as bool",
        "size as text",
        "uppercase root",
        "short root",
        "newline after root",
        "no microseconds",
        "offset instead of Z",
        "space instead of T",
        "non-ASCII digit",
        "newline after timestamp",
        "February 30th",
    ],
)
def test_a_head_that_could_not_be_read_back_unambiguously_is_not_signed(
    fields: dict[str, Any], message: str
) -> None:
    # given
    arguments: dict[str, Any] = {
        "tree_size": 42,
        "root_hash": ROOT_HASH,
        "timestamp": TIMESTAMP,
        **fields,
    }

    # when / then
    with pytest.raises(ValueError, match=message):
        sign_tree_head(KEY, **arguments)


def test_timestamps_are_written_in_utc_with_microseconds() -> None:
    # given
    paris = timezone(timedelta(hours=1))

    # when
    written = format_timestamp(datetime(2026, 11, 27, 9, 0, 0, 5, tzinfo=paris))

    # then
    assert written == "2026-11-27T08:00:00.000005Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(datetime(2026, 11, 27, 8))  # noqa: DTZ001 - the mistake under test
    assert format_timestamp(datetime(2026, 11, 27, 8, tzinfo=UTC)) == TIMESTAMP


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        _pkcs8_pem(KEY),
        "\n  " + _pkcs8_pem(KEY) + "\n\n",
        SEED.hex(),
        SEED.hex().upper(),
        base64.b64encode(SEED).decode(),
        " " + base64.b64encode(SEED).decode() + "\n",
    ],
    ids=[
        "PKCS8 PEM",
        "PEM with blank lines",
        "hex seed",
        "uppercase hex seed",
        "base64 seed",
        "base64 seed with whitespace",
    ],
)
def test_a_private_key_loads_from_pem_or_raw_seed(text: str) -> None:
    # when
    loaded = load_private_key(text)

    # then
    assert _raw_public(loaded) == _raw_public(KEY)


def _encrypted_pem() -> str:
    return KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()


def _ec_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must be 32 bytes, not 0"),
        ("not a key", "neither PEM, 64 hex digits nor base64"),
        (SEED[:31].hex(), "neither PEM, 64 hex digits nor base64"),
        (base64.b64encode(SEED[:31]).decode(), "must be 32 bytes, not 31"),
        (base64.b64encode(SEED + b"\x00").decode(), "must be 32 bytes, not 33"),
        (_encrypted_pem(), "not an unencrypted PKCS8 PEM private key"),
        (_ec_pem(), "is not an Ed25519 key"),
        (public_key_pem(KEY), "not an unencrypted PKCS8 PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not an unencrypted"),
    ],
    ids=[
        "empty",
        "prose",
        "31-byte hex",
        "31-byte base64",
        "33-byte base64",
        "encrypted PEM",
        "EC PEM",
        "public key PEM",
        "broken PEM",
    ],
)
def test_a_private_key_that_cannot_be_ed25519_is_refused(text: str, message: str) -> None:
    # when / then
    with pytest.raises(ValueError, match=message) as refused:
        load_private_key(text)
    # The error may be logged: it must not repeat the key material.
    assert SEED.hex() not in str(refused.value)
    assert SEED[:31].hex() not in str(refused.value)


def test_the_public_key_pem_loads_back_to_the_same_key() -> None:
    # given
    pem = public_key_pem(KEY)

    # when
    loaded = serialization.load_pem_public_key(pem.encode())

    # then
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert pem == public_key_pem(KEY.public_key())
    assert isinstance(loaded, type(KEY.public_key()))
    assert loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == (
        _raw_public(KEY)
    )


@pytest.mark.parametrize(
    "text",
    [
        public_key_pem(KEY),
        _raw_public(KEY).hex(),
        base64.b64encode(_raw_public(KEY)).decode(),
    ],
    ids=["PEM", "hex", "base64"],
)
def test_an_auditor_loads_the_public_key_and_verifies(head: TreeHead, text: str) -> None:
    # when
    public = load_public_key(text)

    # then
    assert verify_tree_head(head, public)


def test_a_non_ed25519_public_key_is_refused() -> None:
    # given
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    # when / then
    with pytest.raises(ValueError, match="is not an Ed25519 key"):
        load_public_key(pem.decode())


# --- JSON -----------------------------------------------------------------------------------------


def test_a_head_survives_json_and_still_verifies(head: TreeHead) -> None:
    # when
    loaded = from_json(json.loads(json.dumps(to_json(head))))

    # then
    assert loaded == head
    assert to_json(head)["format"] == "govsvc-tree-head/1"
    assert verify_tree_head(loaded, KEY.public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "govsvc-tree-head/2"}, "format is 'govsvc-tree-head/2'"),
        ({"extra": 1}, "unknown fields extra"),
        ({"tree_size": "42"}, "tree_size must be a non-negative integer"),
        ({"tree_size": 4.2}, "tree_size must be a non-negative integer"),
        ({"root_hash": None}, "root_hash must be 64 lowercase hex digits"),
        ({"timestamp": "yesterday"}, "timestamp must look like"),
        ({"key_id": "ABCDEF0123456789"}, "key_id must be 16 lowercase hex digits"),
        ({"signature": 7}, "signature must be a base64 string"),
    ],
    ids=[
        "another format",
        "unknown field",
        "size as text",
        "size as float",
        "root missing",
        "timestamp as prose",
        "uppercase key id",
        "signature as number",
    ],
)
def test_a_malformed_json_head_is_refused(
    head: TreeHead, change: dict[str, Any], message: str
) -> None:
    # given
    document = {**to_json(head), **change}

    # when / then
    with pytest.raises(ValueError, match=message):
        from_json(document)


@pytest.mark.parametrize("field", ["format", "tree_size", "signature"])
def test_a_json_head_missing_a_field_is_refused(head: TreeHead, field: str) -> None:
    # given
    document = {k: v for k, v in to_json(head).items() if k != field}

    # when / then
    with pytest.raises(ValueError, match=f"missing {field}"):
        from_json(document)
