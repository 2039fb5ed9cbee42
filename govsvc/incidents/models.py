from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class IncidentStatus(StrEnum):
    DETECTED = "detected"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ClassificationKind(StrEnum):
    COMPUTED = "computed"  # the policy decided
    OVERRIDE = "override"  # a person decided, with a justification
    DISPUTE_RESOLUTION = "dispute_resolution"  # a dispute was settled with a new severity


class DisputeState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    RESOLVED = "resolved"


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_unit_sensitivity", "business_unit_id", "sensitivity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), index=True)
    # The owning unit when the incident was opened; moving the service later does not rewrite it.
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"))
    sensitivity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    severity: Mapped[str] = mapped_column(String(8), index=True)
    impact_kind: Mapped[str] = mapped_column(String(16))
    classification_policy_version: Mapped[str] = mapped_column(String(32))
    severity_overridden: Mapped[bool] = mapped_column(default=False)
    # The detection rule (and version of policies/detection.yaml) that opened it from an alert;
    # NULL for an incident opened by a person.
    detection_rule: Mapped[str | None] = mapped_column(String(100))
    detection_version: Mapped[str | None] = mapped_column(String(32))
    # The impact facts the current classification was computed from.
    customers_affected: Mapped[int] = mapped_column(Integer, default=0)
    data_exposure: Mapped[str] = mapped_column(String(16), default="none")
    regulatory_exposure: Mapped[bool] = mapped_column(default=False)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    unavailable: Mapped[bool] = mapped_column(default=False)
    availability_pct: Mapped[float | None]
    latency_p99_ms: Mapped[int | None] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def reference(self) -> str:
        return f"INC-{self.id}"


class IncidentClassification(Base):
    """Every classification an incident ever had, newest last; the incident shows the latest."""

    __tablename__ = "incident_classification"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    policy_version: Mapped[str] = mapped_column(String(32))
    facts: Mapped[str] = mapped_column(Text)  # canonical JSON of the impact facts and SLA used
    computed_severity: Mapped[str] = mapped_column(String(8))
    severity: Mapped[str] = mapped_column(String(8))
    impact_kind: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[str | None] = mapped_column(String(100))
    reasons: Mapped[str] = mapped_column(Text)  # JSON list
    justification: Mapped[str | None] = mapped_column(Text)
    classified_by: Mapped[str] = mapped_column(String(320))
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentStatusChange(Base):
    __tablename__ = "incident_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)  # the audit event recording it


class IncidentTag(Base):
    __tablename__ = "incident_tag"
    __table_args__ = (UniqueConstraint("incident_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    added_by: Mapped[str] = mapped_column(String(320))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimelineEntry(Base):
    """Append-only. A correction is a new entry pointing at the one it corrects."""

    __tablename__ = "timeline_entry"
    __table_args__ = (Index("ix_timeline_entry_incident_id_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    kind: Mapped[str] = mapped_column(String(32))  # note, status, classification, dispute, decision
    text: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(320))
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entry.id"))


class DecisionEntry(Base):
    """Append-only decision log: what was decided, why, what else was considered, by whom."""

    __tablename__ = "decision_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    decision: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    alternatives: Mapped[str] = mapped_column(Text)  # JSON list of strings
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("principal.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(320))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClassificationDispute(Base):
    """One team disputes a classification, another answers, someone with authority resolves."""

    __tablename__ = "classification_dispute"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    raised_by_team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    raised_by: Mapped[str] = mapped_column(String(320))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    position: Mapped[str] = mapped_column(Text)
    proposed_severity: Mapped[str | None] = mapped_column(String(8))
    proposed_impact_kind: Mapped[str | None] = mapped_column(String(16))
    disputed_severity: Mapped[str] = mapped_column(String(8))
    response_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    response: Mapped[str | None] = mapped_column(Text)
    responded_by: Mapped[str | None] = mapped_column(String(320))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_severity: Mapped[str | None] = mapped_column(String(8))
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
