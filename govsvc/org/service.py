"""Use cases of the organisation: units, services and SLAs, teams, people, machines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.errors import AlreadyExists, Invalid
from govsvc.org import reads
from govsvc.org.models import (
    BusinessUnit,
    Principal,
    PrincipalKind,
    Service,
    Team,
    TeamMember,
)
from govsvc.org.units import load_unit_tree
from govsvc.pagination import Page
from govsvc.sentinel import KEEP, Keep
from govsvc.usecase import UseCase

UNITS = reads.Kind(BusinessUnit, "business_unit", BusinessUnit.id, "no such business unit")
SERVICES = reads.Kind(Service, "service", Service.business_unit_id, "no such service")
TEAMS = reads.Kind(Team, "team", Team.business_unit_id, "no such team")
PEOPLE = reads.Kind(Principal, "person", None, "no such person")  # people belong to no unit

# ---------------------------------------------------------------------------- business units


async def create_business_unit(
    uc: UseCase, *, code: str, name: str, parent_id: int | None = None
) -> BusinessUnit:
    """Create a business unit, top-level or under a parent."""
    code = validation.code(code)
    name = validation.text(name, field="name")
    session = uc.session
    if parent_id is None:
        uc.caller.access.require_everywhere("manage", "business_unit")
    else:
        await get_business_unit(session, uc.caller, parent_id, field="parentId")
        uc.caller.access.require("manage", "business_unit", unit_id=parent_id)
    unit = BusinessUnit(code=code, name=name, parent_id=parent_id)
    session.add(unit)
    await _flush_unique(session, f"a business unit with code {code!r} exists", "code")
    await record(
        session,
        uc.caller,
        "business_unit.create",
        resource_type="business_unit",
        resource_id=unit.id,
        unit=code,
        payload={"code": code, "name": name, "parent_id": parent_id},
    )
    return unit


async def update_business_unit(
    uc: UseCase,
    *,
    unit_id: int,
    name: str | None = None,
    parent_id: int | Keep | None = KEEP,
) -> BusinessUnit:
    """Rename a unit or move it under another parent (as after a merger); never into a cycle."""
    session = uc.session
    unit = await get_business_unit(session, uc.caller, unit_id, field="id")
    uc.caller.access.require("manage", "business_unit", unit_id=unit.id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = [unit.name, validation.text(name, field="name")]
        unit.name = changes["name"][1]
    if parent_id is not KEEP and parent_id != unit.parent_id:
        if parent_id is None:
            uc.caller.access.require_everywhere("manage", "business_unit")
        else:
            await get_business_unit(session, uc.caller, parent_id, field="parentId")
            uc.caller.access.require("manage", "business_unit", unit_id=parent_id)
            tree = await load_unit_tree(session)
            if unit.id in tree.ancestors_or_self(parent_id):
                raise Invalid(
                    "a unit cannot be moved under itself or its own descendant",
                    field="parentId",
                )
        changes["parent_id"] = [unit.parent_id, parent_id]
        unit.parent_id = parent_id
    if changes:
        await record(
            session,
            uc.caller,
            "business_unit.update",
            resource_type="business_unit",
            resource_id=unit.id,
            unit=unit.code,
            payload=changes,
        )
    return unit


async def get_business_unit(
    session: AsyncSession, caller: Caller, unit_id: int, *, field: str
) -> BusinessUnit:
    """A business unit the caller may read, or NotFound."""
    return await reads.one(session, caller, UNITS, unit_id, field=field)


async def list_business_units(
    uc: UseCase, *, size: int, after_id: int | None
) -> Page[BusinessUnit]:
    """Business units the caller may read, oldest first."""
    return await reads.page(uc.session, uc.caller, UNITS, size=size, after_id=after_id)


async def business_units_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, BusinessUnit]:
    return await reads.by_id(session, caller, UNITS, ids)


# ---------------------------------------------------------------------------- services


def _check_sla(
    availability_target_pct: float,
    latency_threshold_ms: int | None,
    latency_outage_ms: int | None,
    tier: int,
) -> None:
    if tier not in (1, 2, 3, 4):
        raise Invalid("tier must be 1 (most critical) to 4", field="tier")
    if not 0 < availability_target_pct <= 100:
        raise Invalid(
            "availability target must be a percentage above 0 and at most 100",
            field="availabilityTargetPct",
        )
    for value, field in (
        (latency_threshold_ms, "latencyThresholdMs"),
        (latency_outage_ms, "latencyOutageMs"),
    ):
        if value is not None and value <= 0:
            raise Invalid("must be a positive number of milliseconds", field=field)
    if (
        latency_threshold_ms is not None
        and latency_outage_ms is not None
        and latency_outage_ms <= latency_threshold_ms
    ):
        raise Invalid(
            "the outage latency must be above the degradation threshold", field="latencyOutageMs"
        )


async def create_service(
    uc: UseCase,
    *,
    code: str,
    name: str,
    business_unit_id: int,
    tier: int,
    availability_target_pct: float,
    latency_threshold_ms: int | None = None,
    latency_outage_ms: int | None = None,
    owning_team_id: int | None = None,
    public_name: str | None = None,
) -> Service:
    """Register a service with its criticality tier and SLA."""
    code = validation.code(code)
    name = validation.text(name, field="name")
    if public_name is not None:
        public_name = validation.text(public_name, field="publicName")
    _check_sla(availability_target_pct, latency_threshold_ms, latency_outage_ms, tier)
    session = uc.session
    unit = await get_business_unit(session, uc.caller, business_unit_id, field="businessUnitId")
    uc.caller.access.require("manage", "service", unit_id=unit.id)
    if owning_team_id is not None:
        await get_team(session, uc.caller, owning_team_id, field="owningTeamId")
    service = Service(
        code=code,
        name=name,
        business_unit_id=unit.id,
        tier=tier,
        availability_target_pct=availability_target_pct,
        latency_threshold_ms=latency_threshold_ms,
        latency_outage_ms=latency_outage_ms,
        owning_team_id=owning_team_id,
        public_name=public_name,
    )
    session.add(service)
    await _flush_unique(session, f"a service with code {code!r} exists", "code")
    await record(
        session,
        uc.caller,
        "service.create",
        resource_type="service",
        resource_id=service.id,
        unit=unit.code,
        payload=_service_fields(service),
    )
    return service


async def update_service(
    uc: UseCase,
    *,
    service_id: int,
    name: str | None = None,
    business_unit_id: int | None = None,
    tier: int | None = None,
    availability_target_pct: float | None = None,
    latency_threshold_ms: int | Keep | None = KEEP,
    latency_outage_ms: int | Keep | None = KEEP,
    owning_team_id: int | Keep | None = KEEP,
    public_name: str | Keep | None = KEEP,
) -> Service:
    """Change a service's SLA or owner, or move it to another unit (as after a merger)."""
    session = uc.session
    service = await service_to_manage(session, uc.caller, service_id, field="id")
    before = _service_fields(service)
    if business_unit_id is not None and business_unit_id != service.business_unit_id:
        target = await get_business_unit(
            session, uc.caller, business_unit_id, field="businessUnitId"
        )
        uc.caller.access.require("manage", "service", unit_id=target.id)
        service.business_unit_id = target.id
    if name is not None:
        service.name = validation.text(name, field="name")
    if tier is not None:
        service.tier = tier
    if availability_target_pct is not None:
        service.availability_target_pct = availability_target_pct
    if latency_threshold_ms is not KEEP:
        service.latency_threshold_ms = latency_threshold_ms
    if latency_outage_ms is not KEEP:
        service.latency_outage_ms = latency_outage_ms
    if owning_team_id is not KEEP:
        if owning_team_id is not None:
            await get_team(session, uc.caller, owning_team_id, field="owningTeamId")
        service.owning_team_id = owning_team_id
    if public_name is not KEEP:
        service.public_name = (
            None if public_name is None else validation.text(public_name, field="publicName")
        )
    _check_sla(
        service.availability_target_pct,
        service.latency_threshold_ms,
        service.latency_outage_ms,
        service.tier,
    )
    after = _service_fields(service)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        action = "service.move" if "business_unit_id" in changes else "service.update"
        await record(
            session,
            uc.caller,
            action,
            resource_type="service",
            resource_id=service.id,
            payload=changes,
        )
    return service


