"""Roles on an incident: assigned, handed over, released, each on the timeline and in the audit
log; the command model and the conflict rules of policies/command.yaml decide who may hold one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.authz.access import UnitTree
from govsvc.authz.sensitivity import Sensitivity
from govsvc.command import conflicts
from govsvc.command.models import IncidentRole, IncidentRoleKind, RoleEnd
from govsvc.command.policy import CommandModel, CommandModelKind
from govsvc.db import ROLE_ASSIGNMENT_LOCK, one_writer_at_a_time, utcnow
from govsvc.errors import Conflict, Invalid
from govsvc.incidents import records
from govsvc.incidents.classification import Severity
from govsvc.incidents.common import MIN_JUSTIFICATION, incident_for, timeline_note, unit_code
from govsvc.incidents.models import Incident
from govsvc.org import service as org_service
from govsvc.org.models import Principal, PrincipalKind, Service, Team, TeamMember
from govsvc.org.units import load_unit_tree
from govsvc.usecase import UseCase


@dataclass(frozen=True)
class Assignment:
    term: IncidentRole
    incident: Incident
    handed_over_from: tuple[IncidentRole, ...]
    override_decision_id: int | None


async def command_model(uc: UseCase, incident: Incident) -> CommandModel:
    """The command model that applies to an incident: its service's rule, else its unit's."""
    service_code = (
        await uc.session.execute(select(Service.code).where(Service.id == incident.service_id))
    ).scalar_one_or_none()
    tree = await load_unit_tree(uc.session)
    return uc.policies.command.model_for(
        service_code=service_code, unit_lineage=unit_lineage(tree, incident.business_unit_id)
    )


def unit_lineage(tree: UnitTree, unit_id: int) -> list[str]:
    """The codes of a unit, its parent, ... up to the top."""
    return [tree.code_of[u] for u in tree.ancestors_or_self(unit_id) if u in tree.code_of]


async def assign(
    uc: UseCase,
    *,
    incident_id: int,
    role: IncidentRoleKind,
    principal_id: int,
    note: str | None = None,
    override_justification: str | None = None,
) -> Assignment:
    """Give a person a role on an incident. For a role with one holder, whoever held it hands
    it over (their term ends, pointing at the new one). A person who would break a conflict
    rule is refused with the rule, the other incidents and free backups, unless the assigner
    overrides with a justification, which is logged as a decision on the incident."""
    text = validation.text(note or "", field="note", max_length=2_000, allow_empty=True)
    justification = None
    if override_justification is not None:
        justification = validation.text(
            override_justification, field="override.justification", max_length=5_000
        )
        if len(justification) < MIN_JUSTIFICATION:
            raise Invalid(
                f"a justification needs at least {MIN_JUSTIFICATION} characters",
                field="override.justification",
            )
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    person = await org_service.get_principal(session, uc.caller, principal_id, field="personId")
    if person.kind != PrincipalKind.PERSON.value or not person.active:
        raise Invalid("only an active person can hold a role", field="personId")
    await _fits_command_model(uc, incident, role, person)
    current = await holders(session, incident.id, role)
    if any(term.principal_id == person.id for term in current):
        raise Conflict(
            f"{person.name} is already {role.label} of {incident.reference}", field="personId"
        )
    severity = Severity(incident.severity)
    rules = uc.policies.command.conflicts
    # Two assignments of one person on two incidents must not both pass the rules.
    await one_writer_at_a_time(session, ROLE_ASSIGNMENT_LOCK)
    held = await conflicts.holdings_of(session, [person.id])
    violations, skipped = conflicts.judge(rules, held, role=role, severity=severity)
    decision_id: int | None = None
    if violations:
        found = await conflicts.backups(
            session, uc.caller, rules, incident=incident, role=role, asked_id=person.id
        )
        if justification is None:
            raise conflicts.refuse(uc.caller, person.name, role, violations, found)
        decision_id = await _override(uc, incident, person, role, violations, found, justification)
    now = utcnow()
    term = IncidentRole(
        incident_id=incident.id,
        role=role.value,
        principal_id=person.id,
        assigned_by=uc.caller.actor,
        assigned_at=now,
        note=text,
        override_decision_id=decision_id,
    )
    session.add(term)
    await session.flush()
    ended = current if role.single_holder else []
    names = await _names(session, [t.principal_id for t in ended])
    for previous in ended:
        previous.ended_at = now
        previous.ended_by = uc.caller.actor
        previous.end_reason = RoleEnd.HANDED_OVER.value
        previous.end_note = text
        previous.handed_to_id = person.id
        previous.successor_id = term.id
    line = f"{person.name} is {role.label}"
    if ended:
        line += " (handed over by " + ", ".join(names[t.principal_id] for t in ended) + ")"
    if skipped:
        line += (
            "; this "
            + severity.value
            + " takes precedence over "
            + ", ".join(
                sorted({f"{s.holding.reference} ({s.holding.severity.value})" for s in skipped})
            )
        )
    if text:
        line += f": {text}"
    session.add(timeline_note(incident, uc.caller, "role", line, occurred_at=now))
    await session.flush()
    await record(
        session,
        uc.caller,
        "incident.role_assign",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "role": role.value,
            "person": person.email,
            "term": term.id,
            "note": text,
            "handed_over_from": await _emails(session, ended),
            "override_decision": decision_id,
            "precedence_over": sorted({s.holding.reference for s in skipped}),
        },
    )
    return Assignment(term, incident, tuple(ended), decision_id)


async def release(
    uc: UseCase,
    *,
    incident_id: int,
    role: IncidentRoleKind,
    principal_id: int | None = None,
    note: str | None = None,
) -> IncidentRole:
    """End a term without a successor: the role stands empty until someone is assigned."""
    text = validation.text(note or "", field="note", max_length=2_000, allow_empty=True)
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    current = await holders(session, incident.id, role)
    if principal_id is not None:
        person = await org_service.get_principal(session, uc.caller, principal_id, field="personId")
        current = [t for t in current if t.principal_id == person.id]
    if not current:
        raise Conflict(f"nobody holds that role on {incident.reference}", field="role")
    if len(current) > 1:
        raise Invalid(f"several people are {role.label}: name which one", field="personId")
    (term,) = current
    now = utcnow()
    term.ended_at = now
    term.ended_by = uc.caller.actor
    term.end_reason = RoleEnd.RELEASED.value
    term.end_note = text
    names = await _names(session, [term.principal_id])
    line = f"{names[term.principal_id]} is no longer {role.label}" + (f": {text}" if text else "")
    session.add(timeline_note(incident, uc.caller, "role", line, occurred_at=now))
    await session.flush()
    await record(
        session,
        uc.caller,
        "incident.role_release",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "role": role.value,
            "person": (await _emails(session, [term]))[0],
            "term": term.id,
            "note": text,
        },
    )
    return term


async def holders(
    session: AsyncSession, incident_id: int, role: IncidentRoleKind
) -> list[IncidentRole]:
    """Who holds `role` on the incident now (for update: the caller locked the incident)."""
    return list(
        (
            await session.execute(
                select(IncidentRole)
                .where(
                    IncidentRole.incident_id == incident_id,
                    IncidentRole.role == role.value,
                    IncidentRole.ended_at.is_(None),
                )
                .order_by(IncidentRole.id)
            )
        ).scalars()
    )


async def _fits_command_model(
    uc: UseCase, incident: Incident, role: IncidentRoleKind, person: Principal
) -> None:
    model = await command_model(uc, incident)
    why = f"{model.source.value} rule {model.rule!r}" if model.rule else "the default rule"
    if model.model is CommandModelKind.CENTRALISED and role is IncidentRoleKind.COORDINATOR:
        raise Invalid(
            f"{incident.reference} is under centralised command ({why}): one incident "
            "commander leads and there is no coordinator",
            field="role",
        )
    if model.model is CommandModelKind.DISTRIBUTED and role is IncidentRoleKind.INCIDENT_COMMANDER:
        team = (
            await uc.session.execute(
                select(Team)
                .join(Service, Service.owning_team_id == Team.id)
                .where(Service.id == incident.service_id)
            )
        ).scalar_one_or_none()
        if team is None:
            raise Invalid(
                f"{incident.reference} is under distributed command ({why}): its service's "
                "owners lead, and the service has no owning team",
                field="personId",
            )
        member = (
            await uc.session.execute(
                select(TeamMember.id).where(
                    TeamMember.team_id == team.id, TeamMember.principal_id == person.id
                )
            )
        ).first()
        if member is None:
            raise Invalid(
                f"{incident.reference} is under distributed command ({why}): its service's "
                f"owners lead, and {person.name} is not in the owning team {team.code}",
                field="personId",
            )


async def _override(
    uc: UseCase,
    incident: Incident,
    person: Principal,
    role: IncidentRoleKind,
    violations: list[conflicts.Violation],
    backup_ids: list[int],
    justification: str,
) -> int:
    """Proceeding despite a conflict rule is a decision on the incident's log, and audited."""
    uc.caller.access.require(
        "override_role_conflict",
        "incident",
        unit_id=incident.business_unit_id,
        sensitivity=Sensitivity(incident.sensitivity),
    )
    rule_ids = [v.rule.id for v in violations]
    names = await _names(uc.session, backup_ids)
    entry = await records.record_decision(
        uc,
        incident_id=incident.id,
        decision=f"{person.name} is {role.label} despite conflict rule(s) " + ", ".join(rule_ids),
        rationale=justification,
        alternatives=[f"{names[b]} as {role.label}" for b in backup_ids],
    )
    await record(
        uc.session,
        uc.caller,
        "incident.role_conflict_override",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(uc.session, incident.business_unit_id),
        payload={
            "role": role.value,
            "person": person.email,
            "rules": rule_ids,
            "other_incidents": sorted({h.reference for v in violations for h in v.others}),
            "decision": entry.id,
            "justification": justification,
        },
    )
    return entry.id


async def _names(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Principal.id, Principal.name).where(Principal.id.in_(ids)))
    return dict(rows.all())


async def _emails(session: AsyncSession, terms: list[IncidentRole]) -> list[str]:
    if not terms:
        return []
    ids = [t.principal_id for t in terms]
    rows = await session.execute(select(Principal.id, Principal.email).where(Principal.id.in_(ids)))
    by_id = dict(rows.all())
    return [by_id[i] for i in ids]
