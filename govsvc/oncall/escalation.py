"""Escalation: policies (levels of targets, a timeout per level, repeats), the policy a service
points at, paging an incident through a policy, acknowledging, and the worker's step that
escalates an unacknowledged page on time.

Every person a level reaches gets a page row: sent (queued on the outbox's channels, whose
deliveries are the result) or skipped with the reason (their jurisdiction forbids paging now,
or a schedule had nobody on call). Escalations are claimed by the worker with
`FOR UPDATE SKIP LOCKED` on PostgreSQL (on SQLite the write transaction serialises workers),
and the claim moves `next_at` in the same transaction that sends the pages, so each level
fires exactly once however many workers run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from govsvc import usecase, validation
from govsvc.audit import log as audit_log
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import Conflict, Invalid, NotFound
from govsvc.incidents.common import incident_for, timeline_note, unit_code
from govsvc.incidents.models import Incident
from govsvc.oncall import jurisdictions
from govsvc.oncall.models import (
    Escalation,
    EscalationPolicy,
    EscalationState,
    Page,
    PageState,
    Schedule,
    ServiceEscalation,
)
from govsvc.oncall.queries import (
    Level,
    Target,
    pages_visible,
    parse_levels,
    people,
    policy_for,
    policy_of_service,
    resolve_targets,
    schedules_by_id,
)
from govsvc.org import service as org_service
from govsvc.org.models import Principal, PrincipalKind, Team
from govsvc.outbox.enqueue import enqueue
from govsvc.outbox.models import Delivery, Endpoint
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

JOB = "oncall escalations"
CHANNELS = {"slack", "teams", "generic", "email"}
TARGET_KINDS = ("schedule", "person", "team")
MAX_LEVELS = 10
MAX_TARGETS = 10
MAX_REPEATS = 10


@dataclass(frozen=True)
class LevelSpec:
    timeout_seconds: int
    targets: list[tuple[str, int]]  # (kind, id)


async def _check_targets(uc: UseCase, unit_id: int, levels: Sequence[LevelSpec]) -> list[Level]:
    if not levels:
        raise Invalid("a policy needs at least one level", field="levels")
    if len(levels) > MAX_LEVELS:
        raise Invalid(f"at most {MAX_LEVELS} levels", field="levels")
    out = []
    for n, spec in enumerate(levels):
        where = f"levels.{n}"
        if not 60 <= spec.timeout_seconds <= 86_400:
            raise Invalid("a level waits 60 s to 24 h", field=f"{where}.timeoutSeconds")
        if not spec.targets or len(spec.targets) > MAX_TARGETS:
            raise Invalid(f"a level has 1-{MAX_TARGETS} targets", field=f"{where}.targets")
        targets = []
        for k, (kind, target_id) in enumerate(spec.targets):
            field = f"{where}.targets.{k}"
            if kind not in TARGET_KINDS:
                raise Invalid("a target is a schedule, person or team", field=f"{field}.kind")
            await _check_target(uc, unit_id, kind, target_id, field=f"{field}.id")
            targets.append(Target(kind, target_id))
        out.append(Level(spec.timeout_seconds, tuple(targets)))
    return out


async def _check_target(
    uc: UseCase, unit_id: int, kind: str, target_id: int, *, field: str
) -> None:
    """The target exists, the caller may read it, and (schedules, teams) it belongs to the
    policy's unit or one above it."""
    lineage = set(uc.caller.access.units.ancestors_or_self(unit_id)) | {unit_id}
    if kind == "person":
        person = (await org_service.principals_by_id(uc.session, uc.caller, [target_id])).get(
            target_id
        )
        if person is None or person.kind != PrincipalKind.PERSON.value or not person.active:
            raise NotFound("no such active person", field=field)
        return
    if kind == "schedule":
        found = (await schedules_by_id(uc.session, uc.caller, [target_id])).get(target_id)
        unit = found.business_unit_id if found else None
    else:
        team = (await org_service.teams_by_id(uc.session, uc.caller, [target_id])).get(target_id)
        unit = team.business_unit_id if team else None
    if unit is None:
        raise NotFound(f"no such {kind}", field=field)
    if unit not in lineage:
        raise Invalid(f"the {kind} belongs to another business unit", field=field)


def _levels_json(levels: Sequence[Level]) -> str:
    return json.dumps(
        [
            {
                "timeout_seconds": level.timeout_seconds,
                "targets": [{"kind": t.kind, "id": t.id} for t in level.targets],
            }
            for level in levels
        ]
    )


