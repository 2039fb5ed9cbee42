"""Regulator-facing facts of an incident: the trigger moments clocks count from, and the
notifications sent (their content frozen as evidence). Both are append-only."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import usecase, validation
from govsvc.audit.chain import format_time
from govsvc.audit.log import record
from govsvc.compliance.clocks import Clock, ClockStatus, Regime, TriggerKind, evaluate
from govsvc.compliance.facts import read_fact
from govsvc.compliance.models import (
    ControlMapping,
    MappingState,
    RegulatoryFact,
    RegulatoryNotification,
    RegulatoryTrigger,
)
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid
from govsvc.evidence import service as evidence_service
from govsvc.evidence.models import EvidenceKind
from govsvc.incidents.common import incident_for, unit_code
from govsvc.incidents.models import Incident

if TYPE_CHECKING:
    from govsvc.runtime import Runtime
    from govsvc.usecase import UseCase

CLOCK_SKEW = timedelta(minutes=5)


def _when(value: datetime | None, *, field: str) -> datetime:
    moment = value or utcnow()
    if moment.tzinfo is None or moment > utcnow() + CLOCK_SKEW:
        raise Invalid("must be a past time with a UTC offset", field=field)
    return moment


async def record_trigger(
    uc: UseCase,
    *,
    incident_id: int,
    kind: TriggerKind,
    occurred_at: datetime | None = None,
    note: str = "",
) -> Standing:
    """Record when a clock-starting moment happened (e.g. when we became aware); answers where
    the incident then stands with its regulators."""
    occurred = _when(occurred_at, field="occurredAt")
    note = validation.text(note, field="note", max_length=5000, allow_empty=True)
    caller, session = uc.caller, uc.session
    incident = await incident_for(session, caller, incident_id, "record_regulatory")
    trigger = RegulatoryTrigger(
        incident_id=incident.id,
        kind=kind.value,
        occurred_at=occurred,
        note=note,
        recorded_by=caller.actor,
    )
    session.add(trigger)
    await session.flush()
    trigger.audit_seq = (
        await record(
            session,
            caller,
            "incident.regulatory_trigger",
            resource_type="incident",
            resource_id=incident.id,
            unit=await unit_code(session, incident.business_unit_id),
            payload={
                "trigger": trigger.id,
                "kind": kind.value,
                "occurred_at": occurred,
                "note": note,
            },
        )
    ).seq
    return await _standing(uc, incident)


async def _text(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def record_notification(
    uc: UseCase,
    *,
    incident_id: int,
    regime: str,
    clock: str,
    recipient: str,
    content: str,
    summary: str = "",
    sent_at: datetime | None = None,
    late_reason: str | None = None,
) -> Standing:
    """Record a notification that went out; what was sent is frozen as evidence first.

    The freezing is a durable write (the content is locked in WORM storage at once), so nothing
    before it touches `uc.session`: the checks read in a read of their own."""
    runtime, caller = uc.runtime, uc.caller
    known = runtime.policies.regimes.get(regime)
    if known is None:
        raise Invalid(f"unknown regime {regime!r}", field="regime", code=ErrorCode.NOT_FOUND)
    if clock not in known.clock_ids:
        raise Invalid(
            f"{regime} has no clock {clock!r}; it has {', '.join(known.clock_ids)}",
            field="clock",
            code=ErrorCode.NOT_FOUND,
        )
    sent = _when(sent_at, field="sentAt")
    recipient = validation.text(recipient, field="recipient", max_length=300)
    content = validation.text(content, field="content", max_length=1_000_000)
    reason = late_reason.strip() if late_reason and late_reason.strip() else None
    if reason is not None:
        reason = validation.text(reason, field="lateReason", max_length=5000)
    async with runtime.db.read() as session:
        incident = await incident_for(session, caller, incident_id, "record_regulatory")
        # Before anything is stored (the content becomes locked evidence at once).
        await _require_reasons_if_late(
            session, incident, known.clock(clock), regime=known, sent=sent, reason=reason
        )
    frozen = await usecase.run(
        runtime,
        caller.on_behalf("freeze"),
        evidence_service.collect,
        evidence_service.NewEvidence(
            title=f"{incident.reference}: {regime} {clock} notification to {recipient}",
            kind=EvidenceKind.DOCUMENT,
            content_type="text/plain; charset=utf-8",
            incident_id=incident.id,
            source_system="govsvc",
            collected_at=sent,
            frameworks=[regime] if regime in runtime.policies.retention.frameworks else [],
        ),
        _text(content.encode()),
    )
    session = uc.session
    incident = await incident_for(session, caller, incident_id, "record_regulatory")
    notification = RegulatoryNotification(
        incident_id=incident.id,
        regime=regime,
        clock=clock,
        recipient=recipient,
        sent_at=sent,
        summary=summary,
        late_reason=reason,
        content_evidence_id=frozen.id,
        recorded_by=caller.actor,
    )
    session.add(notification)
    await session.flush()
    notification.audit_seq = (
        await record(
            session,
            caller,
            "incident.regulatory_notification",
            resource_type="incident",
            resource_id=incident.id,
            unit=await unit_code(session, incident.business_unit_id),
            payload={
                "notification": notification.id,
                "regime": regime,
                "clock": clock,
                "recipient": recipient,
                "sent_at": sent,
                "content_sha256": frozen.sha256,
                "late_reason": reason,
            },
        )
    ).seq
    return await _standing(uc, incident)


async def _require_reasons_if_late(
    session: AsyncSession,
    incident: Incident,
    clock: Clock,
    *,
    regime: Regime,
    sent: datetime,
    reason: str | None,
) -> None:
    """Refuse a late notification without the reasons for the delay where the regime accepts a
    late one only with them (GDPR Art. 33(1)). Judged as the clock would stand once this one is
    recorded; a later follow-up of a clock first met (or first sent) in time needs none."""
    if reason is not None or not clock.late_allowed_with_reasons:
        return
    triggers = (await triggers_by_incident(session, [incident.id])).get(incident.id, [])
    notices = (await notifications_by_incident(session, [incident.id])).get(incident.id, [])
    sent_by = sent_by_clock(n for n in notices if n.regime == regime.id)
    sent_by.setdefault(f"{regime.id}/{clock.id}", []).append(sent)
    # Applicability is not in question here: someone notified, so the clock is judged as if
    # its facts held (unknown facts keep every clock).
    status = next(
        s
        for s in evaluate(
            regime,
            triggers=first_triggers(incident, triggers),
            notifications=sent_by,
            facts={},
            now=sent,
            due_soon=timedelta(0),
        )
        if s.clock == clock.id
    )
    if status.reasons_required and status.sent_at == sent and status.sent_late_by is not None:
        hours = status.sent_late_by.total_seconds() / 3600
        due = format_time(status.due_at) if status.due_at is not None else "?"
        raise Invalid(
            f"this notification is {hours:.1f} h past its deadline ({due}); "
            f"{clock.citation} accepts a late notification only with the reasons for the "
            "delay: give them in lateReason",
            field="lateReason",
            code=ErrorCode.JUSTIFICATION_REQUIRED,
        )


def first_triggers(
    incident: Incident, triggers: Iterable[RegulatoryTrigger]
) -> dict[str, datetime]:
    """The first moment of each trigger kind; detection is the incident's own detected_at
    unless a recorded detection is earlier."""
    first: dict[str, datetime] = {TriggerKind.DETECTED.value: incident.detected_at}
    for trigger in triggers:
        known = first.get(trigger.kind)
        first[trigger.kind] = (
            trigger.occurred_at if known is None else min(known, trigger.occurred_at)
        )
    return first


def sent_by_clock(notices: Iterable[RegulatoryNotification]) -> dict[str, list[datetime]]:
    """When notifications went out, by "<regime>/<clock>"."""
    sent: dict[str, list[datetime]] = {}
    for notice in notices:
        sent.setdefault(f"{notice.regime}/{notice.clock}", []).append(notice.sent_at)
    return sent


async def triggers_by_incident(
    session: AsyncSession, ids: Iterable[int]
) -> dict[int, list[RegulatoryTrigger]]:
    grouped: dict[int, list[RegulatoryTrigger]] = {}
    rows = await session.execute(
        select(RegulatoryTrigger)
        .where(RegulatoryTrigger.incident_id.in_(set(ids)))
        .order_by(RegulatoryTrigger.occurred_at, RegulatoryTrigger.id)
    )
    for trigger in rows.scalars():
        grouped.setdefault(trigger.incident_id, []).append(trigger)
    return grouped


async def notifications_by_incident(
    session: AsyncSession, ids: Iterable[int]
) -> dict[int, list[RegulatoryNotification]]:
    grouped: dict[int, list[RegulatoryNotification]] = {}
    rows = await session.execute(
        select(RegulatoryNotification)
        .where(RegulatoryNotification.incident_id.in_(set(ids)))
        .order_by(RegulatoryNotification.sent_at, RegulatoryNotification.id)
    )
    for notification in rows.scalars():
        grouped.setdefault(notification.incident_id, []).append(notification)
    return grouped


async def record_fact(uc: UseCase, *, incident_id: int, name: str, value: str) -> Standing:
    """Record a fact the clocks depend on (the latest value counts; earlier ones stay);
    answers where the incident then stands with its regulators."""
    fact_value = read_fact(name, value)
    caller, session = uc.caller, uc.session
    incident = await incident_for(session, caller, incident_id, "record_regulatory")
    fact = RegulatoryFact(
        incident_id=incident.id,
        name=name,
        value=json.dumps(fact_value),
        recorded_by=caller.actor,
    )
    session.add(fact)
    await session.flush()
    await record(
        session,
        caller,
        "incident.regulatory_fact",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={"fact": fact.id, "name": name, "value": fact_value},
    )
    return await _standing(uc, incident)


async def facts_by_incident(
    session: AsyncSession, incidents: Iterable[Incident]
) -> dict[int, dict[str, object]]:
    """The latest recorded value of each fact per incident. A fact never recorded is unknown,
    never a default: the incident's `customers_affected` (0 unless someone counted) is not a
    count of individuals, and reading it as one dropped the HHS 500-or-more clock."""
    found: dict[int, dict[str, object]] = {i.id: {} for i in incidents}
    rows = await session.execute(
        select(RegulatoryFact)
        .where(RegulatoryFact.incident_id.in_(list(found)))
        .order_by(RegulatoryFact.id)
    )
    for fact in rows.scalars():
        found[fact.incident_id][fact.name] = json.loads(fact.value)
    return found


@dataclass(frozen=True)
class IncidentClock:
    incident: Incident
    status: ClockStatus
    # The reasons for the delay given with the notification that settled the clock, if any.
    late_reason: str | None = None


async def regimes_by_incident(
    runtime: Runtime, session: AsyncSession, ids: Sequence[int]
) -> dict[int, list[str]]:
    rows = await session.execute(
        select(ControlMapping.target_id, ControlMapping.framework)
        .where(
            ControlMapping.target_type == "incident",
            ControlMapping.target_id.in_(list(ids)),
            ControlMapping.state == MappingState.CONFIRMED.value,
        )
        .distinct()
    )
    found: dict[int, set[str]] = defaultdict(set)
    for incident_id, framework in rows.all():
        if framework in runtime.policies.regimes:
            found[incident_id].add(framework)
    return {i: sorted(r) for i, r in found.items()}


async def clocks_for(
    runtime: Runtime,
    session: AsyncSession,
    incidents: Sequence[Incident],
    *,
    now: datetime | None = None,
) -> list[IncidentClock]:
    """Every applicable clock of every incident given, in a fixed number of queries."""
    now = now or utcnow()
    ids = [i.id for i in incidents]
    regimes = await regimes_by_incident(runtime, session, ids)
    triggers = await triggers_by_incident(session, ids)
    notices = await notifications_by_incident(session, ids)
    facts = await facts_by_incident(session, incidents)
    due_soon = timedelta(hours=runtime.settings.clock_due_soon_hours)
    result = []
    for incident in incidents:
        first = first_triggers(incident, triggers.get(incident.id, []))
        sent = sent_by_clock(notices.get(incident.id, []))
        # Notices come sorted by time: the first of each clock is the one that settles it.
        reasons: dict[str, str | None] = {}
        for notice in notices.get(incident.id, []):
            reasons.setdefault(f"{notice.regime}/{notice.clock}", notice.late_reason)
        for regime_id in regimes.get(incident.id, []):
            regime = runtime.policies.regimes[regime_id]
            result += [
                IncidentClock(incident, status, reasons.get(f"{regime_id}/{status.clock}"))
                for status in evaluate(
                    regime,
                    triggers=first,
                    notifications={k: v for k, v in sent.items() if k.startswith(f"{regime_id}/")},
                    facts=facts[incident.id],
                    now=now,
                    due_soon=due_soon,
                )
            ]
    return result


@dataclass(frozen=True)
class Standing:
    """An incident and every clock of the regimes that apply to it, as they stand now."""

    incident: Incident
    clocks: list[IncidentClock]


async def _standing(uc: UseCase, incident: Incident) -> Standing:
    return Standing(incident, await clocks_for(uc.runtime, uc.session, [incident]))
