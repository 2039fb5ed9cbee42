"""The worker's half of runbooks: claim due automated steps, make their signed HTTP calls,
record what happened.

Why the worker and not inline in the mutation: a call may take up to its timeout (minutes), and
inside a GraphQL unit of work it would hold the transaction (on SQLite, the only write lock)
for that long; and a step queued by an approval, a retry or a resume must run even if nobody's
request is open. Claiming is one short write transaction: on PostgreSQL `FOR UPDATE SKIP
LOCKED` lets several workers take disjoint steps; on SQLite the write transaction (BEGIN
IMMEDIATE) serializes them. A claimed step is `running` with a lease and a claim token; its
outcome is recorded in a transaction of its own, fenced by the token.

Automated steps act on production systems and need not be idempotent, so a step is never run
twice by the machine: a failure (non-2xx, timeout, network) leaves it `failed` for a person to
retry, skip, take over or abort; a worker lost mid-call leaves a lapsed lease, and the step is
then marked failed with "outcome unknown", never re-sent on its own. Every request carries the
outbox's signature headers (govsvc/outbox/signing.py) and an idempotency key that is the same
on every retry of a step, so an automation endpoint can refuse a repeat."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select, update

from govsvc import usecase
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.incidents.models import Incident
from govsvc.org.models import BusinessUnit, Service
from govsvc.outbox import signing
from govsvc.runbooks.book import render
from govsvc.runbooks.models import (
    ExecutionState,
    RunbookExecution,
    RunbookStep,
    RunbookStepAttempt,
    StepState,
)
from govsvc.runbooks.service import advance, note_and_audit

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

log = logging.getLogger("govsvc.runbooks")
JOB = "runbook steps"
ACTOR = "system:runbooks"
USER_AGENT = "govsvc-runbooks/1"
EVENT = "runbook.step"
LEASE_MARGIN_SECONDS = 30.0
LOST = "the worker running it was lost: the outcome is unknown (check, then retry or take over)"


@dataclass(frozen=True)
class Claim:
    step_id: int
    token: str
    attempt: int
    method: str
    url: str
    body: bytes
    timeout_seconds: float
    secret_env: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    body: str | None
    error: str | None
    duration_ms: int


def _caller(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, ACTOR)


async def run_due(runtime: Runtime, *, batch: int = 10) -> int:
    """Run every due automated step (up to `batch`) concurrently;
    returns how many were run."""
    claims = await claim_due(runtime, batch=batch)
    if not claims:
        return 0
    # Redirects are not followed: the signed body belongs to the URL the runbook names.
    async with httpx.AsyncClient(follow_redirects=False) as client:
        await asyncio.gather(*(_run_one(runtime, client, claim) for claim in claims))
    return len(claims)


async def _run_one(runtime: Runtime, client: httpx.AsyncClient, claim: Claim) -> None:
    try:
        outcome = await call(runtime, client, claim)
    except Exception as error:  # a bug must not strand the step until its lease runs out
        log.exception("runbook step %s: the call failed unexpectedly", claim.step_id)
        outcome = Outcome(False, None, None, f"internal error: {type(error).__name__}", 0)
    try:
        await finish(runtime, claim, outcome)
    except Exception:  # the lease runs out and the step is marked failed (outcome unknown)
        log.exception("runbook step %s: recording the outcome failed", claim.step_id)


def _values(
    incident: Incident, service: str, unit: str, execution: RunbookExecution, step: RunbookStep
) -> dict[str, str]:
    return {
        "incident.id": str(incident.id),
        "incident.reference": incident.reference,
        "incident.title": incident.title,
        "incident.severity": incident.severity,
        "incident.status": incident.status,
        "service.code": service,
        "unit.code": unit,
        "runbook.id": execution.runbook_id,
        "runbook.version": str(execution.version),
        "execution.id": str(execution.id),
        "step.key": step.key,
    }


async def claim_due(runtime: Runtime, *, batch: int) -> list[Claim]:
    """Mark lost calls failed, then lease up to `batch` queued automated steps of running
    executions, oldest due first: one short write transaction."""
    claims: list[Claim] = []
    async with usecase.writing(runtime, _caller(runtime)) as uc:
        now = utcnow()
        await _expire(uc, now)
        rows = (
            await uc.session.execute(
                select(RunbookStep, RunbookExecution)
                .join(RunbookExecution, RunbookExecution.id == RunbookStep.execution_id)
                .where(
                    RunbookStep.state == StepState.QUEUED.value,
                    RunbookStep.due_at <= now,
                    RunbookExecution.state == ExecutionState.RUNNING.value,
                )
                .order_by(RunbookStep.due_at, RunbookStep.id)
                .limit(batch)
                .with_for_update(of=RunbookStep, skip_locked=True)
            )
        ).all()
        for step, execution in rows:
            request: dict[str, Any] = json.loads(execution.definition)["steps"][step.position - 1][
                "request"
            ]
            incident, service, unit = (
                await uc.session.execute(
                    select(Incident, Service.code, BusinessUnit.code)
                    .join(Service, Service.id == Incident.service_id)
                    .join(BusinessUnit, BusinessUnit.id == Incident.business_unit_id)
                    .where(Incident.id == execution.incident_id)
                )
            ).one()
            body = render(request["body"], _values(incident, service, unit, execution, step))
            token = uuid.uuid4().hex
            timeout = float(request["timeout_seconds"])
            step.attempts += 1
            step.state = StepState.RUNNING.value
            step.claim_token = token
            step.started_at = now
            step.lease_until = now + timedelta(seconds=timeout + LEASE_MARGIN_SECONDS)
            uc.session.add(
                RunbookStepAttempt(
                    step_id=step.id, attempt=step.attempts, url=request["url"], started_at=now
                )
            )
            claims.append(
                Claim(
                    step_id=step.id,
                    token=token,
                    attempt=step.attempts,
                    method=request["method"],
                    url=request["url"],
                    body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                    timeout_seconds=timeout,
                    secret_env=request["secret_env"],
                )
            )
    return claims


def _bounded(raw: bytes, limit: int) -> str:
    text = raw[:limit].decode("utf-8", errors="replace")
    return text + (f"... ({len(raw)} bytes, cut at {limit})" if len(raw) > limit else "")


async def call(runtime: Runtime, client: httpx.AsyncClient, claim: Claim) -> Outcome:
    """Make one claimed step's signed call; never raises for what the network or endpoint does."""
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    secret = os.environ.get(claim.secret_env, "")
    if not secret:
        return Outcome(False, None, None, f"not sent: ${claim.secret_env} is not set", 0)
    limit = runtime.policies.runbooks.rules.output_max_bytes
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Govsvc-Attempt": str(claim.attempt),
        # Real time: receivers check it against their clock.
        **signing.sign(
            secret,
            claim.body,
            event_type=EVENT,
            idempotency_key=f"runbook-step-{claim.step_id}",
            timestamp=int(time.time()),
        ),
    }
    try:
        async with asyncio.timeout(claim.timeout_seconds):
            async with client.stream(
                claim.method,
                claim.url,
                content=claim.body,
                headers=headers,
                timeout=claim.timeout_seconds,
            ) as response:
                taken = bytearray()
                async for chunk in response.aiter_bytes():
                    taken += chunk
                    if len(taken) > limit:
                        break
                body = _bounded(bytes(taken), limit)
                ok = 200 <= response.status_code < 300
                return Outcome(
                    ok,
                    response.status_code,
                    body,
                    None if ok else f"HTTP {response.status_code}",
                    elapsed_ms(),
                )
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(
            False, None, None, f"timeout after {claim.timeout_seconds:g} s", elapsed_ms()
        )
    except httpx.HTTPError as exc:
        return Outcome(False, None, None, f"{type(exc).__name__}: {exc}"[:500], elapsed_ms())


