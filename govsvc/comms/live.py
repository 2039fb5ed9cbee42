"""Live updates for internal portals: a GraphQL subscription (graphql-transport-ws) on an
incident's status, timeline and published updates. It polls the database, so any number of
stateless instances serve it correctly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from sqlalchemy import func, select

from govsvc.comms import models
from govsvc.comms.schema import StatusUpdate
from govsvc.errors import ServiceError
from govsvc.graphql.context import Info
from govsvc.graphql.relay import decode_id
from govsvc.graphql.resolvers import bad_input
from govsvc.incidents.common import incident_for
from govsvc.incidents.graphql_types import IncidentStatus, TimelineEntry
from govsvc.incidents.models import IncidentStatus as IncidentStatusEnum
from govsvc.incidents.models import TimelineEntry as TimelineEntryModel


@strawberry.type(description="Something that happened on an incident.")
class IncidentEvent:
    kind: str = strawberry.field(description="timeline, status_update or status")
    status: IncidentStatus  # type: ignore[valid-type]
    timeline_entry: TimelineEntry | None = None
    status_update: StatusUpdate | None = None


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="An incident's new timeline entries, published "
        "updates and status changes, as they happen."
    )
    async def incident_events(
        self, info: Info, incident_id: strawberry.ID
    ) -> AsyncGenerator[IncidentEvent, None]:
        runtime, caller = info.context.runtime, info.context.caller
        try:
            pk = decode_id(incident_id, "Incident", field="incidentId")
            async with runtime.db.read() as session:
                incident = await incident_for(session, caller, pk, "read")
                last_entry = (
                    await session.execute(
                        select(func.max(TimelineEntryModel.id)).where(
                            TimelineEntryModel.incident_id == pk
                        )
                    )
                ).scalar() or 0
                last_update = (
                    await session.execute(
                        select(func.max(models.StatusUpdate.id)).where(
                            models.StatusUpdate.incident_id == pk
                        )
                    )
                ).scalar() or 0
        except ServiceError as error:
            raise bad_input(error) from None
        status = incident.status
        while True:
            await asyncio.sleep(runtime.settings.live_poll_seconds)
            async with runtime.db.read() as session:
                incident = await incident_for(session, caller, pk, "read")
                entries = (
                    (
                        await session.execute(
                            select(TimelineEntryModel)
                            .where(
                                TimelineEntryModel.incident_id == pk,
                                TimelineEntryModel.id > last_entry,
                            )
                            .order_by(TimelineEntryModel.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                published = (
                    (
                        await session.execute(
                            select(models.StatusUpdate)
                            .where(
                                models.StatusUpdate.incident_id == pk,
                                models.StatusUpdate.id > last_update,
                                models.StatusUpdate.state == models.UpdateState.PUBLISHED.value,
                            )
                            .order_by(models.StatusUpdate.id)
                        )
                    )
                    .scalars()
                    .all()
                )
            current = IncidentStatusEnum(incident.status)
            for entry in entries:
                last_entry = entry.id
                yield IncidentEvent(
                    kind="timeline", status=current, timeline_entry=TimelineEntry.from_model(entry)
                )
            for update in published:
                last_update = update.id
                yield IncidentEvent(
                    kind="status_update",
                    status=current,
                    status_update=StatusUpdate.from_model(update),
                )
            if incident.status != status:
                status = incident.status
                yield IncidentEvent(kind="status", status=current)
