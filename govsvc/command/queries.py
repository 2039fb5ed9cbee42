"""Reads of command: role holders and history per incident (for loaders), the command model
of incidents, and who holds what now across the active incidents the caller may read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.command.conflicts import ACTIVE
from govsvc.command.models import IncidentRole, IncidentRoleKind
from govsvc.command.policy import CommandBook, CommandModel
from govsvc.command.roles import unit_lineage
from govsvc.incidents.common import readable_incidents
from govsvc.incidents.models import Incident
from govsvc.org import service as org_service
from govsvc.org.models import Principal, Service
from govsvc.org.units import load_unit_tree
from govsvc.usecase import UseCase

_ROLE_ORDER = {kind.value: n for n, kind in enumerate(IncidentRoleKind)}


def current(terms: Iterable[IncidentRole]) -> list[IncidentRole]:
    """The terms still running, in role order (commander first), then as assigned."""
    return sorted(
        (t for t in terms if t.ended_at is None), key=lambda t: (_ROLE_ORDER.get(t.role, 99), t.id)
    )


async def history_by_incident(
    session: AsyncSession, _: Caller, ids: Iterable[int]
) -> dict[int, list[IncidentRole]]:
    """Every term of every role of each incident, in the order they began."""
    rows = await session.execute(
        select(IncidentRole)
        .where(IncidentRole.incident_id.in_(set(ids)))
        .order_by(IncidentRole.assigned_at, IncidentRole.id)
    )
    grouped: dict[int, list[IncidentRole]] = {}
    for term in rows.scalars():
        grouped.setdefault(term.incident_id, []).append(term)
    return grouped


async def command_models_by_incident(
    session: AsyncSession, caller: Caller, ids: Iterable[int], book: CommandBook
) -> dict[int, CommandModel]:
    """The command model of each incident the caller may read, and the rule that chose it."""
    rows = (
        await session.execute(
            select(Incident.id, Incident.business_unit_id, Service.code)
            .join(Service, Service.id == Incident.service_id)
            .where(Incident.id.in_(set(ids)), readable_incidents(caller))
        )
    ).all()
    if not rows:
        return {}
    tree = await load_unit_tree(session)
    return {
        incident_id: book.model_for(service_code=code, unit_lineage=unit_lineage(tree, unit_id))
        for incident_id, unit_id, code in rows
    }


@dataclass
class Load:
    """What one person holds now: (term, incident) pairs, most severe incident first."""

    person: Principal
    roles: list[tuple[IncidentRole, Incident]] = field(default_factory=list)


async def responder_load(uc: UseCase, *, unit_id: int | None = None) -> list[Load]:
    """Who holds which roles now on active incidents the caller may read (optionally in one
    unit and its children), busiest first. Roles on incidents the caller may not read are
    left out in the query."""
    query = (
        select(IncidentRole, Incident, Principal)
        .join(Incident, Incident.id == IncidentRole.incident_id)
        .join(Principal, Principal.id == IncidentRole.principal_id)
        .where(
            IncidentRole.ended_at.is_(None),
            Incident.status.in_(ACTIVE),
            readable_incidents(uc.caller),
            readable(uc.caller.access, "person", None),
        )
        .order_by(Principal.name, Principal.id, Incident.severity, Incident.id, IncidentRole.id)
    )
    if unit_id is not None:
        unit = await org_service.get_business_unit(uc.session, uc.caller, unit_id, field="unitId")
        tree = await load_unit_tree(uc.session)
        query = query.where(
            Incident.business_unit_id.in_(sorted(tree.descendants_or_self(unit.id)))
        )
    loads: dict[int, Load] = {}
    for term, incident, person in await uc.session.execute(query):
        loads.setdefault(person.id, Load(person)).roles.append((term, incident))
    return sorted(loads.values(), key=lambda load: -len(load.roles))
