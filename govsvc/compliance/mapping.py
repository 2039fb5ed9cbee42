"""Mapping incidents and evidence to control objectives: tags suggest, a person decides."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.compliance.catalog import Control, UnknownControl
from govsvc.compliance.models import ControlMapping, MappingState
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid
from govsvc.evidence.access import evidence_for
from govsvc.incidents.common import incident_for
from govsvc.incidents.models import IncidentTag

if TYPE_CHECKING:
    from govsvc.usecase import UseCase

TARGETS = ("incident", "evidence")


@dataclass(frozen=True)
class Suggestion:
    control: Control
    because_of: list[str]  # the tags that suggested it


async def suggestions(uc: UseCase, *, incident_id: int) -> list[Suggestion]:
    """Controls the incident's tags point at, minus those a person already decided on."""
    session = uc.session
    await incident_for(session, uc.caller, incident_id, "read")
    tags = set(
        (
            await session.execute(
                select(IncidentTag.tag).where(IncidentTag.incident_id == incident_id)
            )
        ).scalars()
    )
    decided = set(
        (
            await session.execute(
                select(ControlMapping.control_key).where(
                    ControlMapping.target_type == "incident",
                    ControlMapping.target_id == incident_id,
                )
            )
        ).scalars()
    )
    return [
        Suggestion(control, sorted(tags & set(control.suggested_by_tags)))
        for control in uc.policies.catalog.suggest(tags)
        if control.key not in decided
    ]


async def decide(
    uc: UseCase,
    *,
    control_key: str,
    target_type: str,
    target_id: int,
    confirm: bool,
) -> ControlMapping:
    """Confirm (or reject) that a control objective applies to an incident or evidence item."""
    try:
        control = uc.policies.catalog.get(control_key)
    except UnknownControl as error:
        raise Invalid(str(error), field="controlKey", code=ErrorCode.NOT_FOUND) from None
    if target_type not in TARGETS:
        raise Invalid(f"map incidents or evidence, not {target_type!r}", field="targetId")
    caller, session = uc.caller, uc.session
    unit_id, sensitivity = await _target(session, caller, target_type, target_id)
    caller.access.require("decide", "control_mapping", unit_id=unit_id, sensitivity=sensitivity)
    mapping = (
        await session.execute(
            select(ControlMapping).where(
                ControlMapping.control_key == control.key,
                ControlMapping.target_type == target_type,
                ControlMapping.target_id == target_id,
            )
        )
    ).scalar_one_or_none()
    if mapping is None:
        mapping = ControlMapping(
            control_key=control.key,
            framework=control.framework,
            target_type=target_type,
            target_id=target_id,
            suggested_by=await _suggested_by(session, control, target_type, target_id),
        )
        session.add(mapping)
    before = mapping.state
    mapping.state = (MappingState.CONFIRMED if confirm else MappingState.REJECTED).value
    mapping.decided_by, mapping.decided_at = caller.actor, utcnow()
    await session.flush()
    await record(
        session,
        caller,
        "control_mapping.confirm" if confirm else "control_mapping.reject",
        resource_type=target_type,
        resource_id=target_id,
        payload={
            "control": control.key,
            "from": before,
            "to": mapping.state,
            "suggested_by": mapping.suggested_by,
        },
    )
    return mapping


async def _target(
    session: AsyncSession, caller: Caller, target_type: str, target_id: int
) -> tuple[int, Sensitivity]:
    if target_type == "incident":
        incident = await incident_for(session, caller, target_id, "read")
        return incident.business_unit_id, Sensitivity(incident.sensitivity)
    item = await evidence_for(session, caller, target_id, "read")
    return item.business_unit_id, Sensitivity(item.sensitivity)


async def _suggested_by(
    session: AsyncSession, control: Control, target_type: str, target_id: int
) -> str | None:
    if target_type != "incident":
        return None
    tags = set(
        (
            await session.execute(
                select(IncidentTag.tag).where(IncidentTag.incident_id == target_id)
            )
        ).scalars()
    )
    hits = sorted(tags & set(control.suggested_by_tags))
    return ", ".join(f"tag:{t}" for t in hits) or None


async def confirmed_for(
    session: AsyncSession, *, target_type: str, target_ids: Iterable[int]
) -> dict[int, list[ControlMapping]]:
    """Confirmed mappings per target, for loaders and reports."""
    grouped: dict[int, list[ControlMapping]] = {}
    rows = await session.execute(
        select(ControlMapping)
        .where(
            ControlMapping.target_type == target_type,
            ControlMapping.target_id.in_(set(target_ids)),
            ControlMapping.state == MappingState.CONFIRMED.value,
        )
        .order_by(ControlMapping.id)
    )
    for mapping in rows.scalars():
        grouped.setdefault(mapping.target_id, []).append(mapping)
    return grouped
