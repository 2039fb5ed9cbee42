"""Use cases of incidents: open, classify, override, move through the lifecycle, tag,
keep the timeline and decision log, and settle classification disputes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.chain import canonical_json
from govsvc.audit.log import record
from govsvc.auth.caller import Caller
from govsvc.authz.access import readable
from govsvc.authz.sensitivity import Sensitivity
from govsvc.db import Database, utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.incidents.classification import (
    ClassificationPolicy,
    ClassificationResult,
    ImpactFacts,
    ServiceLevel,
    Severity,
    UnknownPolicyVersion,
)
from govsvc.incidents.lifecycle import check_transition
from govsvc.incidents.models import (
    ClassificationDispute,
    ClassificationKind,
    DecisionEntry,
    DisputeState,
    Incident,
    IncidentClassification,
    IncidentStatus,
    IncidentStatusChange,
    IncidentTag,
    TimelineEntry,
)
from govsvc.incidents.taxonomy import UnknownTag
from govsvc.org import service as org_service
from govsvc.org.models import BusinessUnit, Service
from govsvc.pagination import Page, fetch_page
from govsvc.policies import Policies

MIN_JUSTIFICATION = 20
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of our clock a reported time may be


def service_level(service: Service) -> ServiceLevel:
    return ServiceLevel(
        tier=service.tier,
        availability_target_pct=service.availability_target_pct,
        latency_threshold_ms=service.latency_threshold_ms,
        latency_outage_ms=service.latency_outage_ms,
    )


def facts_of(incident: Incident) -> ImpactFacts:
    return ImpactFacts(
        customers_affected=incident.customers_affected,
        data_exposure=incident.data_exposure,  # type: ignore[arg-type]
        regulatory_exposure=incident.regulatory_exposure,
        duration_minutes=incident.duration_minutes,
        unavailable=incident.unavailable,
        availability_pct=incident.availability_pct,
        latency_p99_ms=incident.latency_p99_ms,
    )


def make_facts(**values: Any) -> ImpactFacts:
    """Impact facts from input, with a typed error naming the bad field."""
    try:
        return ImpactFacts(**values)
    except ValueError as error:
        field = next((name for name in values if name in str(error)), None)
        raise Invalid(str(error), field=f"impact.{_camel(field)}" if field else "impact") from None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _past_or_now(value: datetime | None, *, field: str) -> datetime:
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is None:
        raise Invalid("a time needs a UTC offset", field=field)
    if value > now + CLOCK_SKEW:
        raise Invalid("must not be in the future", field=field)
    return value


def _tags(policies: Policies, tags: Iterable[str], *, field: str) -> list[str]:
    try:
        return policies.taxonomy.check(tags)
    except UnknownTag as error:
        raise Invalid(
            f"unknown tag {error.tag!r}: tags come from policies/taxonomy.yaml",
            field=field,
            code=ErrorCode.UNKNOWN_TAG,
        ) from None


def _policy(policies: Policies, version: str | None) -> ClassificationPolicy:
    if version is None:
        return policies.classification.current
    try:
        return policies.classification.get(version)
    except UnknownPolicyVersion:
        known = ", ".join(policies.classification.versions)
        raise Invalid(
            f"unknown classification policy version {version!r}; known: {known}",
            field="policyVersion",
            code=ErrorCode.UNKNOWN_POLICY_VERSION,
        ) from None


async def _unit_code(session: AsyncSession, unit_id: int) -> str:
    return (
        await session.execute(select(BusinessUnit.code).where(BusinessUnit.id == unit_id))
    ).scalar_one()


def _timeline(
    incident: Incident, caller: Caller, kind: str, text: str, occurred_at: datetime | None = None
) -> TimelineEntry:
    return TimelineEntry(
        incident_id=incident.id,
        kind=kind,
        text=text,
        occurred_at=occurred_at or utcnow(),
        author=caller.actor,
    )


def _apply_classification(
    session: AsyncSession,
    incident: Incident,
    caller: Caller,
    *,
    result: ClassificationResult,
    facts: ImpactFacts,
    sla: ServiceLevel,
    kind: ClassificationKind,
    severity: Severity | None = None,
    justification: str | None = None,
) -> IncidentClassification:
    final = severity or result.severity
    entry = IncidentClassification(
        incident_id=incident.id,
        kind=kind.value,
        policy_version=result.policy_version,
        facts=canonical_json(
            {"impact": _plain(dataclasses.asdict(facts)), "sla": dataclasses.asdict(sla)}
        ),
        computed_severity=result.severity.value,
        severity=final.value,
        impact_kind=result.impact_kind.value,
        rule_id=result.rule_id,
        reasons=json.dumps(list(result.reasons)),
        justification=justification,
        classified_by=caller.actor,
    )
    session.add(entry)
    incident.severity = final.value
    incident.impact_kind = result.impact_kind.value
    incident.classification_policy_version = result.policy_version
    incident.severity_overridden = kind is not ClassificationKind.COMPUTED
    return entry


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}


def _set_facts(incident: Incident, facts: ImpactFacts) -> None:
    for key, value in _plain(dataclasses.asdict(facts)).items():
        setattr(incident, key, value)


def _describe(result: ClassificationResult) -> str:
    why = "; ".join(result.reasons) if result.reasons else "no rule matched, policy default"
    return (
        f"{result.severity.value} ({result.impact_kind.value}) under classification policy "
        f"{result.policy_version}, rule {result.rule_id or 'default'}: {why}"
    )


# ---------------------------------------------------------------------------- writes


async def create_incident(
    db: Database,
    caller: Caller,
    *,
    policies: Policies,
    title: str,
    service_id: int,
    facts: ImpactFacts,
    summary: str = "",
    sensitivity: Sensitivity = Sensitivity.INTERNAL,
    tags: Sequence[str] = (),
    detected_at: datetime | None = None,
) -> Incident:
    """Open an incident on a service, classified under the current policy."""
    title = validation.text(title, field="title")
    summary = validation.text(summary, field="summary", max_length=20_000, allow_empty=True)
    checked_tags = _tags(policies, tags, field="tags")
    detected = _past_or_now(detected_at, field="detectedAt")
    async with db.write() as session:
        service = await org_service.get_service(session, caller, service_id, field="serviceId")
        caller.access.require(
            "create", "incident", unit_id=service.business_unit_id, sensitivity=sensitivity
        )
        sla = service_level(service)
        result = policies.classification.current.classify(facts, sla)
        incident = Incident(
            title=title,
            summary=summary,
            service_id=service.id,
            business_unit_id=service.business_unit_id,
            sensitivity=sensitivity.value,
            status=IncidentStatus.DETECTED.value,
            detected_at=detected,
            created_by=caller.actor,
            severity=result.severity.value,
            impact_kind=result.impact_kind.value,
            classification_policy_version=result.policy_version,
        )
        _set_facts(incident, facts)
        session.add(incident)
        await session.flush()
        _apply_classification(
            session,
            incident,
            caller,
            result=result,
            facts=facts,
            sla=sla,
            kind=ClassificationKind.COMPUTED,
        )
        session.add(
            IncidentStatusChange(
                incident_id=incident.id,
                from_status=None,
                to_status=IncidentStatus.DETECTED.value,
                changed_by=caller.actor,
                changed_at=detected,
            )
        )
        session.add_all(
            IncidentTag(incident_id=incident.id, tag=t, added_by=caller.actor) for t in checked_tags
        )
        session.add(
            _timeline(
                incident,
                caller,
                "status",
                f"Incident opened on {service.code}: " + _describe(result),
                occurred_at=detected,
            )
        )
        await record(
            session,
            caller,
            "incident.create",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={
                "title": title,
                "service": service.code,
                "sensitivity": sensitivity.value,
                "severity": incident.severity,
                "policy_version": result.policy_version,
                "rule": result.rule_id,
                "impact": _plain(dataclasses.asdict(facts)),
                "tags": checked_tags,
            },
        )
        return incident


async def _incident_for(
    session: AsyncSession, caller: Caller, incident_id: int, action: str
) -> Incident:
    """The incident, locked for this transaction, if the caller may see it and do `action`."""
    incident = (
        await session.execute(
            select(Incident)
            .where(Incident.id == incident_id, _readable_incidents(caller))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if incident is None:
        raise NotFound("no such incident", field="incidentId")
    caller.access.require(
        action,
        "incident",
        unit_id=incident.business_unit_id,
        sensitivity=Sensitivity(incident.sensitivity),
    )
    return incident


def _readable_incidents(caller: Caller) -> Any:
    return readable(caller.access, "incident", Incident.business_unit_id, Incident.sensitivity)


async def classify_incident(
    db: Database,
    caller: Caller,
    *,
    policies: Policies,
    incident_id: int,
    facts: ImpactFacts | None = None,
    policy_version: str | None = None,
) -> Incident:
    """Reclassify explicitly: new facts and/or another policy version (default: current)."""
    policy = _policy(policies, policy_version)
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "classify")
        service = await org_service.get_service(
            session, caller, incident.service_id, field="incidentId"
        )
        facts = facts or facts_of(incident)
        sla = service_level(service)
        result = policy.classify(facts, sla)
        before = incident.severity
        _set_facts(incident, facts)
        _apply_classification(
            session,
            incident,
            caller,
            result=result,
            facts=facts,
            sla=sla,
            kind=ClassificationKind.COMPUTED,
        )
        session.add(
            _timeline(
                incident,
                caller,
                "classification",
                f"Reclassified from {before}: " + _describe(result),
            )
        )
        await record(
            session,
            caller,
            "incident.classify",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={
                "from": before,
                "to": incident.severity,
                "policy_version": result.policy_version,
                "rule": result.rule_id,
                "impact": _plain(dataclasses.asdict(facts)),
            },
        )
        return incident


async def override_severity(
    db: Database, caller: Caller, *, incident_id: int, severity: Severity, justification: str
) -> Incident:
    """Set a severity by hand; needs a written justification and is audited."""
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise Invalid(
            f"explain the override in at least {MIN_JUSTIFICATION} characters",
            field="justification",
            code=ErrorCode.JUSTIFICATION_REQUIRED,
        )
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "override_severity")
        before = incident.severity
        await _reapply_with(
            session,
            incident,
            caller,
            severity=severity,
            kind=ClassificationKind.OVERRIDE,
            justification=justification,
        )
        session.add(
            _timeline(
                incident,
                caller,
                "classification",
                f"Severity overridden from {before} to {severity.value}: {justification}",
            )
        )
        await record(
            session,
            caller,
            "incident.override_severity",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={"from": before, "to": severity.value, "justification": justification},
        )
        return incident


async def _reapply_with(
    session: AsyncSession,
    incident: Incident,
    caller: Caller,
    *,
    severity: Severity,
    kind: ClassificationKind,
    justification: str,
) -> None:
    """Record a decided severity beside what the policy computed last time (kept for the record)."""
    latest = (
        await session.execute(
            select(IncidentClassification)
            .where(IncidentClassification.incident_id == incident.id)
            .order_by(IncidentClassification.id.desc())
            .limit(1)
        )
    ).scalar_one()
    session.add(
        IncidentClassification(
            incident_id=incident.id,
            kind=kind.value,
            policy_version=latest.policy_version,
            facts=latest.facts,
            computed_severity=latest.computed_severity,
            severity=severity.value,
            impact_kind=latest.impact_kind,
            rule_id=latest.rule_id,
            reasons=latest.reasons,
            justification=justification,
            classified_by=caller.actor,
        )
    )
    incident.severity = severity.value
    incident.severity_overridden = True


async def change_status(
    db: Database, caller: Caller, *, incident_id: int, status: IncidentStatus, note: str = ""
) -> Incident:
    """Move an incident through its lifecycle; the time of each transition is kept."""
    note = validation.text(note, field="note", max_length=5_000, allow_empty=True)
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "update")
        current = IncidentStatus(incident.status)
        check_transition(current, status)
        incident.status = status.value
        change = IncidentStatusChange(
            incident_id=incident.id,
            from_status=current.value,
            to_status=status.value,
            changed_by=caller.actor,
            note=note,
        )
        session.add(change)
        session.add(
            _timeline(
                incident,
                caller,
                "status",
                f"Status {current.value} -> {status.value}" + (f": {note}" if note else ""),
            )
        )
        await record(
            session,
            caller,
            "incident.status",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={"from": current.value, "to": status.value, "note": note},
        )
        return incident


async def tag_incident(
    db: Database,
    caller: Caller,
    *,
    policies: Policies,
    incident_id: int,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> Incident:
    """Add and remove tags from the controlled taxonomy."""
    to_add = _tags(policies, add, field="add")
    to_remove = _tags(policies, remove, field="remove")
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "update")
        current = {
            t.tag: t
            for t in (
                await session.execute(
                    select(IncidentTag).where(IncidentTag.incident_id == incident.id)
                )
            ).scalars()
        }
        added = [t for t in to_add if t not in current]
        removed = [t for t in to_remove if t in current and t not in to_add]
        session.add_all(
            IncidentTag(incident_id=incident.id, tag=t, added_by=caller.actor) for t in added
        )
        for tag in removed:
            await session.delete(current[tag])
        if added or removed:
            await record(
                session,
                caller,
                "incident.tag",
                resource_type="incident",
                resource_id=incident.id,
                unit=await _unit_code(session, incident.business_unit_id),
                payload={"added": added, "removed": removed},
            )
        return incident


async def add_timeline_entry(
    db: Database,
    caller: Caller,
    *,
    incident_id: int,
    text: str,
    occurred_at: datetime | None = None,
    corrects_id: int | None = None,
) -> TimelineEntry:
    """Append to the timeline; a correction points at the entry it corrects, which stays."""
    text = validation.text(text, field="text", max_length=20_000)
    occurred = _past_or_now(occurred_at, field="occurredAt")
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "update")
        if corrects_id is not None:
            corrected = await session.get(TimelineEntry, corrects_id)
            if corrected is None or corrected.incident_id != incident.id:
                raise NotFound("no such timeline entry on this incident", field="correctsId")
        entry = TimelineEntry(
            incident_id=incident.id,
            kind="correction" if corrects_id else "note",
            text=text,
            occurred_at=occurred,
            author=caller.actor,
            corrects_id=corrects_id,
        )
        session.add(entry)
        await session.flush()
        await record(
            session,
            caller,
            "incident.timeline_add",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={
                "entry": entry.id,
                "corrects": corrects_id,
                "text": text,
                "occurred_at": occurred,
            },
        )
        return entry


async def record_decision(
    db: Database,
    caller: Caller,
    *,
    incident_id: int,
    decision: str,
    rationale: str,
    alternatives: Sequence[str] = (),
    decided_by_id: int | None = None,
    decided_at: datetime | None = None,
) -> DecisionEntry:
    """Log a decision with its rationale and the alternatives that were considered."""
    decision = validation.text(decision, field="decision", max_length=5_000)
    rationale = validation.text(rationale, field="rationale", max_length=20_000)
    options = [validation.text(a, field="alternatives", max_length=2_000) for a in alternatives]
    when = _past_or_now(decided_at, field="decidedAt")
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "update")
        decider_id = decided_by_id if decided_by_id is not None else caller.principal_id
        if decider_id is None:
            raise Invalid("name who decided", field="decidedById")
        decider = await org_service.get_principal(session, caller, decider_id, field="decidedById")
        entry = DecisionEntry(
            incident_id=incident.id,
            decision=decision,
            rationale=rationale,
            alternatives=json.dumps(options),
            decided_by_id=decider.id,
            decided_at=when,
            recorded_by=caller.actor,
        )
        session.add(entry)
        session.add(
            _timeline(
                incident,
                caller,
                "decision",
                f"Decision by {decider.name}: {decision}",
                occurred_at=when,
            )
        )
        await session.flush()
        await record(
            session,
            caller,
            "incident.decision",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={
                "entry": entry.id,
                "decision": decision,
                "rationale": rationale,
                "alternatives": options,
                "decided_by": decider.email,
                "decided_at": when,
            },
        )
        return entry


# ---------------------------------------------------------------------------- disputes


async def dispute_classification(
    db: Database,
    caller: Caller,
    *,
    incident_id: int,
    team_id: int,
    position: str,
    proposed_severity: Severity | None = None,
    proposed_impact_kind: str | None = None,
) -> ClassificationDispute:
    """A team disputes the current classification and states its position."""
    position = validation.text(position, field="position", max_length=20_000)
    async with db.write() as session:
        incident = await _incident_for(session, caller, incident_id, "dispute")
        team = await org_service.get_team(session, caller, team_id, field="teamId")
        open_one = (
            await session.execute(
                select(ClassificationDispute.id).where(
                    ClassificationDispute.incident_id == incident.id,
                    ClassificationDispute.state != DisputeState.RESOLVED.value,
                )
            )
        ).first()
        if open_one is not None:
            raise Invalid(
                "this incident already has an unresolved dispute; answer or resolve it",
                field="incidentId",
                code=ErrorCode.CONFLICT,
            )
        dispute = ClassificationDispute(
            incident_id=incident.id,
            state=DisputeState.OPEN.value,
            raised_by_team_id=team.id,
            raised_by=caller.actor,
            position=position,
            proposed_severity=proposed_severity.value if proposed_severity else None,
            proposed_impact_kind=proposed_impact_kind,
            disputed_severity=incident.severity,
        )
        session.add(dispute)
        proposal = f" (proposes {proposed_severity.value})" if proposed_severity else ""
        session.add(
            _timeline(
                incident,
                caller,
                "dispute",
                f"Team {team.name} disputes {incident.severity}{proposal}: {position}",
            )
        )
        await session.flush()
        await record(
            session,
            caller,
            "incident.dispute_open",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={
                "dispute": dispute.id,
                "team": team.code,
                "position": position,
                "proposed_severity": dispute.proposed_severity,
            },
        )
        return dispute


async def _dispute_for(
    session: AsyncSession, caller: Caller, dispute_id: int, action: str
) -> tuple[ClassificationDispute, Incident]:
    dispute = await session.get(ClassificationDispute, dispute_id)
    if dispute is None:
        raise NotFound("no such dispute", field="disputeId")
    try:
        incident = await _incident_for(session, caller, dispute.incident_id, action)
    except NotFound:
        raise NotFound("no such dispute", field="disputeId") from None
    return dispute, incident


async def answer_dispute(
    db: Database, caller: Caller, *, dispute_id: int, team_id: int, response: str
) -> ClassificationDispute:
    """The other side answers a dispute with its own position."""
    response = validation.text(response, field="response", max_length=20_000)
    async with db.write() as session:
        dispute, incident = await _dispute_for(session, caller, dispute_id, "dispute")
        if dispute.state != DisputeState.OPEN.value:
            raise Invalid(
                f"the dispute is {dispute.state}; only an open one can be answered",
                field="disputeId",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        team = await org_service.get_team(session, caller, team_id, field="teamId")
        if team.id == dispute.raised_by_team_id:
            raise Invalid(
                "the answer must come from a team other than the one disputing", field="teamId"
            )
        dispute.state = DisputeState.ANSWERED.value
        dispute.response_team_id = team.id
        dispute.response = response
        dispute.responded_by = caller.actor
        dispute.responded_at = utcnow()
        session.add(
            _timeline(
                incident, caller, "dispute", f"Team {team.name} answers the dispute: {response}"
            )
        )
        await record(
            session,
            caller,
            "incident.dispute_answer",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={"dispute": dispute.id, "team": team.code, "response": response},
        )
        return dispute


async def resolve_dispute(
    db: Database,
    caller: Caller,
    *,
    dispute_id: int,
    resolution: str,
    severity: Severity | None = None,
) -> ClassificationDispute:
    """Someone with authority settles the dispute, keeping or changing the severity."""
    resolution = validation.text(resolution, field="resolution", max_length=20_000)
    async with db.write() as session:
        dispute, incident = await _dispute_for(session, caller, dispute_id, "resolve_dispute")
        if dispute.state == DisputeState.RESOLVED.value:
            raise Invalid(
                "the dispute is already resolved",
                field="disputeId",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        if len(resolution) < MIN_JUSTIFICATION:
            raise Invalid(
                f"explain the resolution in at least {MIN_JUSTIFICATION} characters",
                field="resolution",
                code=ErrorCode.JUSTIFICATION_REQUIRED,
            )
        before = incident.severity
        final = severity or Severity(before)
        if final.value != before:
            await _reapply_with(
                session,
                incident,
                caller,
                severity=final,
                kind=ClassificationKind.DISPUTE_RESOLUTION,
                justification=resolution,
            )
        dispute.state = DisputeState.RESOLVED.value
        dispute.resolution = resolution
        dispute.resolved_severity = final.value
        dispute.resolved_by = caller.actor
        dispute.resolved_at = utcnow()
        outcome = "kept" if final.value == before else f"changed from {before}"
        session.add(
            _timeline(
                incident,
                caller,
                "dispute",
                f"Dispute resolved: {final.value} {outcome}: {resolution}",
            )
        )
        await record(
            session,
            caller,
            "incident.dispute_resolve",
            resource_type="incident",
            resource_id=incident.id,
            unit=await _unit_code(session, incident.business_unit_id),
            payload={
                "dispute": dispute.id,
                "from": before,
                "to": final.value,
                "resolution": resolution,
            },
        )
        return dispute


# ---------------------------------------------------------------------------- reads


async def list_incidents(
    session: AsyncSession,
    caller: Caller,
    *,
    size: int,
    after_id: int | None,
    statuses: Sequence[IncidentStatus] = (),
    severities: Sequence[Severity] = (),
    service_id: int | None = None,
) -> Page[Incident]:
    """Incidents the caller may read, newest first; filtered in the query, never after."""
    query = select(Incident).where(_readable_incidents(caller))
    if statuses:
        query = query.where(Incident.status.in_([s.value for s in statuses]))
    if severities:
        query = query.where(Incident.severity.in_([s.value for s in severities]))
    if service_id is not None:
        query = query.where(Incident.service_id == service_id)
    return await fetch_page(session, query, id_column=Incident.id, size=size, after_id=after_id)


async def incidents_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Incident]:
    rows = await session.execute(
        select(Incident).where(Incident.id.in_(set(ids)), _readable_incidents(caller))
    )
    return {incident.id: incident for incident in rows.scalars()}


async def tags_by_incident(session: AsyncSession, ids: Iterable[int]) -> dict[int, list[str]]:
    """Tags of incidents the caller has already been shown (ids come from a scoped read)."""
    grouped: dict[int, list[str]] = {}
    rows = await session.execute(
        select(IncidentTag.incident_id, IncidentTag.tag)
        .where(IncidentTag.incident_id.in_(set(ids)))
        .order_by(IncidentTag.tag)
    )
    for incident_id, tag in rows:
        grouped.setdefault(incident_id, []).append(tag)
    return grouped


async def latest_timeline(
    session: AsyncSession, ids: Iterable[int], *, limit: int
) -> dict[int, list[TimelineEntry]]:
    """The newest `limit` timeline entries of each incident, in one query for all of them."""
    ranked = (
        select(
            TimelineEntry.id,
            func.row_number()
            .over(partition_by=TimelineEntry.incident_id, order_by=TimelineEntry.id.desc())
            .label("rank"),
        )
        .where(TimelineEntry.incident_id.in_(set(ids)))
        .subquery()
    )
    rows = await session.execute(
        select(TimelineEntry)
        .join(ranked, ranked.c.id == TimelineEntry.id)
        .where(ranked.c.rank <= limit)
        .order_by(TimelineEntry.id.desc())
    )
    return _group(rows.scalars(), "incident_id")


async def timeline_page(
    session: AsyncSession, *, incident_id: int, size: int, after_id: int | None
) -> Page[TimelineEntry]:
    """One incident's timeline in recording order (call only for an incident already shown)."""
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    return await fetch_page(
        session, query, id_column=TimelineEntry.id, size=size, after_id=after_id, newest_first=False
    )


async def children_by_incident(
    session: AsyncSession, model: Any, ids: Iterable[int]
) -> dict[int, list[Any]]:
    """Every row of `model` for these incidents, oldest first (decisions, disputes, ...)."""
    rows = await session.execute(
        select(model).where(model.incident_id.in_(set(ids))).order_by(model.id)
    )
    return _group(rows.scalars(), "incident_id")


def _group(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, key), []).append(row)
    return grouped


async def timeline_entries_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, TimelineEntry]:
    rows = await session.execute(
        select(TimelineEntry)
        .join(Incident, Incident.id == TimelineEntry.incident_id)
        .where(TimelineEntry.id.in_(set(ids)), _readable_incidents(caller))
    )
    return {entry.id: entry for entry in rows.scalars()}


async def disputes_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, ClassificationDispute]:
    rows = await session.execute(
        select(ClassificationDispute)
        .join(Incident, Incident.id == ClassificationDispute.incident_id)
        .where(ClassificationDispute.id.in_(set(ids)), _readable_incidents(caller))
    )
    return {dispute.id: dispute for dispute in rows.scalars()}
