from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class Audience(StrEnum):
    INTERNAL = "internal"
    EXECUTIVE = "executive"
    CUSTOMER = "customer"
    PUBLIC = "public"
    REGULATOR = "regulator"


class UpdateState(StrEnum):
    DRAFT = "draft"  # written, waiting for the approvals its rules need
    PUBLISHED = "published"  # the current (or a past) truth for its audience
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class EtaConfidence(StrEnum):
    UNKNOWN = "unknown"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class StatusUpdate(Base):
    """A status update for one audience. Published text is frozen and never edited; a
    correction is a new update that supersedes it."""

    __tablename__ = "status_update"
    __table_args__ = (UniqueConstraint("incident_id", "audience", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    audience: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per incident and audience
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("status_update.id"))
    state: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))  # investigating, identified, ...
    body: Mapped[str] = mapped_column(Text)
    next_update_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eta_confidence: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(200))  # name@version it came from
    author: Mapped[str] = mapped_column(String(320))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("principal.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_item.id"))


class UpdateDecision(Base):
    """An approval or rejection of a draft by one person in one role."""

    __tablename__ = "update_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("status_update.id"), index=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"))
    actor: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(64))
    approve: Mapped[bool] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Base):
    """A message template (sandboxed Jinja2) per audience and severity; versions are rows."""

    __tablename__ = "message_template"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(16))
    severities: Mapped[str] = mapped_column(Text)  # JSON list; empty = any
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[str] = mapped_column(Text)  # JSON list of required variables
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostMortemState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"


SECTIONS = (
    "summary",
    "customer_impact",
    "timeline",
    "root_cause",
    "contributing_factors",
    "action_items",
    "lessons",
)


class PostMortem(Base):
    """The internal post-mortem of an incident. Restricted ones are read only as the access
    rules say, and every read of one is audited."""

    __tablename__ = "post_mortem"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), unique=True)
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"))
    sensitivity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    sections: Mapped[str] = mapped_column(Text)  # JSON {section: text}
    authors: Mapped[str] = mapped_column(Text)  # JSON list of e-mails
    reviewers: Mapped[str] = mapped_column(Text)  # JSON list of e-mails
    revision: Mapped[int] = mapped_column(Integer, default=1)
    customers: Mapped[str] = mapped_column(Text, default="[]")  # names that must never leak
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(320))


class PublicPostMortem(Base):
    """A published, redacted version: frozen, with the hash of the revision it came from."""

    __tablename__ = "public_post_mortem"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_mortem_id: Mapped[int] = mapped_column(ForeignKey("post_mortem.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source_revision: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str] = mapped_column(String(64))
    decisions: Mapped[str] = mapped_column(Text)  # JSON: the reviewed spans
    reviewed_by: Mapped[str] = mapped_column(String(320))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"))
