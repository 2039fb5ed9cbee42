"""WORM checkpoints catch a rewritten chain; sweeps and the worker run from the command line."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from govsvc import usecase
from govsvc.audit import chain, checkpoints
from govsvc.audit.models import AuditCheckpoint, AuditEvent
from govsvc.caller import Caller
from govsvc.evidence import service as evidence_service
from govsvc.evidence.models import DispositionRecord, EvidenceItem, EvidenceKind, EvidenceState
from govsvc.org import service as org_service
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.integration.test_cli import govsvc

POLICIES = Path(__file__).parents[2] / "policies"


def _system(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, "system:test")


async def _rewrite_history(runtime: Runtime, seq: int) -> None:
    """What a database administrator could do: change event `seq` (> 1) and recompute every
    hash after it."""
    async with runtime.db.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await session.execute(text("DROP TRIGGER audit_event_no_update"))
        events = list(
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.seq >= seq - 1).order_by(AuditEvent.seq)
                )
            ).scalars()
        )
        previous = events[0].hash
        for event in events[1:]:
            if event.seq == seq:
                event.payload = '{"code":"nothing-to-see"}'
            event.prev_hash = previous
            event.hash = chain.hash_of(event)
            previous = event.hash


@pytest.mark.slow  # runs the worker for seconds
async def test_a_consistently_rewritten_chain_is_caught_by_the_worm_checkpoint(
    runtime: Runtime, settings: Settings
) -> None:
    # given a few events, checkpointed to WORM storage
    for n in range(4):
        await usecase.run(
            runtime,
            _system(runtime),
            org_service.create_business_unit,
            code=f"u{n}",
            name=f"Unit {n}",
        )
    checkpoint = await checkpoints.write_checkpoint(runtime)
    assert checkpoint is not None
    # when someone rewrites event 2 and every hash after it
    await _rewrite_history(runtime, seq=2)
    # then the chain alone looks fine, but not against its checkpoint
    async with runtime.db.read() as session:
        assert (await chain.verify(session)).ok
        problems = await checkpoints.verify_checkpoints(runtime, session)
    assert problems
    assert "event 4" in problems[0]
    result = await govsvc(settings, "audit", "verify")
    assert result.code == 1
    assert "checkpoint" in result.stdout


@pytest.mark.slow  # runs the worker for seconds
async def test_an_intact_chain_verifies_against_its_checkpoints(
    runtime: Runtime, settings: Settings
) -> None:
    await usecase.run(
        runtime, _system(runtime), org_service.create_business_unit, code="a", name="A"
    )
    written = await govsvc(settings, "audit", "checkpoint")
    assert written.code == 0, written
    assert "checkpoint of event 1" in written.stdout
    verified = await govsvc(settings, "audit", "verify")
    assert verified.code == 0, verified
    async with runtime.db.read() as session:
        assert len((await session.execute(select(AuditCheckpoint))).scalars().all()) == 1


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.mark.slow  # runs the worker for seconds
async def test_the_sweep_dry_run_names_what_would_go_and_the_worker_disposes_of_it(
    settings: Settings, tmp_path: Path
) -> None:
    # given retention of one second, and one expired item
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "retention.yaml").write_text(
        'version: "2026.1"\nalways: []\n'
        'default: {id: drill, period: {seconds: 1}, citation: "drill"}\nrules: []\n'
    )
    settings = settings.model_copy(update={"policies_dir": policies})
    runtime = Runtime.build(settings)
    try:
        caller = _system(runtime)
        unit = await usecase.run(
            runtime, caller, org_service.create_business_unit, code="ops", name="Ops"
        )
        item = await usecase.run(
            runtime,
            caller,
            evidence_service.collect,
            evidence_service.NewEvidence(
                title="Old export", kind=EvidenceKind.LOG_EXPORT, business_unit_id=unit.id
            ),
            _bytes(b"old"),
        )
        await asyncio.sleep(2.5)
        env = {"GOVSVC_POLICIES_DIR": str(policies)}
        # when
        dry = await govsvc(settings, "retention", "sweep", "--dry-run", **env)
        # then it names the item and changes nothing
        assert dry.code == 0, dry
        assert "would dispose of 1 item(s)" in dry.stdout
        assert item.sha256 in dry.stdout
        # when the worker runs once
        ran = await govsvc(settings, "worker", "--once", **env)
        # then
        assert ran.code == 0, ran
        async with runtime.db.read() as session:
            disposed = await session.get(EvidenceItem, item.id)
            records = (await session.execute(select(DispositionRecord))).scalars().all()
            marks = (await session.execute(select(AuditCheckpoint))).scalars().all()
        assert disposed is not None
        assert disposed.state == EvidenceState.DISPOSED.value
        assert [r.sha256 for r in records] == [item.sha256]
        assert len(marks) == 1
    finally:
        await runtime.db.dispose()


async def test_deleting_checkpoint_rows_hides_nothing(runtime: Runtime) -> None:
    # given a checkpoint, then a rewritten chain, and the checkpoint's row deleted too
    for n in range(3):
        await usecase.run(
            runtime,
            _system(runtime),
            org_service.create_business_unit,
            code=f"u{n}",
            name=f"Unit {n}",
        )
    await checkpoints.write_checkpoint(runtime)
    await _rewrite_history(runtime, seq=2)
    async with runtime.db.write() as session:
        await session.execute(text("DELETE FROM audit_checkpoint"))
    # when / then: the checkpoint is found in WORM storage itself
    async with runtime.db.read() as session:
        problems = await checkpoints.verify_checkpoints(runtime, session)
    assert any("event 3" in p for p in problems)
