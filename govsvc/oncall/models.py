"""What on-call keeps: schedules (their layers as one versioned document), overrides, calendar
feeds (tokens stored hashed), escalation policies, which service points at which policy, the
escalations under way and every page they sent or skipped."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class Schedule(Base):
    __tablename__ = "oncall_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # JSON list of layers, top (winning) layer first: see govsvc.oncall.rotation.Layer.
    layers: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleMember(Base):
    """Who appears in a schedule's layers (kept with each version): finds a person's schedules
    without reading every schedule's layers."""

    __tablename__ = "oncall_schedule_member"
    __table_args__ = (UniqueConstraint("schedule_id", "principal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedule.id"))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"), index=True)


class ScheduleOverride(Base):
    """Someone takes a stretch of a schedule, whatever its layers say."""

    __tablename__ = "oncall_override"
    __table_args__ = (Index("ix_oncall_override_schedule_end", "schedule_id", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("oncall_schedule.id"))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(320))


class OnCallFeed(Base):
    """A calendar subscription URL: the token in it is stored only as a keyed hash."""

    __tablename__ = "oncall_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    # Exactly one of the two: a schedule's feed or a person's (all their schedules).
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("oncall_schedule.id"), index=True)
    principal_id: Mapped[int | None] = mapped_column(ForeignKey("principal.id"), index=True)
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_unit.id"))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(320))


class EscalationPolicy(Base):
    __tablename__ = "escalation_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # JSON list of levels: {"timeout_seconds": n, "targets": [{"kind": k, "id": n}]}.
    levels: Mapped[str] = mapped_column(Text)
    # How many more times the whole ladder runs after its last level times out.
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceEscalation(Base):
    """The escalation policy a service's incidents page through."""

    __tablename__ = "service_escalation"

    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policy.id"), index=True)
    set_by: Mapped[str] = mapped_column(String(320))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EscalationState(StrEnum):
    ACTIVE = "active"  # waiting for an acknowledgement; next_at is when the next level fires
    ACKNOWLEDGED = "acknowledged"
    EXHAUSTED = "exhausted"  # every level of every repeat paged, nobody acknowledged


class Escalation(Base):
    """One incident going up one policy's ladder."""

    __tablename__ = "escalation"
    __table_args__ = (
        UniqueConstraint("incident_id", "policy_id"),
        Index("ix_escalation_state_next", "state", "next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policy.id"))
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"))
    policy_version: Mapped[int] = mapped_column(Integer)
    # The ladder as it was when paging started (levels JSON, repeats): a later change of the
    # policy applies to new escalations, never to one under way.
    ladder: Mapped[str] = mapped_column(Text)
    repeats: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)  # 0-based: the level paged last
    round: Mapped[int] = mapped_column(Integer, default=0)  # 0: the first run of the ladder
    state: Mapped[str] = mapped_column(String(16))
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(320))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))


class PageState(StrEnum):
    SENT = "sent"  # queued on the channels (the deliveries say what became of it)
    SKIPPED = "skipped"  # not paged: `reason` says why (quiet hours, rest, nobody on call)


class Page(Base):
    """One person paged (or skipped) at one level of one escalation: never changed but for its
    acknowledgement."""

    __tablename__ = "oncall_page"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"))
    principal_id: Mapped[int | None] = mapped_column(ForeignKey("principal.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)  # 1-based, as people count levels
    round: Mapped[int] = mapped_column(Integer)
    # How the level reached them: "schedule:<id>", "person:<id>", "team:<id>".
    target: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # Endpoint kinds the page was queued on, comma-separated ("" when none is configured).
    channels: Mapped[str] = mapped_column(String(200), default="")
    # JSON list of outbox delivery ids: their state is the delivery result.
    delivery_ids: Mapped[str] = mapped_column(Text, default="[]")
    paged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
