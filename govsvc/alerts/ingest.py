"""Taking in one payload: store it as received, deduplicate its alerts, route them, then let
detection decide (govsvc.alerts.detect). One transaction: the payload, every alert change, the
incidents opened and the notifications queued commit together or not at all."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm.attributes import flag_modified

from govsvc.alerts import detect, heartbeat
from govsvc.alerts.detect import ServiceInfo
from govsvc.alerts.models import (
    Alert,
    AlertEvent,
    AlertPayload,
    AlertStatus,
    Detection,
)
from govsvc.alerts.signals import Signal
from govsvc.alerts.sources import AlertSource
from govsvc.audit.chain import canonical_json
from govsvc.audit.log import record
from govsvc.db import ALERT_PIPELINE_LOCK, one_writer_at_a_time, utcnow
from govsvc.org.models import Service
from govsvc.usecase import UseCase

FLAP_KINDS = ("fired", "resolved")
REPEAT_COLUMNS = ("summary", "severity", "labels", "annotations")


@dataclass
class IngestResult:
    payload_id: int
    replayed: bool
    alert_ids: list[int] = field(default_factory=list)
    new: int = 0
    repeats: int = 0
    resolved: int = 0
    unrouted: int = 0
    incidents_opened: int = 0


async def ingest(
    uc: UseCase,
    *,
    source: AlertSource,
    body: bytes,
    content_type: str,
    authenticated_as: str,
    signals: list[Signal],
) -> IngestResult:
    """Record one accepted payload and everything it means; a byte-identical replay changes
    nothing but the source's liveness."""
    session = uc.session
    # One payload at a time (Alertmanager in HA sends each notification from every replica):
    # dedup, storm counts and incident opening read what the previous payload wrote.
    await one_writer_at_a_time(session, ALERT_PIPELINE_LOCK)
    now = utcnow()
    digest = hashlib.sha256(body).hexdigest()
    beats = heartbeat.beats(source, signals)
    existing_payload = (
        await session.execute(
            select(AlertPayload.id).where(
                AlertPayload.source == source.name,
                AlertPayload.sha256 == digest,
                AlertPayload.authenticated_as == authenticated_as[:400],
            )
        )
    ).scalar_one_or_none()
    await heartbeat.heard(uc, source, beat=beats, now=now)
    if existing_payload is not None:
        return IngestResult(payload_id=existing_payload, replayed=True)

    alert_signals = [s for s in signals if not heartbeat.is_heartbeat(source, s)]
    payload = AlertPayload(
        source=source.name,
        sha256=digest,
        body=body.decode("utf-8"),
        content_type=content_type[:200],
        size=len(body),
        authenticated_as=authenticated_as[:400],
        alert_count=len(signals),
        received_at=now,
    )
    session.add(payload)
    await session.flush()
    result = IngestResult(payload_id=payload.id, replayed=False)

    services = await _routable_services(uc)
    known = await _known_alerts(uc, source, alert_signals, services, authenticated_as)
    happened: list[tuple[Alert, str, Signal]] = []
    changed: list[Alert] = []
    for signal in alert_signals:
        alert = known.get(signal.fingerprint)
        if alert is None:
            alert = known[signal.fingerprint] = _new_alert(source, signal, now, authenticated_as)
            _route(uc, alert, signal, services)
            session.add(alert)
            result.new += 1
            happened.append((alert, "fired" if alert.status == "firing" else "resolved", signal))
            result.resolved += alert.status == AlertStatus.RESOLVED.value
            continue
        kind = _update(alert, signal, now)
        if alert.service_id is None:
            _route(uc, alert, signal, services)
        if kind is None:
            result.repeats += 1
            continue
        happened.append((alert, kind, signal))
        changed.append(alert)
        result.resolved += kind == "resolved"
    await session.flush()  # one round trip gives every new alert its id
    events = [_event(alert, payload, kind, now, signal) for alert, kind, signal in happened]
    session.add_all(events)
    await _mark_flapping(uc, changed, now)

    alerts = list(known.values())
    result.alert_ids = [a.id for a in alerts]
    result.unrouted = sum(1 for a in alerts if a.service_id is None)
    for alert in alerts:
        if alert.service_id is None and alert.detection != Detection.UNROUTED.value:
            alert.detection = Detection.UNROUTED.value
    result.incidents_opened = await detect.evaluate(
        uc,
        [a for a in alerts if a.service_id is not None],
        services_by_id={s.id: s for s in services.values()},
        now=now,
    )
    await record(
        session,
        uc.caller,
        "alert.ingest",
        resource_type="alert_payload",
        resource_id=payload.id,
        payload={
            "source": source.name,
            "sha256": digest,
            "size": len(body),
            "authenticated_as": authenticated_as,
            "alerts": len(signals),
            "new": result.new,
            "repeats": result.repeats,
            "resolved": result.resolved,
            "unrouted": result.unrouted,
            "incidents_opened": result.incidents_opened,
        },
    )
    return result


async def _routable_services(uc: UseCase) -> dict[str, ServiceInfo]:
    """Services by code that this caller's alerts may land on: a machine posts into the units
    its grants cover; anything else it names stays unrouted (and looks like an unknown code).
    Filtered in SQL by where the caller may open incidents (one policy question per payload)."""
    where = uc.caller.access.scope("create", "incident").where(Service.business_unit_id)
    rows = await uc.session.execute(
        select(Service.id, Service.code, Service.tier, Service.business_unit_id).where(where)
    )
    return {r.code: ServiceInfo(r.id, r.code, r.tier, r.business_unit_id) for r in rows}


