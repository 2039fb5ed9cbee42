"""The WORM store contract, run against the file vault and S3 Object Lock (a real moto server)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from govsvc.settings import Environment, Settings
from govsvc.storage import (
    FileVault,
    IntegrityMismatch,
    InvalidArgument,
    LockMode,
    LockNotApplied,
    ObjectLocked,
    ObjectMissing,
    RetentionShortening,
    StorageMisconfigured,
    StoredObject,
    WormStore,
    build_store,
)
from govsvc.storage.base import PART_SIZE, READ_CHUNK
from govsvc.storage.s3 import S3ObjectLockStore
from tests.s3 import s3_settings
from tests.storage.conftest import Backend

MIB = 1024 * 1024
LARGE = 20 * MIB


def in_seconds(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def whole_second_ceil(value: datetime) -> datetime:
    whole = value.replace(microsecond=0)
    return whole if whole == value else whole + timedelta(seconds=1)


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def pseudo_random(total: int, seed: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    """`total` reproducible bytes, produced a chunk at a time (never whole in memory)."""
    rng = random.Random(seed)
    for start in range(0, total, chunk):
        yield rng.randbytes(min(chunk, total - start))


async def sha256_of(chunks: AsyncIterator[bytes]) -> tuple[str, int]:
    total = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        total.update(chunk)
        size += len(chunk)
    return total.hexdigest(), size


async def read_all(store: WormStore, key: str, version_id: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, version_id)])


async def wait_past(stored: StoredObject) -> None:
    await asyncio.sleep((stored.retain_until - datetime.now(UTC)).total_seconds() + 0.3)


def raw_head(backend: Backend, stored: StoredObject) -> dict[str, Any]:
    head: dict[str, Any] = backend.s3.head_object(
        Bucket=backend.bucket, Key=stored.key, VersionId=stored.version_id
    )
    return head


# -- writing and reading ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"incident 42: timeline v1\n" * 1000], ids=["empty", "small"]
)
async def test_round_trip_keeps_bytes_digest_size_and_lock(backend: Backend, data: bytes) -> None:
    asked = in_seconds(3600)
    stored = await backend.store.put(
        "incidents/42/timeline.txt", chunks_of(data), retain_until=asked, content_type="text/plain"
    )

    assert stored.key == "incidents/42/timeline.txt"
    assert stored.version_id
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.content_type == "text/plain"
    assert stored.retain_until == whole_second_ceil(asked)
    assert stored.retain_until.tzinfo is not None
    assert stored.mode is LockMode.COMPLIANCE
    assert stored.legal_hold is False
    assert await backend.store.head(stored.key, stored.version_id) == stored
    assert await read_all(backend.store, stored.key, stored.version_id) == data


@pytest.mark.parametrize("with_digest", [True, False], ids=["streamed", "spooled"])
async def test_large_object_goes_multipart_and_streams_back_intact(
    backend: Backend, with_digest: bool
) -> None:
    sha256, size = await sha256_of(pseudo_random(LARGE, seed=1))
    stored = await backend.store.put(
        "evidence/big.bin",
        pseudo_random(LARGE, seed=1),
        retain_until=in_seconds(3600),
        expected_sha256=sha256 if with_digest else None,
    )
    assert (stored.sha256, stored.size) == (sha256, LARGE)

    chunk_sizes: list[int] = []
    total = hashlib.sha256()
    async for chunk in backend.store.get(stored.key, stored.version_id):
        chunk_sizes.append(len(chunk))
        total.update(chunk)
    assert total.hexdigest() == sha256
    assert sum(chunk_sizes) == size
    assert len(chunk_sizes) >= LARGE // READ_CHUNK
    assert max(chunk_sizes) <= READ_CHUNK

    if backend.kind == "s3":
        raw = raw_head(backend, stored)
        parts = -(-LARGE // PART_SIZE)
        assert raw["ETag"].strip('"').endswith(f"-{parts}")  # a multipart upload's ETag
        assert raw["Metadata"]["sha256"] == sha256
        assert raw["ObjectLockMode"] == "COMPLIANCE"
        assert raw["ObjectLockRetainUntilDate"] == stored.retain_until


@pytest.mark.parametrize("size", [1000, LARGE], ids=["single", "multipart"])
async def test_expected_sha256_mismatch_stores_nothing(backend: Backend, size: int) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(IntegrityMismatch) as caught:
        await backend.store.put(
            "evidence/tampered.bin",
            pseudo_random(size, seed=2),
            retain_until=in_seconds(3600),
            expected_sha256=wrong,
        )
    actual, _ = await sha256_of(pseudo_random(size, seed=2))
    assert (caught.value.expected, caught.value.actual) == (wrong, actual)
    assert not backend.stored_anything()


class StreamBroke(Exception):
    pass


@pytest.mark.parametrize("with_digest", [True, False], ids=["streamed", "spooled"])
async def test_a_stream_that_fails_midway_stores_nothing(
    backend: Backend, with_digest: bool
) -> None:
    async def failing() -> AsyncIterator[bytes]:
        async for chunk in pseudo_random(LARGE, seed=4):
            yield chunk
        raise StreamBroke

    with pytest.raises(StreamBroke):
        await backend.store.put(
            "evidence/partial.bin",
            failing(),
            retain_until=in_seconds(3600),
            expected_sha256="0" * 64 if with_digest else None,
        )
    assert not backend.stored_anything()


async def test_get_of_a_missing_version_raises_object_missing(backend: Backend) -> None:
    stored = await backend.store.put("a.txt", chunks_of(b"a"), retain_until=in_seconds(3600))
    other = hashlib.sha256(b"never stored").hexdigest()
    for key, version_id in [("a.txt", other), ("nothing-here.txt", stored.version_id)]:
        with pytest.raises(ObjectMissing):
            await read_all(backend.store, key, version_id)
        with pytest.raises(ObjectMissing):
            await backend.store.head(key, version_id)
        with pytest.raises(ObjectMissing):
            await backend.store.extend_retention(key, version_id, in_seconds(7200))
        with pytest.raises(ObjectMissing):
            await backend.store.set_legal_hold(key, version_id, True)
        with pytest.raises(ObjectMissing):
            await backend.store.delete_version(key, version_id)


@pytest.mark.slow  # waits out retention
async def test_same_bytes_under_two_keys_survive_deleting_one(backend: Backend) -> None:
    data = b"shared attachment"
    first = await backend.store.put("one/a.bin", chunks_of(data), retain_until=in_seconds(1.5))
    second = await backend.store.put("two/a.bin", chunks_of(data), retain_until=in_seconds(3600))
    assert first.sha256 == second.sha256
    await wait_past(first)

    await backend.store.delete_version(first.key, first.version_id)

    with pytest.raises(ObjectMissing):
        await backend.store.head(first.key, first.version_id)
    assert await read_all(backend.store, second.key, second.version_id) == data
    assert await backend.store.verify(second.key, second.version_id)


# -- retention and legal holds ----------------------------------------------------------------


async def test_locked_version_cannot_be_deleted_and_stays_readable(backend: Backend) -> None:
    stored = await backend.store.put("locked.txt", chunks_of(b"keep"), retain_until=in_seconds(600))

    with pytest.raises(ObjectLocked) as caught:
        await backend.store.delete_version(stored.key, stored.version_id)

    assert "retained until" in str(caught.value)
    assert caught.value.retain_until == stored.retain_until
    assert await read_all(backend.store, stored.key, stored.version_id) == b"keep"


async def test_retention_is_never_shortened(backend: Backend) -> None:
    stored = await backend.store.put("keep.txt", chunks_of(b"keep"), retain_until=in_seconds(3600))

    with pytest.raises(RetentionShortening) as caught:
        await backend.store.extend_retention(stored.key, stored.version_id, in_seconds(600))

    assert caught.value.current == stored.retain_until
    assert await backend.store.head(stored.key, stored.version_id) == stored
    if backend.kind == "s3":
        assert raw_head(backend, stored)["ObjectLockRetainUntilDate"] == stored.retain_until
    # Asking for the same date again changes nothing.
    same = await backend.store.extend_retention(stored.key, stored.version_id, stored.retain_until)
    assert same == stored


async def test_retention_can_be_extended(backend: Backend) -> None:
    stored = await backend.store.put("keep.txt", chunks_of(b"keep"), retain_until=in_seconds(600))
    later = in_seconds(86_400)

    extended = await backend.store.extend_retention(stored.key, stored.version_id, later)

    assert extended.retain_until == whole_second_ceil(later)
    assert extended.mode is stored.mode
    assert await backend.store.head(stored.key, stored.version_id) == extended
    if backend.kind == "s3":
        assert raw_head(backend, stored)["ObjectLockRetainUntilDate"] == extended.retain_until


@pytest.mark.slow  # waits out retention
async def test_legal_hold_blocks_delete_after_retention_passed(backend: Backend) -> None:
    stored = await backend.store.put(
        "held.txt", chunks_of(b"held"), retain_until=in_seconds(1.5), legal_hold=True
    )
    assert stored.legal_hold
    await wait_past(stored)

    with pytest.raises(ObjectLocked) as caught:
        await backend.store.delete_version(stored.key, stored.version_id)
    assert "legal hold" in str(caught.value)
    assert await read_all(backend.store, stored.key, stored.version_id) == b"held"

    released = await backend.store.set_legal_hold(stored.key, stored.version_id, False)
    assert released.legal_hold is False
    await backend.store.delete_version(stored.key, stored.version_id)
    with pytest.raises(ObjectMissing):
        await read_all(backend.store, stored.key, stored.version_id)


@pytest.mark.slow  # waits out retention
async def test_delete_works_once_retention_passed_without_hold(backend: Backend) -> None:
    stored = await backend.store.put("brief.txt", chunks_of(b"x"), retain_until=in_seconds(1.5))
    held = await backend.store.set_legal_hold(stored.key, stored.version_id, True)
    assert held.legal_hold
    assert (
        await backend.store.set_legal_hold(stored.key, stored.version_id, False)
    ).legal_hold is (False)
    await wait_past(stored)

    await backend.store.delete_version(stored.key, stored.version_id)

    with pytest.raises(ObjectMissing):
        await backend.store.head(stored.key, stored.version_id)
    assert not backend.stored_anything()


async def test_governance_mode_is_selectable_and_still_refuses_delete(backend: Backend) -> None:
    store = backend.with_mode(LockMode.GOVERNANCE)
    stored = await store.put("gov.txt", chunks_of(b"g"), retain_until=in_seconds(600))

    assert stored.mode is LockMode.GOVERNANCE
    with pytest.raises(ObjectLocked):
        await store.delete_version(stored.key, stored.version_id)
    if backend.kind == "s3":
        assert raw_head(backend, stored)["ObjectLockMode"] == "GOVERNANCE"


# -- integrity -------------------------------------------------------------------------------


async def test_verify_confirms_intact_bytes(backend: Backend) -> None:
    stored = await backend.store.put("v.txt", chunks_of(b"intact"), retain_until=in_seconds(600))
    assert await backend.store.verify(stored.key, stored.version_id) is True


async def test_vault_reports_corrupted_bytes(tmp_path: Any) -> None:
    vault = FileVault(tmp_path / "vault")
    stored = await vault.put("c.txt", chunks_of(b"original bytes"), retain_until=in_seconds(600))
    blob = tmp_path / "vault" / "objects" / stored.sha256[:2] / stored.sha256
    assert blob.stat().st_mode & 0o777 == 0o444

    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[3] ^= 0x01
    blob.write_bytes(bytes(data))

    assert await vault.verify(stored.key, stored.version_id) is False
    with pytest.raises(IntegrityMismatch) as caught:
        await read_all(vault, stored.key, stored.version_id)
    assert caught.value.expected == stored.sha256
    assert caught.value.actual == hashlib.sha256(bytes(data)).hexdigest()


async def test_vault_same_bytes_same_key_never_weakens_the_lock(tmp_path: Any) -> None:
    vault = FileVault(tmp_path / "vault")
    first = await vault.put("k", chunks_of(b"same"), retain_until=in_seconds(7200), legal_hold=True)
    again = await vault.put("k", chunks_of(b"same"), retain_until=in_seconds(600))
    assert again.version_id == first.version_id
    assert (again.retain_until, again.legal_hold) == (first.retain_until, True)


# -- S3 specifics ----------------------------------------------------------------------------


@pytest.fixture
def s3_backend(moto_endpoint: str, lock_bucket: str, s3_client: Any) -> Backend:
    settings = s3_settings(moto_endpoint, lock_bucket)
    return Backend("s3", build_store(settings), settings, s3=s3_client, bucket=lock_bucket)


async def test_s3_object_carries_compliance_lock_headers(s3_backend: Backend) -> None:
    stored = await s3_backend.store.put(
        "evidence/e.json",
        chunks_of(b'{"ok": true}'),
        retain_until=in_seconds(3600),
        content_type="application/json",
    )

    raw = raw_head(s3_backend, stored)
    headers = raw["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert headers["x-amz-object-lock-legal-hold"] == "OFF"
    retain = datetime.fromisoformat(headers["x-amz-object-lock-retain-until-date"])
    assert retain == stored.retain_until
    assert raw["ObjectLockRetainUntilDate"] == stored.retain_until
    assert raw["Metadata"]["sha256"] == stored.sha256
    assert raw["ContentType"] == "application/json"
    assert raw["VersionId"] == stored.version_id


async def test_s3_check_accepts_a_bucket_with_object_lock(s3_backend: Backend) -> None:
    await s3_backend.store.check()


async def test_vault_check_creates_and_accepts_its_root(tmp_path: Any) -> None:
    vault = FileVault(tmp_path / "new" / "vault")
    await vault.check()
    assert (tmp_path / "new" / "vault" / "objects").is_dir()


async def test_s3_check_refuses_a_bucket_without_object_lock(
    moto_endpoint: str, plain_bucket: str, s3_client: Any
) -> None:
    store = build_store(s3_settings(moto_endpoint, plain_bucket))
    with pytest.raises(StorageMisconfigured, match="no Object Lock"):
        await store.check()

    # Versioning alone is not enough.
    s3_client.put_bucket_versioning(
        Bucket=plain_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    with pytest.raises(StorageMisconfigured, match="no Object Lock"):
        await store.check()


async def test_s3_check_refuses_a_missing_bucket(moto_endpoint: str) -> None:
    store = build_store(s3_settings(moto_endpoint, "govsvc-no-such-bucket"))
    with pytest.raises(StorageMisconfigured, match="does not exist"):
        await store.check()


async def test_s3_lock_dropped_by_the_store_is_detected(
    s3_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto drops the lock of multipart uploads; with our repair calls ignored as well, the
    read-back must refuse the write."""
    store = s3_backend.store
    assert isinstance(store, S3ObjectLockStore)
    original = store._call

    async def ignoring_lock_changes(operation: str, **kwargs: Any) -> dict[str, Any]:
        if operation in {"put_object_retention", "put_object_legal_hold"}:
            return {}
        return await original(operation, **kwargs)

    monkeypatch.setattr(store, "_call", ignoring_lock_changes)

    with pytest.raises(LockNotApplied) as caught:
        await store.put("big.bin", pseudo_random(LARGE, seed=3), retain_until=in_seconds(600))
    assert "COMPLIANCE" in caught.value.asked
    assert caught.value.found.startswith("no retention")


