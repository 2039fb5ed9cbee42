"""Running a runbook against an incident, and the human overrides: start (pinned to the current
version), complete a manual step, approve, pause, resume, skip with a justification, retry a
failed automated step, take an automated step over by hand, abort.

Steps run in order. When a step is done the next one becomes current: a manual step waits for
a person, an approval for an approver, an automated step is queued for the worker (or held for
an approval first, when the runbook or the severity policy says so). Every change lands on the
incident's timeline and in the audit log, in the same transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import Conflict, ErrorCode, Forbidden, Invalid, NotFound, ServiceError
from govsvc.evidence.access import evidence_for
from govsvc.incidents.common import MIN_JUSTIFICATION, unit_code
from govsvc.incidents.models import Incident, IncidentStatus, TimelineEntry
from govsvc.runbooks.book import RunbookBook
from govsvc.runbooks.models import (
    FINAL,
    ExecutionState,
    RunbookExecution,
    RunbookStep,
    RunbookVersionSeen,
    StepState,
)
from govsvc.runbooks.queries import execution_for, incident_facts, step_for
from govsvc.usecase import UseCase

NOTE_MAX = 20_000
ACTIVE = (ExecutionState.RUNNING.value, ExecutionState.PAUSED.value)


# ---------------------------------------------------------------------------- the record


async def note_and_audit(
    session: AsyncSession,
    caller: Caller,
    execution: RunbookExecution,
    action: str,
    text: str,
    payload: dict[str, Any],
    *,
    at: datetime | None = None,
) -> None:
    """One timeline entry on the incident and one audit event, for one change."""
    session.add(
        TimelineEntry(
            incident_id=execution.incident_id,
            kind="runbook",
            text=f"Runbook {execution.runbook_id} v{execution.version} (#{execution.id}): {text}",
            occurred_at=at or utcnow(),
            author=caller.actor,
        )
    )
    await record(
        session,
        caller,
        action,
        resource_type="runbook_execution",
        resource_id=execution.id,
        unit=await unit_code(session, execution.business_unit_id),
        payload={
            "incident_id": execution.incident_id,
            "runbook": execution.runbook_id,
            "version": execution.version,
            **payload,
        },
    )


def _step_payload(step: RunbookStep) -> dict[str, Any]:
    return {"step": step.id, "position": step.position, "key": step.key, "state": step.state}


def _definition_step(execution: RunbookExecution, step: RunbookStep) -> dict[str, Any]:
    steps: list[dict[str, Any]] = json.loads(execution.definition)["steps"]
    return steps[step.position - 1]


# ---------------------------------------------------------------------------- moving on


async def advance(
    session: AsyncSession,
    caller: Caller,
    book: RunbookBook,
    execution: RunbookExecution,
    *,
    now: datetime,
) -> None:
    """Make the first unfinished step current, or complete the execution if none is left."""
    if execution.state not in ACTIVE:
        return
    steps = (
        await session.execute(
            select(RunbookStep)
            .where(RunbookStep.execution_id == execution.id)
            .order_by(RunbookStep.position)
            .with_for_update()
        )
    ).scalars()
    current = next((s for s in steps if StepState(s.state) not in FINAL), None)
    if current is None:
        execution.state = ExecutionState.COMPLETED.value
        execution.finished_at = now
        await note_and_audit(
            session, caller, execution, "runbook.complete", "completed", {}, at=now
        )
        return
    if current.state != StepState.PENDING.value:
        return  # already current: waiting for someone or something
    if current.kind in ("manual", "approval"):
        current.state = StepState.WAITING.value
        what = "waits for a person" if current.kind == "manual" else "waits for an approval"
    else:
        reason = await _approval_reason(session, book, execution, current)
        if reason is not None and current.approved_at is None:
            current.state = StepState.AWAITING_APPROVAL.value
            current.approval_reason = reason
            what = f"waits for an approval before it runs ({reason})"
        else:
            current.state = StepState.QUEUED.value
            current.due_at = now
            what = "is queued to run"
    await note_and_audit(
        session,
        caller,
        execution,
        "runbook.step_current",
        f"step {current.position} '{current.title}' {what}",
        _step_payload(current),
        at=now,
    )


async def _approval_reason(
    session: AsyncSession, book: RunbookBook, execution: RunbookExecution, step: RunbookStep
) -> str | None:
    if _definition_step(execution, step).get("requires_approval"):
        return "the runbook requires it"
    severity = (
        await session.execute(select(Incident.severity).where(Incident.id == execution.incident_id))
    ).scalar_one()
    if book.approval_needed(severity):
        return f"policy: {severity} incidents need an approval before automated steps"
    return None


# ---------------------------------------------------------------------------- starting


async def start_runbook(uc: UseCase, *, incident_id: int, runbook_id: str) -> RunbookExecution:
    """Run the current version of a runbook that matches the incident."""
    facts = await incident_facts(uc, incident_id, "execute")
    incident = facts.incident
    runbook = uc.policies.runbooks.get(runbook_id.strip())
    if runbook is None:
        raise NotFound("no such runbook", field="runbookId")
    version = runbook.current_version
    why = version.matches(service=facts.service_code, tags=facts.tags, severity=incident.severity)
    if why is None:
        raise Invalid(
            f"runbook {runbook.id} v{version.number} does not match this incident "
            "(see runbooksFor)",
            field="runbookId",
        )
    if incident.status == IncidentStatus.CLOSED.value:
        raise Conflict("the incident is closed", field="incidentId")
    # Serialize starts on this incident, so two people cannot start the same runbook at once.
    await uc.session.execute(
        select(Incident.id).where(Incident.id == incident.id).with_for_update()
    )
    running = (
        await uc.session.execute(
            select(RunbookExecution.id).where(
                RunbookExecution.incident_id == incident.id,
                RunbookExecution.runbook_id == runbook.id,
                RunbookExecution.state.in_(ACTIVE),
            )
        )
    ).scalar_one_or_none()
    if running is not None:
        raise Conflict(
            f"runbook {runbook.id} is already running on this incident (execution {running})",
            field="runbookId",
        )
    digest = version.digest
    seen = (
        await uc.session.execute(
            select(RunbookVersionSeen).where(
                RunbookVersionSeen.runbook_id == runbook.id,
                RunbookVersionSeen.version == version.number,
            )
        )
    ).scalar_one_or_none()
    if seen is None:
        uc.session.add(
            RunbookVersionSeen(runbook_id=runbook.id, version=version.number, digest=digest)
        )
    elif seen.digest != digest:
        raise Conflict(
            f"version {version.number} of runbook {runbook.id} ({runbook.source.name}) was "
            f"changed after it first ran on {seen.first_run_at:%Y-%m-%d}: a version is "
            "immutable once in effect; publish the change as a new version",
            field="runbookId",
        )
    now = utcnow()
    execution = RunbookExecution(
        incident_id=incident.id,
        business_unit_id=incident.business_unit_id,
        runbook_id=runbook.id,
        version=version.number,
        digest=digest,
        definition=json.dumps(version.definition(), sort_keys=True),
        title=version.title,
        severity_at_start=incident.severity,
        state=ExecutionState.RUNNING.value,
        started_by=uc.caller.actor,
        started_at=now,
    )
    uc.session.add(execution)
    await uc.session.flush()
    for position, step in enumerate(version.steps, start=1):
        uc.session.add(
            RunbookStep(
                execution_id=execution.id,
                position=position,
                key=step.key,
                kind=step.kind,
                title=step.title,
                instructions=step.instructions,
                state=StepState.PENDING.value,
                attempts=0,
            )
        )
    await uc.session.flush()
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.start",
        f"started by {uc.caller.actor} (matched on {'; '.join(why)})",
        {"digest": digest, "steps": len(version.steps), "matched": why},
        at=now,
    )
    await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)
    return execution


# ---------------------------------------------------------------------------- the execution


def _reason(value: str, *, field: str = "reason") -> str:
    return validation.text(value, field=field, max_length=NOTE_MAX)


async def pause_execution(uc: UseCase, *, execution_id: int, reason: str) -> RunbookExecution:
    """Stop automated steps from starting (one already running finishes) until resumed."""
    reason = _reason(reason)
    execution = await execution_for(uc, execution_id, "execute")
    if execution.state != ExecutionState.RUNNING.value:
        raise Conflict(f"the execution is {execution.state}, not running", field="executionId")
    execution.state = ExecutionState.PAUSED.value
    execution.paused_by, execution.paused_at, execution.pause_reason = (
        uc.caller.actor,
        utcnow(),
        reason,
    )
    await note_and_audit(
        uc.session, uc.caller, execution, "runbook.pause", f"paused: {reason}", {"reason": reason}
    )
    return execution


async def resume_execution(uc: UseCase, *, execution_id: int) -> RunbookExecution:
    execution = await execution_for(uc, execution_id, "execute")
    if execution.state != ExecutionState.PAUSED.value:
        raise Conflict(f"the execution is {execution.state}, not paused", field="executionId")
    execution.state = ExecutionState.RUNNING.value
    now = utcnow()
    for step in await _steps(uc.session, execution):
        # A queued step waited out the pause: it is due now, not at its old time.
        if step.state == StepState.QUEUED.value:
            step.due_at = now
    await note_and_audit(uc.session, uc.caller, execution, "runbook.resume", "resumed", {}, at=now)
    await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)
    return execution


async def _steps(session: AsyncSession, execution: RunbookExecution) -> list[RunbookStep]:
    rows = await session.execute(
        select(RunbookStep)
        .where(RunbookStep.execution_id == execution.id)
        .order_by(RunbookStep.position)
    )
    return list(rows.scalars())


async def abort_execution(uc: UseCase, *, execution_id: int, reason: str) -> RunbookExecution:
    """End the execution: steps not reached are cancelled; a call already in flight is still
    recorded when it returns."""
    reason = _reason(reason)
    execution = await execution_for(uc, execution_id, "execute")
    if execution.state not in ACTIVE:
        raise Conflict(f"the execution is already {execution.state}", field="executionId")
    now = utcnow()
    cancelled = []
    for step in await _steps(uc.session, execution):
        if StepState(step.state) not in FINAL and step.state != StepState.RUNNING.value:
            step.state = StepState.CANCELLED.value
            step.finished_at = now
            cancelled.append(step.position)
    execution.state = ExecutionState.ABORTED.value
    execution.finished_at = now
    execution.aborted_by, execution.abort_reason = uc.caller.actor, reason
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.abort",
        f"aborted by {uc.caller.actor}: {reason}",
        {"reason": reason, "cancelled_steps": cancelled},
        at=now,
    )
    return execution


# ---------------------------------------------------------------------------- steps


def _not_finished(execution: RunbookExecution) -> None:
    if execution.state not in ACTIVE:
        raise Conflict(f"the execution is {execution.state}", field="stepId")


def _not_paused(execution: RunbookExecution) -> None:
    _not_finished(execution)
    if execution.state == ExecutionState.PAUSED.value:
        raise Conflict("the execution is paused: resume it first", field="stepId")


async def _evidence(uc: UseCase, evidence_id: int | None) -> int | None:
    if evidence_id is None:
        return None
    item = await evidence_for(uc.session, uc.caller, evidence_id, "read")
    return item.id


def _finish(
    uc: UseCase,
    step: RunbookStep,
    state: StepState,
    *,
    now: datetime,
    note: str | None = None,
) -> None:
    step.state = state.value
    step.finished_at = now
    step.finished_by = uc.caller.actor
    if note is not None:
        step.note = note
    step.claim_token = None


async def complete_step(
    uc: UseCase, *, step_id: int, note: str, evidence_id: int | None = None
) -> RunbookStep:
    """A person did a manual step: what they did (and, optionally, the evidence of it)."""
    note = _reason(note, field="note")
    step, execution = await step_for(uc, step_id, "execute")
    evidence = await _evidence(uc, evidence_id)
    _not_paused(execution)
    if step.kind != "manual":
        raise Conflict(
            f"a {step.kind} step is not completed by hand"
            + (": take it over instead" if step.kind == "automated" else ": approve it"),
            field="stepId",
        )
    if step.state != StepState.WAITING.value:
        raise Conflict(f"the step is {step.state}, not waiting for a person", field="stepId")
    step.evidence_id = evidence
    now = utcnow()
    _finish(uc, step, StepState.SUCCEEDED, now=now, note=note)
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.step_complete",
        f"step {step.position} '{step.title}' done by {uc.caller.actor}: {note}",
        {**_step_payload(step), "note": note, "evidence_id": step.evidence_id},
        at=now,
    )
    await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)
    return step


def _require_approver(uc: UseCase, execution: RunbookExecution, roles: tuple[str, ...]) -> None:
    unit = execution.business_unit_id
    if not uc.caller.access.allows("approve", "runbook", unit_id=unit):
        raise Forbidden("not allowed to approve runbook steps in this unit")
    if not any(uc.caller.access.holds(role, unit_id=unit) for role in (*roles, "admin")):
        raise Forbidden(f"only {' or '.join(roles)} of the incident's unit may approve this step")


async def approve_step(uc: UseCase, *, step_id: int, note: str = "") -> RunbookStep:
    """Pass an approval gate, or release an automated step held for an approval."""
    note = validation.text(note, field="note", max_length=NOTE_MAX, allow_empty=True)
    step, execution = await step_for(uc, step_id, "approve")
    now = utcnow()
    if step.kind == "approval":
        roles = tuple(_definition_step(execution, step)["roles"])
        _require_approver(uc, execution, roles)
        _not_paused(execution)
        if step.state != StepState.WAITING.value:
            raise Conflict(f"the step is {step.state}, not waiting for approval", field="stepId")
        _finish(uc, step, StepState.SUCCEEDED, now=now, note=note or None)
    elif step.kind == "automated":
        _require_approver(uc, execution, uc.policies.runbooks.approver_roles)
        _not_paused(execution)
        if step.state != StepState.AWAITING_APPROVAL.value:
            raise Conflict(f"the step is {step.state}, not awaiting approval", field="stepId")
        step.state = StepState.QUEUED.value
        step.due_at = now
    else:
        raise Conflict("a manual step has nothing to approve: complete it", field="stepId")
    step.approved_by, step.approved_at = uc.caller.actor, now
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.step_approve",
        f"step {step.position} '{step.title}' approved by {uc.caller.actor}"
        + (f": {note}" if note else ""),
        {**_step_payload(step), "note": note},
        at=now,
    )
    await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)
    return step


async def skip_step(uc: UseCase, *, step_id: int, justification: str) -> RunbookStep:
    """Leave a step out (now or ahead of time), saying why. Skipping an approval gate takes
    the right to approve it."""
    justification = justification.strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise ServiceError(
            f"say why in at least {MIN_JUSTIFICATION} characters",
            field="justification",
            code=ErrorCode.JUSTIFICATION_REQUIRED,
        )
    justification = _reason(justification, field="justification")
    step, execution = await step_for(uc, step_id, "execute")
    if step.kind == "approval":
        _require_approver(uc, execution, tuple(_definition_step(execution, step)["roles"]))
    _not_finished(execution)
    if step.state == StepState.RUNNING.value:
        raise Conflict("the step is running now: wait for its outcome", field="stepId")
    if StepState(step.state) in FINAL:
        raise Conflict(f"the step is already {step.state}", field="stepId")
    now = utcnow()
    _finish(uc, step, StepState.SKIPPED, now=now)
    step.justification = justification
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.step_skip",
        f"step {step.position} '{step.title}' skipped by {uc.caller.actor}: {justification}",
        {**_step_payload(step), "justification": justification},
        at=now,
    )
    await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)
    return step


async def retry_step(uc: UseCase, *, step_id: int) -> RunbookStep:
    """Queue a failed automated step again (it runs when the execution is not paused)."""
    step, execution = await step_for(uc, step_id, "execute")
    _not_finished(execution)
    if step.kind != "automated" or step.state != StepState.FAILED.value:
        raise Conflict("only a failed automated step is retried", field="stepId")
    now = utcnow()
    step.state = StepState.QUEUED.value
    step.due_at = now
    step.finished_at = None
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.step_retry",
        f"step {step.position} '{step.title}' retried by {uc.caller.actor}"
        f" (attempt {step.attempts + 1})",
        {**_step_payload(step), "attempts_so_far": step.attempts},
        at=now,
    )
    return step


async def take_over_step(
    uc: UseCase, *, step_id: int, note: str, evidence_id: int | None = None
) -> RunbookStep:
    """A person does an automated step by hand instead: what they did, and the evidence."""
    note = _reason(note, field="note")
    step, execution = await step_for(uc, step_id, "execute")
    evidence = await _evidence(uc, evidence_id)
    _not_finished(execution)
    if step.kind != "automated":
        raise Conflict("only an automated step is taken over", field="stepId")
    if step.state == StepState.AWAITING_APPROVAL.value:
        raise ServiceError(
            "the step needs an approval first; doing it by hand needs one too",
            field="stepId",
            code=ErrorCode.APPROVAL_REQUIRED,
        )
    if step.state == StepState.RUNNING.value:
        raise Conflict("the step is running now: wait for its outcome", field="stepId")
    if step.state not in (StepState.QUEUED.value, StepState.FAILED.value):
        raise Conflict(f"the step is {step.state}: not its turn to be done", field="stepId")
    step.evidence_id = evidence
    now = utcnow()
    _finish(uc, step, StepState.TAKEN_OVER, now=now, note=note)
    await note_and_audit(
        uc.session,
        uc.caller,
        execution,
        "runbook.step_take_over",
        f"step {step.position} '{step.title}' done by hand by {uc.caller.actor}: {note}",
        {**_step_payload(step), "note": note, "evidence_id": step.evidence_id},
        at=now,
    )
    await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)
    return step
