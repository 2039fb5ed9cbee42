"""What a put killed half way leaves (a temp file in the vault's spool, an unfinished multipart
upload in S3) is found and removed by key or by age; stored versions are never touched."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta

from govsvc.storage.base import utcnow
from tests.storage.conftest import Backend


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _leave_a_dead_put(backend: Backend, key: str, *, age: timedelta) -> None:
    """What a process killed during a put of `key` leaves behind, `age` ago."""
    if backend.kind == "s3":
        backend.s3.create_multipart_upload(Bucket=backend.bucket, Key=key)
        return
    assert backend.root is not None
    tmp = backend.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    prefix = backend.store._spool_prefix(key)  # type: ignore[attr-defined]
    path = tmp / f"{prefix}-dead"
    path.write_bytes(b"x" * 1000)
    then = (utcnow() - age).timestamp()
    os.utime(path, (then, then))


def _leftovers(backend: Backend) -> int:
    if backend.kind == "s3":
        return len(backend.s3.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", []))
    assert backend.root is not None
    return len(list((backend.root / "tmp").glob("put-*")))


async def test_leftovers_of_a_dead_put_go_by_key_and_stored_versions_stay(
    backend: Backend,
) -> None:
    # given a stored object and two dead puts
    stored = await backend.store.put(
        "evidence/kept", _one(b"kept"), retain_until=utcnow() + timedelta(days=1)
    )
    _leave_a_dead_put(backend, "evidence/dead", age=timedelta(0))
    _leave_a_dead_put(backend, "evidence/other", age=timedelta(0))
    # when the leftovers of one key are discarded
    removed = await backend.store.discard_incomplete("evidence/dead")
    # then only that put's leftovers went
    assert len(removed) == 1
    assert _leftovers(backend) == 1
    assert await backend.store.versions("evidence/") == [("evidence/kept", stored.version_id)]


async def test_stale_leftovers_go_by_age(backend: Backend) -> None:
    # given a dead put from two hours ago
    _leave_a_dead_put(backend, "evidence/dead", age=timedelta(hours=2))
    if backend.kind == "file":
        # (moto reports every multipart upload as initiated on 2010-11-10: S3 cannot show this)
        # when leftovers older than three hours are discarded, then it stays
        assert await backend.store.discard_stale(utcnow() - timedelta(hours=3)) == []
        assert _leftovers(backend) == 1
    # when leftovers older than now are discarded
    removed = await backend.store.discard_stale(utcnow() + timedelta(seconds=1))
    # then it goes
    assert len(removed) == 1
    assert _leftovers(backend) == 0
