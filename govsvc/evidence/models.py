from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class EvidenceKind(StrEnum):
    LOG_EXPORT = "log_export"
    CHAT_TRANSCRIPT = "chat_transcript"
    SCREENSHOT = "screenshot"
    TIMELINE_EXPORT = "timeline_export"
    TEST_RUN = "test_run"
    TICKET = "ticket"
    CONFIGURATION_SNAPSHOT = "configuration_snapshot"
    DOCUMENT = "document"
    SYSTEM_GENERATED = "system_generated"


class EvidenceState(StrEnum):
    ACTIVE = "active"
    SHREDDED = "shredded"  # key destroyed: the locked bytes are unreadable for ever
    DISPOSED = "disposed"  # retention over, bytes deleted; the row and its record remain


class HoldScope(StrEnum):
    INCIDENT = "incident"
    BUSINESS_UNIT = "business_unit"
    MATTER = "matter"  # items named one by one


class EvidenceItem(Base):
    """Never updated in place except for its lifecycle (hold, shred, dispose); a new version
    is a new item pointing at the previous one."""

    __tablename__ = "evidence_item"
    __table_args__ = (
        Index("ix_evidence_item_unit_sensitivity", "business_unit_id", "sensitivity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the evidence itself
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(200))
    storage_kind: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str] = mapped_column(String(300))
    storage_version: Mapped[str] = mapped_column(String(200))
    stored_sha256: Mapped[str] = mapped_column(String(64))  # of the stored bytes (ciphertext)
    encrypted: Mapped[bool] = mapped_column(default=False)
    # The item's data key, wrapped by the master key; NULL once shredded.
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"))
    sensitivity: Mapped[str] = mapped_column(String(16))
    source_system: Mapped[str] = mapped_column(String(200), default="")
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    collected_by: Mapped[str] = mapped_column(String(320))
    frameworks: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    retention_rule: Mapped[str] = mapped_column(String(100))
    retention_reason: Mapped[str] = mapped_column(Text)
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    legal_hold: Mapped[bool] = mapped_column(default=False)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=EvidenceState.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidenceLink(Base):
    """Evidence attached to something it supports: an incident now; reviews, actions and
    control objectives later."""

    __tablename__ = "evidence_link"
    __table_args__ = (
        UniqueConstraint("evidence_id", "target_type", "target_id"),
        Index("ix_evidence_link_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column()
    linked_by: Mapped[str] = mapped_column(String(320))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntegrityFailure(Base):
    """A download whose bytes did not match the recorded hash: kept, never served."""

    __tablename__ = "integrity_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    expected_sha256: Mapped[str] = mapped_column(String(64))
    actual_sha256: Mapped[str] = mapped_column(String(64))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detected_by: Mapped[str] = mapped_column(String(320))


class LegalHold(Base):
    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    matter: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int | None] = mapped_column()  # incident or unit id; NULL for a matter
    placed_by: Mapped[str] = mapped_column(String(320))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_by: Mapped[str | None] = mapped_column(String(320))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)


class LegalHoldItem(Base):
    """Evidence named one by one under a matter-scoped hold."""

    __tablename__ = "legal_hold_item"
    __table_args__ = (UniqueConstraint("hold_id", "evidence_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("legal_hold.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)


class DispositionRun(Base):
    __tablename__ = "disposition_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_by: Mapped[str] = mapped_column(String(320))
    disposed: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)


class DispositionRecord(Base):
    """What left, when, under which rule, by which run. Kept for ever."""

    __tablename__ = "disposition_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("disposition_run.id"), index=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    retention_rule: Mapped[str] = mapped_column(String(100))
    retain_until: Mapped[datetime] = mapped_column(UTCDateTime)
    disposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StorageIntent(Base):
    """Written before bytes go to WORM storage, so every stored object has a reason on record,
    even one whose upload failed half way (locked objects cannot be taken back)."""

    __tablename__ = "storage_intent"

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(300), unique=True)
    purpose: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure: Mapped[str | None] = mapped_column(Text)