# -- input and configuration -----------------------------------------------------------------


async def test_bad_input_is_refused_and_stores_nothing(backend: Backend) -> None:
    store = backend.store
    with pytest.raises(InvalidArgument, match="timezone-aware"):
        await store.put("k", chunks_of(b"x"), retain_until=datetime(2100, 1, 1))  # noqa: DTZ001
    with pytest.raises(InvalidArgument, match="future"):
        await store.put("k", chunks_of(b"x"), retain_until=in_seconds(-10))
    with pytest.raises(InvalidArgument, match="64 hex"):
        await store.put("k", chunks_of(b"x"), retain_until=in_seconds(60), expected_sha256="abc")
    with pytest.raises(InvalidArgument, match="key"):
        await store.put("", chunks_of(b"x"), retain_until=in_seconds(60))
    with pytest.raises(InvalidArgument, match="content type"):
        await store.put("k", chunks_of(b"x"), retain_until=in_seconds(60), content_type="a\r\nb")
    assert not backend.stored_anything()


def test_build_store_selects_the_backend(tmp_path: Any) -> None:
    default = Settings(env=Environment.DEV)
    assert default.storage_url.startswith("file:///")
    assert default.storage_url.endswith("/var/vault")
    assert build_store(Settings(storage_url=(tmp_path / "v").as_uri())).kind == "file"
    s3 = build_store(Settings(storage_url="s3://evidence-bucket", s3_region="eu-west-1"))
    assert s3.kind == "s3"
    assert isinstance(s3, S3ObjectLockStore)
    assert s3.bucket == "evidence-bucket"


@pytest.mark.parametrize(
    "overrides",
    [
        {"storage_url": "file://relative/path"},
        {"storage_url": "ftp://host/x"},
        {"storage_url": "s3://Bad_Bucket"},
        {"storage_url": "s3://bucket-name/with/prefix"},
        {"storage_url": "s3://bucket-name", "s3_endpoint_url": "minio:9000"},
        {"storage_url": "s3://bucket-name", "s3_access_key_id": "only-the-id"},
        {"storage_url": "s3://bucket-name", "s3_secret_access_key": SecretStr("only-secret")},
        {"storage_lock_mode": "LEGAL"},
    ],
)
def test_bad_storage_settings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(env=Environment.DEV, **overrides)


def test_file_vault_warns_that_it_is_not_worm(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="govsvc.storage"):
        FileVault(tmp_path / "v")
    assert "NOT WORM" in caplog.text
    assert os.fspath(tmp_path / "v") in caplog.text
