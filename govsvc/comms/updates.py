"""Status updates: one source of truth per incident and audience.

The current status for an audience is its latest published update and nothing else. A draft
names the update it supersedes; if another was published meanwhile, the draft is stale and
refused. Drafts the rules say need approval wait for it (each role by a different person, not
the author). Published text is frozen (hash, and as evidence) and never edited."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.command import roles
from govsvc.command.models import IncidentRoleKind
from govsvc.comms import audiences, redact, templates
from govsvc.comms.models import (
    Audience,
    EtaConfidence,
    StatusUpdate,
    UpdateDecision,
    UpdateState,
)
from govsvc.db import after_rollback, utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.evidence import service as evidence_service
from govsvc.evidence.models import EvidenceItem, EvidenceKind
from govsvc.incidents.classification import Severity
from govsvc.incidents.common import incident_for, timeline_note, unit_code
from govsvc.incidents.models import Incident
from govsvc.org.models import Service
from govsvc.outbox.enqueue import enqueue
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

# Which outbox endpoints hear about a published update, by audience.
_CHANNELS: dict[Audience, set[str]] = {
    Audience.PUBLIC: {"status_page"},
    Audience.INTERNAL: {"slack", "teams", "generic"},
    Audience.EXECUTIVE: {"slack", "teams"},
}


_RESTRICTED_AUDIENCES = frozenset({Audience.EXECUTIVE, Audience.REGULATOR})


@dataclass(frozen=True)
class Draft:
    incident_id: int
    audience: Audience
    status: str
    body: str | None = None
    template: str | None = None
    variables: Mapping[str, Any] | None = None
    supersedes_id: int | None = None
    next_update_due: datetime | None = None
    eta: datetime | None = None
    eta_confidence: EtaConfidence = EtaConfidence.UNKNOWN


async def current(
    session: AsyncSession, incident_id: int, audience: Audience
) -> StatusUpdate | None:
    """The one source of truth: the latest published update for this audience."""
    return (
        await session.execute(
            select(StatusUpdate)
            .where(
                StatusUpdate.incident_id == incident_id,
                StatusUpdate.audience == audience.value,
                StatusUpdate.state == UpdateState.PUBLISHED.value,
            )
            .order_by(StatusUpdate.number.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def current_for(uc: UseCase, incident_id: int, audience: Audience) -> StatusUpdate | None:
    """The current status for an audience, if the caller may read that audience's updates."""
    await incident_for(uc.session, uc.caller, incident_id, "read")
    return (
        await uc.session.execute(
            audiences.select_readable(uc.caller)
            .where(
                StatusUpdate.incident_id == incident_id,
                StatusUpdate.audience == audience.value,
                StatusUpdate.state == UpdateState.PUBLISHED.value,
            )
            .order_by(StatusUpdate.number.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def list_for(uc: UseCase, incident_id: int) -> list[StatusUpdate]:
    """Every update of one incident the caller may read (NOT_FOUND for an unreadable incident)."""
    await incident_for(uc.session, uc.caller, incident_id, "read")
    return (await updates_for(uc.session, uc.caller, [incident_id])).get(incident_id, [])


def _check_eta(runtime: Runtime, draft: Draft) -> None:
    if draft.eta is None and draft.eta_confidence is not EtaConfidence.UNKNOWN:
        raise Invalid("an ETA confidence needs an ETA", field="etaConfidence")
    needs = draft.audience in runtime.policies.comms.eta_confidence_required_for
    if draft.eta is not None and needs and draft.eta_confidence is EtaConfidence.UNKNOWN:
        raise Invalid(
            f"an ETA for the {draft.audience.value} audience must say how confident "
            "it is (low, medium or high), or be left unknown",
            field="etaConfidence",
        )


async def _body(session: AsyncSession, incident: Incident, draft: Draft) -> tuple[str, str | None]:
    if draft.template is None:
        if not draft.body:
            raise Invalid("write the update, or name a template", field="body")
        return validation.text(draft.body, field="body", max_length=20_000), None
    template = await templates.latest(session, draft.template)
    if template.audience != draft.audience.value:
        raise Invalid(
            f"template {template.name} is for the {template.audience} audience", field="template"
        )
    service = await session.get(Service, incident.service_id)
    values = {
        "incident": {
            "reference": incident.reference,
            "title": incident.title,
            "severity": incident.severity,
            "status": draft.status,
            "service": service.name if service else "",
        },
        "eta": draft.eta.isoformat() if draft.eta else "unknown",
        "next_update": draft.next_update_due.isoformat() if draft.next_update_due else "",
        **(draft.variables or {}),
    }
    return await templates.render(template.body, values), f"{template.name}@{template.version}"


async def draft_update(uc: UseCase, draft: Draft) -> StatusUpdate:
    """Write an update; it publishes at once unless its rules want approval first. A refused
    update (stale, held for a comms lead, personal data left in public text) is not stored.

    Everything before the freeze reads through its own read transaction, not `uc.session`:
    the frozen copy's storage intent is a durable write that must come before the unit of
    work writes anything (see `postmortems.publish`)."""
    _check_eta(uc.runtime, draft)
    status = validation.text(draft.status, field="status", max_length=32)
    async with uc.db.read() as session:
        incident = await incident_for(session, uc.caller, draft.incident_id, "read")
        uc.caller.access.require(
            "update",
            "incident",
            unit_id=incident.business_unit_id,
            sensitivity=Sensitivity(incident.sensitivity),
        )
        audiences.require_write(uc.caller, draft.audience, incident)
        body, template = await _body(session, incident, draft)
        publish_now = not uc.policies.comms.approver_roles(
            draft.audience, Severity(incident.severity)
        )
        number = await _next_number(session, incident.id, draft.audience)
        if publish_now:
            held = await _held(uc.runtime, session, incident, draft.audience, body)
        elif draft.audience in uc.policies.comms.redacted_audiences:
            # Refused now rather than after its approvals: approving a text that can never go
            # out would only strand it.
            leaks = await redact.leaks(uc.runtime, session, incident, body)
            held = _Held(False, leaks) if leaks else None
        else:
            held = None
    if held is not None:
        await _refuse(uc, incident, draft.audience, number, held, key=None)
    # Bytes before rows: the frozen copy is stored before the one transaction that records
    # the update and publishes it, so that transaction does everything or nothing.
    frozen = await _freeze(uc, incident, draft.audience, number, body) if publish_now else None
    session = uc.session
    incident = await incident_for(session, uc.caller, draft.incident_id, "update")
    update = StatusUpdate(
        incident_id=incident.id,
        audience=draft.audience.value,
        number=await _next_number(session, incident.id, draft.audience),
        supersedes_id=draft.supersedes_id,
        state=UpdateState.DRAFT.value,
        status=status,
        body=body,
        next_update_due=draft.next_update_due,
        eta=draft.eta,
        eta_confidence=draft.eta_confidence.value,
        template=template,
        author=uc.caller.actor,
        author_id=uc.caller.principal_id,
    )
    session.add(update)
    await session.flush()
    await record(
        session,
        uc.caller,
        "status_update.draft",
        resource_type="status_update",
        resource_id=update.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "incident": incident.id,
            "audience": update.audience,
            "number": update.number,
            "supersedes": update.supersedes_id,
            "body": body,
            "template": template,
        },
    )
    if frozen is not None:
        await _publish(session, uc.caller, incident, update, frozen)
    return update


async def _next_number(session: AsyncSession, incident_id: int, audience: Audience) -> int:
    latest = (
        await session.execute(
            select(func.max(StatusUpdate.number)).where(
                StatusUpdate.incident_id == incident_id,
                StatusUpdate.audience == audience.value,
            )
        )
    ).scalar()
    return (latest or 0) + 1


def _required_roles(runtime: Runtime, update: StatusUpdate, incident: Incident) -> list[str]:
    return runtime.policies.comms.approver_roles(
        Audience(update.audience), Severity(incident.severity)
    )


async def decide(
    uc: UseCase, *, update_id: int, role: str, approve: bool, comment: str = ""
) -> StatusUpdate:
    """Approve or reject a draft in one of the roles its rules name; the last approval
    publishes it. A refused decision (publishing included) is not stored. Read first, freeze,
    then write through `uc.session`, as `draft_update` does."""
    async with uc.db.read() as session:
        # Approvers need not edit the incident; their role on the draft is what counts.
        update, incident = await _draft_for(session, uc.caller, update_id, "read", lock=False)
        needed, approved = await _decision_allowed(
            uc.runtime, session, uc.caller, update, incident, role
        )
        complete = approve and set(needed) <= approved | {role}
        audience = Audience(update.audience)
        held = (
            await _held(uc.runtime, session, incident, audience, update.body) if complete else None
        )
    if held is not None:
        await _refuse(uc, incident, audience, update.number, held, key=str(update.id))
    frozen = await _freeze(uc, incident, audience, update.number, update.body) if complete else None
    session = uc.session
    update, incident = await _draft_for(session, uc.caller, update_id, "read")
    # Again under the lock: someone may have decided meanwhile.
    await _decision_allowed(uc.runtime, session, uc.caller, update, incident, role)
    session.add(
        UpdateDecision(
            update_id=update.id,
            principal_id=uc.caller.principal_id,
            actor=uc.caller.actor,
            role=role,
            approve=approve,
            comment=comment,
        )
    )
    if not approve:
        update.state = UpdateState.REJECTED.value
    await record(
        session,
        uc.caller,
        "status_update.approve" if approve else "status_update.reject",
        resource_type="status_update",
        resource_id=update.id,
        payload={"role": role, "comment": comment},
    )
    if frozen is not None:
        await _publish(session, uc.caller, incident, update, frozen)
    return update


async def _decision_allowed(
    runtime: Runtime,
    session: AsyncSession,
    caller: Caller,
    update: StatusUpdate,
    incident: Incident,
    role: str,
) -> tuple[list[str], set[str]]:
    """Refuse a decision the rules do not allow; else the roles needed and those approved."""
    needed = _required_roles(runtime, update, incident)
    if role not in needed:
        raise Invalid(
            f"this draft needs approval as {', '.join(needed) or 'nobody'}",
            field="role",
            code=ErrorCode.APPROVAL_REQUIRED,
        )
    if not caller.access.holds(role, unit_id=incident.business_unit_id):
        raise Invalid(
            f"you do not hold the {role} role here",
            field="role",
            code=ErrorCode.APPROVAL_REQUIRED,
        )
    if caller.principal_id is not None and caller.principal_id == update.author_id:
        raise Invalid(
            "the author cannot approve their own update",
            field="updateId",
            code=ErrorCode.APPROVAL_REQUIRED,
        )
    earlier = list(
        (
            await session.execute(
                select(UpdateDecision).where(UpdateDecision.update_id == update.id)
            )
        ).scalars()
    )
    if any(d.principal_id == caller.principal_id for d in earlier):
        raise Invalid(
            "each approval must come from a different person",
            field="updateId",
            code=ErrorCode.APPROVAL_REQUIRED,
        )
    return needed, {d.role for d in earlier if d.approve}


async def withdraw(uc: UseCase, *, update_id: int) -> StatusUpdate:
    """Withdraw a draft; it stays on record."""
    session = uc.session
    update, incident = await _draft_for(session, uc.caller, update_id, "update")
    audiences.require_write(uc.caller, Audience(update.audience), incident)
    update.state = UpdateState.WITHDRAWN.value
    await record(
        session,
        uc.caller,
        "status_update.withdraw",
        resource_type="status_update",
        resource_id=update.id,
        payload={},
    )
    return update


async def _draft_for(
    session: AsyncSession, caller: Caller, update_id: int, action: str, *, lock: bool = True
) -> tuple[StatusUpdate, Incident]:
    update = await session.get(StatusUpdate, update_id, with_for_update=lock)
    if update is None:
        raise NotFound("no such status update", field="updateId")
    try:
        incident = await incident_for(session, caller, update.incident_id, action)
    except NotFound:
        raise NotFound("no such status update", field="updateId") from None
    if not audiences.may_read(caller, update, incident):
        # Another audience's update, or a draft the caller may neither write nor approve.
        raise NotFound("no such status update", field="updateId")
    if update.state != UpdateState.DRAFT.value:
        raise Invalid(
            f"the update is {update.state}, not a draft",
            field="updateId",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    return update, incident


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass(frozen=True)
class _Held:
    """Why an update may not go out yet."""

    lead_missing: bool
    leaks: list[str]


async def _held(
    runtime: Runtime, session: AsyncSession, incident: Incident, audience: Audience, body: str
) -> _Held | None:
    """Every check before an update goes out, except staleness (checked as it is written)."""
    rules = runtime.policies.comms
    lead_missing = rules.needs_comms_lead(
        audience, Severity(incident.severity)
    ) and not await roles.holders(session, incident.id, IncidentRoleKind.COMMS_LEAD)
    if lead_missing:
        return _Held(True, [])
    if audience in rules.redacted_audiences:
        found = await redact.leaks(runtime, session, incident, body)
        if found:
            return _Held(False, found)
    return None


async def _refuse(
    uc: UseCase,
    incident: Incident,
    audience: Audience,
    number: int,
    held: _Held,
    *,
    key: str | None,
) -> NoReturn:
    if held.lead_missing:

        async def tell() -> None:
            await _tell_commander(uc.runtime, uc.caller, incident, audience, number, key=key)

        # Said even though the call is refused and stores nothing: the commander must act.
        await after_rollback(tell)
        raise Invalid(
            f"a {incident.severity} incident needs a comms lead assigned before a "
            f"{audience.value} update goes out; the incident commander has been told",
            field="updateId",
            code=ErrorCode.COMMS_LEAD_REQUIRED,
        )
    raise Invalid(
        "the text still holds " + ", ".join(held.leaks) + "; redact it first",
        field="body",
        code=ErrorCode.REDACTION_REQUIRED,
    )


async def _freeze(
    uc: UseCase,
    incident: Incident,
    audience: Audience,
    number: int,
    body: str,
) -> EvidenceItem:
    """The text as it goes out, stored as evidence (WORM) before it is recorded as published."""
    return await evidence_service.collect(
        uc.on_behalf("freeze"),
        evidence_service.NewEvidence(
            title=f"{incident.reference} {audience.value} update #{number}",
            kind=EvidenceKind.DOCUMENT,
            content_type="text/plain; charset=utf-8",
            incident_id=incident.id,
            # The frozen text is read as evidence too: the narrower audiences' text goes in as
            # restricted, so evidence readers below that do not read it there either.
            sensitivity=Sensitivity.RESTRICTED if audience in _RESTRICTED_AUDIENCES else None,
            source_system="govsvc",
        ),
        _one(body.encode()),
    )


async def _publish(
    session: AsyncSession,
    caller: Caller,
    incident: Incident,
    update: StatusUpdate,
    frozen: EvidenceItem,
) -> None:
    """Make a draft the current truth for its audience, in the caller's transaction; refused
    (and so nothing stored) when another update was published meanwhile."""
    audience = Audience(update.audience)
    latest = await current(session, incident.id, audience)
    if (latest.id if latest else None) != update.supersedes_id:
        raise Invalid(
            f"stale: the current {audience.value} update is "
            f"#{latest.number if latest else 0}; write against it",
            field="supersedesId",
            code=ErrorCode.CONFLICT,
        )
    update.state = UpdateState.PUBLISHED.value
    update.published_at = utcnow()
    update.published_sha256 = hashlib.sha256(update.body.encode()).hexdigest()
    update.evidence_id = frozen.id
    session.add(
        timeline_note(
            incident, caller, "comms", f"{audience.value} update #{update.number} published"
        )
    )
    await _announce(session, incident, update, audience)
    await record(
        session,
        caller,
        "status_update.publish",
        resource_type="status_update",
        resource_id=update.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={"sha256": update.published_sha256, "evidence": frozen.id},
    )


async def _announce(
    session: AsyncSession, incident: Incident, update: StatusUpdate, audience: Audience
) -> None:
    kinds = _CHANNELS.get(audience)
    if not kinds:
        return
    await enqueue(
        session,
        event_type=f"status_update.{audience.value}",
        idempotency_key=f"status-update-{update.id}",
        kinds=kinds,
        payload={
            "incident_reference": incident.reference,
            "title": incident.title,
            "severity": incident.severity,
            "status": update.status,
            "text": update.body,
            "number": update.number,
            "sha256": update.published_sha256,
            "published_at": update.published_at.isoformat() if update.published_at else None,
            "url": "",
        },
    )


async def _tell_commander(
    runtime: Runtime,
    caller: Caller,
    incident: Incident,
    audience: Audience,
    number: int,
    *,
    key: str | None,
) -> None:
    """Put the missing comms lead on the timeline and in front of the commander's chat.

    Runs after the refused use case rolled back (`after_rollback`), so not in its unit of
    work: it takes the runtime and caller and commits on its own."""
    async with runtime.db.write() as session:
        fresh = await incident_for(session, caller, incident.id, "read")
        session.add(
            timeline_note(
                fresh,
                caller,
                "comms",
                f"{audience.value} update #{number} is held: assign a comms lead",
            )
        )
        commanders = await roles.holders(session, incident.id, IncidentRoleKind.INCIDENT_COMMANDER)
        await enqueue(
            session,
            event_type="incident.comms_lead_missing",
            idempotency_key=(
                f"comms-lead-missing-{key}"
                if key
                else f"comms-lead-missing-{incident.id}-{audience.value}-{number}"
            ),
            kinds={"slack", "teams", "generic"},
            payload={
                "incident_reference": incident.reference,
                "title": f"{incident.reference} needs a comms lead",
                "text": f"A {audience.value} update is waiting; assign a comms lead.",
                "severity": incident.severity,
                "status": incident.status,
                "url": "",
                "commanders": [c.principal_id for c in commanders],
            },
        )
        await record(
            session,
            caller,
            "incident.comms_lead_missing",
            resource_type="incident",
            resource_id=incident.id,
            payload={"update": int(key) if key else None, "audience": audience.value},
        )


async def updates_for(
    session: AsyncSession, caller: Caller, incident_ids: Sequence[int]
) -> dict[int, list[StatusUpdate]]:
    """The updates of these incidents the caller may read, by incident (a loader's batch)."""
    grouped: dict[int, list[StatusUpdate]] = {}
    rows = await session.execute(
        audiences.select_readable(caller)
        .where(StatusUpdate.incident_id.in_(list(incident_ids)))
        .order_by(StatusUpdate.id)
    )
    for update in rows.scalars():
        grouped.setdefault(update.incident_id, []).append(update)
    return grouped
