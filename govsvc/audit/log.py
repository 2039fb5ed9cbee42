"""What service functions call: record one audited change on behalf of a caller."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit import chain
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller


async def record(
    session: AsyncSession,
    caller: Caller,
    action: str,
    *,
    resource_type: str,
    resource_id: str | int,
    unit: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    return await chain.append(
        session,
        actor=caller.actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        business_unit=unit,
        request_id=caller.request_id,
        payload=payload,
    )


@dataclass(frozen=True)
class Entry:
    """An audit event to append later in the same transaction: a batch that holds row locks
    appends its events last, so the chain's lock is held only for the appends."""

    action: str
    resource_type: str
    resource_id: str | int
    unit: str | None = None
    payload: dict[str, Any] | None = None


async def record_all(session: AsyncSession, caller: Caller, entries: Iterable[Entry]) -> None:
    for e in entries:
        await record(
            session,
            caller,
            e.action,
            resource_type=e.resource_type,
            resource_id=e.resource_id,
            unit=e.unit,
            payload=e.payload,
        )
