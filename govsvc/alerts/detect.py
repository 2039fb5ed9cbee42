"""From alerts to incidents: the detection rules decide (govsvc.alerts.detection), correlation
joins an open incident of the same service or a dependent one, otherwise a classified incident
opens and its page goes out (govsvc.alerts.notify). Runs for every payload and, for alerts still
pending (minimum duration, corroboration), on the worker's tick."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from govsvc.alerts import notify
from govsvc.alerts.detection import Decision, FiringSignal, Rule, SignalView
from govsvc.alerts.models import Alert, AlertEvent, AlertStatus, Detection
from govsvc.db import ALERT_PIPELINE_LOCK, one_writer_at_a_time, utcnow
from govsvc.incidents import service as incident_service
from govsvc.incidents.common import timeline_note
from govsvc.incidents.models import Incident, IncidentStatus
from govsvc.org import dependencies
from govsvc.org.dependencies import DependencyGraph
from govsvc.org.models import Service
from govsvc.usecase import UseCase

PENDING_JOB = "alert detection"
OPEN = [
    s.value for s in IncidentStatus if s not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
]
ACTOR = "alert detection"
DECISION_COLUMNS = (
    "detection",
    "detection_rule",
    "detection_version",
    "incident_id",
    "correlation",
)


@dataclass(frozen=True)
class ServiceInfo:
    """What detection needs of a service, read without hydrating the ORM row."""

    id: int
    code: str
    tier: int
    business_unit_id: int


def _view(alert: Alert, tier: int) -> SignalView:
    return SignalView(
        tier=tier,
        severity=alert.severity,
        perspective=alert.perspective,
        labels=json.loads(alert.labels),
        annotations=json.loads(alert.annotations),
        fired_at=alert.fired_at,
    )


async def evaluate(
    uc: UseCase,
    alerts: Sequence[Alert],
    *,
    services_by_id: Mapping[int, ServiceInfo],
    now: datetime,
) -> int:
    """Decide every firing, pending alert among `alerts`; the number of incidents opened."""
    session = uc.session
    await session.flush()
    alerts = [*alerts, *await _waiting_beside(uc, alerts)]
    candidates = [
        (a, services_by_id[a.service_id])
        for a in alerts
        if a.status == AlertStatus.FIRING.value
        and a.detection == Detection.PENDING.value
        and a.service_id is not None
        and a.service_id in services_by_id
    ]
    if not candidates:
        return 0
    policy = uc.policies.alerts.detection.current
    firing = await _firing_by_service(uc, {service.id for _, service in candidates})
    system = uc.on_behalf(ACTOR)
    correlation: _Correlation | None = None
    joined: dict[int, tuple[Incident, list[str]]] = {}
    silences: list[notify.ActiveSilence] | None = None
    opened = 0
    for alert, service in candidates:
        decision = policy.decide(_view(alert, service.tier), firing.get(service.id, []), now=now)
        alert.detection_version = decision.version
        alert.detection_rule = decision.rule_id
        # Every decided alert writes the same columns, so a flush sends them as few UPDATEs.
        for name in DECISION_COLUMNS:
            flag_modified(alert, name)
        if decision.state == "pending":
            continue
        if decision.state == "ignored" or decision.rule is None:
            alert.detection = Detection.IGNORED.value
            session.add(AlertEvent.about(alert, "ignored", decision.reason, now))
            continue
        if correlation is None:
            units = {service.business_unit_id for _, service in candidates}
            correlation = await _Correlation.load(uc, units, now=now)
        found = correlation.find(service)
        if found is not None:
            incident, distance = found
            note = _join(session, alert, incident, distance, now=now)
            joined.setdefault(incident.id, (incident, []))[1].append(note)
            continue
        incident = await _open(system, alert, service, decision, decision.rule, now=now)
        correlation.opened(incident)
        opened += 1
        if silences is None:
            silences = await notify.active_silences(uc, now)
        await notify.page(system, alert=alert, incident=incident, silences=silences, now=now)
    for incident, notes in joined.values():
        session.add(
            timeline_note(incident, system.caller, "detection", _joined(notes), occurred_at=now)
        )
    return opened


def _joined(notes: list[str]) -> str:
    """One timeline entry per incident and payload, however many alerts joined (a storm)."""
    if len(notes) == 1:
        return f"Alert {notes[0]}"[:2000]
    shown = "; ".join(notes[:10]) + (f"; and {len(notes) - 10} more" if len(notes) > 10 else "")
    return f"{len(notes)} alerts joined: {shown}"[:2000]


async def _waiting_beside(uc: UseCase, alerts: Sequence[Alert]) -> list[Alert]:
    """Alerts of the same services waiting for corroboration: a new signal may be what they
    wait for, so they are decided with it rather than at the worker's next tick. (Those
    waiting out a minimum duration are the worker's.)"""
    waiting_rules = [
        r.id for r in uc.policies.alerts.detection.current.version.rules if r.corroboration
    ]
    ids = {a.id for a in alerts}
    services = {a.service_id for a in alerts if a.service_id is not None}
    if not services or not waiting_rules:
        return []
    rows = await uc.session.execute(
        select(Alert).where(
            Alert.service_id.in_(services),
            Alert.status == AlertStatus.FIRING.value,
            Alert.detection == Detection.PENDING.value,
            Alert.detection_rule.in_(waiting_rules),
        )
    )
    return [a for a in rows.scalars() if a.id not in ids]


async def _firing_by_service(uc: UseCase, service_ids: set[int]) -> dict[int, list[FiringSignal]]:
    rows = (
        await uc.session.execute(
            select(Alert.service_id, Alert.perspective, Alert.location)
            .where(Alert.service_id.in_(service_ids), Alert.status == AlertStatus.FIRING.value)
            .distinct()
        )
    ).all()
    found: dict[int, list[FiringSignal]] = {}
    for service_id, perspective, location in rows:
        if service_id is not None:
            found.setdefault(service_id, []).append(FiringSignal(perspective, location))
    return found


