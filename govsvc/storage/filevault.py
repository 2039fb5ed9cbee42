"""The embedded default: a content-addressed file vault. Not WORM hardware: it enforces retention
and legal holds only in govsvc's own code, and says so loudly.

Layout under the root:

    objects/<sha[:2]>/<sha>                    the bytes, read-only (0o444), shared by every key
    meta/<sha[:2]>/<sha>/<sha256(key)>.json    one sidecar per key+version: key, lock, type, size
    tmp/put-<sha256(key)[:32]>-*               uploads in progress (same file system: atomic
                                               rename); named by key so a dead one is found
    .lock                                      flock serialising changes across processes

The version id is the SHA-256 of the bytes. Putting the same bytes under the same key again
returns that same version, keeping the later retain-until, the stronger mode and any legal hold.
The bytes go when the last sidecar referring to them is deleted.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from govsvc.storage.base import (
    READ_CHUNK,
    IntegrityMismatch,
    LockMode,
    ObjectMissing,
    StorageMisconfigured,
    StoredObject,
    check_content_type,
    check_key,
    check_sha256,
    format_time,
    is_sha256,
    new_retention,
    normalize_retain_until,
    refuse_locked,
    utcnow,
)

log = logging.getLogger("govsvc.storage")

T = TypeVar("T")
SIDECAR_FORMAT = 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _key_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _to_json(obj: StoredObject) -> dict[str, Any]:
    return {
        "format": SIDECAR_FORMAT,
        "key": obj.key,
        "version_id": obj.version_id,
        "sha256": obj.sha256,
        "size": obj.size,
        "content_type": obj.content_type,
        "retain_until": format_time(obj.retain_until),
        "mode": obj.mode.value,
        "legal_hold": obj.legal_hold,
    }


def _from_json(data: dict[str, Any]) -> StoredObject:
    return StoredObject(
        key=str(data["key"]),
        version_id=str(data["version_id"]),
        sha256=str(data["sha256"]),
        size=int(data["size"]),
        content_type=str(data["content_type"]),
        retain_until=datetime.fromisoformat(str(data["retain_until"]).replace("Z", "+00:00")),
        mode=LockMode(data["mode"]),
        legal_hold=bool(data["legal_hold"]),
    )


class FileVault:
    kind = "file"

    def __init__(self, root: Path, *, mode: LockMode = LockMode.COMPLIANCE):
        if not root.is_absolute():
            raise StorageMisconfigured(f"the file vault root must be an absolute path: {root}")
        self.root = root
        self.mode = mode
        self._objects = root / "objects"
        self._meta = root / "meta"
        self._tmp = root / "tmp"
        log.warning(
            "WORM STORE IS A FILE VAULT AT %s: this is NOT WORM storage. Retention and legal holds "
            "are enforced only in govsvc's code; anyone with access to the file system can alter "
            "or delete evidence. Use an S3 bucket with Object Lock (GOVSVC_STORAGE_URL=s3://...) "
            "for anything but development.",
            root,
        )

    # -- paths and primitives (synchronous; run in threads) ----------------------------------

    def _blob(self, sha256: str) -> Path:
        return self._objects / sha256[:2] / sha256

    def _sidecar(self, key: str, sha256: str) -> Path:
        return self._meta / sha256[:2] / sha256 / f"{_key_name(key)}.json"

    @staticmethod
    def _spool_prefix(key: str) -> str:
        return f"put-{_key_name(key)[:32]}"

    def _ensure_layout(self) -> None:
        for directory in (self._objects, self._meta, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock over every change, across threads and processes."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    async def _under_lock(self, fn: Callable[[], T]) -> T:
        def run() -> T:
            with self._locked():
                return fn()

        return await asyncio.to_thread(run)

    def _read(self, key: str, version_id: str) -> StoredObject:
        if not is_sha256(version_id):
            raise ObjectMissing(key, version_id)
        try:
            data = json.loads(self._sidecar(key, version_id).read_text("utf-8"))
        except FileNotFoundError:
            raise ObjectMissing(key, version_id) from None
        obj = _from_json(data)
        if obj.key != key or obj.version_id != version_id:
            raise ObjectMissing(key, version_id)
        return obj

    def _write(self, obj: StoredObject) -> None:
        path = self._sidecar(obj.key, obj.version_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".sidecar-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(_to_json(obj), file, sort_keys=True, indent=1)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(name, 0o444)
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    # -- the protocol ----------------------------------------------------------------------

    async def check(self) -> None:
        def probe() -> None:
            self._ensure_layout()
            with tempfile.TemporaryFile(dir=self._tmp) as file:
                file.write(b"probe")
            with self._locked():
                pass

        try:
            await asyncio.to_thread(probe)
        except OSError as exc:
            raise StorageMisconfigured(
                f"the file vault at {self.root} is not usable ({exc}): make it a directory the "
                "service can write"
            ) from exc

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
        check_key(key)
        check_content_type(content_type)
        until = normalize_retain_until(retain_until)
        expected = check_sha256(expected_sha256)
        await asyncio.to_thread(self._ensure_layout)
        fd, name = await asyncio.to_thread(
            tempfile.mkstemp, dir=self._tmp, prefix=f"{self._spool_prefix(key)}-"
        )
        tmp = Path(name)
        total = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as file:

                def write(data: bytes) -> None:
                    total.update(data)
                    file.write(data)

                def sync() -> None:
                    file.flush()
                    os.fsync(file.fileno())

                buffer = bytearray()
                async for chunk in chunks:
                    buffer += chunk
                    if len(buffer) >= READ_CHUNK:
                        size += len(buffer)
                        await asyncio.to_thread(write, bytes(buffer))
                        buffer.clear()
                size += len(buffer)
                await asyncio.to_thread(write, bytes(buffer))
                await asyncio.to_thread(sync)
            actual = total.hexdigest()
            if expected is not None and actual != expected:
                raise IntegrityMismatch(key, expected, actual)
            stored = StoredObject(
                key=key,
                version_id=actual,
                sha256=actual,
                size=size,
                content_type=content_type,
                retain_until=until,
                mode=self.mode,
                legal_hold=legal_hold,
            )
            return await self._under_lock(lambda: self._commit(tmp, stored))
        finally:
            tmp.unlink(missing_ok=True)

    def _commit(self, tmp: Path, stored: StoredObject) -> StoredObject:
        blob = self._blob(stored.sha256)
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists() or blob.stat().st_size != stored.size:
            os.chmod(tmp, 0o444)
            os.replace(tmp, blob)
            _fsync_dir(blob.parent)
        try:
            existing = self._read(stored.key, stored.version_id)
        except ObjectMissing:
            self._write(stored)
            return stored
        # The same bytes under the same key: one version; nothing it had is weakened.
        compliance = LockMode.COMPLIANCE in (existing.mode, stored.mode)
        merged = replace(
            existing,
            retain_until=max(existing.retain_until, stored.retain_until),
            mode=LockMode.COMPLIANCE if compliance else LockMode.GOVERNANCE,
            legal_hold=existing.legal_hold or stored.legal_hold,
        )
        if merged != existing:
            self._write(merged)
        return merged

    async def head(self, key: str, version_id: str) -> StoredObject:
        check_key(key)
        return await asyncio.to_thread(self._read, key, version_id)

    async def get(self, key: str, version_id: str) -> AsyncIterator[bytes]:
        stored = await self.head(key, version_id)
        try:
            file = await asyncio.to_thread(self._blob(stored.sha256).open, "rb")
        except FileNotFoundError:
            raise IntegrityMismatch(key, stored.sha256, "", stored=True) from None
        total = hashlib.sha256()

        def read() -> bytes:
            chunk = file.read(READ_CHUNK)
            total.update(chunk)
            return chunk

        try:
            while chunk := await asyncio.to_thread(read):
                yield chunk
        finally:
            file.close()
        if total.hexdigest() != stored.sha256:
            raise IntegrityMismatch(key, stored.sha256, total.hexdigest(), stored=True)

    async def verify(self, key: str, version_id: str) -> bool:
        try:
            async for _ in self.get(key, version_id):
                pass
        except IntegrityMismatch:
            return False
        return True

    async def extend_retention(
        self, key: str, version_id: str, retain_until: datetime
    ) -> StoredObject:
        check_key(key)

        def extend() -> StoredObject:
            current = self._read(key, version_id)
            until = new_retention(current, retain_until)
            if until is None:
                return current
            extended = replace(current, retain_until=until)
            self._write(extended)
            return extended

        return await self._under_lock(extend)

    async def set_legal_hold(self, key: str, version_id: str, on: bool) -> StoredObject:
        check_key(key)

        def hold() -> StoredObject:
            current = self._read(key, version_id)
            if current.legal_hold == on:
                return current
            changed = replace(current, legal_hold=on)
            self._write(changed)
            return changed

        return await self._under_lock(hold)

    async def versions(self, prefix: str) -> list[tuple[str, str]]:
        if not self._meta.exists():
            return []  # nothing was ever stored

        def scan() -> list[tuple[str, str]]:
            found = []
            for sidecar in self._meta.glob("*/*/*.json"):
                data = json.loads(sidecar.read_text("utf-8"))
                if str(data.get("key", "")).startswith(prefix):
                    found.append((str(data["key"]), str(data["version_id"])))
            return sorted(found)

        return await self._under_lock(scan)

    async def discard_incomplete(self, key: str) -> list[str]:
        check_key(key)
        prefix = f"{self._spool_prefix(key)}-"
        return await asyncio.to_thread(self._unlink_spooled, lambda p: p.name.startswith(prefix))

    async def discard_stale(self, older_than: datetime) -> list[str]:
        cutoff = older_than.timestamp()
        return await asyncio.to_thread(
            self._unlink_spooled,
            lambda p: p.name.startswith("put-") and p.stat().st_mtime < cutoff,
        )

    def _unlink_spooled(self, chosen: Callable[[Path], bool]) -> list[str]:
        removed: list[str] = []
        if not self._tmp.exists():
            return removed
        for path in self._tmp.iterdir():
            try:
                if path.is_file() and chosen(path):
                    size = path.stat().st_size
                    path.unlink()
                    removed.append(f"temp file {path} ({size} bytes)")
            except FileNotFoundError:
                continue  # removed meanwhile
        return removed

    async def delete_version(self, key: str, version_id: str) -> None:
        check_key(key)

        def delete() -> None:
            current = self._read(key, version_id)
            refuse_locked(current, now=utcnow())
            sidecar = self._sidecar(key, version_id)
            sidecar.unlink()
            _fsync_dir(sidecar.parent)
            if any(sidecar.parent.glob("*.json")):
                return  # another key still refers to these bytes
            for leftover in sidecar.parent.iterdir():
                leftover.unlink()
            sidecar.parent.rmdir()
            blob = self._blob(version_id)
            blob.unlink(missing_ok=True)
            _fsync_dir(blob.parent)

        await self._under_lock(delete)
