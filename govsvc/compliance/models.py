from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class MappingState(StrEnum):
    SUGGESTED = "suggested"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class ControlMapping(Base):
    """An incident or evidence item mapped to a control objective: suggested, then decided."""

    __tablename__ = "control_mapping"
    __table_args__ = (UniqueConstraint("control_key", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    control_key: Mapped[str] = mapped_column(String(300), index=True)
    framework: Mapped[str] = mapped_column(String(300), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))
    suggested_by: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegulatoryTrigger(Base):
    """Append-only: when a moment that starts a regulator's clock happened, and who said so."""

    __tablename__ = "regulatory_trigger"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(320))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)  # the audit event recording it


class RegulatoryFact(Base):
    """A fact a regulator's clock depends on (e.g. affected_individuals, risk_to_individuals);
    append-only: the latest recorded value counts, earlier ones stay on record."""

    __tablename__ = "regulatory_fact"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)  # JSON
    recorded_by: Mapped[str] = mapped_column(String(320))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegulatoryNotification(Base):
    """A notification sent to a regulator or to data subjects; its content frozen as evidence."""

    __tablename__ = "regulatory_notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    regime: Mapped[str] = mapped_column(String(32))
    clock: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text)
    late_reason: Mapped[str | None] = mapped_column(Text)
    content_evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"))
    recorded_by: Mapped[str] = mapped_column(String(320))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)  # the audit event recording it


class AuditPackState(StrEnum):
    QUEUED = "queued"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class AuditPack(Base):
    """An audit pack: asked for, then built by the worker; its inputs, its progress, what it
    covers (for who may read it), its bytes' hash and where the bytes are kept once ready."""

    __tablename__ = "audit_pack"

    id: Mapped[int] = mapped_column(primary_key=True)
    framework: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    request: Mapped[str] = mapped_column(Text)  # canonical JSON of the inputs
    state: Mapped[str] = mapped_column(String(16), default=AuditPackState.QUEUED.value, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    error: Mapped[str | None] = mapped_column(Text)  # why it failed
    # JSON list of what the pack holds, as {"type", "unit", "sensitivity"} (audit events name
    # their unit by code); who may read the pack is decided from it. NULL until built.
    covers: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column()  # the principal it is built for
    # The worker building it: a fresh token per claim fences off a worker that lost its claim;
    # claimed_at is its heartbeat, moved on with each progress report.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str | None] = mapped_column(String(300))
    storage_version: Mapped[str | None] = mapped_column(String(200))
    excluded: Mapped[str] = mapped_column(Text, default="[]")  # JSON: what was left out and why
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
