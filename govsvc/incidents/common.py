"""What every incident use case shares: finding an incident the caller may act on,
timeline notes, time checks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import Invalid, NotFound
from govsvc.incidents.models import (
    Incident,
    TimelineEntry,
)
from govsvc.org.models import BusinessUnit

MIN_JUSTIFICATION = 20


CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of our clock a reported time may be


def past_or_now(value: datetime | None, *, field: str) -> datetime:
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is None:
        raise Invalid("a time needs a UTC offset", field=field)
    if value > now + CLOCK_SKEW:
        raise Invalid("must not be in the future", field=field)
    return value


async def unit_code(session: AsyncSession, unit_id: int) -> str:
    return (
        await session.execute(select(BusinessUnit.code).where(BusinessUnit.id == unit_id))
    ).scalar_one()


async def unit_code_or_none(session: AsyncSession, unit_id: int | None) -> str | None:
    """The unit's code for an audit event, or None for what belongs to no unit."""
    return None if unit_id is None else await unit_code(session, unit_id)


def timeline_note(
    incident: Incident, caller: Caller, kind: str, text: str, occurred_at: datetime | None = None
) -> TimelineEntry:
    return TimelineEntry(
        incident_id=incident.id,
        kind=kind,
        text=text,
        occurred_at=occurred_at or utcnow(),
        author=caller.actor,
    )


def plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


async def incident_for(
    session: AsyncSession, caller: Caller, incident_id: int, action: str
) -> Incident:
    """The incident if the caller may see it and do `action`; locked for the rest of the
    transaction unless the action only reads (a reader must never hold a writer up)."""
    query = select(Incident).where(Incident.id == incident_id, readable_incidents(caller))
    if action != "read":
        query = query.with_for_update()
    incident = (await session.execute(query)).scalar_one_or_none()
    if incident is None:
        raise NotFound("no such incident", field="incidentId")
    caller.access.require(
        action,
        "incident",
        unit_id=incident.business_unit_id,
        sensitivity=Sensitivity(incident.sensitivity),
    )
    return incident


def readable_incidents(caller: Caller) -> Any:
    return readable(caller.access, "incident", Incident.business_unit_id, Incident.sensitivity)