def _service_fields(service: Service) -> dict[str, Any]:
    return {
        "code": service.code,
        "name": service.name,
        "business_unit_id": service.business_unit_id,
        "tier": service.tier,
        "availability_target_pct": service.availability_target_pct,
        "latency_threshold_ms": service.latency_threshold_ms,
        "latency_outage_ms": service.latency_outage_ms,
        "owning_team_id": service.owning_team_id,
        "public_name": service.public_name,
    }


async def get_service(
    session: AsyncSession, caller: Caller, service_id: int, *, field: str
) -> Service:
    """A service the caller may read, or NotFound (forbidden and missing look the same)."""
    return await reads.one(session, caller, SERVICES, service_id, field=field)


async def service_to_manage(
    session: AsyncSession, caller: Caller, service_id: int, *, field: str
) -> Service:
    """A service the caller may change (its SLA, owner, unit, dependencies): NotFound if they
    cannot see it, Forbidden if they see it but may not manage services in its unit."""
    service = await get_service(session, caller, service_id, field=field)
    caller.access.require("manage", "service", unit_id=service.business_unit_id)
    return service


async def list_services(uc: UseCase, *, size: int, after_id: int | None) -> Page[Service]:
    """Services the caller may read, oldest first."""
    return await reads.page(uc.session, uc.caller, SERVICES, size=size, after_id=after_id)