async def create_policy(
    uc: UseCase, *, business_unit_id: int, name: str, repeats: int, levels: Sequence[LevelSpec]
) -> EscalationPolicy:
    """An escalation policy in a unit (write on `escalation_policy` there)."""
    name = validation.text(name, field="name")
    unit = await org_service.get_business_unit(
        uc.session, uc.caller, business_unit_id, field="businessUnitId"
    )
    uc.caller.access.require("write", "escalation_policy", unit_id=unit.id)
    if not 0 <= repeats <= MAX_REPEATS:
        raise Invalid(f"repeat the ladder 0-{MAX_REPEATS} times", field="repeats")
    checked = await _check_targets(uc, unit.id, levels)
    policy = EscalationPolicy(
        business_unit_id=unit.id,
        name=name,
        levels=_levels_json(checked),
        repeats=repeats,
        version=1,
        created_by=uc.caller.actor,
        created_at=utcnow(),
    )
    uc.session.add(policy)
    await uc.session.flush()
    await record(
        uc.session,
        uc.caller,
        "escalation_policy.create",
        resource_type="escalation_policy",
        resource_id=policy.id,
        unit=unit.code,
        payload={"name": name, "repeats": repeats, "levels": json.loads(policy.levels)},
    )
    return policy


async def update_policy(
    uc: UseCase,
    *,
    policy_id: int,
    name: str | None = None,
    repeats: int | None = None,
    levels: Sequence[LevelSpec] | None = None,
) -> EscalationPolicy:
    """A new version of the policy (audited before and after). Escalations under way keep the
    ladder they started with; the next ones page by the new one."""
    policy = await policy_for(uc, policy_id, "write")
    before = _policy_document(policy)
    if name is not None:
        policy.name = validation.text(name, field="name")
    if repeats is not None:
        if not 0 <= repeats <= MAX_REPEATS:
            raise Invalid(f"repeat the ladder 0-{MAX_REPEATS} times", field="repeats")
        policy.repeats = repeats
    if levels is not None:
        policy.levels = _levels_json(await _check_targets(uc, policy.business_unit_id, levels))
    after = {**_policy_document(policy), "version": policy.version + 1}
    if {**before, "version": 0} == {**after, "version": 0}:
        raise Invalid("nothing would change", field="policyId")
    policy.version += 1
    await record(
        uc.session,
        uc.caller,
        "escalation_policy.update",
        resource_type="escalation_policy",
        resource_id=policy.id,
        unit=await unit_code(uc.session, policy.business_unit_id),
        payload={"before": before, "after": after},
    )
    return policy


def _policy_document(policy: EscalationPolicy) -> dict[str, object]:
    return {
        "name": policy.name,
        "repeats": policy.repeats,
        "levels": json.loads(policy.levels),
        "version": policy.version,
    }


async def set_service_policy(
    uc: UseCase, *, service_id: int, policy_id: int | None
) -> tuple[int, int | None]:
    """Point a service at a policy of its unit (or one above), or at none: (service, policy)."""
    service = await org_service.get_service(uc.session, uc.caller, service_id, field="serviceId")
    uc.caller.access.require("write", "escalation_policy", unit_id=service.business_unit_id)
    current = await uc.session.get(ServiceEscalation, service.id)
    before = current.policy_id if current else None
    if policy_id is not None:
        policy = await policy_for(uc, policy_id, "read")
        lineage = set(uc.caller.access.units.ancestors_or_self(service.business_unit_id))
        if policy.business_unit_id not in lineage | {service.business_unit_id}:
            raise Invalid("the policy belongs to another business unit", field="policyId")
    if before == policy_id:
        raise Invalid("the service already points there", field="policyId")
    if policy_id is None and current is not None:
        await uc.session.delete(current)
    elif current is None:
        uc.session.add(
            ServiceEscalation(
                service_id=service.id, policy_id=policy_id, set_by=uc.caller.actor, set_at=utcnow()
            )
        )
    elif policy_id is not None:
        current.policy_id, current.set_by, current.set_at = policy_id, uc.caller.actor, utcnow()
    await record(
        uc.session,
        uc.caller,
        "service.escalation_policy_set",
        resource_type="service",
        resource_id=service.id,
        unit=await unit_code(uc.session, service.business_unit_id),
        payload={"before": before, "after": policy_id},
    )
    return service.id, policy_id


