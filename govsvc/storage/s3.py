"""S3 Object Lock backend over boto3: AWS S3, MinIO, Ceph RGW. Every boto3 call runs in a thread.

Writes carry the lock (mode, retain-until, legal hold) and a SHA-256 checksum; our own hex SHA-256
is kept in the object metadata `sha256` (a multipart object's S3 checksum is a checksum of part
checksums, not the object's). After every write the lock is read back with head_object; a store that
silently dropped the lock parameters (moto does, for multipart uploads) gets them applied with
put_object_retention / put_object_legal_hold, and anything still short of what was asked for raises
LockNotApplied. The governance-bypass header is never sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import tempfile
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from govsvc.storage.base import (
    PART_SIZE,
    READ_CHUNK,
    IntegrityMismatch,
    LockMode,
    LockNotApplied,
    ObjectLocked,
    ObjectMissing,
    StorageError,
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
)

log = logging.getLogger("govsvc.storage")

MAX_PARTS = 10_000
# Parts of one upload held at once: the one being received and hashed, and the others uploading
# concurrently (receiving overlaps sending). Each holds PART_SIZE bytes until S3 has it.
PARTS_IN_FLIGHT = 3
# A part: filled in place in a buffer of its own, then handed to boto3 as it is.
Part = bytes | bytearray
_MISSING = {"NoSuchKey", "NoSuchVersion", "NoSuchObject", "NotFound", "404"}
_DENIED = {"AccessDenied", "403"}


class S3RequestFailed(StorageError):
    """An S3 request failed for a reason with no more specific storage error."""

    def __init__(self, operation: str, code: str, message: str):
        super().__init__(f"S3 {operation} failed: {code}: {message}")
        self.operation = operation
        self.code = code


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _hash_part(total: Any, part: Part) -> str:
    """Add `part` to the running hash; return the part's own base64 SHA-256 (in a thread)."""
    total.update(part)
    return _b64(hashlib.sha256(part).digest())


async def _rechunk(chunks: AsyncIterable[bytes], size: int) -> AsyncGenerator[bytearray, None]:
    """Cut a stream of arbitrary chunks into parts of exactly `size` bytes (the last shorter).

    Each part is a buffer of its own, filled in place and handed on as it is: no copy, and no
    buffer kept here once a part is handed on. The first part grows as the bytes come (a small
    stream costs no more than its size); the next ones are allocated whole."""
    part = bytearray()
    filled = 0
    async for chunk in chunks:
        data = memoryview(chunk)
        while data:
            take = min(size - filled, len(data))
            part[filled : filled + take] = data[:take]
            filled += take
            data = data[take:]
            if filled == size:
                yield part
                part = bytearray(size)
                filled = 0
    if filled:
        del part[filled:]
        yield part


async def _chain(head: list[bytearray], rest: AsyncIterator[bytearray]) -> AsyncIterator[Part]:
    """`head` then `rest`; `head` is emptied as it goes, so no part outlives its upload."""
    while head:
        yield head.pop(0)
    async for part in rest:
        yield part


