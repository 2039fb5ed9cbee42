"""An incident's whole record as plain data: what is frozen into evidence and handed to
auditors. Canonical JSON of this is byte-for-byte reproducible."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.chain import format_time
from govsvc.db import utcnow
from govsvc.incidents.models import (
    ClassificationDispute,
    DecisionEntry,
    Incident,
    IncidentClassification,
    IncidentStatusChange,
    IncidentTag,
    TimelineEntry,
)
from govsvc.org.models import Principal, Service


async def _rows(session: AsyncSession, model: Any, incident_id: int) -> list[Any]:
    return list(
        (
            await session.execute(
                select(model).where(model.incident_id == incident_id).order_by(model.id)
            )
        ).scalars()
    )


def _t(value: Any) -> str | None:
    return format_time(value) if value is not None else None


async def incident_record(
    session: AsyncSession, incident: Incident, *, as_of: str | None = None
) -> dict[str, Any]:
    """Everything recorded about one incident, oldest first within each part.

    `as_of` names the moment the record speaks for (default: now); fixing it makes the
    record reproducible byte for byte."""
    service = await session.get(Service, incident.service_id)
    decisions = await _rows(session, DecisionEntry, incident.id)
    deciders = dict(
        (
            await session.execute(
                select(Principal.id, Principal.email).where(
                    Principal.id.in_({d.decided_by_id for d in decisions})
                )
            )
        ).all()
    )
    return {
        "format": "govsvc.incident-record/1",
        "exported_at": as_of or format_time(utcnow()),
        "incident": {
            "reference": incident.reference,
            "title": incident.title,
            "summary": incident.summary,
            "service": service.code if service else None,
            "status": incident.status,
            "severity": incident.severity,
            "severity_overridden": incident.severity_overridden,
            "impact_kind": incident.impact_kind,
            "sensitivity": incident.sensitivity,
            "classification_policy_version": incident.classification_policy_version,
            "detected_at": _t(incident.detected_at),
            "created_by": incident.created_by,
            "tags": [t.tag for t in await _rows(session, IncidentTag, incident.id)],
        },
        "classifications": [
            {
                "kind": c.kind,
                "policy_version": c.policy_version,
                "severity": c.severity,
                "computed_severity": c.computed_severity,
                "impact_kind": c.impact_kind,
                "rule": c.rule_id,
                "reasons": json.loads(c.reasons),
                "justification": c.justification,
                "facts": json.loads(c.facts),
                "by": c.classified_by,
                "at": _t(c.classified_at),
            }
            for c in await _rows(session, IncidentClassification, incident.id)
        ],
        "status_changes": [
            {
                "from": s.from_status,
                "to": s.to_status,
                "by": s.changed_by,
                "at": _t(s.changed_at),
                "note": s.note,
            }
            for s in await _rows(session, IncidentStatusChange, incident.id)
        ],
        "timeline": [
            {
                "id": e.id,
                "kind": e.kind,
                "text": e.text,
                "occurred_at": _t(e.occurred_at),
                "recorded_at": _t(e.recorded_at),
                "author": e.author,
                "corrects": e.corrects_id,
            }
            for e in await _rows(session, TimelineEntry, incident.id)
        ],
        "decisions": [
            {
                "decision": d.decision,
                "rationale": d.rationale,
                "alternatives": json.loads(d.alternatives),
                "decided_by": deciders.get(d.decided_by_id),
                "decided_at": _t(d.decided_at),
                "recorded_by": d.recorded_by,
                "recorded_at": _t(d.recorded_at),
            }
            for d in decisions
        ],
        "disputes": [
            {
                "state": d.state,
                "position": d.position,
                "raised_by": d.raised_by,
                "raised_at": _t(d.raised_at),
                "disputed_severity": d.disputed_severity,
                "proposed_severity": d.proposed_severity,
                "response": d.response,
                "responded_by": d.responded_by,
                "resolution": d.resolution,
                "resolved_severity": d.resolved_severity,
                "resolved_by": d.resolved_by,
                "resolved_at": _t(d.resolved_at),
            }
            for d in await _rows(session, ClassificationDispute, incident.id)
        ],
    }
