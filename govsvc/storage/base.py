"""The WORM store protocol, its vocabulary and errors, and the rules every backend enforces.

The rules (never shorten a retention, never delete a locked or held version, refuse bad input) are
checked here in our own code, whatever the backend itself would allow.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

# Bytes per multipart part, and the most a store buffers in memory for one upload.
PART_SIZE = 8 * 1024 * 1024
# Bytes per chunk yielded by get().
READ_CHUNK = 1024 * 1024
MAX_KEY_BYTES = 1024

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class LockMode(StrEnum):
    COMPLIANCE = "COMPLIANCE"
    GOVERNANCE = "GOVERNANCE"


@dataclass(frozen=True)
class StoredObject:
    key: str
    version_id: str
    sha256: str  # hex
    size: int
    content_type: str
    retain_until: datetime  # tz-aware UTC, whole seconds
    mode: LockMode
    legal_hold: bool


class StorageError(Exception):
    """Anything the WORM store refuses or cannot do."""


class StorageMisconfigured(StorageError):
    """The store cannot be used as configured (the message says what to fix)."""


class InvalidArgument(StorageError, ValueError):
    """A caller's bad input (key, date, digest, content type); nothing was changed."""


class ObjectMissing(StorageError):
    def __init__(self, key: str, version_id: str):
        super().__init__(f"no object {key!r} version {version_id!r}")
        self.key = key
        self.version_id = version_id


class ObjectLocked(StorageError):
    """A delete refused: the retention has not passed, or a legal hold is on."""

    def __init__(self, obj: StoredObject, reason: str):
        super().__init__(f"{obj.key!r} version {obj.version_id!r} cannot be deleted: {reason}")
        self.key = obj.key
        self.version_id = obj.version_id
        self.retain_until = obj.retain_until
        self.legal_hold = obj.legal_hold
        self.reason = reason


class RetentionShortening(StorageError):
    def __init__(self, obj: StoredObject, requested: datetime):
        super().__init__(
            f"{obj.key!r} version {obj.version_id!r} is retained until "
            f"{format_time(obj.retain_until)}; a retention is never shortened "
            f"(asked for {format_time(requested)})"
        )
        self.key = obj.key
        self.version_id = obj.version_id
        self.current = obj.retain_until
        self.requested = requested


class IntegrityMismatch(StorageError):
    """The bytes do not hash to what was expected (on upload: nothing was stored)."""

    def __init__(self, key: str, expected: str, actual: str, *, stored: bool = False):
        if not actual:
            message = f"{key!r}: the stored bytes are missing (expected SHA-256 {expected})"
        else:
            where = "stored bytes" if stored else "uploaded bytes (nothing was stored)"
            message = f"{key!r}: SHA-256 of the {where} is {actual}, expected {expected}"
        super().__init__(message)
        self.key = key
        self.expected = expected
        self.actual = actual


class LockNotApplied(StorageError):
    """Read-back after a write did not show the lock that was asked for."""

    def __init__(self, key: str, version_id: str, asked: str, found: str):
        super().__init__(
            f"{key!r} version {version_id!r}: asked the store for {asked}, "
            f"it reports {found}; the version exists but is not locked as required"
        )
        self.key = key
        self.version_id = version_id
        self.asked = asked
        self.found = found