async def _known_alerts(
    uc: UseCase,
    source: AlertSource,
    signals: list[Signal],
    services: dict[str, ServiceInfo],
    sender: str,
) -> dict[str, Alert]:
    """The alerts these signals repeat, among those the sender may touch: routed into a unit
    it posts into, or unrouted and its own. Another unit's alert with the same fingerprint is
    none of its business (and a new alert is made), so a sender can neither change nor learn
    of it."""
    if not signals:
        return {}
    units = {s.business_unit_id for s in services.values()}
    rows = await uc.session.execute(
        select(Alert)
        .where(
            Alert.source == source.name,
            Alert.fingerprint.in_({s.fingerprint for s in signals}),
            or_(
                Alert.business_unit_id.in_(units),
                and_(Alert.business_unit_id.is_(None), Alert.sender == sender),
            ),
        )
        .order_by(Alert.id)
    )
    return {a.fingerprint: a for a in rows.scalars()}  # the newest wins


def _new_alert(source: AlertSource, signal: Signal, now: datetime, sender: str) -> Alert:
    firing = signal.status is AlertStatus.FIRING
    fired = signal.starts_at if signal.starts_at and signal.starts_at <= now else now
    return Alert(
        source=source.name,
        fingerprint=signal.fingerprint,
        sender=sender[:400],
        rule_name=signal.rule_name,
        status=signal.status.value,
        severity=signal.severity,
        perspective=signal.perspective,
        location=signal.location,
        summary=signal.summary,
        labels=canonical_json(signal.labels),
        annotations=canonical_json(signal.annotations),
        generator_url=signal.generator_url,
        starts_at=signal.starts_at or now,
        ends_at=None if firing else (signal.ends_at or now),
        fired_at=fired,
        first_seen_at=now,
        last_seen_at=now,
        count=1,
        firings=1 if firing else 0,
        detection=Detection.PENDING.value if firing else Detection.RESOLVED.value,
        # Set, not left to the column defaults, so they are loaded on the object after the
        # INSERT and a later flush may write them without reading them back first.
        detection_rule=None,
        detection_version=None,
        incident_id=None,
        correlation=None,
    )


def _update(alert: Alert, signal: Signal, now: datetime) -> str | None:
    """Apply a repeat; the event kind when the state changed, None for a plain repeat."""
    alert.count += 1
    alert.last_seen_at = now
    alert.summary = signal.summary
    alert.severity = signal.severity
    alert.labels = canonical_json(signal.labels)
    alert.annotations = canonical_json(signal.annotations)
    # Every repeat writes the same columns, changed or not, so the flush sends all repeats
    # of a payload as one UPDATE statement instead of one per combination of changes.
    for name in REPEAT_COLUMNS:
        flag_modified(alert, name)
    if signal.status.value == alert.status:
        return None
    if signal.status is AlertStatus.RESOLVED:
        alert.status = AlertStatus.RESOLVED.value
        alert.ends_at = signal.ends_at or now
        if alert.detection == Detection.PENDING.value:
            alert.detection = Detection.RESOLVED.value
        return "resolved"
    # Firing again: a new episode of the same signal.
    alert.status = AlertStatus.FIRING.value
    alert.ends_at = None
    alert.firings += 1
    alert.fired_at = signal.starts_at if signal.starts_at and signal.starts_at <= now else now
    alert.acknowledged_at = alert.acknowledged_by = alert.ack_seconds = None
    if alert.detection != Detection.UNROUTED.value:
        alert.detection = Detection.PENDING.value
    return "fired"


def _route(uc: UseCase, alert: Alert, signal: Signal, services: dict[str, ServiceInfo]) -> None:
    routed = uc.policies.alerts.routing.route(signal.labels, services)
    if routed is None:
        alert.detection = Detection.UNROUTED.value
        return
    service = services[routed.service_code]
    alert.service_id = service.id
    alert.business_unit_id = service.business_unit_id
    alert.route = routed.route
    if alert.detection == Detection.UNROUTED.value:
        alert.detection = (
            Detection.PENDING.value if alert.status == "firing" else Detection.RESOLVED.value
        )


def _event(
    alert: Alert, payload: AlertPayload, kind: str, now: datetime, signal: Signal
) -> AlertEvent:
    """A firing or resolution, with the payload that said so and the element as received."""
    event = AlertEvent.about(alert, kind, signal.summary[:500], now)
    event.payload_id = payload.id
    event.received = signal.received
    return event


async def _mark_flapping(uc: UseCase, changed: list[Alert], now: datetime) -> None:
    """N state changes within the window: flapping (its notifications stop until it is calm)."""
    if not changed:
        return
    await uc.session.flush()
    policy = uc.policies.alerts.detection.current.version.flapping
    since = now - timedelta(seconds=policy.window_seconds)
    counts = dict(
        (
            await uc.session.execute(
                select(AlertEvent.alert_id, func.count())
                .where(
                    AlertEvent.alert_id.in_([a.id for a in changed]),
                    AlertEvent.kind.in_(FLAP_KINDS),
                    AlertEvent.at >= since,
                )
                .group_by(AlertEvent.alert_id)
            )
        ).all()
    )
    for alert in changed:
        if not alert.flapping and counts.get(alert.id, 0) >= policy.changes:
            alert.flapping = True
            uc.session.add(
                AlertEvent.about(
                    alert,
                    "flapping",
                    f"{counts[alert.id]} state changes within {policy.window_seconds} s:"
                    " pages stop until it is stable",
                    now,
                )
            )
