"""Reading the audit log: by resource, actor, action and time, as far as the caller may."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.pagination import Page, fetch_page
from govsvc.usecase import UseCase


@dataclass(frozen=True)
class EventFilter:
    resource_type: str | None = None
    resource_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def readable_events(caller: Caller) -> ColumnElement[bool]:
    # Events name their unit by code; an event outside any unit is for readers everywhere.
    scope = caller.access.scope("read", "audit_event")
    if scope.everywhere is not None:
        return true()
    codes = sorted(
        caller.access.units.code_of[u] for u in scope.per_unit if u in caller.access.units.code_of
    )
    return AuditEvent.business_unit.in_(codes) if codes else false()


async def list_events(
    uc: UseCase, *, where: EventFilter, size: int, after_seq: int | None
) -> Page[AuditEvent]:
    """Audit events in chain order (oldest first) that match the filter and the caller's rights."""
    # A window that ends before it starts is empty, not an error: the filters below say so.
    query = select(AuditEvent).where(readable_events(uc.caller))
    if where.resource_type is not None:
        query = query.where(AuditEvent.resource_type == where.resource_type)
    if where.resource_id is not None:
        query = query.where(AuditEvent.resource_id == where.resource_id)
    if where.actor is not None:
        query = query.where(AuditEvent.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    if where.since is not None:
        query = query.where(AuditEvent.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.at < where.until)
    return await fetch_page(
        uc.session,
        query,
        id_column=AuditEvent.seq,
        size=size,
        after_id=after_seq,
        newest_first=False,
    )


async def events_by_seq(
    session: AsyncSession, caller: Caller, seqs: Iterable[int]
) -> dict[int, AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.seq.in_(set(seqs)), readable_events(caller))
    )
    return {event.seq: event for event in rows.scalars()}