async def finish(runtime: Runtime, claim: Claim, outcome: Outcome) -> None:
    """Record a call's outcome on its attempt and step, on the timeline and in the audit log;
    on success, move the execution on."""
    async with usecase.writing(runtime, _caller(runtime)) as uc:
        now = utcnow()
        await uc.session.execute(
            update(RunbookStepAttempt)
            .where(
                RunbookStepAttempt.step_id == claim.step_id,
                RunbookStepAttempt.attempt == claim.attempt,
            )
            .values(
                finished_at=now,
                status_code=outcome.status_code,
                body=outcome.body,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        step = (
            await uc.session.execute(
                select(RunbookStep)
                .where(RunbookStep.id == claim.step_id, RunbookStep.claim_token == claim.token)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if step is None:
            log.warning("runbook step %s: claim lapsed; outcome kept in its attempt", claim.step_id)
            return
        execution = (
            await uc.session.execute(
                select(RunbookExecution)
                .where(RunbookExecution.id == step.execution_id)
                .with_for_update()
            )
        ).scalar_one()
        step.claim_token = None
        step.lease_until = None
        step.finished_at = now
        step.finished_by = ACTOR
        step.output_status, step.output_body, step.error = (
            outcome.status_code,
            outcome.body,
            outcome.error,
        )
        step.state = (StepState.SUCCEEDED if outcome.ok else StepState.FAILED).value
        said = (
            f"HTTP {outcome.status_code}"
            if outcome.ok
            else (outcome.error or "failed") + ": retry, skip, take over or abort"
        )
        await note_and_audit(
            uc.session,
            uc.caller,
            execution,
            "runbook.step_run",
            f"step {step.position} '{step.title}' {step.state} (attempt {claim.attempt}, {said})",
            {
                "step": step.id,
                "key": step.key,
                "state": step.state,
                "attempt": claim.attempt,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": outcome.duration_ms,
            },
            at=now,
        )
        if outcome.ok:
            await advance(uc.session, uc.caller, uc.policies.runbooks, execution, now=now)


async def expire_lost(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Steps whose worker vanished mid-call: failed, outcome unknown (never re-sent)."""
    async with usecase.writing(runtime, _caller(runtime)) as uc:
        return await _expire(uc, now or utcnow())


async def _expire(uc: usecase.UseCase, at: datetime) -> int:
    rows = (
        await uc.session.execute(
            select(RunbookStep, RunbookExecution)
            .join(RunbookExecution, RunbookExecution.id == RunbookStep.execution_id)
            .where(RunbookStep.state == StepState.RUNNING.value, RunbookStep.lease_until < at)
            .with_for_update(of=RunbookStep, skip_locked=True)
        )
    ).all()
    for step, execution in rows:
        step.state = StepState.FAILED.value
        step.claim_token = None
        step.lease_until = None
        step.finished_at = at
        step.finished_by = ACTOR
        step.error = LOST
        await uc.session.execute(
            update(RunbookStepAttempt)
            .where(
                RunbookStepAttempt.step_id == step.id,
                RunbookStepAttempt.attempt == step.attempts,
                RunbookStepAttempt.finished_at.is_(None),
            )
            .values(error=LOST)
        )
        await note_and_audit(
            uc.session,
            uc.caller,
            execution,
            "runbook.step_lost",
            f"step {step.position} '{step.title}' failed: {LOST}",
            {"step": step.id, "key": step.key, "attempt": step.attempts},
            at=at,
        )
    return len(rows)
