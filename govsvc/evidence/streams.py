"""Byte streams that count and hash as they pass, and refuse to finish when the hash is wrong."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator


class HashMismatch(Exception):
    def __init__(self, expected: str, actual: str):
        super().__init__(f"SHA-256 mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class Hashing:
    """Pass a stream through while hashing it; check against `expected` when it ends."""

    def __init__(self, source: AsyncIterable[bytes], *, expected: str | None = None):
        self.source = source
        self.expected = expected.lower() if expected else None
        self._hash = hashlib.sha256()
        self.size = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.source:
            if not chunk:
                continue
            self.size += len(chunk)
            self._hash.update(chunk)
            yield chunk
        if self.expected is not None and self.expected != self.sha256:
            # Raised inside the stream, so the store aborts before anything is kept.
            raise HashMismatch(self.expected, self.sha256)


async def verified(source: AsyncIterable[bytes], expected: str) -> AsyncIterator[bytes]:
    """Stream `source`, holding back the last chunk until the whole has hashed to `expected`.

    A mismatch raises before the last chunk leaves, so a reader never gets a complete copy of
    bytes that are not the evidence."""
    digest = hashlib.sha256()
    pending: bytes | None = None
    async for chunk in source:
        if not chunk:
            continue
        digest.update(chunk)
        if pending is not None:
            yield pending
        pending = chunk
    if digest.hexdigest() != expected:
        raise HashMismatch(expected, digest.hexdigest())
    if pending is not None:
        yield pending
