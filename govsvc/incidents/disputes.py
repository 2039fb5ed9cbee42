"""Classification disputes: one team disputes, another answers, someone with authority resolves."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.incidents.classification import (
    Severity,
)
from govsvc.incidents.common import (
    MIN_JUSTIFICATION,
    incident_for,
    timeline_note,
    unit_code,
)
from govsvc.incidents.models import (
    ClassificationDispute,
    ClassificationKind,
    DisputeState,
    Incident,
)
from govsvc.incidents.service import record_decided_severity
from govsvc.org import service as org_service
from govsvc.usecase import UseCase


async def dispute_classification(
    uc: UseCase,
    *,
    incident_id: int,
    team_id: int,
    position: str,
    proposed_severity: Severity | None = None,
    proposed_impact_kind: str | None = None,
) -> ClassificationDispute:
    """A team disputes the current classification and states its position."""
    position = validation.text(position, field="position", max_length=20_000)
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "dispute")
    team = await org_service.get_team(session, uc.caller, team_id, field="teamId")
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
        raised_by=uc.caller.actor,
        position=position,
        proposed_severity=proposed_severity.value if proposed_severity else None,
        proposed_impact_kind=proposed_impact_kind,
        disputed_severity=incident.severity,
    )
    session.add(dispute)
    proposal = f" (proposes {proposed_severity.value})" if proposed_severity else ""
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "dispute",
            f"Team {team.name} disputes {incident.severity}{proposal}: {position}",
        )
    )
    await session.flush()
    await record(
        session,
        uc.caller,
        "incident.dispute_open",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
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
        incident = await incident_for(session, caller, dispute.incident_id, action)
    except NotFound:
        raise NotFound("no such dispute", field="disputeId") from None
    return dispute, incident


async def answer_dispute(
    uc: UseCase, *, dispute_id: int, team_id: int, response: str
) -> ClassificationDispute:
    """The other side answers a dispute with its own position."""
    response = validation.text(response, field="response", max_length=20_000)
    session = uc.session
    dispute, incident = await _dispute_for(session, uc.caller, dispute_id, "dispute")
    if dispute.state != DisputeState.OPEN.value:
        raise Invalid(
            f"the dispute is {dispute.state}; only an open one can be answered",
            field="disputeId",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    team = await org_service.get_team(session, uc.caller, team_id, field="teamId")
    if team.id == dispute.raised_by_team_id:
        raise Invalid(
            "the answer must come from a team other than the one disputing", field="teamId"
        )
    dispute.state = DisputeState.ANSWERED.value
    dispute.response_team_id = team.id
    dispute.response = response
    dispute.responded_by = uc.caller.actor
    dispute.responded_at = utcnow()
    session.add(
        timeline_note(
            incident, uc.caller, "dispute", f"Team {team.name} answers the dispute: {response}"
        )
    )
    await record(
        session,
        uc.caller,
        "incident.dispute_answer",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={"dispute": dispute.id, "team": team.code, "response": response},
    )
    return dispute


async def resolve_dispute(
    uc: UseCase,
    *,
    dispute_id: int,
    resolution: str,
    severity: Severity | None = None,
) -> ClassificationDispute:
    """Someone with authority settles the dispute, keeping or changing the severity."""
    resolution = validation.text(resolution, field="resolution", max_length=20_000)
    session = uc.session
    dispute, incident = await _dispute_for(session, uc.caller, dispute_id, "resolve_dispute")
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
        await record_decided_severity(
            session,
            incident,
            uc.caller,
            severity=final,
            kind=ClassificationKind.DISPUTE_RESOLUTION,
            justification=resolution,
        )
    dispute.state = DisputeState.RESOLVED.value
    dispute.resolution = resolution
    dispute.resolved_severity = final.value
    dispute.resolved_by = uc.caller.actor
    dispute.resolved_at = utcnow()
    outcome = "kept" if final.value == before else f"changed from {before}"
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "dispute",
            f"Dispute resolved: {final.value} {outcome}: {resolution}",
        )
    )
    await record(
        session,
        uc.caller,
        "incident.dispute_resolve",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "dispute": dispute.id,
            "from": before,
            "to": final.value,
            "resolution": resolution,
        },
    )
    return dispute
