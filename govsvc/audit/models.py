from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """One link of the chain. Rows are never updated or deleted (triggers refuse it)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_resource", "resource_type", "resource_id"),
        Index("ix_audit_event_actor", "actor"),
        Index("ix_audit_event_at", "at"),
    )

    # Assigned by the appender under the chain lock, so there are never gaps.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    business_unit: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Canonical JSON text, kept verbatim so the hash can be recomputed byte for byte.
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """The audit chain's head as written to WORM storage at a moment."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    storage_key: Mapped[str] = mapped_column(String(300))
    storage_version: Mapped[str] = mapped_column(String(200))


class SignedTreeHead(Base):
    """A Merkle tree head over the audit chain, signed and checkpointed to WORM storage."""

    __tablename__ = "signed_tree_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(200))
    storage_key: Mapped[str] = mapped_column(String(300))
    storage_version: Mapped[str] = mapped_column(String(200))
