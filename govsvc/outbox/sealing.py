"""Endpoint secrets at rest: sealed with AES-GCM under a key derived from the master key.

The worker needs the clear secret to sign, so it cannot be hashed; sealing it means a copy of
the database alone is not enough to forge deliveries to a status page.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = b"\x01"
NONCE = 12
# Bound into every seal so a blob sealed for another purpose cannot be passed off as a secret.
AAD = b"govsvc webhook endpoint secret"


class SecretUnreadable(Exception):
    """The sealed secret does not open with this master key."""


def _key(master_key: bytes) -> bytes:
    # A key of its own, so webhook secrets and evidence keys never share one.
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"govsvc webhook secrets v1"
    ).derive(master_key)


def seal(master_key: bytes, secret: str) -> bytes:
    nonce = os.urandom(NONCE)
    return VERSION + nonce + AESGCM(_key(master_key)).encrypt(nonce, secret.encode(), AAD)


def unseal(master_key: bytes, sealed: bytes) -> str:
    if sealed[:1] != VERSION or len(sealed) < 1 + NONCE:
        raise SecretUnreadable("unknown sealed-secret format")
    nonce, body = sealed[1 : 1 + NONCE], sealed[1 + NONCE :]
    try:
        return AESGCM(_key(master_key)).decrypt(nonce, body, AAD).decode()
    except InvalidTag:
        raise SecretUnreadable("the endpoint secret does not open with this master key") from None
