"""Roles on an incident (commander, comms lead, scribe): assigned, reassigned, on record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.comms.models import IncidentRole, IncidentRoleKind
from govsvc.db import utcnow
from govsvc.incidents.common import incident_for, timeline_note, unit_code
from govsvc.org import service as org_service
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    pass


async def assign(
    uc: UseCase, *, incident_id: int, role: IncidentRoleKind, principal_id: int
) -> IncidentRole:
    """Give a person a role on an incident; whoever held it before stops holding it."""
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    person = await org_service.get_principal(session, uc.caller, principal_id, field="principalId")
    now = utcnow()
    for current in await holders(session, incident.id, role):
        current.ended_at = now
    assignment = IncidentRole(
        incident_id=incident.id,
        role=role.value,
        principal_id=person.id,
        assigned_by=uc.caller.actor,
    )
    session.add(assignment)
    session.add(
        timeline_note(
            incident, uc.caller, "role", f"{person.name} is {role.value.replace('_', ' ')}"
        )
    )
    await session.flush()
    await record(
        session,
        uc.caller,
        "incident.role_assign",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={"role": role.value, "person": person.email},
    )
    return assignment


async def holders(
    session: AsyncSession, incident_id: int, role: IncidentRoleKind
) -> list[IncidentRole]:
    return list(
        (
            await session.execute(
                select(IncidentRole).where(
                    IncidentRole.incident_id == incident_id,
                    IncidentRole.role == role.value,
                    IncidentRole.ended_at.is_(None),
                )
            )
        ).scalars()
    )
