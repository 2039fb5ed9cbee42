"""Reads of the chat record, filtered by access in SQL: a chat message is seen by whoever may
read the incident whose timeline entry it made."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.caller import Caller
from govsvc.chat.models import ChatMessage, ChatTimelineEntry
from govsvc.incidents.common import readable_incidents
from govsvc.incidents.models import Incident, TimelineEntry


async def chat_messages_by_timeline_entry(
    session: AsyncSession, caller: Caller, entry_ids: Iterable[int]
) -> dict[int, ChatMessage]:
    """The chat message each timeline entry was made from (entries made otherwise: absent)."""
    rows = await session.execute(
        select(ChatTimelineEntry.timeline_entry_id, ChatMessage)
        .join(ChatMessage, ChatMessage.id == ChatTimelineEntry.chat_message_id)
        .join(TimelineEntry, TimelineEntry.id == ChatTimelineEntry.timeline_entry_id)
        .join(Incident, Incident.id == TimelineEntry.incident_id)
        .where(ChatTimelineEntry.timeline_entry_id.in_(set(entry_ids)), readable_incidents(caller))
    )
    return {row[0]: row[1] for row in rows}
