"""What the record keeps of runbook executions: the version each one ran (its definition, as
it was), every step's state, output, who and when, and every attempt of an automated step."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govsvc.db import Base, UTCDateTime, utcnow


class ExecutionState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # nothing runs by itself until someone resumes it
    COMPLETED = "completed"
    ABORTED = "aborted"


class StepState(StrEnum):
    PENDING = "pending"  # not reached yet
    WAITING = "waiting"  # its turn: a person completes it (manual) or approves it (approval)
    AWAITING_APPROVAL = "awaiting_approval"  # automated, held until someone approves it
    QUEUED = "queued"  # automated, due for a worker
    RUNNING = "running"  # a worker is making the call
    FAILED = "failed"  # automated call failed: retry, skip, take over or abort
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    TAKEN_OVER = "taken_over"  # a person did the automated step by hand
    CANCELLED = "cancelled"  # the execution was aborted before it was reached


DONE = frozenset({StepState.SUCCEEDED, StepState.SKIPPED, StepState.TAKEN_OVER})
FINAL = DONE | {StepState.CANCELLED}


class RunbookVersionSeen(Base):
    """The digest of each runbook version when it first ran: a version is immutable once in
    effect, so a later start finding a different definition under the same number is refused."""

    __tablename__ = "runbook_version_seen"
    __table_args__ = (UniqueConstraint("runbook_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    runbook_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    first_run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RunbookExecution(Base):
    __tablename__ = "runbook_execution"
    __table_args__ = (Index("ix_runbook_execution_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    # The incident's unit (copied so lists filter by access without a join on every row).
    business_unit_id: Mapped[int] = mapped_column(ForeignKey("business_unit.id"), index=True)
    runbook_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    definition: Mapped[str] = mapped_column(Text)  # canonical JSON of the version it runs
    title: Mapped[str] = mapped_column(String(200))
    severity_at_start: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str] = mapped_column(String(320))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_by: Mapped[str | None] = mapped_column(String(320))
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    aborted_by: Mapped[str | None] = mapped_column(String(320))
    abort_reason: Mapped[str | None] = mapped_column(Text)


class RunbookStep(Base):
    __tablename__ = "runbook_step"
    __table_args__ = (
        UniqueConstraint("execution_id", "position"),
        # What the worker's claim scans: due automated steps.
        Index("ix_runbook_step_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int] = mapped_column(ForeignKey("runbook_execution.id"))
    position: Mapped[int] = mapped_column(Integer)  # 1-based order in the version
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # manual | automated | approval
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(24))
    # automated: why it needs an approval first (the runbook, or the severity policy), if so.
    approval_reason: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(320))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who finished it (completed, approved, skipped, took it over), or the worker.
    finished_by: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)
    justification: Mapped[str | None] = mapped_column(Text)  # for a skip
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_item.id"))
    output_status: Mapped[int | None] = mapped_column(Integer)  # last HTTP status
    output_body: Mapped[str | None] = mapped_column(Text)  # bounded
    error: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RunbookStepAttempt(Base):
    """One call of an automated step, written when claimed and completed when it ends."""

    __tablename__ = "runbook_step_attempt"
    __table_args__ = (UniqueConstraint("step_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("runbook_step.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(String(2000))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
