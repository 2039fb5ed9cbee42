"""What service functions call: record one audited change on behalf of a caller."""

from __future__ import annotations

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
