"""Use cases of incidents: open, classify, override, move through the lifecycle, tag."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.chain import canonical_json
from govsvc.audit.log import record
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.errors import ErrorCode, Invalid
from govsvc.incidents.classification import (
    ClassificationPolicy,
    ClassificationResult,
    ImpactFacts,
    ServiceLevel,
    Severity,
    UnknownPolicyVersion,
)
from govsvc.incidents.common import (
    MIN_JUSTIFICATION,
    incident_for,
    past_or_now,
    plain,
    timeline_note,
    unit_code,
)
from govsvc.incidents.lifecycle import check_transition
from govsvc.incidents.models import (
    ClassificationKind,
    Incident,
    IncidentClassification,
    IncidentStatus,
    IncidentStatusChange,
    IncidentTag,
)
from govsvc.incidents.taxonomy import UnknownTag
from govsvc.org import service as org_service
from govsvc.org.models import Service
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.policies import Policies


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
            {"impact": plain(dataclasses.asdict(facts)), "sla": dataclasses.asdict(sla)}
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


def _set_facts(incident: Incident, facts: ImpactFacts) -> None:
    for key, value in plain(dataclasses.asdict(facts)).items():
        setattr(incident, key, value)


def _describe(result: ClassificationResult) -> str:
    why = "; ".join(result.reasons) if result.reasons else "no rule matched, policy default"
    return (
        f"{result.severity.value} ({result.impact_kind.value}) under classification policy "
        f"{result.policy_version}, rule {result.rule_id or 'default'}: {why}"
    )


async def create_incident(
    uc: UseCase,
    *,
    title: str,
    service_id: int,
    facts: ImpactFacts,
    summary: str = "",
    sensitivity: Sensitivity = Sensitivity.INTERNAL,
    tags: Sequence[str] = (),
    detected_at: datetime | None = None,
    detection: tuple[str, str] | None = None,
) -> Incident:
    """Open an incident on a service, classified under the current policy; `detection` is the
    (rule, version) of policies/detection.yaml when a signal opened it."""
    title = validation.text(title, field="title")
    summary = validation.text(summary, field="summary", max_length=20_000, allow_empty=True)
    checked_tags = _tags(uc.policies, tags, field="tags")
    detected = past_or_now(detected_at, field="detectedAt")
    session = uc.session
    service = await org_service.get_service(session, uc.caller, service_id, field="serviceId")
    uc.caller.access.require(
        "create", "incident", unit_id=service.business_unit_id, sensitivity=sensitivity
    )
    sla = service_level(service)
    result = uc.policies.classification.current.classify(facts, sla)
    incident = Incident(
        title=title,
        summary=summary,
        service_id=service.id,
        business_unit_id=service.business_unit_id,
        sensitivity=sensitivity.value,
        status=IncidentStatus.DETECTED.value,
        detected_at=detected,
        created_by=uc.caller.actor,
        severity=result.severity.value,
        impact_kind=result.impact_kind.value,
        classification_policy_version=result.policy_version,
        detection_rule=detection[0] if detection else None,
        detection_version=detection[1] if detection else None,
    )
    _set_facts(incident, facts)
    session.add(incident)
    await session.flush()
    _apply_classification(
        session,
        incident,
        uc.caller,
        result=result,
        facts=facts,
        sla=sla,
        kind=ClassificationKind.COMPUTED,
    )
    opened = IncidentStatusChange(
        incident_id=incident.id,
        from_status=None,
        to_status=IncidentStatus.DETECTED.value,
        changed_by=uc.caller.actor,
        changed_at=detected,
    )
    session.add(opened)
    session.add_all(
        IncidentTag(incident_id=incident.id, tag=t, added_by=uc.caller.actor) for t in checked_tags
    )
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "status",
            f"Incident opened on {service.code}: " + _describe(result),
            occurred_at=detected,
        )
    )
    opened.audit_seq = (
        await record(
            session,
            uc.caller,
            "incident.create",
            resource_type="incident",
            resource_id=incident.id,
            unit=await unit_code(session, incident.business_unit_id),
            payload={
                "title": title,
                "service": service.code,
                "sensitivity": sensitivity.value,
                "severity": incident.severity,
                "policy_version": result.policy_version,
                "rule": result.rule_id,
                "impact": plain(dataclasses.asdict(facts)),
                "tags": checked_tags,
                **(
                    {"detection_rule": detection[0], "detection_version": detection[1]}
                    if detection
                    else {}
                ),
            },
        )
    ).seq
    return incident


async def classify_incident(
    uc: UseCase,
    *,
    incident_id: int,
    facts: ImpactFacts | None = None,
    policy_version: str | None = None,
) -> Incident:
    """Reclassify explicitly: new facts and/or another policy version (default: current)."""
    policy = _policy(uc.policies, policy_version)
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "classify")
    service = await org_service.get_service(
        session, uc.caller, incident.service_id, field="incidentId"
    )
    facts = facts or facts_of(incident)
    sla = service_level(service)
    result = policy.classify(facts, sla)
    before = incident.severity
    _set_facts(incident, facts)
    _apply_classification(
        session,
        incident,
        uc.caller,
        result=result,
        facts=facts,
        sla=sla,
        kind=ClassificationKind.COMPUTED,
    )
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "classification",
            f"Reclassified from {before}: " + _describe(result),
        )
    )
    await record(
        session,
        uc.caller,
        "incident.classify",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "from": before,
            "to": incident.severity,
            "policy_version": result.policy_version,
            "rule": result.rule_id,
            "impact": plain(dataclasses.asdict(facts)),
        },
    )
    return incident


async def override_severity(
    uc: UseCase, *, incident_id: int, severity: Severity, justification: str
) -> Incident:
    """Set a severity by hand; needs a written justification and is audited."""
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise Invalid(
            f"explain the override in at least {MIN_JUSTIFICATION} characters",
            field="justification",
            code=ErrorCode.JUSTIFICATION_REQUIRED,
        )
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "override_severity")
    before = incident.severity
    await record_decided_severity(
        session,
        incident,
        uc.caller,
        severity=severity,
        kind=ClassificationKind.OVERRIDE,
        justification=justification,
    )
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "classification",
            f"Severity overridden from {before} to {severity.value}: {justification}",
        )
    )
    await record(
        session,
        uc.caller,
        "incident.override_severity",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={"from": before, "to": severity.value, "justification": justification},
    )
    return incident


async def record_decided_severity(
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
    uc: UseCase, *, incident_id: int, status: IncidentStatus, note: str = ""
) -> Incident:
    """Move an incident through its lifecycle; the time of each transition is kept."""
    note = validation.text(note, field="note", max_length=5_000, allow_empty=True)
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    current = IncidentStatus(incident.status)
    check_transition(current, status)
    incident.status = status.value
    change = IncidentStatusChange(
        incident_id=incident.id,
        from_status=current.value,
        to_status=status.value,
        changed_by=uc.caller.actor,
        note=note,
    )
    session.add(change)
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "status",
            f"Status {current.value} -> {status.value}" + (f": {note}" if note else ""),
        )
    )
    change.audit_seq = (
        await record(
            session,
            uc.caller,
            "incident.status",
            resource_type="incident",
            resource_id=incident.id,
            unit=await unit_code(session, incident.business_unit_id),
            payload={"from": current.value, "to": status.value, "note": note},
        )
    ).seq
    return incident


async def tag_incident(
    uc: UseCase,
    *,
    incident_id: int,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> Incident:
    """Add and remove tags from the controlled taxonomy."""
    to_add = _tags(uc.policies, add, field="add")
    to_remove = _tags(uc.policies, remove, field="remove")
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    current = {
        t.tag: t
        for t in (
            await session.execute(select(IncidentTag).where(IncidentTag.incident_id == incident.id))
        ).scalars()
    }
    added = [t for t in to_add if t not in current]
    removed = [t for t in to_remove if t in current and t not in to_add]
    session.add_all(
        IncidentTag(incident_id=incident.id, tag=t, added_by=uc.caller.actor) for t in added
    )
    for tag in removed:
        await session.delete(current[tag])
    if added or removed:
        await record(
            session,
            uc.caller,
            "incident.tag",
            resource_type="incident",
            resource_id=incident.id,
            unit=await unit_code(session, incident.business_unit_id),
            payload={"added": added, "removed": removed},
        )
    return incident


async def edit_incident(
    uc: UseCase,
    *,
    incident_id: int,
    title: str | None = None,
    summary: str | None = None,
) -> Incident:
    """Correct the title or summary; the timeline and the audit log keep what they said before."""
    new_title = None if title is None else validation.text(title, field="title")
    new_summary = (
        None
        if summary is None
        else validation.text(summary, field="summary", max_length=20_000, allow_empty=True)
    )
    incident = await incident_for(uc.session, uc.caller, incident_id, "update")
    changed = {
        name: {"from": getattr(incident, name), "to": value}
        for name, value in (("title", new_title), ("summary", new_summary))
        if value is not None and value != getattr(incident, name)
    }
    if not changed:
        return incident
    for name, change in changed.items():
        setattr(incident, name, change["to"])
    uc.session.add(
        timeline_note(incident, uc.caller, "edit", "Edited: " + ", ".join(sorted(changed)))
    )
    await record(
        uc.session,
        uc.caller,
        "incident.edit",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(uc.session, incident.business_unit_id),
        payload=changed,
    )
    return incident
