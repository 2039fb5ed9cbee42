"""What the record keeps of chat: every message that entered it, and which timeline entries
it made. Append-only: an edit or a deletion in chat is a new message pointing at the one it
corrects, and its correction is a new timeline entry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class ChatSource(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"


class ChatMessageKind(StrEnum):
    COMMAND = "command"  # a command that ran
    EDIT = "edit"  # the author changed a recorded message in chat
    DELETE = "delete"  # a recorded message was deleted in chat


class ChatMessage(Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        # One chat message enters the record once, however often it is delivered.
        UniqueConstraint("source", "channel", "message_id", name="uq_chat_message_message"),
        UniqueConstraint("source", "event_id", name="uq_chat_message_event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(200))
    # Slack: the message ts (Events API) or the trigger id (slash command); Teams: activity id.
    message_id: Mapped[str] = mapped_column(String(200))
    # Slack's event_id, when it came through the Events API (a redelivery carries the same).
    event_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    author_handle: Mapped[str] = mapped_column(String(200))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    command: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("chat_message.id"), index=True)
    reply: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatTimelineEntry(Base):
    """A timeline entry made from chat, and the message it came from."""

    __tablename__ = "chat_timeline_entry"

    timeline_entry_id: Mapped[int] = mapped_column(
        ForeignKey("timeline_entry.id"), primary_key=True
    )
    chat_message_id: Mapped[int] = mapped_column(ForeignKey("chat_message.id"), index=True)
