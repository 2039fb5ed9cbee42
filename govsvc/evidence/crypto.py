"""Envelope encryption for evidence that carries personal data.

Each item gets its own AES-256 data key; the stored bytes are the plaintext cut into 1 MiB
chunks, each sealed with AES-GCM under a nonce built from a random prefix and the chunk number,
with the chunk number and a last-chunk flag bound in as associated data, so chunks cannot be
dropped, reordered or truncated unnoticed. The data key is kept in the database wrapped (RFC 3394)
by the master key. Destroying the wrapped key makes the locked bytes unreadable for ever
(crypto-shredding): how WORM retention and the right to erasure can both hold.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterable, AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

MAGIC = b"GSV1"
CHUNK = 1024 * 1024
TAG = 16
PREFIX = 8


class DecryptionFailed(Exception):
    """The stored bytes are not what was sealed (or the key is wrong)."""


def master_key_from_secret(secret: str) -> bytes:
    """A 256-bit key-encryption key derived from the configured master secret."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"govsvc evidence master key v1"
    ).derive(secret.encode())


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(master_key: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(master_key, data_key)


def unwrap(master_key: bytes, wrapped: bytes) -> bytes:
    return aes_key_unwrap(master_key, wrapped)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(index: int, last: bool) -> bytes:
    return MAGIC + struct.pack(">I?", index, last)


async def _rechunk(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    yield bytes(buffer)  # possibly empty: the stream's last piece


async def encrypt(data_key: bytes, plaintext: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Seal a stream chunk by chunk; memory stays at about two chunks."""
    aead = AESGCM(data_key)
    prefix = os.urandom(PREFIX)
    yield MAGIC + prefix
    index, pending = 0, None
    async for piece in _rechunk(plaintext, CHUNK):
        if pending is not None:
            yield aead.encrypt(_nonce(prefix, index), pending, _aad(index, False))
            index += 1
        pending = piece
    yield aead.encrypt(_nonce(prefix, index), pending or b"", _aad(index, True))


async def decrypt(data_key: bytes, sealed: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Open a sealed stream; raise DecryptionFailed on any tampering, truncation or bad key."""
    aead = AESGCM(data_key)
    stream = aiter(sealed)
    head = bytearray()
    async for piece in stream:
        head += piece
        if len(head) >= len(MAGIC) + PREFIX:
            break
    if len(head) < len(MAGIC) + PREFIX or head[: len(MAGIC)] != MAGIC:
        raise DecryptionFailed("not an encrypted evidence object")
    prefix = bytes(head[len(MAGIC) : len(MAGIC) + PREFIX])
    first = bytes(head[len(MAGIC) + PREFIX :])

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for piece in stream:
            yield piece

    # The last sealed chunk is always shorter than a full one (see encrypt), so the piece
    # that ends the stream is the one flagged last; a cut on a boundary fails authentication.
    index, pending = 0, None
    async for piece in _rechunk(body(), CHUNK + TAG):
        if pending is not None:
            yield _open(aead, prefix, index, pending, last=False)
            index += 1
        pending = piece
    yield _open(aead, prefix, index, pending or b"", last=True)


def _open(aead: AESGCM, prefix: bytes, index: int, sealed: bytes, *, last: bool) -> bytes:
    try:
        return aead.decrypt(_nonce(prefix, index), sealed, _aad(index, last))
    except InvalidTag:
        raise DecryptionFailed(f"chunk {index} failed authentication") from None
