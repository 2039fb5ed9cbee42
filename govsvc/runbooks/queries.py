"""Reading runbooks and executions, filtered by the caller's rights in SQL: an execution is
seen by whoever may read the incident it runs against and read runbooks in its unit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.errors import Forbidden, NotFound
from govsvc.incidents.common import incident_for, readable_incidents
from govsvc.incidents.models import Incident, IncidentTag
from govsvc.org.models import Service
from govsvc.runbooks.book import Version
from govsvc.runbooks.models import RunbookExecution, RunbookStep, RunbookStepAttempt
from govsvc.usecase import UseCase

MISSING_EXECUTION = "no such runbook execution"
MISSING_STEP = "no such runbook step"


def visible(caller: Caller) -> ColumnElement[bool]:
    """Executions the caller may read: the incident readable, runbooks readable in its unit."""
    incident_ok = (
        select(Incident.id)
        .where(Incident.id == RunbookExecution.incident_id, readable_incidents(caller))
        .exists()
    )
    return and_(readable(caller.access, "runbook", RunbookExecution.business_unit_id), incident_ok)


async def execution_for(
    uc: UseCase, execution_id: int, action: str, *, field: str = "executionId"
) -> RunbookExecution:
    """An execution the caller may see (else NotFound) and act on (else Forbidden); locked
    for the rest of the transaction when it is to be changed."""
    query = select(RunbookExecution).where(RunbookExecution.id == execution_id, visible(uc.caller))
    if action != "read":
        query = query.with_for_update()
    found = (await uc.session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound(MISSING_EXECUTION, field=field)
    require(uc.caller, action, found.business_unit_id)
    return found


async def step_for(uc: UseCase, step_id: int, action: str) -> tuple[RunbookStep, RunbookExecution]:
    """A step (and its execution, locked) the caller may see and act on."""
    row = (
        await uc.session.execute(
            select(RunbookStep.execution_id)
            .join(RunbookExecution, RunbookExecution.id == RunbookStep.execution_id)
            .where(RunbookStep.id == step_id, visible(uc.caller))
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(MISSING_STEP, field="stepId")
    execution = await execution_for(uc, row, action, field="stepId")
    step = (
        await uc.session.execute(
            select(RunbookStep).where(RunbookStep.id == step_id).with_for_update()
        )
    ).scalar_one()
    return step, execution


def require(caller: Caller, action: str, unit_id: int) -> None:
    if not caller.access.allows(action, "runbook", unit_id=unit_id):
        raise Forbidden(f"not allowed to {action} runbooks in this unit")


@dataclass(frozen=True)
class IncidentFacts:
    """What runbooks are matched against, and what request templates may name."""

    incident: Incident
    service_code: str
    unit_code: str
    tags: list[str]


async def incident_facts(uc: UseCase, incident_id: int, action: str) -> IncidentFacts:
    """The incident (NotFound if unseen), with runbook `action` required in its unit."""
    from govsvc.incidents.common import unit_code

    incident = await incident_for(uc.session, uc.caller, incident_id, "read")
    require(uc.caller, action, incident.business_unit_id)
    service_code = (
        await uc.session.execute(select(Service.code).where(Service.id == incident.service_id))
    ).scalar_one()
    tags = (
        await uc.session.execute(
            select(IncidentTag.tag).where(IncidentTag.incident_id == incident.id)
        )
    ).scalars()
    return IncidentFacts(
        incident, service_code, await unit_code(uc.session, incident.business_unit_id), list(tags)
    )


@dataclass(frozen=True)
class Candidate:
    version: Version
    reasons: list[str]


async def runbooks_for(uc: UseCase, *, incident_id: int) -> list[Candidate]:
    """The current version of every runbook matching the incident, with why it matches."""
    facts = await incident_facts(uc, incident_id, "read")
    found = []
    for runbook in uc.policies.runbooks.runbooks:
        version = runbook.current_version
        why = version.matches(
            service=facts.service_code, tags=facts.tags, severity=facts.incident.severity
        )
        if why is not None:
            found.append(Candidate(version, why))
    return found


async def executions_of_incident(uc: UseCase, *, incident_id: int) -> list[RunbookExecution]:
    """Every execution on the incident, oldest first."""
    await incident_facts(uc, incident_id, "read")
    rows = await uc.session.execute(
        select(RunbookExecution)
        .where(RunbookExecution.incident_id == incident_id, visible(uc.caller))
        .order_by(RunbookExecution.id)
    )
    return list(rows.scalars())


async def executions_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, RunbookExecution]:
    rows = await session.execute(
        select(RunbookExecution).where(RunbookExecution.id.in_(set(ids)), visible(caller))
    )
    return {e.id: e for e in rows.scalars()}


async def steps_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, RunbookStep]:
    rows = await session.execute(
        select(RunbookStep)
        .join(RunbookExecution, RunbookExecution.id == RunbookStep.execution_id)
        .where(RunbookStep.id.in_(set(ids)), visible(caller))
    )
    return {s.id: s for s in rows.scalars()}


async def steps_by_execution(
    session: AsyncSession, caller: Caller, execution_ids: Iterable[int]
) -> dict[int, list[RunbookStep]]:
    rows = await session.execute(
        select(RunbookStep)
        .join(RunbookExecution, RunbookExecution.id == RunbookStep.execution_id)
        .where(RunbookStep.execution_id.in_(set(execution_ids)), visible(caller))
        .order_by(RunbookStep.execution_id, RunbookStep.position)
    )
    found: dict[int, list[RunbookStep]] = {}
    for step in rows.scalars():
        found.setdefault(step.execution_id, []).append(step)
    return found


async def attempts_by_step(
    session: AsyncSession, caller: Caller, step_ids: Iterable[int]
) -> dict[int, list[RunbookStepAttempt]]:
    rows = await session.execute(
        select(RunbookStepAttempt)
        .join(RunbookStep, RunbookStep.id == RunbookStepAttempt.step_id)
        .join(RunbookExecution, RunbookExecution.id == RunbookStep.execution_id)
        .where(RunbookStepAttempt.step_id.in_(set(step_ids)), visible(caller))
        .order_by(RunbookStepAttempt.step_id, RunbookStepAttempt.attempt)
    )
    found: dict[int, list[RunbookStepAttempt]] = {}
    for attempt in rows.scalars():
        found.setdefault(attempt.step_id, []).append(attempt)
    return found
