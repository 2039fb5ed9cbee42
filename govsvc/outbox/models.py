from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class EndpointKind(StrEnum):
    STATUS_PAGE = "status_page"
    SLACK = "slack"
    TEAMS = "teams"
    GENERIC = "generic"
    # E-mail over SMTP (GOVSVC_SMTP_*): the URL is "mailto:" (the event's own `recipients`)
    # or "mailto:a@x,b@y" (those addresses as well).
    EMAIL = "email"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its first attempt or for its next retry
    DELIVERING = "delivering"  # claimed by a worker until its lease (next_attempt_at) runs out
    DELIVERED = "delivered"
    DEAD = "dead"  # permanent failure or out of attempts; only an administrator requeues it


class Endpoint(Base):
    """Where events go. The signing secret is stored sealed under the master key (a database
    dump alone cannot forge signatures) and is never returned by any read."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # For Slack and Teams the URL itself is a credential: it is never written to the audit log.
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(16))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))


class Delivery(Base):
    """One event for one endpoint; rows are kept after delivery as the record that it went out."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # A repeated idempotency key for the same endpoint is the same event: never two rows.
        UniqueConstraint("endpoint_id", "idempotency_key"),
        # What the claim query scans: due rows by state and time.
        Index("ix_webhook_delivery_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(100), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, so every retry sends the same
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    # Every attempt ever made; DeliveryAttempt.attempt numbers them.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts made before the last manual requeue: the retry budget counts from here.
    attempt_base: Mapped[int] = mapped_column(Integer, default=0)
    # When pending: due time. When delivering: the lease's end, after which another worker may
    # take it over (its first worker is presumed lost).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Fences a worker whose lease was taken over: only the current claim may record the outcome.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One try, written when it is claimed and completed when it ends: an attempt whose worker
    died stays visible, unfinished, with the reason it was taken over."""

    __tablename__ = "webhook_delivery_attempt"
    __table_args__ = (UniqueConstraint("delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