async def services_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Service]:
    return await reads.by_id(session, caller, SERVICES, ids)


# ---------------------------------------------------------------------------- teams


async def create_team(uc: UseCase, *, code: str, name: str, business_unit_id: int) -> Team:
    """Create a team in a business unit."""
    code = validation.code(code)
    name = validation.text(name, field="name")
    session = uc.session
    unit = await get_business_unit(session, uc.caller, business_unit_id, field="businessUnitId")
    uc.caller.access.require("manage", "team", unit_id=unit.id)
    team = Team(code=code, name=name, business_unit_id=unit.id)
    session.add(team)
    await _flush_unique(session, f"a team with code {code!r} exists", "code")
    await record(
        session,
        uc.caller,
        "team.create",
        resource_type="team",
        resource_id=team.id,
        unit=unit.code,
        payload={"code": code, "name": name},
    )
    return team


async def set_team_membership(uc: UseCase, *, team_id: int, person_id: int, member: bool) -> Team:
    """Add a person to a team or remove them; asking for the current state changes nothing."""
    session = uc.session
    team = await get_team(session, uc.caller, team_id, field="teamId")
    uc.caller.access.require("manage", "team", unit_id=team.business_unit_id)
    person = await get_principal(session, uc.caller, person_id, field="personId")
    existing = (
        await session.execute(
            select(TeamMember).where(
                TeamMember.team_id == team.id, TeamMember.principal_id == person.id
            )
        )
    ).scalar_one_or_none()
    if member and existing is None:
        session.add(TeamMember(team_id=team.id, principal_id=person.id))
        action = "team.member_add"
    elif not member and existing is not None:
        await session.delete(existing)
        action = "team.member_remove"
    else:
        return team
    await record(
        session,
        uc.caller,
        action,
        resource_type="team",
        resource_id=team.id,
        payload={"person": person.email},
    )
    return team


async def get_team(session: AsyncSession, caller: Caller, team_id: int, *, field: str) -> Team:
    """A team the caller may read, or NotFound."""
    return await reads.one(session, caller, TEAMS, team_id, field=field)


async def list_teams(uc: UseCase, *, size: int, after_id: int | None) -> Page[Team]:
    """Teams the caller may read, oldest first."""
    return await reads.page(uc.session, uc.caller, TEAMS, size=size, after_id=after_id)


async def teams_by_id(session: AsyncSession, caller: Caller, ids: Iterable[int]) -> dict[int, Team]:
    return await reads.by_id(session, caller, TEAMS, ids)


async def members_by_team(
    session: AsyncSession, caller: Caller, team_ids: Iterable[int]
) -> dict[int, list[Principal]]:
    """Members of each team, for a loader: one query for any number of teams."""
    grouped: dict[int, list[Principal]] = {}
    if not caller.access.allows("read", "person"):
        return grouped
    rows = await session.execute(
        select(TeamMember.team_id, Principal)
        .join(Principal, Principal.id == TeamMember.principal_id)
        .where(TeamMember.team_id.in_(set(team_ids)))
        .order_by(Principal.name)
    )
    for team_id, person in rows:
        grouped.setdefault(team_id, []).append(person)
    return grouped


# ---------------------------------------------------------------------------- people, machines


async def create_person(
    uc: UseCase,
    *,
    email: str,
    name: str,
    time_zone: str = "UTC",
    jurisdiction: str | None = None,
    handles: list[str] | None = None,
) -> Principal:
    """Register a person who may later be granted roles."""
    session = uc.session
    # People belong to no unit, and a person's credentials act wherever their grants
    # reach: only someone who manages people everywhere may create or change them.
    uc.caller.access.require_everywhere("manage", "person")
    return await add_principal(
        session,
        uc.caller,
        kind=PrincipalKind.PERSON,
        email=email,
        name=name,
        time_zone=time_zone,
        jurisdiction=jurisdiction,
        handles=handles or [],
    )


