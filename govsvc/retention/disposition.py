"""Disposition: delete what is past its retention and under no hold, and keep a record of it.

Runs in the worker, or on demand (`govsvc retention sweep [--dry-run]`). One sweep at a time:
the whole sweep, from listing to the last record, holds the sweep's leader lock (govsvc.leader).
A sweep that finds nothing due writes nothing: no run row, no audit event. Its writes are
durable: each records a deletion in the store that no rollback of the caller could undo, so the
sweep commits item by item (`db.write(durable=True)`) and never writes through the use case's own
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import leader
from govsvc.audit.log import record
from govsvc.db import utcnow
from govsvc.evidence.models import (
    DispositionRecord,
    DispositionRun,
    EvidenceItem,
    EvidenceState,
    LegalHold,
)
from govsvc.retention.holds import items_in_scope
from govsvc.storage import ObjectLocked, StorageError

if TYPE_CHECKING:
    from govsvc.usecase import UseCase

JOB = "retention sweep"


@dataclass(frozen=True)
class Candidate:
    evidence_id: int
    title: str
    sha256: str
    retention_rule: str
    retain_until: datetime


@dataclass(frozen=True)
class SweepResult:
    run_id: int | None  # None for a dry run, or when nothing was due (no run is recorded)
    disposed: list[Candidate]
    skipped: list[tuple[Candidate, str]]  # and why
    dry_run: bool = False  # then `disposed` is what would go


async def _candidates(session: AsyncSession, now: datetime) -> list[Candidate]:
    # Evidence under any active hold stays, whatever its own flag says.
    held = await _held_ids(session)
    rows = (
        await session.execute(
            select(EvidenceItem)
            .where(
                EvidenceItem.state.in_([EvidenceState.ACTIVE.value, EvidenceState.SHREDDED.value]),
                EvidenceItem.retain_until <= now,
                EvidenceItem.legal_hold.is_(False),
            )
            .order_by(EvidenceItem.id)
        )
    ).scalars()
    return [
        Candidate(i.id, i.title, i.sha256, i.retention_rule, i.retain_until)
        for i in rows
        if i.id not in held
    ]


async def _held_ids(session: AsyncSession) -> set[int]:
    held: set[int] = set()
    for hold in (
        await session.execute(select(LegalHold).where(LegalHold.lifted_at.is_(None)))
    ).scalars():
        held |= {item.id for item in await items_in_scope(session, hold)}
    return held


async def sweep(uc: UseCase, *, dry_run: bool = False, now: datetime | None = None) -> SweepResult:
    """Dispose of every expired, unheld item; a dry run lists exactly what would go."""
    uc.caller.access.require_everywhere("run", "retention_sweep")
    if dry_run:
        async with uc.db.read() as session:
            return SweepResult(None, await _candidates(session, now or utcnow()), [], dry_run=True)
    async with leader.lead(uc.db, JOB, wait=True):
        return await _sweep(uc, now or utcnow())


async def _sweep(uc: UseCase, now: datetime) -> SweepResult:
    async with uc.db.read() as session:
        candidates = await _candidates(session, now)
    if not candidates:
        return SweepResult(None, [], [])
    async with uc.db.write(durable=True) as session:
        run = DispositionRun(run_by=uc.caller.actor)
        session.add(run)
        await session.flush()
        run_id = run.id
    disposed: list[Candidate] = []
    skipped: list[tuple[Candidate, str]] = []
    for candidate in candidates:
        reason = await _dispose_one(uc, candidate, run_id=run_id, now=now)
        if reason is None:
            disposed.append(candidate)
        else:
            skipped.append((candidate, reason))
    async with uc.db.write(durable=True) as session:
        finished = await session.get(DispositionRun, run_id)
        assert finished is not None  # noqa: S101 - created above
        finished.finished_at = utcnow()
        finished.disposed, finished.skipped = len(disposed), len(skipped)
        await record(
            session,
            uc.caller,
            "retention.sweep",
            resource_type="disposition_run",
            resource_id=run_id,
            payload={
                "disposed": [c.evidence_id for c in disposed],
                "skipped": {str(c.evidence_id): why for c, why in skipped},
            },
        )
    return SweepResult(run_id, disposed, skipped)


async def _dispose_one(
    uc: UseCase, candidate: Candidate, *, run_id: int, now: datetime
) -> str | None:
    """Delete one item's bytes, then record it; the reason it stays, or None when it went."""
    async with uc.db.write(durable=True) as session:
        item = await session.get(EvidenceItem, candidate.evidence_id, with_for_update=True)
        # Re-check under the lock: a hold or an extension may have come in since listing.
        if (
            item is None
            or item.legal_hold
            or item.retain_until > now
            or item.state == EvidenceState.DISPOSED.value
        ):
            return "changed since listing (held, extended or already disposed)"
        try:
            await uc.store.delete_version(item.storage_key, item.storage_version)
        except ObjectLocked as error:
            return f"the store still locks it: {error}"
        except StorageError as error:
            return f"storage refused: {type(error).__name__}: {error}"
        item.state = EvidenceState.DISPOSED.value
        item.wrapped_key = None
        session.add(
            DispositionRecord(
                run_id=run_id,
                evidence_id=item.id,
                title=item.title,
                sha256=item.sha256,
                retention_rule=item.retention_rule,
                retain_until=item.retain_until,
            )
        )
        await record(
            session,
            uc.caller,
            "evidence.dispose",
            resource_type="evidence",
            resource_id=item.id,
            payload={
                "sha256": item.sha256,
                "rule": item.retention_rule,
                "retain_until": item.retain_until,
                "run": run_id,
            },
        )
        return None
