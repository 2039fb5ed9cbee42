"""Reading alerts, their history, silences, rule noise and source health, always filtered by
the caller's rights in SQL. An alert belongs to its service's unit; an unrouted one to none, so
only a grant covering every unit (an administrator's) reads the unrouted queue."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.alerts.models import (
    Alert,
    AlertEvent,
    AlertPayload,
    AlertStatus,
    Silence,
    SourceHeartbeat,
)
from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.errors import Forbidden, Invalid, NotFound
from govsvc.pagination import Page, fetch_page
from govsvc.usecase import UseCase

MISSING = "no such alert"
CORRELATION_ORDER = {"upstream": 0, "origin": 1, "same_service": 2, "downstream": 3}


def visible(caller: Caller) -> ColumnElement[bool]:
    return readable(caller.access, "alert", Alert.business_unit_id)


async def alert_for(uc: UseCase, alert_id: int, action: str) -> Alert:
    """An alert the caller may see (else NotFound) and act on (else Forbidden)."""
    alert = (
        await uc.session.execute(select(Alert).where(Alert.id == alert_id, visible(uc.caller)))
    ).scalar_one_or_none()
    if alert is None:
        raise NotFound(MISSING, field="alertId")
    if not uc.caller.access.allows(action, "alert", unit_id=alert.business_unit_id):
        raise Forbidden(f"not allowed to {action.replace('_', ' ')} this alert")
    return alert


async def alerts_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Alert]:
    rows = await session.execute(select(Alert).where(Alert.id.in_(set(ids)), visible(caller)))
    return {a.id: a for a in rows.scalars()}


@dataclass(frozen=True)
class AlertFilter:
    status: AlertStatus | None = None
    unrouted: bool | None = None
    service_id: int | None = None
    source: str | None = None


async def list_alerts(
    uc: UseCase, *, where: AlertFilter, size: int, after_id: int | None
) -> Page[Alert]:
    """Newest first: an alert list is a feed."""
    query = select(Alert).where(visible(uc.caller))
    if where.status is not None:
        query = query.where(Alert.status == where.status.value)
    if where.unrouted is not None:
        query = query.where(
            Alert.service_id.is_(None) if where.unrouted else Alert.service_id.is_not(None)
        )
    if where.service_id is not None:
        query = query.where(Alert.service_id == where.service_id)
    if where.source is not None:
        query = query.where(Alert.source == where.source)
    return await fetch_page(
        uc.session, query, id_column=Alert.id, size=size, after_id=after_id, newest_first=True
    )


async def events_by_alert(
    session: AsyncSession, caller: Caller, alert_ids: Iterable[int]
) -> dict[int, list[AlertEvent]]:
    """History per alert, oldest first."""
    rows = await session.execute(
        select(AlertEvent)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(AlertEvent.alert_id.in_(set(alert_ids)), visible(caller))
        .order_by(AlertEvent.id)
    )
    found: dict[int, list[AlertEvent]] = {}
    for event in rows.scalars():
        found.setdefault(event.alert_id, []).append(event)
    return found


async def alerts_by_incident(
    session: AsyncSession, caller: Caller, incident_ids: Iterable[int]
) -> dict[int, list[Alert]]:
    """An incident's alerts, probable upstream cause first, then the one that opened it."""
    rows = await session.execute(
        select(Alert).where(Alert.incident_id.in_(set(incident_ids)), visible(caller))
    )
    found: dict[int, list[Alert]] = {}
    for alert in rows.scalars():
        if alert.incident_id is not None:
            found.setdefault(alert.incident_id, []).append(alert)
    for alerts in found.values():
        alerts.sort(key=lambda a: (CORRELATION_ORDER.get(a.correlation or "", 9), a.fired_at, a.id))
    return found


async def raw_payload(uc: UseCase, *, payload_id: int) -> AlertPayload:
    """A whole payload as received. It may carry alerts of several units, so only a grant
    covering every unit reads it; anyone else reads each alert's own element (events)."""
    if not uc.caller.access.scope("read", "alert").everywhere:
        raise NotFound("no such alert payload", field="id")
    found = await uc.session.get(AlertPayload, payload_id)
    if found is None:
        raise NotFound("no such alert payload", field="id")
    return found


