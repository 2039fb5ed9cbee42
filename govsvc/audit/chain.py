"""The hash chain itself: canonical encoding, append under a lock, verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.models import AuditEvent
from govsvc.db import AUDIT_CHAIN_LOCK, one_writer_at_a_time, utcnow

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Stable text for hashing: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode_extra
    )


def _encode_extra(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(f"cannot encode {type(value).__name__} in an audit payload")


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str,
    business_unit: str | None,
    request_id: str | None,
    payload: str,
    prev_hash: str,
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "at": format_time(at),
            "actor": actor,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "business_unit": business_unit,
            "request_id": request_id,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode()).hexdigest()


def hash_of(event: AuditEvent) -> str:
    return event_hash(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        business_unit=event.business_unit,
        request_id=event.request_id,
        payload=event.payload,
        prev_hash=event.prev_hash,
    )


async def _lock_chain_head(session: AsyncSession) -> None:
    # A function of its own so bench/experiments/measure_audit_lock.py can time the wait.
    await one_writer_at_a_time(session, AUDIT_CHAIN_LOCK)


async def append(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str | int,
    business_unit: str | None = None,
    request_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    Call it last, just before commit: the chain lock is held until the transaction ends.
    """
    await session.flush()
    await _lock_chain_head(session)
    head = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        )
    ).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        at=utcnow(),
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id),
        business_unit=business_unit,
        request_id=request_id,
        payload=canonical_json(payload or {}),
        prev_hash=prev_hash,
    )
    event.hash = hash_of(event)
    session.add(event)
    await session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events_checked: int
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None = None
    problem: str | None = None


async def verify(session: AsyncSession, *, batch: int = 1000) -> VerifyResult:
    """Recompute the whole chain; report the first event that does not hold."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    result = await session.stream_scalars(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    )
    async for event in result:
        problem = None
        if event.seq != expected_seq:
            problem = f"expected event {expected_seq} but found {event.seq} (events missing)"
            return VerifyResult(False, checked, expected_seq - 1, prev_hash, expected_seq, problem)
        if event.prev_hash != prev_hash:
            problem = "prev_hash does not match the hash of the event before it"
        elif hash_of(event) != event.hash:
            problem = "stored hash does not match the event's contents"
        if problem:
            return VerifyResult(False, checked, event.seq - 1, prev_hash, event.seq, problem)
        prev_hash, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head_seq = expected_seq - 1 if checked else None
    return VerifyResult(True, checked, head_seq, prev_hash if checked else None)
