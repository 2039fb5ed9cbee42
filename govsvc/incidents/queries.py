"""Reads of incidents and what hangs off them, filtered by the caller's rights in the query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.caller import Caller
from govsvc.incidents.classification import (
    Severity,
)
from govsvc.incidents.common import (
    readable_incidents,
)
from govsvc.incidents.models import (
    ClassificationDispute,
    Incident,
    IncidentStatus,
    IncidentTag,
    TimelineEntry,
)
from govsvc.pagination import Page, fetch_page
from govsvc.usecase import UseCase


async def list_incidents(
    uc: UseCase,
    *,
    size: int,
    after_id: int | None,
    statuses: Sequence[IncidentStatus] = (),
    severities: Sequence[Severity] = (),
    service_id: int | None = None,
) -> Page[Incident]:
    """Incidents the caller may read, newest first; filtered in the query, never after."""
    query = select(Incident).where(readable_incidents(uc.caller))
    if statuses:
        query = query.where(Incident.status.in_([s.value for s in statuses]))
    if severities:
        query = query.where(Incident.severity.in_([s.value for s in severities]))
    if service_id is not None:
        query = query.where(Incident.service_id == service_id)
    return await fetch_page(uc.session, query, id_column=Incident.id, size=size, after_id=after_id)


async def incidents_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Incident]:
    rows = await session.execute(
        select(Incident).where(Incident.id.in_(set(ids)), readable_incidents(caller))
    )
    return {incident.id: incident for incident in rows.scalars()}


async def tags_by_incident(session: AsyncSession, ids: Iterable[int]) -> dict[int, list[str]]:
    """Tags of incidents the caller has already been shown (ids come from a scoped read)."""
    grouped: dict[int, list[str]] = {}
    rows = await session.execute(
        select(IncidentTag.incident_id, IncidentTag.tag)
        .where(IncidentTag.incident_id.in_(set(ids)))
        .order_by(IncidentTag.tag)
    )
    for incident_id, tag in rows:
        grouped.setdefault(incident_id, []).append(tag)
    return grouped


async def latest_timeline(
    session: AsyncSession, ids: Iterable[int], *, limit: int
) -> dict[int, list[TimelineEntry]]:
    """The newest `limit` timeline entries of each incident, in one query for all of them."""
    ranked = (
        select(
            TimelineEntry.id,
            func.row_number()
            .over(partition_by=TimelineEntry.incident_id, order_by=TimelineEntry.id.desc())
            .label("rank"),
        )
        .where(TimelineEntry.incident_id.in_(set(ids)))
        .subquery()
    )
    rows = await session.execute(
        select(TimelineEntry)
        .join(ranked, ranked.c.id == TimelineEntry.id)
        .where(ranked.c.rank <= limit)
        .order_by(TimelineEntry.id.desc())
    )
    return _group(rows.scalars(), "incident_id")


async def timeline_page(
    uc: UseCase, *, incident_id: int, size: int, after_id: int | None
) -> Page[TimelineEntry]:
    """One incident's timeline in recording order (call only for an incident already shown)."""
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    return await fetch_page(
        uc.session,
        query,
        id_column=TimelineEntry.id,
        size=size,
        after_id=after_id,
        newest_first=False,
    )


async def children_by_incident(
    session: AsyncSession, model: Any, ids: Iterable[int]
) -> dict[int, list[Any]]:
    """Every row of `model` for these incidents, oldest first (decisions, disputes, ...)."""
    rows = await session.execute(
        select(model).where(model.incident_id.in_(set(ids))).order_by(model.id)
    )
    return _group(rows.scalars(), "incident_id")


def _group(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, key), []).append(row)
    return grouped


async def timeline_entries_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, TimelineEntry]:
    rows = await session.execute(
        select(TimelineEntry)
        .join(Incident, Incident.id == TimelineEntry.incident_id)
        .where(TimelineEntry.id.in_(set(ids)), readable_incidents(caller))
    )
    return {entry.id: entry for entry in rows.scalars()}


async def disputes_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, ClassificationDispute]:
    rows = await session.execute(
        select(ClassificationDispute)
        .join(Incident, Incident.id == ClassificationDispute.incident_id)
        .where(ClassificationDispute.id.in_(set(ids)), readable_incidents(caller))
    )
    return {dispute.id: dispute for dispute in rows.scalars()}