class S3ObjectLockStore:
    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,
        mode: LockMode = LockMode.COMPLIANCE,
        spool_dir: Path | None = None,
    ):
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        self.mode = mode
        self.spool_dir = spool_dir
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "auto"},
            retries={"max_attempts": 5, "mode": "standard"},
        )
        # A session of our own: boto3's default session is shared module state.
        self._client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=config,
        )

    @property
    def _where(self) -> str:
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method: Callable[..., dict[str, Any]] = getattr(self._client, operation)
        try:
            result: dict[str, Any] = await asyncio.to_thread(method, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise S3RequestFailed(
                operation, str(error.get("Code", "?")), str(error.get("Message", ""))
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {operation} on {self._where} failed: {exc}") from exc
        return result

    # -- configuration ---------------------------------------------------------------------

    async def check(self) -> None:
        try:
            config = await self._call("get_object_lock_configuration", Bucket=self.bucket)
            versioning = await self._call("get_bucket_versioning", Bucket=self.bucket)
        except S3RequestFailed as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                raise StorageMisconfigured(
                    f"{self._where} has no Object Lock: use a bucket created with Object Lock "
                    "enabled (or enable Object Lock on it); evidence is never written to a bucket "
                    "that cannot lock it"
                ) from exc
            if exc.code == "NoSuchBucket":
                raise StorageMisconfigured(f"{self._where} does not exist") from exc
            if exc.code in _DENIED:
                raise StorageMisconfigured(
                    f"access denied reading the configuration of {self._where}: grant "
                    "s3:GetBucketObjectLockConfiguration and s3:GetBucketVersioning"
                ) from exc
            raise StorageMisconfigured(f"cannot check {self._where}: {exc}") from exc
        except StorageError as exc:
            raise StorageMisconfigured(f"cannot reach {self._where}: {exc}") from exc
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise StorageMisconfigured(
                f"{self._where} does not have Object Lock enabled (ObjectLockEnabled="
                f"{enabled!r}): enable Object Lock on the bucket"
            )
        status = versioning.get("Status")
        if status != "Enabled":
            raise StorageMisconfigured(
                f"{self._where} has versioning {status or 'never enabled'}: "
                "Object Lock needs versioning Enabled"
            )

    # -- writing -----------------------------------------------------------------------------

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
        lock = {
            "ObjectLockMode": self.mode.value,
            "ObjectLockRetainUntilDate": until,
            "ObjectLockLegalHoldStatus": "ON" if legal_hold else "OFF",
        }
        common = {"Bucket": self.bucket, "Key": key, "ContentType": content_type, **lock}
        parts = _rechunk(chunks, PART_SIZE)
        try:
            # The first two parts tell a single PUT from a multipart upload; `head` holds them
            # only until they are handed on (no local keeps a part alive for the whole upload).
            head = [await anext(parts, bytearray())]
            second = await anext(parts, None)
            if second is None:
                version_id, sha256, size = await self._put_single(key, head.pop(), expected, common)
            else:
                head.append(second)
                del second
                if expected is not None:
                    # The digest is known up front: stream the parts straight through.
                    version_id, size = await self._put_multipart(
                        key, _chain(head, parts), expected, common
                    )
                    sha256 = expected
                else:
                    # The metadata must name the digest when the upload starts: spool first.
                    version_id, sha256, size = await self._put_spooled(
                        key, _chain(head, parts), common
                    )
        finally:
            await parts.aclose()
        stored = await self._confirm_lock(key, version_id, until, legal_hold)
        if stored.sha256 != sha256 or stored.size != size:
            raise IntegrityMismatch(key, sha256, stored.sha256, stored=True)
        return stored

    async def _put_single(
        self, key: str, body: Part, expected: str | None, common: dict[str, Any]
    ) -> tuple[str, str, int]:
        digest = await asyncio.to_thread(lambda: hashlib.sha256(body).digest())
        actual = digest.hex()
        if expected is not None and actual != expected:
            raise IntegrityMismatch(key, expected, actual)
        result = await self._call(
            "put_object",
            Body=body,
            Metadata={"sha256": actual},
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest),
            **common,
        )
        return self._version_of(result), actual, len(body)

    async def _put_spooled(
        self, key: str, parts: AsyncIterator[Part], common: dict[str, Any]
    ) -> tuple[str, str, int]:
        spool: IO[bytes] = await asyncio.to_thread(
            tempfile.TemporaryFile, prefix="govsvc-s3-", dir=self.spool_dir
        )
        try:
            total = hashlib.sha256()

            def write(part: Part) -> None:
                total.update(part)
                spool.write(part)

            async for part in parts:
                await asyncio.to_thread(write, part)
                del part
            sha256 = total.hexdigest()
            await asyncio.to_thread(spool.seek, 0)

            async def reread() -> AsyncIterator[bytes]:
                while part := await asyncio.to_thread(spool.read, PART_SIZE):
                    yield part

            version_id, size = await self._put_multipart(key, reread(), sha256, common)
        finally:
            await asyncio.to_thread(spool.close)
        return version_id, sha256, size

    async def _put_multipart(
        self, key: str, parts: AsyncIterator[Part], declared: str, common: dict[str, Any]
    ) -> tuple[str, int]:
        """Upload `parts`, hashing as they go; abort unless they hash to `declared`.

        While the next part is read and hashed (in order: the running hash needs them in order),
        up to PARTS_IN_FLIGHT - 1 parts are uploading (in any order)."""
        created = await self._call(
            "create_multipart_upload",
            Metadata={"sha256": declared},
            ChecksumAlgorithm="SHA256",
            **common,
        )
        upload_id = str(created["UploadId"])
        total = hashlib.sha256()
        size = 0
        count = 0
        uploaded: list[dict[str, Any]] = []
        in_flight: set[asyncio.Task[None]] = set()

        async def upload(number: int, part: Part, part_b64: str) -> None:
            result = await self._call(
                "upload_part",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=part,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=part_b64,
            )
            uploaded.append(
                {
                    "PartNumber": number,
                    "ETag": result["ETag"],
                    "ChecksumSHA256": result.get("ChecksumSHA256") or part_b64,
                }
            )

        async def settle(until: int) -> None:
            """Wait until at most `until` uploads are in flight; raise the first failure."""
            nonlocal in_flight
            while len(in_flight) > until:
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                failures = [error for task in done if (error := task.exception())]
                if failures:
                    raise failures[0]

        try:
            while True:
                await settle(PARTS_IN_FLIGHT - 1)  # a slot for the next part before reading it
                part = await anext(parts, None)
                if part is None:
                    break
                count += 1
                if count > MAX_PARTS:
                    raise StorageError(
                        f"{key!r}: larger than {MAX_PARTS} parts of {PART_SIZE} bytes"
                    )
                part_b64 = await asyncio.to_thread(_hash_part, total, part)
                size += len(part)
                in_flight.add(asyncio.create_task(upload(count, part, part_b64)))
                del part  # the task holds it until S3 has it
            await settle(0)
            actual = total.hexdigest()
            if actual != declared:
                raise IntegrityMismatch(key, declared, actual)
            completed = await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": sorted(uploaded, key=lambda p: p["PartNumber"])},
            )
        except BaseException:
            await self._abort(key, upload_id, in_flight)
            raise
        return self._version_of(completed), size

    async def _abort(
        self, key: str, upload_id: str, in_flight: set[asyncio.Task[None]] | None = None
    ) -> None:
        async def abort() -> None:
            # Parts still uploading could land after the abort: let them finish (or fail) first.
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            await asyncio.to_thread(
                self._client.abort_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
            )

        # Shielded: a cancelled upload must still be aborted, or its parts linger (and bill).
        try:
            await asyncio.shield(abort())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return  # aborted already (upload recovery took it for dead)
            log.exception("could not abort multipart upload %s of %r", upload_id, key)
        except BotoCoreError:
            log.exception("could not abort multipart upload %s of %r", upload_id, key)

    def _version_of(self, result: dict[str, Any]) -> str:
        version_id = result.get("VersionId")
        if not version_id or version_id == "null":
            raise StorageMisconfigured(
                f"{self._where} returned no version id: enable versioning and Object Lock"
            )
        return str(version_id)

    # -- lock read-back ----------------------------------------------------------------------

    async def _confirm_lock(
        self, key: str, version_id: str, until: datetime, legal_hold: bool
    ) -> StoredObject:
        raw = await self._head_raw(key, version_id)
        mode, found_until, hold = _lock_of(raw)
        repaired = False
        if mode is None and found_until is None:
            log.warning(
                "%s dropped the Object Lock retention of %r version %s on write; applying it",
                self._where,
                key,
                version_id,
            )
            await self._call(
                "put_object_retention",
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                Retention={"Mode": self.mode.value, "RetainUntilDate": until},
            )
            repaired = True
        if legal_hold and not hold:
            log.warning(
                "%s dropped the legal hold of %r version %s on write; applying it",
                self._where,
                key,
                version_id,
            )
            await self._call(
                "put_object_legal_hold",
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                LegalHold={"Status": "ON"},
            )
            repaired = True
        if repaired:
            raw = await self._head_raw(key, version_id)
        self._require_lock(key, version_id, raw, self.mode, until, legal_hold)
        return self._stored(key, version_id, raw)

    def _require_lock(
        self,
        key: str,
        version_id: str,
        raw: dict[str, Any],
        mode: LockMode,
        until: datetime,
        legal_hold: bool,
    ) -> None:
        found_mode, found_until, found_hold = _lock_of(raw)
        if (found_mode, found_until, found_hold) != (mode, until, legal_hold):
            raise LockNotApplied(
                key,
                version_id,
                _describe(mode, until, legal_hold),
                _describe(found_mode, found_until, found_hold),
            )

    # -- reading -----------------------------------------------------------------------------

    async def _head_raw(self, key: str, version_id: str) -> dict[str, Any]:
        check_key(key)
        if not version_id:
            raise ObjectMissing(key, version_id)
        try:
            return await self._call(
                "head_object", Bucket=self.bucket, Key=key, VersionId=version_id
            )
        except S3RequestFailed as exc:
            if exc.code in _MISSING or exc.code in {"400", "InvalidArgument"}:
                raise ObjectMissing(key, version_id) from exc
            raise

    def _stored(self, key: str, version_id: str, raw: dict[str, Any]) -> StoredObject:
        sha256 = str(raw.get("Metadata", {}).get("sha256", "")).lower()
        mode, until, hold = _lock_of(raw)
        if not is_sha256(sha256) or mode is None or until is None:
            raise StorageError(
                f"{key!r} version {version_id!r} in {self._where} has no sha256 metadata or no "
                "Object Lock retention: it was not written by govsvc"
            )
        return StoredObject(
            key=key,
            version_id=str(raw.get("VersionId") or version_id),
            sha256=sha256,
            size=int(raw["ContentLength"]),
            content_type=str(raw.get("ContentType") or "application/octet-stream"),
            retain_until=until,
            mode=mode,
            legal_hold=hold,
        )

    async def head(self, key: str, version_id: str) -> StoredObject:
        return self._stored(key, version_id, await self._head_raw(key, version_id))

    async def get(self, key: str, version_id: str) -> AsyncIterator[bytes]:
        check_key(key)
        if not version_id:
            raise ObjectMissing(key, version_id)
        try:
            response = await self._call(
                "get_object", Bucket=self.bucket, Key=key, VersionId=version_id
            )
        except S3RequestFailed as exc:
            if exc.code in _MISSING or exc.code in {"400", "InvalidArgument"}:
                raise ObjectMissing(key, version_id) from exc
            raise
        body = response["Body"]
        recorded = str(response.get("Metadata", {}).get("sha256", "")).lower()
        total = hashlib.sha256()

        def read() -> bytes:
            chunk: bytes = body.read(READ_CHUNK)
            total.update(chunk)
            return chunk

        try:
            while chunk := await self._read(read):
                yield chunk
        finally:
            body.close()
        if is_sha256(recorded) and total.hexdigest() != recorded:
            raise IntegrityMismatch(key, recorded, total.hexdigest(), stored=True)

    async def _read(self, read: Callable[[], bytes]) -> bytes:
        try:
            return await asyncio.to_thread(read)
        except BotoCoreError as exc:
            raise StorageError(f"reading from {self._where} failed: {exc}") from exc

    async def verify(self, key: str, version_id: str) -> bool:
        stored = await self.head(key, version_id)
        total = hashlib.sha256()
        try:
            async for chunk in self.get(key, version_id):
                total.update(chunk)
        except IntegrityMismatch:
            return False
        return total.hexdigest() == stored.sha256

    # -- changing the lock -------------------------------------------------------------------

    async def extend_retention(
        self, key: str, version_id: str, retain_until: datetime
    ) -> StoredObject:
        current = await self.head(key, version_id)
        until = new_retention(current, retain_until)
        if until is None:
            return current
        # Never BypassGovernanceRetention: extending needs no bypass, shortening is refused above.
        await self._call(
            "put_object_retention",
            Bucket=self.bucket,
            Key=key,
            VersionId=version_id,
            Retention={"Mode": current.mode.value, "RetainUntilDate": until},
        )
        raw = await self._head_raw(key, version_id)
        self._require_lock(key, version_id, raw, current.mode, until, current.legal_hold)
        return self._stored(key, version_id, raw)

    async def set_legal_hold(self, key: str, version_id: str, on: bool) -> StoredObject:
        current = await self.head(key, version_id)
        if current.legal_hold == on:
            return current
        await self._call(
            "put_object_legal_hold",
            Bucket=self.bucket,
            Key=key,
            VersionId=version_id,
            LegalHold={"Status": "ON" if on else "OFF"},
        )
        raw = await self._head_raw(key, version_id)
        self._require_lock(key, version_id, raw, current.mode, current.retain_until, on)
        return self._stored(key, version_id, raw)

    async def versions(self, prefix: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        marker: dict[str, str] = {}
        while True:
            page = await self._call(
                "list_object_versions", Bucket=self.bucket, Prefix=prefix, **marker
            )
            found += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
            if not page.get("IsTruncated"):
                return sorted(found)
            marker = {
                "KeyMarker": page["NextKeyMarker"],
                "VersionIdMarker": page["NextVersionIdMarker"],
            }

    async def discard_incomplete(self, key: str) -> list[str]:
        check_key(key)
        return await self._abort_uploads(key, lambda upload: upload["Key"] == key)

    async def discard_stale(self, older_than: datetime) -> list[str]:
        return await self._abort_uploads("", lambda upload: upload["Initiated"] < older_than)

    async def _abort_uploads(
        self, prefix: str, chosen: Callable[[dict[str, Any]], bool]
    ) -> list[str]:
        """Abort the unfinished multipart uploads under `prefix` that `chosen` picks. (Spooled
        bodies need nothing: they are anonymous temporary files, gone with their process.)"""
        found: list[dict[str, Any]] = []
        marker: dict[str, str] = {}
        while True:
            page = await self._call(
                "list_multipart_uploads", Bucket=self.bucket, Prefix=prefix, **marker
            )
            found += [u for u in page.get("Uploads", []) if chosen(u)]
            if not page.get("IsTruncated"):
                break
            marker = {
                "KeyMarker": page["NextKeyMarker"],
                "UploadIdMarker": page["NextUploadIdMarker"],
            }
        removed: list[str] = []
        for upload in found:
            await self._call(
                "abort_multipart_upload",
                Bucket=self.bucket,
                Key=upload["Key"],
                UploadId=upload["UploadId"],
            )
            removed.append(f"multipart upload {upload['UploadId']} of {upload['Key']!r}")
        return removed

    async def delete_version(self, key: str, version_id: str) -> None:
        current = await self.head(key, version_id)
        refuse_locked(current)
        try:
            await self._call("delete_object", Bucket=self.bucket, Key=key, VersionId=version_id)
        except S3RequestFailed as exc:
            if exc.code in _MISSING:
                raise ObjectMissing(key, version_id) from exc
            if exc.code in _DENIED:
                raise ObjectLocked(
                    current,
                    "the store refused the delete (AccessDenied): by its clock the version may "
                    "still be locked, or the credentials lack s3:DeleteObjectVersion",
                ) from exc
            raise


def _lock_of(raw: dict[str, Any]) -> tuple[LockMode | None, datetime | None, bool]:
    mode_text = raw.get("ObjectLockMode")
    mode = LockMode(mode_text) if mode_text in set(LockMode) else None
    until_value = raw.get("ObjectLockRetainUntilDate")
    until = until_value.astimezone(UTC) if isinstance(until_value, datetime) else None
    hold = raw.get("ObjectLockLegalHoldStatus") == "ON"
    return mode, until, hold


def _describe(mode: LockMode | None, until: datetime | None, hold: bool) -> str:
    retention = f"{mode.value} until {format_time(until)}" if mode and until else "no retention"
    return f"{retention}, legal hold {'ON' if hold else 'OFF'}"
