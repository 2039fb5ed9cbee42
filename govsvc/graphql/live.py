"""Live updates for internal portals: a GraphQL subscription (graphql-transport-ws) on an
incident's status, timeline and published updates. It polls the database, so any number of
stateless instances serve it correctly.

Before each poll the subscription checks its credential again (revoked or expired tokens,
deactivated people) and its right to read the incident (removed grants); when either is gone
it closes the socket with 4403, as graphql-transport-ws closes a socket it refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry

from govsvc.caller import Caller
from govsvc.comms import events
from govsvc.errors import NotFound, Unauthenticated
from govsvc.graphql.comms import StatusUpdate
from govsvc.graphql.context import Info
from govsvc.graphql.incident_types import IncidentStatus, TimelineEntry
from govsvc.graphql.relay import decode_id
from govsvc.graphql.resolvers import read
from govsvc.incidents.models import IncidentStatus as IncidentStatusEnum
from govsvc.usecase import reading

FORBIDDEN = 4403
# How long a closed socket's subscription waits for the connection to wind it down.
_CLOSE_GRACE_SECONDS = 30.0


@strawberry.type(description="Something that happened on an incident.")
class IncidentEvent:
    kind: str = strawberry.field(description="timeline, status_update or status")
    status: IncidentStatus
    timeline_entry: TimelineEntry | None = None
    status_update: StatusUpdate | None = None


async def _still_allowed(info: Info) -> Caller | None:
    """The caller as their credential stands now, or None when it no longer stands."""
    context = info.context
    if context.reauthenticate is None:  # not a socket: nothing outlives its request
        return context.caller
    try:
        return await context.reauthenticate(context.credential)
    except Unauthenticated:
        return None


async def _close_forbidden(info: Info) -> None:
    socket = info.context.socket
    if socket is not None:
        await socket.close(code=FORBIDDEN, reason="Forbidden")
        # The connection cancels this subscription as it shuts down; wait for that rather
        # than ending the operation on a socket that is already closed.
        await asyncio.sleep(_CLOSE_GRACE_SECONDS)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="An incident's new timeline entries, published updates you may read, and "
        "status changes, as they happen. Closed with 4403 once your credential or your right "
        "to read the incident is gone."
    )
    async def incident_events(
        self, info: Info, incident_id: strawberry.ID
    ) -> AsyncGenerator[IncidentEvent, None]:
        runtime = info.context.runtime
        cursor = await read(
            info,
            lambda uc: events.start(uc, decode_id(incident_id, "Incident", field="incidentId")),
        )
        while True:
            await asyncio.sleep(runtime.settings.live_poll_seconds)
            current_caller = await _still_allowed(info)
            try:
                if current_caller is None:
                    raise NotFound("credential no longer valid")
                async with reading(runtime, current_caller) as uc:
                    news = await events.poll(uc, cursor)
            except NotFound:
                await _close_forbidden(info)
                return
            current = IncidentStatusEnum(news.incident.status)
            for entry in news.entries:
                cursor.last_entry = entry.id
                yield IncidentEvent(
                    kind="timeline", status=current, timeline_entry=TimelineEntry.from_model(entry)
                )
            for update in news.published:
                cursor.last_update = update.id
                yield IncidentEvent(
                    kind="status_update",
                    status=current,
                    status_update=StatusUpdate.from_model(update),
                )
            if news.incident.status != cursor.status:
                cursor.status = news.incident.status
                yield IncidentEvent(kind="status", status=current)
