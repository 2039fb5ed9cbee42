"""Checkpoints: the audit chain's head written to WORM storage, so that even someone who can
rewrite the whole database (and recompute every hash) is caught by `govsvc audit verify`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import leader
from govsvc.audit.chain import canonical_json, format_time
from govsvc.audit.models import AuditCheckpoint, AuditEvent
from govsvc.db import utcnow
from govsvc.storage import StorageError

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

PREFIX = "audit-checkpoints/"
JOB = "audit checkpoint"


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def write_checkpoint(runtime: Runtime) -> AuditCheckpoint | None:
    """Write the current head (seq, hash) to WORM storage, unless it is already there (the
    chain has not moved: that checkpoint is returned); None while the chain is empty."""
    async with leader.lead(runtime.db, JOB, wait=True):
        return await _write_checkpoint(runtime)


async def _write_checkpoint(runtime: Runtime) -> AuditCheckpoint | None:
    async with runtime.db.read() as session:
        head = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
            )
        ).first()
        if head is None:
            return None
        seq, digest = head
        written = (
            await session.execute(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.seq == seq, AuditCheckpoint.hash == digest)
                .limit(1)
            )
        ).scalar_one_or_none()
    if written is not None:
        return written
    at = utcnow()
    body = canonical_json(
        {"format": "govsvc.audit-checkpoint/1", "seq": seq, "hash": digest, "at": format_time(at)}
    ).encode()
    key = f"{PREFIX}{seq:016d}-{digest[:16]}.json"
    retain = timedelta(days=runtime.settings.audit_checkpoint_retention_days)
    stored = await runtime.store.put(
        key, _one(body), retain_until=at + retain, content_type="application/json"
    )
    async with runtime.db.write() as session:
        checkpoint = AuditCheckpoint(
            seq=seq, hash=digest, at=at, storage_key=key, storage_version=stored.version_id
        )
        session.add(checkpoint)
    return checkpoint


async def verify_checkpoints(runtime: Runtime, session: AsyncSession) -> list[str]:
    """Problems found comparing the database chain with every checkpoint kept in WORM.

    The checkpoints are listed from the store itself: deleting their rows hides nothing."""
    problems: list[str] = []
    stored = await runtime.store.versions(PREFIX)
    recorded: set[tuple[str, str]] = set(
        (
            await session.execute(
                select(AuditCheckpoint.storage_key, AuditCheckpoint.storage_version)
            )
        ).all()
    )
    for key, _version in sorted(recorded - set(stored)):
        problems.append(f"checkpoint {key} is recorded but missing from WORM storage")
    for key, version in stored:
        try:
            data = b"".join([c async for c in runtime.store.get(key, version)])
            kept = json.loads(data)
            seq, digest, at = int(kept["seq"]), str(kept["hash"]), kept["at"]
        except (StorageError, ValueError, KeyError) as error:
            problems.append(f"checkpoint {key} unreadable: {error}")
            continue
        event_hash = (
            await session.execute(select(AuditEvent.hash).where(AuditEvent.seq == seq))
        ).scalar_one_or_none()
        if event_hash != digest:
            problems.append(
                f"event {seq} does not match the checkpoint written to WORM at {at} "
                "(the chain was rewritten or truncated)"
            )
    return problems
