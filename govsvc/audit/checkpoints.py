"""Checkpoints: the audit chain's head written to WORM storage, so that even someone who can
rewrite the whole database (and recompute every hash) is caught by `govsvc audit verify`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.chain import canonical_json, format_time
from govsvc.audit.models import AuditCheckpoint, AuditEvent
from govsvc.db import utcnow
from govsvc.runtime import Runtime
from govsvc.storage import StorageError

PREFIX = "audit-checkpoints/"


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def write_checkpoint(runtime: Runtime) -> AuditCheckpoint | None:
    """Write the current head (seq, hash) to WORM storage; None while the chain is empty."""
    async with runtime.db.read() as session:
        head = (
            await session.execute(
                select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
            )
        ).first()
    if head is None:
        return None
    seq, digest = head
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
    """Problems found comparing the database chain with every checkpoint kept in WORM."""
    problems: list[str] = []
    rows = await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
    for checkpoint in rows.scalars():
        try:
            data = b"".join(
                [
                    c
                    async for c in runtime.store.get(
                        checkpoint.storage_key, checkpoint.storage_version
                    )
                ]
            )
            kept = json.loads(data)
        except (StorageError, ValueError) as error:
            problems.append(f"checkpoint {checkpoint.storage_key} unreadable: {error}")
            continue
        if (kept["seq"], kept["hash"]) != (checkpoint.seq, checkpoint.hash):
            problems.append(f"checkpoint row for seq {checkpoint.seq} differs from WORM copy")
        event_hash = (
            await session.execute(select(AuditEvent.hash).where(AuditEvent.seq == kept["seq"]))
        ).scalar_one_or_none()
        if event_hash != kept["hash"]:
            problems.append(
                f"event {kept['seq']} does not match the checkpoint written to WORM "
                f"at {kept['at']} (the chain was rewritten or truncated)"
            )
    return problems
