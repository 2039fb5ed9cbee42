"""Telling people: one page per incident that detection opens, through the outbox, unless a
silence or maintenance window covers it, the alert is flapping, or a storm is on. Every page
and every suppressed page is an alert event with its reason, so "who was told" is on record.

Storm control counts the pages of the last window (in SQL, from those events) per source, per
business unit and overall; above a limit, individual pages stop, one storm incident summarises,
and the worker ends the storm once a whole window passes without a suppressed page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from govsvc.alerts.matchers import Matcher, all_match
from govsvc.alerts.models import Alert, AlertEvent, AlertStorm, Silence
from govsvc.audit.log import record
from govsvc.db import ALERT_PIPELINE_LOCK, one_writer_at_a_time, utcnow
from govsvc.incidents import service as incident_service
from govsvc.incidents.common import timeline_note
from govsvc.incidents.models import Incident
from govsvc.oncall import escalation
from govsvc.outbox.enqueue import enqueue
from govsvc.usecase import UseCase

CHANNELS = {"slack", "teams", "generic"}
STORM_JOB = "alert storms"


@dataclass(frozen=True)
class ActiveSilence:
    id: int
    kind: str
    service_id: int | None
    matchers: tuple[Matcher, ...]

    def covers(self, alert: Alert) -> bool:
        if self.service_id is not None and self.service_id != alert.service_id:
            return False
        return all_match(self.matchers, json.loads(alert.labels))


async def active_silences(uc: UseCase, now: datetime) -> list[ActiveSilence]:
    rows = (
        await uc.session.execute(
            select(Silence).where(
                Silence.starts_at <= now, Silence.ends_at > now, Silence.cancelled_at.is_(None)
            )
        )
    ).scalars()
    return [
        ActiveSilence(
            s.id,
            s.kind,
            s.service_id,
            tuple(Matcher(m["label"], m["op"], m["value"]) for m in json.loads(s.matchers)),
        )
        for s in rows
    ]


async def page(
    uc: UseCase,
    *,
    alert: Alert,
    incident: Incident,
    silences: list[ActiveSilence],
    now: datetime,
) -> bool:
    """Page for a newly opened incident, or record why not. True when a page was queued."""
    session = uc.session
    silence = next((s for s in silences if s.covers(alert)), None)
    if silence is not None:
        session.add(
            AlertEvent.about(alert, "page_suppressed", f"{silence.kind} #{silence.id}", now)
        )
        return False
    if alert.flapping:
        session.add(AlertEvent.about(alert, "page_suppressed", "flapping", now))
        return False
    storm = await _storm_for(uc, alert, incident, now)
    if storm is not None:
        storm.suppressed += 1
        storm.last_alert_at = now
        alert.storm_id = storm.id
        session.add(AlertEvent.about(alert, "page_suppressed", f"storm #{storm.id}", now))
        return False
    await enqueue(
        session,
        event_type="alert.incident_opened",
        idempotency_key=f"alert-incident-{incident.id}",
        kinds=CHANNELS,
        payload={
            "incident_reference": incident.reference,
            "title": incident.title,
            "text": f"{alert.source}: {alert.summary}"[:2000],
            "severity": incident.severity,
            "alert_rule": alert.rule_name,
            "detection_rule": alert.detection_rule,
        },
        now=now,
    )
    session.add(
        AlertEvent.about(alert, "paged", f"{incident.reference} on slack, teams, generic", now)
    )
    await session.flush()
    # The service's escalation policy, if it has one, pages people (govsvc.oncall.escalation).
    started = await escalation.start_for_incident(uc, incident=incident, now=now)
    if started is not None:
        session.add(AlertEvent.about(alert, "escalation_started", f"escalation #{started.id}", now))
    return True


async def _storm_for(
    uc: UseCase, alert: Alert, incident: Incident, now: datetime
) -> AlertStorm | None:
    """The storm this page falls into (starting one if the page would pass a limit)."""
    session = uc.session
    policy = uc.policies.alerts.detection.current
    limits = policy.version.storm
    await session.flush()
    since = now - timedelta(seconds=limits.window_seconds)
    by_source, by_unit, overall = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((AlertEvent.source == alert.source, 1), else_=0)), 0),
                func.coalesce(
                    func.sum(
                        case((AlertEvent.business_unit_id == alert.business_unit_id, 1), else_=0)
                    ),
                    0,
                ),
                func.count(),
            ).where(AlertEvent.kind == "paged", AlertEvent.at >= since)
        )
    ).one()
    over = next(
        (
            (scope, key, count, limit)
            for scope, key, count, limit in (
                ("source", alert.source, by_source, limits.per_source),
                ("unit", str(alert.business_unit_id), by_unit, limits.per_unit),
                ("global", "*", overall, limits.overall),
            )
            if count >= limit
        ),
        None,
    )
    if over is None:
        return None
    scope, key, count, limit = over
    storm = (
        await session.execute(
            select(AlertStorm).where(
                AlertStorm.scope == scope,
                AlertStorm.scope_key == key,
                AlertStorm.ended_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if storm is not None:
        return storm
    storm = AlertStorm(
        scope=scope,
        scope_key=key,
        started_at=now,
        last_alert_at=now,
        suppressed=0,
        policy_version=policy.name,
    )
    session.add(storm)
    await session.flush()
    summary = await incident_service.create_incident(
        uc,
        title=f"Alert storm: pages paused ({scope} {alert.source if scope == 'source' else key})",
        service_id=incident.service_id,
        facts=incident_service.facts_of(incident),
        summary=(
            f"{count} pages within {limits.window_seconds} s reached the {scope} limit of {limit}"
            f" (detection policy {policy.name}). Individual pages stop until a whole window"
            " passes without one; every alert is still recorded and linked to this storm."
        ),
        detected_at=now,
    )
    storm.incident_id = summary.id
    await enqueue(
        session,
        event_type="alert.storm_started",
        idempotency_key=f"alert-storm-{storm.id}",
        kinds=CHANNELS,
        payload={
            "incident_reference": summary.reference,
            "title": summary.title,
            "text": summary.summary,
            "severity": summary.severity,
        },
        now=now,
    )
    await record(
        session,
        uc.caller,
        "alert.storm_started",
        resource_type="alert_storm",
        resource_id=storm.id,
        payload={
            "scope": scope,
            "key": key,
            "pages": count,
            "limit": limit,
            "incident": summary.id,
        },
    )
    return storm


async def end_storms(uc: UseCase) -> int:
    """Close storms that have been quiet for a whole window; note it on their incident."""
    session = uc.session
    await one_writer_at_a_time(session, ALERT_PIPELINE_LOCK)  # not while a payload counts
    now = utcnow()
    window = timedelta(seconds=uc.policies.alerts.detection.current.version.storm.window_seconds)
    storms = (
        (
            await session.execute(
                select(AlertStorm).where(
                    AlertStorm.ended_at.is_(None), AlertStorm.last_alert_at < now - window
                )
            )
        )
        .scalars()
        .all()
    )
    for storm in storms:
        storm.ended_at = now
        if storm.incident_id is not None:
            incident = await session.get(Incident, storm.incident_id)
            if incident is not None:
                session.add(
                    timeline_note(
                        incident,
                        uc.caller,
                        "detection",
                        f"Alert storm over: {storm.suppressed} pages were suppressed; pages resume",
                    )
                )
        await record(
            session,
            uc.caller,
            "alert.storm_ended",
            resource_type="alert_storm",
            resource_id=storm.id,
            payload={"suppressed": storm.suppressed},
        )
    return len(storms)
