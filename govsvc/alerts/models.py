"""What the record keeps of monitoring signals: every payload as received, each alert (one per
source and fingerprint) with its whole history, silences, storms and source heartbeats."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Perspective(StrEnum):
    """Where a signal looks from: the detection rules weigh them differently."""

    SYNTHETIC = "synthetic"  # a scripted check from outside (blackbox probe, uptime check)
    RUM = "rum"  # real-user monitoring
    AGENT = "agent"  # an infrastructure agent on the host
    AGENTLESS = "agentless"  # a probe from outside the host (SNMP, WMI, SSH, API polling)
    LOGS = "logs"  # a log-derived signal


class Detection(StrEnum):
    """What the detection rules made of an alert's current firing."""

    PENDING = "pending"  # a rule matches, but its minimum duration or corroboration is unmet
    INCIDENT = "incident"  # it opened or joined an incident
    IGNORED = "ignored"  # no rule opens an incident for it (kept, never paged)
    UNROUTED = "unrouted"  # no service: waits in the unrouted queue for an administrator
    RESOLVED = "resolved"  # it resolved before anything was opened


class AlertPayload(Base):
    """One request body exactly as a source sent it (bounded by GOVSVC_ALERT_MAX_BYTES)."""

    __tablename__ = "alert_payload"
    # A replay is the same bytes from the same sender; another sender's identical bytes are a
    # payload of their own (so no sender learns what another sent).
    __table_args__ = (UniqueConstraint("source", "sha256", "authenticated_as"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    # "token:<actor>" or "hmac:<source>": how the sender proved who it is.
    authenticated_as: Mapped[str] = mapped_column(String(400))
    alert_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Alert(Base):
    """One signal, deduplicated: a source's repeats of a fingerprint update this row."""

    __tablename__ = "alert"
    __table_args__ = (
        # Not unique: a fingerprint names one alert per sender's reach (govsvc.alerts.ingest),
        # and payloads are taken one at a time, so two rows never race for one signal.
        Index("ix_alert_source_fingerprint", "source", "fingerprint"),
        Index("ix_alert_unit_status", "business_unit_id", "status"),
        Index("ix_alert_service_status", "service_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(200))
    # Who sent it first ("token:machine:alertmanager", "hmac:uptime"): an unrouted alert is
    # updated only by the sender that created it.
    sender: Mapped[str] = mapped_column(String(400))
    rule_name: Mapped[str] = mapped_column(String(200))  # alertname, or the mapped rule
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    perspective: Mapped[str] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    labels: Mapped[str] = mapped_column(Text)  # canonical JSON object
    annotations: Mapped[str] = mapped_column(Text)  # canonical JSON object
    generator_url: Mapped[str | None] = mapped_column(String(2000))
    # NULL: unrouted (no service matched); such alerts are visible to administrators only.
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_unit.id"))
    route: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The start of the current firing (the signal's own startsAt, or when we first heard).
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=1)
    firings: Mapped[int] = mapped_column(Integer, default=1)
    flapping: Mapped[bool] = mapped_column(default=False)
    detection: Mapped[str] = mapped_column(String(16))
    detection_rule: Mapped[str | None] = mapped_column(String(100))
    detection_version: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    # How it relates to its incident's first alert: origin, same_service, upstream, downstream.
    correlation: Mapped[str | None] = mapped_column(String(16))
    storm_id: Mapped[int | None] = mapped_column(ForeignKey("alert_storm.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    ack_seconds: Mapped[int | None] = mapped_column(Integer)
    noise: Mapped[bool] = mapped_column(default=False)
    noise_reason: Mapped[str | None] = mapped_column(Text)


class AlertEvent(Base):
    """The alert's history: each firing, repeat, resolution, routing, detection decision,
    notification (sent or suppressed, and why), acknowledgement. Rows are never changed."""

    __tablename__ = "alert_event"
    __table_args__ = (Index("ix_alert_event_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("alert_payload.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str] = mapped_column(Text, default="")
    # The alert element exactly as received (for firing, repeat and resolved events).
    received: Mapped[str | None] = mapped_column(Text)
    # For notifications, the scope they count against (source, unit and global storm limits).
    source: Mapped[str | None] = mapped_column(String(100))
    business_unit_id: Mapped[int | None] = mapped_column(Integer)

    @classmethod
    def about(cls, alert: Alert, kind: str, detail: str, at: datetime) -> AlertEvent:
        """An entry in `alert`'s history, counted against its source and unit."""
        return cls(
            alert_id=alert.id,
            kind=kind,
            at=at,
            detail=detail,
            source=alert.source,
            business_unit_id=alert.business_unit_id,
        )


class Silence(Base):
    """A silence or maintenance window: matching alerts are recorded, their pages not sent."""

    __tablename__ = "alert_silence"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # silence | maintenance
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), index=True)
    # NULL for a label-only silence, which only a global grant may create or see.
    business_unit_id: Mapped[int | None] = mapped_column(ForeignKey("business_unit.id"))
    matchers: Mapped[str] = mapped_column(Text)  # JSON list of {label, op, value}
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(320))


class AlertStorm(Base):
    """Notifications above a policy rate in one scope: individual ones stop while it lasts."""

    __tablename__ = "alert_storm"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # source | unit | global
    scope_key: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_alert_at: Mapped[datetime] = mapped_column(UTCDateTime)
    suppressed: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    policy_version: Mapped[str] = mapped_column(String(32))


class SourceHeartbeat(Base):
    """When each source was last heard from, and the blind-monitoring incidents it caused."""

    __tablename__ = "alert_source_heartbeat"

    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_payload_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blind_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # JSON list of incident ids opened while the source was silent.
    blind_incidents: Mapped[str] = mapped_column(Text, default="[]")
