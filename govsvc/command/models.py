"""Roles on incidents: one row per term; a term ends by release or hand-over, never by edit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class IncidentRoleKind(StrEnum):
    INCIDENT_COMMANDER = "incident_commander"
    DEPUTY_COMMANDER = "deputy_commander"
    COMMS_LEAD = "comms_lead"
    SCRIBE = "scribe"
    OPERATIONS_LEAD = "operations_lead"
    SUBJECT_MATTER_EXPERT = "subject_matter_expert"
    # Distributed command only: leads across the services whose owners lead their own part.
    COORDINATOR = "coordinator"

    @property
    def single_holder(self) -> bool:
        """Every role has one holder at a time, except subject-matter experts."""
        return self is not IncidentRoleKind.SUBJECT_MATTER_EXPERT

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class RoleEnd(StrEnum):
    HANDED_OVER = "handed_over"  # to the successor named on the term
    RELEASED = "released"


class IncidentRole(Base):
    """One term of a person in a role on an incident. A hand-over ends the term (who, when,
    a note) and points at the successor's term; nothing here is rewritten afterwards."""

    __tablename__ = "incident_role"
    __table_args__ = (Index("ix_incident_role_principal_ended", "principal_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principal.id"))
    assigned_by: Mapped[str] = mapped_column(String(320))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    # The decision that let this term start despite a conflict rule (null: no conflict).
    override_decision_id: Mapped[int | None] = mapped_column(ForeignKey("decision_entry.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(320))
    end_reason: Mapped[str | None] = mapped_column(String(16))
    end_note: Mapped[str | None] = mapped_column(Text)
    # On a hand-over: the person it went to, and their term.
    handed_to_id: Mapped[int | None] = mapped_column(ForeignKey("principal.id"))
    successor_id: Mapped[int | None] = mapped_column(ForeignKey("incident_role.id"))