async def create_machine(uc: UseCase, *, handle: str, name: str) -> Principal:
    """Register a machine principal (an alert source, the status page publisher ...)."""
    session = uc.session
    uc.caller.access.require_everywhere("manage", "person")
    return await add_principal(
        session, uc.caller, kind=PrincipalKind.MACHINE, email=handle, name=name
    )


async def add_principal(
    session: AsyncSession,
    caller: Caller,
    *,
    kind: PrincipalKind,
    email: str,
    name: str,
    time_zone: str = "UTC",
    jurisdiction: str | None = None,
    handles: list[str] | None = None,
) -> Principal:
    """Insert a principal inside the caller's transaction (shared by GraphQL and the CLI)."""
    key = (
        validation.email(email)
        if kind is PrincipalKind.PERSON
        else "machine:" + validation.code(email.removeprefix("machine:"), field="handle")
    )
    principal = Principal(
        kind=kind.value,
        email=key,
        name=validation.text(name, field="name"),
        time_zone=validation.time_zone(time_zone),
        jurisdiction=validation.jurisdiction(jurisdiction),
        handles=json.dumps(validation.handles(handles or [])),
    )
    session.add(principal)
    await _flush_unique(
        session,
        f"{key} is already registered",
        "email" if kind is PrincipalKind.PERSON else "handle",
    )
    await record(
        session,
        caller,
        f"{kind.value}.create",
        resource_type="principal",
        resource_id=principal.id,
        payload={
            "email": key,
            "name": principal.name,
            "time_zone": principal.time_zone,
            "jurisdiction": principal.jurisdiction,
            "handles": json.loads(principal.handles),
        },
    )
    return principal


async def update_person(
    uc: UseCase,
    *,
    person_id: int,
    name: str | None = None,
    time_zone: str | None = None,
    jurisdiction: str | Keep | None = KEEP,
    active: bool | None = None,
    handles: list[str] | None = None,
) -> Principal:
    """Change a person's details, or deactivate them (their credentials stop working)."""
    session = uc.session
    person = await get_principal(session, uc.caller, person_id, field="id")
    uc.caller.access.require_everywhere("manage", "person")
    before = _principal_fields(person)
    if name is not None:
        person.name = validation.text(name, field="name")
    if time_zone is not None:
        person.time_zone = validation.time_zone(time_zone)
    if jurisdiction is not KEEP:
        person.jurisdiction = validation.jurisdiction(jurisdiction)
    if active is not None:
        person.active = active
    if handles is not None:
        person.handles = json.dumps(validation.handles(handles))
    after = _principal_fields(person)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        await record(
            session,
            uc.caller,
            "principal.update",
            resource_type="principal",
            resource_id=person.id,
            payload=changes,
        )
    return person


def _principal_fields(p: Principal) -> dict[str, Any]:
    return {
        "name": p.name,
        "time_zone": p.time_zone,
        "jurisdiction": p.jurisdiction,
        "active": p.active,
        "handles": json.loads(p.handles),
    }


async def get_principal(
    session: AsyncSession, caller: Caller, principal_id: int, *, field: str
) -> Principal:
    """A principal the caller may read, or NotFound."""
    return await reads.one(session, caller, PEOPLE, principal_id, field=field)


async def list_people(uc: UseCase, *, size: int, after_id: int | None) -> Page[Principal]:
    """People and machines the caller may read, oldest first."""
    return await reads.page(uc.session, uc.caller, PEOPLE, size=size, after_id=after_id)


async def principals_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Principal]:
    return await reads.by_id(session, caller, PEOPLE, ids)


async def principal_by_email(uc: UseCase, email: str) -> Principal | None:
    """Look a principal up by e-mail or machine handle (for the CLI; no access check)."""
    return (
        await uc.session.execute(select(Principal).where(Principal.email == email.strip().lower()))
    ).scalar_one_or_none()


async def count_principals(uc: UseCase) -> int:
    """How many principals exist (for the first run; no access check: it names nobody)."""
    return (await uc.session.execute(select(func.count()).select_from(Principal))).scalar_one()


async def business_unit_by_code(uc: UseCase, code: str) -> BusinessUnit | None:
    """A business unit by its code (for the CLI; no access check)."""
    return (
        await uc.session.execute(select(BusinessUnit).where(BusinessUnit.code == code))
    ).scalar_one_or_none()


async def _flush_unique(session: AsyncSession, message: str, field: str) -> None:
    """Flush, turning a unique-constraint violation into a typed error."""
    try:
        await session.flush()
    except IntegrityError:
        raise AlreadyExists(message, field=field) from None
