"""Role conflicts by rule (policies/command.yaml): what a person already holds across active
incidents, which rules one more role would break, and who could step in instead."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.command.models import IncidentRole, IncidentRoleKind
from govsvc.command.policy import ConflictRule
from govsvc.errors import Conflict
from govsvc.incidents.classification import Severity
from govsvc.incidents.models import Incident, IncidentStatus
from govsvc.org.models import Principal, PrincipalKind, Service, Team, TeamMember

# Incidents whose roles count: from detection until resolved.
ACTIVE = tuple(
    s.value for s in IncidentStatus if s not in (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
)
MAX_BACKUPS = 10


@dataclass(frozen=True)
class Holding:
    """One role a person holds now on an active incident."""

    principal_id: int
    role: IncidentRoleKind
    incident_id: int
    reference: str
    severity: Severity
    unit_id: int
    sensitivity: Sensitivity


@dataclass(frozen=True)
class Violation:
    rule: ConflictRule
    others: tuple[Holding, ...]  # the holdings that, with the new role, break the rule


@dataclass(frozen=True)
class Precedence:
    """A holding a more severe incident's assignment did not count (the rule's precedence)."""

    rule: ConflictRule
    holding: Holding


@dataclass(frozen=True)
class ShownViolation:
    """A broken rule as the assigner is told it: incidents they may read by reference, the
    others only counted."""

    rule_id: str
    description: str
    references: tuple[str, ...]
    hidden: int


class RoleConflict(Conflict):
    """Refused by a conflict rule; carries the rules broken and the free backups found."""

    def __init__(
        self, message: str, *, violations: Sequence[ShownViolation], backup_ids: Sequence[int]
    ) -> None:
        super().__init__(message, field="personId")
        self.violations = tuple(violations)
        self.backup_ids = tuple(backup_ids)


async def holdings_of(session: AsyncSession, principal_ids: Iterable[int]) -> list[Holding]:
    """Every role these people hold now on active incidents, in any unit: a conflict is a fact
    about the person, whoever asks (what the asker may not read is not named to them)."""
    rows = await session.execute(
        select(IncidentRole, Incident)
        .join(Incident, Incident.id == IncidentRole.incident_id)
        .where(
            IncidentRole.principal_id.in_(set(principal_ids)),
            IncidentRole.ended_at.is_(None),
            Incident.status.in_(ACTIVE),
        )
        .order_by(Incident.id, IncidentRole.id)
    )
    return [
        Holding(
            principal_id=term.principal_id,
            role=IncidentRoleKind(term.role),
            incident_id=incident.id,
            reference=incident.reference,
            severity=Severity(incident.severity),
            unit_id=incident.business_unit_id,
            sensitivity=Sensitivity(incident.sensitivity),
        )
        for term, incident in rows
    ]


def judge(
    rules: Sequence[ConflictRule],
    held: Sequence[Holding],
    *,
    role: IncidentRoleKind,
    severity: Severity,
) -> tuple[list[Violation], list[Precedence]]:
    """The rules one more `role` on an incident of `severity` breaks, given what the person
    holds; and the holdings left out because the new incident takes precedence."""
    violations: list[Violation] = []
    skipped: list[Precedence] = []
    for rule in rules:
        if not rule.counts(role):
            continue
        counted = [h for h in held if rule.counts(h.role)]
        if severity in rule.precedence:
            for h in counted:
                if h.severity.rank > severity.rank:
                    skipped.append(Precedence(rule, h))
            counted = [h for h in counted if h.severity.rank <= severity.rank]
        if len(counted) + 1 > rule.max:
            violations.append(Violation(rule, tuple(counted)))
    return violations, skipped


def shown(caller: Caller, found: Sequence[Violation]) -> list[ShownViolation]:
    result = []
    for violation in found:
        named, hidden = [], 0
        for h in violation.others:
            if caller.access.allows(
                "read", "incident", unit_id=h.unit_id, sensitivity=h.sensitivity
            ):
                named.append(f"{h.role.label} of {h.reference} ({h.severity.value})")
            else:
                hidden += 1
        result.append(
            ShownViolation(violation.rule.id, violation.rule.description, tuple(named), hidden)
        )
    return result


def refuse(
    caller: Caller,
    name: str,
    role: IncidentRoleKind,
    found: Sequence[Violation],
    backup_ids: Sequence[int],
) -> RoleConflict:
    """The refusal: each rule and the other incidents (named only if the caller may read them)."""
    told = shown(caller, found)
    parts = []
    for v in told:
        held = ", ".join(v.references)
        if v.hidden:
            held += (", " if held else "") + f"{v.hidden} role(s) on incidents you may not read"
        parts.append(f"rule '{v.rule_id}' ({v.description}): already {held}")
    message = (
        f"{name} cannot be {role.label}: "
        + "; ".join(parts)
        + ". Choose a backup, or override with a justification (a recorded decision)."
    )
    return RoleConflict(message, violations=told, backup_ids=backup_ids)


async def backups(
    session: AsyncSession,
    caller: Caller,
    rules: Sequence[ConflictRule],
    *,
    incident: Incident,
    role: IncidentRoleKind,
    asked_id: int,
) -> list[int]:
    """People of the asked person's teams and of the service's owning team (teams the caller
    may read) who are active and could take the role without breaking any rule."""
    owning = select(Service.owning_team_id).where(Service.id == incident.service_id)
    theirs = select(TeamMember.team_id).where(TeamMember.principal_id == asked_id)
    teams = select(Team.id).where(
        (Team.id.in_(owning) | Team.id.in_(theirs)),
        readable(caller.access, "team", Team.business_unit_id),
    )
    on_incident = select(IncidentRole.principal_id).where(
        IncidentRole.incident_id == incident.id,
        IncidentRole.role == role.value,
        IncidentRole.ended_at.is_(None),
    )
    candidates = list(
        (
            await session.execute(
                select(Principal.id)
                .join(TeamMember, TeamMember.principal_id == Principal.id)
                .where(
                    TeamMember.team_id.in_(teams),
                    Principal.id != asked_id,
                    Principal.kind == PrincipalKind.PERSON.value,
                    Principal.active.is_(True),
                    Principal.id.not_in(on_incident),
                    readable(caller.access, "person", None),
                )
                .distinct()
                .order_by(Principal.id)
            )
        ).scalars()
    )
    if not candidates:
        return []
    held: dict[int, list[Holding]] = {}
    for h in await holdings_of(session, candidates):
        held.setdefault(h.principal_id, []).append(h)
    severity = Severity(incident.severity)
    free = [
        pid
        for pid in candidates
        if not judge(rules, held.get(pid, []), role=role, severity=severity)[0]
    ]
    return free[:MAX_BACKUPS]