class WormStore(Protocol):
    """Write-once storage with retention and legal holds. Version ids are the store's."""

    kind: str  # "s3" | "file"

    async def check(self) -> None:
        """Raise StorageMisconfigured unless the store can keep objects locked."""
        ...

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        retain_until: datetime,
        content_type: str = "application/octet-stream",
        expected_sha256: str | None = None,
        legal_hold: bool = False,
    ) -> StoredObject:
        """Stream `chunks` into a new locked version. With `expected_sha256`, a mismatch stores
        nothing and raises IntegrityMismatch."""
        ...

    def get(self, key: str, version_id: str) -> AsyncIterator[bytes]:
        """Stream the bytes of a version; IntegrityMismatch after the last chunk if they do not
        hash to the recorded SHA-256."""
        ...

    async def head(self, key: str, version_id: str) -> StoredObject: ...

    async def extend_retention(
        self, key: str, version_id: str, retain_until: datetime
    ) -> StoredObject: ...

    async def set_legal_hold(self, key: str, version_id: str, on: bool) -> StoredObject: ...

    async def delete_version(self, key: str, version_id: str) -> None: ...

    async def verify(self, key: str, version_id: str) -> bool:
        """Re-hash the stored bytes and compare them with the recorded SHA-256."""
        ...

    async def versions(self, prefix: str) -> list[tuple[str, str]]:
        """(key, version id) of every stored version whose key starts with `prefix`, so what
        the store holds can be read without trusting the database's list of it."""
        ...

    async def discard_incomplete(self, key: str) -> list[str]:
        """Remove what an interrupted put of `key` left behind (a spooled temp file, an
        unfinished multipart upload); never a stored version. Says what was removed. Only for
        a put known to be dead: a live one would fail."""
        ...

    async def discard_stale(self, older_than: datetime) -> list[str]:
        """Remove leftovers of any put started before `older_than`, whatever its key (a put
        killed before its intent could even be read back). Says what was removed."""
        ...


# -- rules shared by the backends ---------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_retain_until(value: datetime, *, now: datetime | None = None) -> datetime:
    """UTC, rounded UP to a whole second (stores keep seconds; rounding never shortens);
    refuses naive datetimes and dates not in the future."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgument("retain_until must be a timezone-aware datetime")
    value = value.astimezone(UTC)
    whole = value.replace(microsecond=0)
    if whole != value:
        whole += timedelta(seconds=1)
    if whole <= (now or utcnow()):
        raise InvalidArgument(f"retain_until must be in the future (got {format_time(whole)})")
    return whole


def check_key(key: str) -> str:
    if not key or "\x00" in key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidArgument(
            f"object key must be 1 to {MAX_KEY_BYTES} bytes of UTF-8 without NUL (got {key!r:.80})"
        )
    return key


def check_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    lowered = value.lower()
    if not _SHA256_HEX.match(lowered):
        raise InvalidArgument(f"expected_sha256 must be 64 hex digits (got {value!r:.80})")
    return lowered


def is_sha256(value: str) -> bool:
    return bool(_SHA256_HEX.match(value))


def check_content_type(value: str) -> str:
    if not value or len(value) > 255 or any(ord(c) < 32 or ord(c) > 126 for c in value):
        raise InvalidArgument(
            f"content type must be 1 to 255 printable ASCII characters: {value!r}"
        )
    return value


def new_retention(obj: StoredObject, requested: datetime) -> datetime | None:
    """The retain-until to apply to `obj`, or None when `requested` equals the current one.

    Raises RetentionShortening for an earlier date: checked here, never left to the store.
    """
    if requested.tzinfo is None or requested.utcoffset() is None:
        raise InvalidArgument("retain_until must be a timezone-aware datetime")
    requested = requested.astimezone(UTC)
    if requested < obj.retain_until:
        raise RetentionShortening(obj, requested)
    if math.ceil(requested.timestamp()) == math.ceil(obj.retain_until.timestamp()):
        return None
    return normalize_retain_until(requested)


def refuse_locked(obj: StoredObject, *, now: datetime | None = None) -> None:
    """Raise ObjectLocked unless the retention has passed and no legal hold is on."""
    now = now or utcnow()
    if obj.legal_hold:
        reason = "a legal hold is on"
        if obj.retain_until > now:
            reason += f" and it is retained until {format_time(obj.retain_until)}"
        raise ObjectLocked(obj, reason)
    if obj.retain_until > now:
        raise ObjectLocked(obj, f"it is retained until {format_time(obj.retain_until)}")
