"""Where a timeline entry came from when it was typed in chat (govsvc.chat)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Self

import strawberry

from govsvc.chat import models
from govsvc.graphql.context import Info
from govsvc.graphql.org import Person
from govsvc.org import service as org_service


@strawberry.enum(description="Which chat a message came from.")
class ChatSource(Enum):
    SLACK = "slack"
    TEAMS = "teams"


@strawberry.enum(description="A command that ran, or a later edit or deletion of one in chat.")
class ChatMessageKind(Enum):
    COMMAND = "command"
    EDIT = "edit"
    DELETE = "delete"


@strawberry.type(description="A chat message on the record, as it arrived; never rewritten.")
class ChatMessage:
    source: ChatSource
    channel: str = strawberry.field(description="Slack channel id, or Teams channel id.")
    message_id: str = strawberry.field(
        description="Slack: the message ts, or a slash command's trigger id; Teams: activity id."
    )
    event_id: str | None = strawberry.field(description="Slack Events API event id.")
    kind: ChatMessageKind
    author_handle: str = strawberry.field(description="How the chat named the author.")
    text: str
    received_at: datetime
    person_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, m: models.ChatMessage) -> Self:
        return cls(
            source=ChatSource(m.source),
            channel=m.channel,
            message_id=m.message_id,
            event_id=m.event_id,
            kind=ChatMessageKind(m.kind),
            author_handle=m.author_handle,
            text=m.text,
            received_at=m.received_at,
            person_pk=m.principal_id,
        )

    @strawberry.field(description="The person the chat handle maps to (who the command ran as).")
    async def person(self, info: Info) -> Person | None:
        found = await info.context.loader(org_service.principals_by_id).load(self.person_pk)
        return Person.from_model(found) if found else None