# ---------------------------------------------------------------------------- paging


async def page(
    uc: UseCase, *, incident_id: int, policy_id: int, now: datetime | None = None
) -> Escalation:
    """Start paging an incident through a policy: level 1 now, the next when it times out."""
    incident = await incident_for(uc.session, uc.caller, incident_id, "read")
    uc.caller.access.require("create", "page", unit_id=incident.business_unit_id)
    policy = await policy_for(uc, policy_id, "read")
    return await _start(uc, incident, policy, now or utcnow())


async def start_for_incident(
    uc: UseCase, *, incident: Incident, now: datetime
) -> Escalation | None:
    """For the alerts pipeline (a system caller): page a newly opened incident through the
    policy its service points at, if any."""
    policy_id = await policy_of_service(uc.session, incident.service_id)
    if policy_id is None:
        return None
    policy = await uc.session.get(EscalationPolicy, policy_id)
    if policy is None:  # the foreign key keeps it; never reached
        return None
    return await _start(uc, incident, policy, now)


async def _start(
    uc: UseCase, incident: Incident, policy: EscalationPolicy, now: datetime
) -> Escalation:
    existing = (
        await uc.session.execute(
            select(Escalation.id).where(
                Escalation.incident_id == incident.id, Escalation.policy_id == policy.id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("this incident is already being paged through this policy", field="policyId")
    escalation = Escalation(
        incident_id=incident.id,
        policy_id=policy.id,
        business_unit_id=incident.business_unit_id,
        policy_version=policy.version,
        ladder=policy.levels,
        repeats=policy.repeats,
        level=0,
        round=0,
        state=EscalationState.ACTIVE.value,
        started_at=now,
        started_by=uc.caller.actor,
    )
    uc.session.add(escalation)
    try:
        await uc.session.flush()
    except IntegrityError:  # another call started the same escalation a moment ago
        raise Conflict(
            "this incident is already being paged through this policy", field="policyId"
        ) from None
    await _page_level(uc, escalation, incident, parse_levels(escalation.ladder), now)
    return escalation


async def _last_pages_elsewhere(
    uc: UseCase, person_ids: set[int], incident_id: int
) -> dict[int, datetime]:
    if not person_ids:
        return {}
    rows = await uc.session.execute(
        select(Page.principal_id, func.max(Page.paged_at))
        .where(
            Page.principal_id.in_(person_ids),
            Page.state == PageState.SENT.value,
            Page.incident_id != incident_id,
        )
        .group_by(Page.principal_id)
    )
    return {p: at for p, at in rows.all() if p is not None}


async def _page_level(
    uc: UseCase,
    escalation: Escalation,
    incident: Incident,
    levels: Sequence[Level],
    now: datetime,
    *,
    audit: list[audit_log.Entry] | None = None,
) -> list[Page]:
    """Page everyone the escalation's current level reaches now; set when it times out. With
    `audit`, the audit event is handed back to be appended at the end of the transaction
    (a worker's batch), instead of taking the audit chain's lock now."""
    level = levels[escalation.level]
    reached = await resolve_targets(uc.session, level.targets, now)
    who = await people(uc.session, [r.person_id for r in reached])
    found = (
        await uc.session.execute(
            select(Principal.id, Principal.email, Principal.active).where(
                Principal.id.in_(set(who))
            )
        )
    ).all()
    names = {i: email for i, email, _ in found}
    inactive = {i for i, _, active in found if not active}
    last = await _last_pages_elsewhere(uc, set(who), incident.id)
    number = escalation.level + 1
    pages: list[Page] = []
    for target in level.targets:
        if not any(r.target == target for r in reached):
            pages.append(
                _page(
                    escalation,
                    None,
                    number,
                    target,
                    now,
                    PageState.SKIPPED,
                    await _nobody(uc, target),
                )
            )
    for r in reached:
        person = who.get(r.person_id)
        if person is None:
            why: str | None = "no such person"
        elif r.person_id in inactive:
            why = "deactivated: fix the schedule or the policy"
        else:
            why = jurisdictions.paging_forbidden(
                uc.policies.jurisdictions, person, now, last.get(r.person_id)
            )
        state = PageState.SKIPPED if why else PageState.SENT
        pages.append(_page(escalation, r.person_id, number, r.target, now, state, why))
    uc.session.add_all(pages)
    await uc.session.flush()
    for p in pages:
        if p.state == PageState.SENT.value:
            await _send(uc, p, incident, names.get(p.principal_id or 0, ""))
    sent = [p for p in pages if p.state == PageState.SENT.value]
    summary = ", ".join(
        f"{names.get(p.principal_id or 0, 'nobody')}: {p.state}"
        + (f" ({p.reason})" if p.reason else "")
        for p in pages
    )
    uc.session.add(
        timeline_note(
            incident,
            uc.caller,
            "paging",
            f"Level {number} (round {escalation.round + 1}) paged: {summary}"[:2000],
            now,
        )
    )
    # A level that reached nobody (all skipped, nobody on call) does not make anyone wait out
    # its timeout: the next level is due at once.
    escalation.next_at = now + timedelta(seconds=level.timeout_seconds if sent else 0)
    event = audit_log.Entry(
        action="escalation.level",
        resource_type="escalation",
        resource_id=escalation.id,
        unit=await unit_code(uc.session, escalation.business_unit_id),
        payload={
            "incident_id": incident.id,
            "policy_id": escalation.policy_id,
            "level": number,
            "round": escalation.round + 1,
            "pages": [
                {"page_id": p.id, "person_id": p.principal_id, "state": p.state, "reason": p.reason}
                for p in pages
            ],
            "sent": len(sent),
            "next_at": escalation.next_at,
        },
    )
    if audit is None:
        await audit_log.record_all(uc.session, uc.caller, [event])
    else:
        audit.append(event)
    return pages


async def _nobody(uc: UseCase, target: Target) -> str:
    if target.kind == "schedule":
        schedule = await uc.session.get(Schedule, target.id)
        return f"nobody on call on schedule {schedule.name if schedule else target.id}"
    if target.kind == "team":
        team = await uc.session.get(Team, target.id)
        return f"team {team.code if team else target.id} has no active member"
    return "nobody to page"


def _page(
    escalation: Escalation,
    person_id: int | None,
    level: int,
    target: Target,
    now: datetime,
    state: PageState,
    reason: str | None,
) -> Page:
    return Page(
        escalation_id=escalation.id,
        incident_id=escalation.incident_id,
        business_unit_id=escalation.business_unit_id,
        principal_id=person_id,
        level=level,
        round=escalation.round + 1,
        target=target.key,
        state=state.value,
        reason=reason,
        channels="",
        delivery_ids="[]",
        paged_at=now,
    )


async def _send(uc: UseCase, page_row: Page, incident: Incident, email: str) -> None:
    """Queue the page on every channel endpoint (chat, webhooks, e-mail to the person)."""
    ids = await enqueue(
        uc.session,
        event_type="oncall.page",
        idempotency_key=f"oncall-page-{page_row.id}",
        kinds=CHANNELS,
        payload={
            "incident_reference": incident.reference,
            "title": f"Page: {incident.title}"[:200],
            "text": (
                f"{email} is paged for {incident.reference} (level {page_row.level}, round"
                f" {page_row.round}). Acknowledge page {page_row.id} to stop the escalation."
            ),
            "severity": incident.severity,
            "status": incident.status,
            "page_id": page_row.id,
            "level": page_row.level,
            "recipients": [email] if email else [],
        },
        now=page_row.paged_at,
    )
    page_row.delivery_ids = json.dumps(ids)
    if ids:
        kinds = (
            await uc.session.execute(
                select(Endpoint.kind)
                .join(Delivery, Delivery.endpoint_id == Endpoint.id)
                .where(Delivery.id.in_(ids))
                .distinct()
            )
        ).scalars()
        page_row.channels = ",".join(sorted(kinds))


async def _incident(uc: UseCase, incident_id: int) -> Incident:
    return (
        await uc.session.execute(select(Incident).where(Incident.id == incident_id))
    ).scalar_one()


async def acknowledge(uc: UseCase, *, page_id: int) -> Page:
    """I have it: stops the escalation (the paged person, or anyone who may acknowledge
    pages in the unit)."""
    found = (
        await uc.session.execute(select(Page).where(Page.id == page_id, pages_visible(uc.caller)))
    ).scalar_one_or_none()
    if found is None:
        own = await uc.session.get(Page, page_id)
        if own is None or own.principal_id is None or own.principal_id != uc.caller.principal_id:
            raise NotFound("no such page", field="pageId")
        found = own
    elif found.principal_id != uc.caller.principal_id:
        uc.caller.access.require("acknowledge", "page", unit_id=found.business_unit_id)
    if found.state != PageState.SENT.value:
        raise Conflict("this page was not sent: acknowledge one that was", field="pageId")
    escalation = (
        await uc.session.execute(
            select(Escalation).where(Escalation.id == found.escalation_id).with_for_update()
        )
    ).scalar_one()
    if escalation.state == EscalationState.ACKNOWLEDGED.value:
        raise Conflict(
            f"already acknowledged by {escalation.acknowledged_by} at"
            f" {escalation.acknowledged_at:%H:%M:%S}Z",
            field="pageId",
        )
    now = utcnow()
    found.acknowledged_at, found.acknowledged_by = now, uc.caller.actor
    escalation.state = EscalationState.ACKNOWLEDGED.value
    escalation.acknowledged_at, escalation.acknowledged_by = now, uc.caller.actor
    escalation.next_at = None
    incident = await _incident(uc, found.incident_id)
    seconds = int((now - found.paged_at).total_seconds())
    uc.session.add(
        timeline_note(
            incident,
            uc.caller,
            "paging",
            f"Page {found.id} acknowledged by {uc.caller.actor} after {seconds} s",
            now,
        )
    )
    await record(
        uc.session,
        uc.caller,
        "page.acknowledge",
        resource_type="page",
        resource_id=found.id,
        unit=await unit_code(uc.session, found.business_unit_id),
        payload={"escalation_id": escalation.id, "incident_id": incident.id, "seconds": seconds},
    )
    return found


async def escalate_due(uc: UseCase, *, now: datetime | None = None, batch: int = 50) -> int:
    """The worker's step: every active escalation whose level has timed out goes one level up
    (or round again, or ends exhausted). Returns how many moved.

    The batch's audit events are appended last, just before commit: the chain's lock is then
    held for those appends only, so workers claiming other escalations (SKIP LOCKED) page in
    parallel instead of queueing behind one another's whole batch."""
    moment = now or utcnow()
    audit: list[audit_log.Entry] = []
    due = (
        (
            await uc.session.execute(
                select(Escalation)
                .where(
                    Escalation.state == EscalationState.ACTIVE.value,
                    Escalation.next_at <= moment,
                )
                .order_by(Escalation.next_at, Escalation.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for escalation in due:
        policy = (
            await uc.session.execute(
                select(EscalationPolicy).where(EscalationPolicy.id == escalation.policy_id)
            )
        ).scalar_one()
        incident = await _incident(uc, escalation.incident_id)
        levels = parse_levels(escalation.ladder)
        if escalation.level + 1 < len(levels):
            escalation.level += 1
        elif escalation.round < escalation.repeats:
            escalation.round += 1
            escalation.level = 0
        else:
            escalation.state = EscalationState.EXHAUSTED.value
            escalation.next_at = None
            uc.session.add(
                timeline_note(
                    incident,
                    uc.caller,
                    "paging",
                    f"Escalation through policy {policy.name!r} exhausted: nobody acknowledged",
                    moment,
                )
            )
            audit.append(
                audit_log.Entry(
                    action="escalation.exhausted",
                    resource_type="escalation",
                    resource_id=escalation.id,
                    unit=await unit_code(uc.session, escalation.business_unit_id),
                    payload={"incident_id": incident.id, "policy_id": policy.id},
                )
            )
            continue
        # Each page carries the moment it is sent, not when the batch was claimed.
        await _page_level(uc, escalation, incident, levels, now or utcnow(), audit=audit)
    await audit_log.record_all(uc.session, uc.caller, audit)
    return len(due)


async def escalate_caught_up(runtime: Runtime, caller: Caller, *, batch: int = 50) -> int:
    """The worker's job: batches of `escalate_due`, each its own transaction, until one comes
    back short (at most 20 per tick, so the worker's other jobs still get their turn): a
    backlog is worked off now, not one batch per interval."""
    moved = 0
    for _ in range(20):
        done = await usecase.run(runtime, caller, escalate_due, batch=batch)
        moved += done
        if done < batch:
            break
    return moved


async def pages_of(uc: UseCase, *, escalation_id: int) -> list[Page]:
    """The pages of one escalation, in order (for the caller who just started it)."""
    rows = await uc.session.execute(
        select(Page).where(Page.escalation_id == escalation_id).order_by(Page.id)
    )
    return list(rows.scalars())