def silences_visible(caller: Caller) -> ColumnElement[bool]:
    return readable(caller.access, "alert_silence", Silence.business_unit_id)


async def list_silences(
    uc: UseCase, *, active_at: datetime | None, size: int, after_id: int | None
) -> Page[Silence]:
    query = select(Silence).where(silences_visible(uc.caller))
    if active_at is not None:
        query = query.where(
            Silence.starts_at <= active_at,
            Silence.ends_at > active_at,
            Silence.cancelled_at.is_(None),
        )
    return await fetch_page(
        uc.session, query, id_column=Silence.id, size=size, after_id=after_id, newest_first=True
    )


async def silences_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Silence]:
    rows = await session.execute(
        select(Silence).where(Silence.id.in_(set(ids)), silences_visible(caller))
    )
    return {s.id: s for s in rows.scalars()}


@dataclass(frozen=True)
class RuleNoise:
    source: str
    rule_name: str
    fired: int
    acknowledged: int
    incidents: int
    noise: int

    @property
    def noise_ratio(self) -> float:
        return self.noise / self.fired if self.fired else 0.0


async def rule_noise(
    uc: UseCase, *, since: datetime, until: datetime, limit: int
) -> list[RuleNoise]:
    """Per source and rule, over firings in the period: fired, acknowledged, turned into
    incidents, marked noise; noisiest first (most marked noise, then most never acted on)."""
    if until <= since:
        raise Invalid("the period must end after it starts", field="until")
    fired = (
        select(AlertEvent.alert_id, func.count().label("firings"))
        .where(AlertEvent.kind == "fired", AlertEvent.at >= since, AlertEvent.at < until)
        .group_by(AlertEvent.alert_id)
        .subquery()
    )
    noise = func.sum(case((Alert.noise.is_(True), fired.c.firings), else_=0))
    idle = func.sum(
        case(
            (and_(Alert.incident_id.is_(None), Alert.acknowledged_at.is_(None)), fired.c.firings),
            else_=0,
        )
    )
    rows = await uc.session.execute(
        select(
            Alert.source,
            Alert.rule_name,
            func.sum(fired.c.firings),
            func.sum(case((Alert.acknowledged_at.is_not(None), 1), else_=0)),
            func.sum(case((Alert.incident_id.is_not(None), 1), else_=0)),
            noise,
        )
        .join(fired, fired.c.alert_id == Alert.id)
        .where(visible(uc.caller))
        .group_by(Alert.source, Alert.rule_name)
        .order_by(noise.desc(), idle.desc(), func.sum(fired.c.firings).desc(), Alert.rule_name)
        .limit(limit)
    )
    return [RuleNoise(s, r, int(f), int(a), int(i), int(n)) for s, r, f, a, i, n in rows.all()]


@dataclass(frozen=True)
class SourceStatus:
    name: str
    kind: str
    perspective: str
    heartbeat_window_seconds: int | None
    last_heartbeat_at: datetime | None
    last_payload_at: datetime | None
    blind_since: datetime | None
    blind_incident_ids: list[int]


async def source_statuses(uc: UseCase) -> list[SourceStatus]:
    """Every configured source and whether it is alive: an administrator's view."""
    uc.caller.access.require_everywhere("read", "alert")
    rows = {r.source: r for r in (await uc.session.execute(select(SourceHeartbeat))).scalars()}
    out = []
    for source in uc.policies.alerts.sources:
        row = rows.get(source.name)
        out.append(
            SourceStatus(
                name=source.name,
                kind=source.kind,
                perspective=source.perspective.value,
                heartbeat_window_seconds=source.heartbeat.window_seconds
                if source.heartbeat
                else None,
                last_heartbeat_at=row.last_heartbeat_at if row else None,
                last_payload_at=row.last_payload_at if row else None,
                blind_since=row.blind_since if row else None,
                blind_incident_ids=json.loads(row.blind_incidents) if row else [],
            )
        )
    return out
