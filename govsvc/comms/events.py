"""What happened on an incident since a subscriber last looked: new timeline entries, newly
published updates the subscriber may read (per audience, as policy says) and the status.

Every poll checks again that the caller may read the incident: a subscription lives longer
than the rights it started with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from govsvc.comms import audiences
from govsvc.comms.models import StatusUpdate, UpdateState
from govsvc.incidents.common import incident_for
from govsvc.incidents.models import Incident, TimelineEntry
from govsvc.usecase import UseCase


@dataclass
class Cursor:
    """How far a subscriber has been told."""

    incident_id: int
    last_entry: int
    last_update: int
    status: str


@dataclass(frozen=True)
class News:
    incident: Incident
    entries: Sequence[TimelineEntry]
    published: Sequence[StatusUpdate]


async def start(uc: UseCase, incident_id: int) -> Cursor:
    """Where a new subscription starts: now (NOT_FOUND for an incident the caller cannot read)."""
    incident = await incident_for(uc.session, uc.caller, incident_id, "read")
    last_entry = (
        await uc.session.execute(
            select(func.max(TimelineEntry.id)).where(TimelineEntry.incident_id == incident_id)
        )
    ).scalar() or 0
    last_update = (
        await uc.session.execute(
            select(func.max(StatusUpdate.id)).where(StatusUpdate.incident_id == incident_id)
        )
    ).scalar() or 0
    return Cursor(incident_id, last_entry, last_update, incident.status)


async def poll(uc: UseCase, cursor: Cursor) -> News:
    """Everything new since `cursor` the caller may read (NOT_FOUND once they may not read the
    incident any more). The caller advances the cursor as it delivers."""
    incident = await incident_for(uc.session, uc.caller, cursor.incident_id, "read")
    entries = (
        await uc.session.execute(
            select(TimelineEntry)
            .where(
                TimelineEntry.incident_id == cursor.incident_id,
                TimelineEntry.id > cursor.last_entry,
            )
            .order_by(TimelineEntry.id)
        )
    ).scalars()
    published = (
        await uc.session.execute(
            audiences.select_readable(uc.caller)
            .where(
                StatusUpdate.incident_id == cursor.incident_id,
                StatusUpdate.id > cursor.last_update,
                StatusUpdate.state == UpdateState.PUBLISHED.value,
            )
            .order_by(StatusUpdate.id)
        )
    ).scalars()
    return News(incident, list(entries), list(published))