class _Correlation:
    """Which open incident a service's alerts join: the same service first, then the nearest
    service it depends on or that depends on it, active within the correlation window. Only
    within the service's own business unit: dependencies may cross units, incidents never merge
    across them (each unit's record stays its own). Read once per payload (two queries)."""

    def __init__(self, graph: DependencyGraph, incidents: Sequence[Incident], max_hops: int):
        self.graph = graph
        self.incidents = list(incidents)
        self.max_hops = max_hops

    @classmethod
    async def load(cls, uc: UseCase, units: set[int], *, now: datetime) -> _Correlation:
        settings = uc.policies.alerts.detection.current.version.correlation
        since = now - timedelta(minutes=settings.window_minutes)
        recent_alert = exists().where(Alert.incident_id == Incident.id, Alert.last_seen_at >= since)
        rows = await uc.session.execute(
            select(Incident).where(
                Incident.business_unit_id.in_(units),
                Incident.status.in_(OPEN),
                or_(Incident.created_at >= since, recent_alert),
            )
        )
        graph = await dependencies.dependency_graph(uc.session)
        return cls(graph, rows.scalars().all(), settings.max_hops)

    def find(self, service: ServiceInfo) -> tuple[Incident, int] | None:
        """The incident and its service's distance from `service` (positive: upstream)."""
        distance = {service.id: 0, **self.graph.related(service.id, max_hops=self.max_hops)}
        candidates = [
            i
            for i in self.incidents
            if i.service_id in distance and i.business_unit_id == service.business_unit_id
        ]
        if not candidates:
            return None
        nearest = min(candidates, key=lambda i: (abs(distance[i.service_id]), i.id))
        return nearest, distance[nearest.service_id]

    def opened(self, incident: Incident) -> None:
        self.incidents.append(incident)


def _join(
    session: AsyncSession, alert: Alert, incident: Incident, distance: int, *, now: datetime
) -> str:
    """Link the alert to the incident; what the timeline says of it. `distance` is the
    incident's service as seen from the alert's (related_services' sign: positive upstream)."""
    relation = "same_service" if distance == 0 else "downstream" if distance > 0 else "upstream"
    alert.incident_id = incident.id
    alert.correlation = relation
    alert.detection = Detection.INCIDENT.value
    why = {
        "same_service": "same service",
        "upstream": "on a service it depends on: a probable upstream cause",
        "downstream": "on a service that depends on it",
    }[relation]
    session.add(AlertEvent.about(alert, "correlated", f"joined {incident.reference} ({why})", now))
    return f"{alert.rule_name} from {alert.source} joined ({why}): {alert.summary}"


async def _open(
    uc: UseCase,
    alert: Alert,
    service: ServiceInfo,
    decision: Decision,
    rule: Rule,
    *,
    now: datetime,
) -> Incident:
    policy = uc.policies.alerts.detection.current
    facts = policy.facts(rule, _view(alert, service.tier), now=now)
    incident = await incident_service.create_incident(
        uc,
        title=f"{alert.rule_name}: {alert.summary}"[:200],
        service_id=service.id,
        facts=incident_service.make_facts(**facts),
        summary=(
            f"Opened by detection rule {rule.id} (detection policy {decision.version})"
            f" from alert {alert.rule_name} of source {alert.source}"
            f" ({alert.perspective} perspective): {decision.reason}."
        ),
        detected_at=min(alert.fired_at, now),
        detection=(rule.id, decision.version),
    )
    alert.incident_id = incident.id
    alert.correlation = "origin"
    alert.detection = Detection.INCIDENT.value
    uc.session.add(
        AlertEvent.about(
            alert,
            "incident_opened",
            f"{incident.reference} under detection rule {rule.id} v{decision.version}",
            now,
        )
    )
    return incident


async def evaluate_pending(uc: UseCase) -> int:
    """The worker's look at alerts still pending: their minimum duration may have passed, or
    corroboration arrived. Also clears flapping alerts that have calmed down."""
    session = uc.session
    await one_writer_at_a_time(session, ALERT_PIPELINE_LOCK)  # as ingestion does
    now = utcnow()
    pending = (
        (
            await session.execute(
                select(Alert).where(
                    Alert.status == AlertStatus.FIRING.value,
                    Alert.detection == Detection.PENDING.value,
                    Alert.service_id.is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    await _calm_flapping(uc, now)
    if not pending:
        return 0
    rows = (
        await session.execute(
            select(Service.id, Service.code, Service.tier, Service.business_unit_id).where(
                Service.id.in_({a.service_id for a in pending})
            )
        )
    ).all()
    services = {r.id: ServiceInfo(r.id, r.code, r.tier, r.business_unit_id) for r in rows}
    return await evaluate(uc, pending, services_by_id=services, now=now)


async def _calm_flapping(uc: UseCase, now: datetime) -> None:
    window = uc.policies.alerts.detection.current.version.flapping.window_seconds
    since = now - timedelta(seconds=window)
    recent_change = exists().where(
        AlertEvent.alert_id == Alert.id,
        AlertEvent.kind.in_(("fired", "resolved")),
        AlertEvent.at >= since,
    )
    calm = (
        (await uc.session.execute(select(Alert).where(Alert.flapping.is_(True), ~recent_change)))
        .scalars()
        .all()
    )
    for alert in calm:
        alert.flapping = False
        uc.session.add(AlertEvent.about(alert, "stable", f"no state change for {window} s", now))
