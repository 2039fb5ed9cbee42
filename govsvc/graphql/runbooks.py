"""GraphQL types, queries and mutations of runbooks: which runbooks match an incident, their
executions with every step's state, output, who and when, and the human overrides."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Self

import strawberry
from strawberry import relay

from govsvc.evidence import queries as evidence_queries
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.evidence import EvidenceItem
from govsvc.graphql.relay import decode_id, decode_optional
from govsvc.graphql.resolvers import load_nodes, mutate, read
from govsvc.incidents import queries as incident_queries
from govsvc.runbooks import models, queries, service
from govsvc.runbooks.book import Step, Version

if TYPE_CHECKING:
    from govsvc.graphql.incident_types import Incident

strawberry.enum(models.ExecutionState, name="RunbookExecutionState")
strawberry.enum(models.StepState, name="RunbookStepState")
ExecutionState = models.ExecutionState
StepState = models.StepState


@strawberry.enum(description="What a runbook step is.")
class RunbookStepKind(Enum):
    MANUAL = "manual"
    AUTOMATED = "automated"
    APPROVAL = "approval"


@strawberry.enum(description="Why a runbook mutation refused its input.")
class RunbookErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    JUSTIFICATION_REQUIRED = "JUSTIFICATION_REQUIRED"


@strawberry.type(description="Why a runbook mutation refused its input.")
class RunbookError(UserError):
    code: RunbookErrorCode


@strawberry.type(description="The HTTP call an automated step makes (signed; see the README).")
class RunbookRequest:
    url: str
    method: str
    timeout_seconds: float
    secret_env: str = strawberry.field(
        description="The environment variable holding the signing secret (not the secret)."
    )


@strawberry.type(description="One step of a runbook version, as written.")
class RunbookStepDefinition:
    key: str
    kind: RunbookStepKind
    title: str
    instructions: str
    requires_approval: bool
    roles: list[str] = strawberry.field(description="Approval steps: who may approve.")
    request: RunbookRequest | None

    @classmethod
    def of(cls, step: Step) -> Self:
        request = step.request
        return cls(
            key=step.key,
            kind=RunbookStepKind(step.kind),
            title=step.title,
            instructions=step.instructions,
            requires_approval=step.requires_approval,
            roles=list(step.roles),
            request=RunbookRequest(
                url=request.url,
                method=request.method,
                timeout_seconds=request.timeout_seconds,
                secret_env=request.secret_env,
            )
            if request
            else None,
        )


@strawberry.type(description="A runbook (its current version) that matches an incident.")
class RunbookMatch:
    runbook_id: str
    title: str
    version: int
    effective: date
    summary: str
    digest: str
    matched_on: list[str] = strawberry.field(description="Why it matches, e.g. 'tag security'.")
    steps: list[RunbookStepDefinition]

    @classmethod
    def of(cls, candidate: queries.Candidate) -> Self:
        v: Version = candidate.version
        return cls(
            runbook_id=v.runbook_id,
            title=v.title,
            version=v.number,
            effective=v.effective,
            summary=v.summary,
            digest=v.digest,
            matched_on=candidate.reasons,
            steps=[RunbookStepDefinition.of(s) for s in v.steps],
        )


@strawberry.type(description="One call of an automated step.")
class RunbookStepAttempt:
    attempt: int
    url: str
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    body: str | None = strawberry.field(description="The answer's start (bounded).")
    error: str | None
    duration_ms: int | None

    @classmethod
    def from_model(cls, a: models.RunbookStepAttempt) -> Self:
        return cls(
            attempt=a.attempt,
            url=a.url,
            started_at=a.started_at,
            finished_at=a.finished_at,
            status_code=a.status_code,
            body=a.body,
            error=a.error,
            duration_ms=a.duration_ms,
        )


@strawberry.type(description="One step of an execution: its state, output, who and when.")
class RunbookStep(relay.Node):
    id: relay.NodeID[int]
    position: int
    key: str
    kind: RunbookStepKind
    title: str
    instructions: str
    state: StepState
    approval_reason: str | None = strawberry.field(
        description="Automated steps held for an approval: why (the runbook, or the policy)."
    )
    approved_by: str | None
    approved_at: datetime | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    finished_by: str | None = strawberry.field(
        description="Who completed, approved, skipped or took it over; system:runbooks for a call."
    )
    note: str | None
    justification: str | None = strawberry.field(description="Why it was skipped.")
    output_status: int | None = strawberry.field(description="The last call's HTTP status.")
    output_body: str | None = strawberry.field(description="The last call's answer (bounded).")
    error: str | None
    execution_pk: strawberry.Private[int]
    evidence_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, s: models.RunbookStep) -> Self:
        return cls(
            id=s.id,
            position=s.position,
            key=s.key,
            kind=RunbookStepKind(s.kind),
            title=s.title,
            instructions=s.instructions,
            state=models.StepState(s.state),
            approval_reason=s.approval_reason,
            approved_by=s.approved_by,
            approved_at=s.approved_at,
            attempts=s.attempts,
            started_at=s.started_at,
            finished_at=s.finished_at,
            finished_by=s.finished_by,
            note=s.note,
            justification=s.justification,
            output_status=s.output_status,
            output_body=s.output_body,
            error=s.error,
            execution_pk=s.execution_id,
            evidence_pk=s.evidence_id,
        )

    @strawberry.field(description="Every call made for it, oldest first.")
    async def attempt_log(self, info: Info) -> list[RunbookStepAttempt]:
        found = await info.context.loader(queries.attempts_by_step, default=list).load(self.id)
        return [RunbookStepAttempt.from_model(a) for a in found]

    @strawberry.field(description="The evidence of a completion or take-over, if you may read it.")
    async def evidence(self, info: Info) -> EvidenceItem | None:
        if self.evidence_pk is None:
            return None
        found = await info.context.loader(evidence_queries.evidence_by_id).load(self.evidence_pk)
        return EvidenceItem.from_model(found) if found else None

    @strawberry.field
    async def execution(self, info: Info) -> RunbookExecution | None:
        found = await info.context.loader(queries.executions_by_id).load(self.execution_pk)
        return RunbookExecution.from_model(found) if found else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.steps_by_id, cls.from_model)


@strawberry.type(description="A runbook run against an incident, pinned to one version.")
class RunbookExecution(relay.Node):
    id: relay.NodeID[int]
    runbook_id: str
    version: int
    title: str
    digest: str = strawberry.field(description="SHA-256 of the version's definition as it ran.")
    severity_at_start: str
    state: ExecutionState
    started_by: str
    started_at: datetime
    paused_by: str | None
    paused_at: datetime | None
    pause_reason: str | None
    finished_at: datetime | None
    aborted_by: str | None
    abort_reason: str | None
    definition: strawberry.scalars.JSON = strawberry.field(
        description="The version exactly as it ran."
    )
    incident_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, e: models.RunbookExecution) -> Self:
        return cls(
            id=e.id,
            runbook_id=e.runbook_id,
            version=e.version,
            title=e.title,
            digest=e.digest,
            severity_at_start=e.severity_at_start,
            state=models.ExecutionState(e.state),
            started_by=e.started_by,
            started_at=e.started_at,
            paused_by=e.paused_by,
            paused_at=e.paused_at,
            pause_reason=e.pause_reason,
            finished_at=e.finished_at,
            aborted_by=e.aborted_by,
            abort_reason=e.abort_reason,
            definition=json.loads(e.definition),
            incident_pk=e.incident_id,
        )

    @strawberry.field(description="Its steps, in order.")
    async def steps(self, info: Info) -> list[RunbookStep]:
        found = await info.context.loader(queries.steps_by_execution, default=list).load(self.id)
        return [RunbookStep.from_model(s) for s in found]

    @strawberry.field
    async def incident(
        self, info: Info
    ) -> Annotated[Incident, strawberry.lazy("govsvc.graphql.incident_types")] | None:
        from govsvc.graphql.incident_types import Incident

        found = await info.context.loader(incident_queries.incidents_by_id).load(self.incident_pk)
        return Incident.from_model(found) if found else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.executions_by_id, cls.from_model)


def _incident(value: strawberry.ID) -> int:
    return decode_id(value, "Incident", field="incidentId")


def _execution(value: strawberry.ID) -> int:
    return decode_id(value, "RunbookExecution", field="executionId")


def _step(value: strawberry.ID) -> int:
    return decode_id(value, "RunbookStep", field="stepId")


@strawberry.type
class RunbookQuery:
    @strawberry.field(description="The runbooks (current versions) that match an incident.")
    async def runbooks_for(self, info: Info, incident_id: strawberry.ID) -> list[RunbookMatch]:
        found = await read(
            info, lambda uc: queries.runbooks_for(uc, incident_id=_incident(incident_id))
        )
        return [RunbookMatch.of(c) for c in found]

    @strawberry.field(description="The runbook executions of an incident, oldest first.")
    async def runbook_executions(
        self, info: Info, incident_id: strawberry.ID
    ) -> list[RunbookExecution]:
        found = await read(
            info,
            lambda uc: queries.executions_of_incident(uc, incident_id=_incident(incident_id)),
        )
        return [RunbookExecution.from_model(e) for e in found]


@strawberry.type
class RunbookExecutionPayload:
    execution: RunbookExecution | None = None
    errors: list[RunbookError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, execution: models.RunbookExecution) -> RunbookExecutionPayload:
        return cls(execution=RunbookExecution.from_model(execution))


@strawberry.type
class RunbookStepPayload:
    step: RunbookStep | None = None
    errors: list[RunbookError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, step: models.RunbookStep) -> RunbookStepPayload:
        return cls(step=RunbookStep.from_model(step))


@strawberry.input
class RunbookStartInput:
    incident_id: strawberry.ID
    runbook_id: str


@strawberry.input
class RunbookPauseInput:
    execution_id: strawberry.ID
    reason: str


@strawberry.input
class RunbookResumeInput:
    execution_id: strawberry.ID


@strawberry.input
class RunbookAbortInput:
    execution_id: strawberry.ID
    reason: str


@strawberry.input
class RunbookStepCompleteInput:
    step_id: strawberry.ID
    note: str
    evidence_id: strawberry.ID | None = None


@strawberry.input
class RunbookStepApproveInput:
    step_id: strawberry.ID
    note: str = ""


@strawberry.input
class RunbookStepSkipInput:
    step_id: strawberry.ID
    justification: str = strawberry.field(description="At least 20 characters.")


@strawberry.input
class RunbookStepRetryInput:
    step_id: strawberry.ID


@strawberry.input
class RunbookStepTakeOverInput:
    step_id: strawberry.ID
    note: str = strawberry.field(description="What you did instead of the automation.")
    evidence_id: strawberry.ID | None = None


def _evidence(value: strawberry.ID | None) -> int | None:
    return decode_optional(value, "EvidenceItem", field="evidenceId")


@strawberry.type
class RunbookMutation:
    @strawberry.mutation(description="Run the current version of a matching runbook.")
    async def runbook_start(self, info: Info, input: RunbookStartInput) -> RunbookExecutionPayload:
        return await mutate(
            info,
            RunbookExecutionPayload,
            lambda uc: service.start_runbook(
                uc, incident_id=_incident(input.incident_id), runbook_id=input.runbook_id
            ),
            ok=RunbookExecutionPayload.of,
        )

    @strawberry.mutation(description="Hold automated steps until resumed.")
    async def runbook_pause(self, info: Info, input: RunbookPauseInput) -> RunbookExecutionPayload:
        return await mutate(
            info,
            RunbookExecutionPayload,
            lambda uc: service.pause_execution(
                uc, execution_id=_execution(input.execution_id), reason=input.reason
            ),
            ok=RunbookExecutionPayload.of,
        )

    @strawberry.mutation
    async def runbook_resume(
        self, info: Info, input: RunbookResumeInput
    ) -> RunbookExecutionPayload:
        return await mutate(
            info,
            RunbookExecutionPayload,
            lambda uc: service.resume_execution(uc, execution_id=_execution(input.execution_id)),
            ok=RunbookExecutionPayload.of,
        )

    @strawberry.mutation(description="End the execution; steps not reached are cancelled.")
    async def runbook_abort(self, info: Info, input: RunbookAbortInput) -> RunbookExecutionPayload:
        return await mutate(
            info,
            RunbookExecutionPayload,
            lambda uc: service.abort_execution(
                uc, execution_id=_execution(input.execution_id), reason=input.reason
            ),
            ok=RunbookExecutionPayload.of,
        )

    @strawberry.mutation(description="A manual step is done: what you did, and evidence.")
    async def runbook_step_complete(
        self, info: Info, input: RunbookStepCompleteInput
    ) -> RunbookStepPayload:
        return await mutate(
            info,
            RunbookStepPayload,
            lambda uc: service.complete_step(
                uc,
                step_id=_step(input.step_id),
                note=input.note,
                evidence_id=_evidence(input.evidence_id),
            ),
            ok=RunbookStepPayload.of,
        )

    @strawberry.mutation(
        description="Pass an approval gate, or release an automated step held for approval."
    )
    async def runbook_step_approve(
        self, info: Info, input: RunbookStepApproveInput
    ) -> RunbookStepPayload:
        return await mutate(
            info,
            RunbookStepPayload,
            lambda uc: service.approve_step(uc, step_id=_step(input.step_id), note=input.note),
            ok=RunbookStepPayload.of,
        )

    @strawberry.mutation(description="Leave a step out, saying why (20 characters or more).")
    async def runbook_step_skip(
        self, info: Info, input: RunbookStepSkipInput
    ) -> RunbookStepPayload:
        return await mutate(
            info,
            RunbookStepPayload,
            lambda uc: service.skip_step(
                uc, step_id=_step(input.step_id), justification=input.justification
            ),
            ok=RunbookStepPayload.of,
        )

    @strawberry.mutation(description="Queue a failed automated step again.")
    async def runbook_step_retry(
        self, info: Info, input: RunbookStepRetryInput
    ) -> RunbookStepPayload:
        return await mutate(
            info,
            RunbookStepPayload,
            lambda uc: service.retry_step(uc, step_id=_step(input.step_id)),
            ok=RunbookStepPayload.of,
        )

    @strawberry.mutation(description="Do an automated step by hand instead: what, and evidence.")
    async def runbook_step_take_over(
        self, info: Info, input: RunbookStepTakeOverInput
    ) -> RunbookStepPayload:
        return await mutate(
            info,
            RunbookStepPayload,
            lambda uc: service.take_over_step(
                uc,
                step_id=_step(input.step_id),
                note=input.note,
                evidence_id=_evidence(input.evidence_id),
            ),
            ok=RunbookStepPayload.of,
        )
