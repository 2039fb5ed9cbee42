"""Several workers on one database: each job has one leader at a time, an empty sweep writes
nothing, and tree heads and checkpoints are written once per position of the chain.

Two worker loops run for real: as tasks of this process on engines of their own, and as two
`govsvc worker` processes."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select

from govsvc import usecase
from govsvc.audit import checkpoints, tree_heads
from govsvc.audit.models import AuditCheckpoint, AuditEvent, SignedTreeHead
from govsvc.caller import Caller
from govsvc.evidence import service as evidence_service
from govsvc.evidence.models import DispositionRecord, DispositionRun, EvidenceKind
from govsvc.org import service as org_service
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from govsvc.worker import run_worker
from tests.integration.test_cli import GOVSVC, cli_env

# Worker loops run for real, for seconds.
pytestmark = pytest.mark.slow

POLICIES = Path(__file__).parents[2] / "policies"
FAST = {
    "worker_sweep_interval_seconds": 1,
    "worker_checkpoint_interval_seconds": 1,
    "worker_outbox_interval_seconds": 1,
}


def _system(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, "system:test")


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _one_second_retention(settings: Settings, tmp_path: Path) -> Settings:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "retention.yaml").write_text(
        'version: "2026.1"\nalways: []\n'
        'default: {id: drill, period: {seconds: 1}, citation: "drill"}\nrules: []\n'
    )
    return settings.model_copy(update={"policies_dir": policies, **FAST})


async def _expired_item(runtime: Runtime) -> None:
    caller = _system(runtime)
    unit = await usecase.run(
        runtime, caller, org_service.create_business_unit, code="ops", name="Ops"
    )
    await usecase.run(
        runtime,
        caller,
        evidence_service.collect,
        evidence_service.NewEvidence(
            title="Old export", kind=EvidenceKind.LOG_EXPORT, business_unit_id=unit.id
        ),
        _bytes(b"old"),
    )
    await asyncio.sleep(2.5)


async def _count(runtime: Runtime, model: type, *where: ColumnElement[bool]) -> int:
    async with runtime.db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar()
            or 0
        )


async def _eventually(count: Callable[[], Awaitable[int]], *, within: float) -> None:
    """Wait until `count` is non-zero, for at most `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await count():
        assert asyncio.get_running_loop().time() < deadline, f"nothing after {within} s"
        await asyncio.sleep(0.25)


async def _assert_heads_and_checkpoints_written_once(
    runtime: Runtime, *, caught_up: bool = True
) -> None:
    """Every stored head and checkpoint has its row and none is there twice; once the workers
    have caught up, the newest head and checkpoint cover the whole chain."""
    async with runtime.db.read() as session:
        sizes = list((await session.execute(select(SignedTreeHead.tree_size))).scalars())
        seqs = list((await session.execute(select(AuditCheckpoint.seq))).scalars())
        chain_size = (await session.execute(select(func.max(AuditEvent.seq)))).scalar()
    stored_heads = await runtime.store.versions(tree_heads.PREFIX)
    stored_checkpoints = await runtime.store.versions(checkpoints.PREFIX)
    assert len(stored_heads) == len(sizes), (stored_heads, sizes)
    assert len(stored_checkpoints) == len(seqs) == len(set(seqs)), (stored_checkpoints, seqs)
    if caught_up:
        assert max(sizes) == max(seqs) == chain_size


async def _run_two_loops(settings: Settings, seconds: float) -> None:
    runtimes = [Runtime.build(settings), Runtime.build(settings)]
    stop = asyncio.Event()
    try:
        loops = [asyncio.create_task(run_worker(r, stop=stop)) for r in runtimes]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*loops)
    finally:
        for r in runtimes:
            await r.db.dispose()


async def test_two_idle_workers_write_one_head_and_one_checkpoint_and_no_sweeps(
    runtime: Runtime, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # given a chain with a few events and nothing to dispose of
    for n in range(3):
        await usecase.run(
            runtime,
            _system(runtime),
            org_service.create_business_unit,
            code=f"u{n}",
            name=f"Unit {n}",
        )
    events_before = await _count(runtime, AuditEvent)
    # when two workers tick every second for several seconds
    with caplog.at_level(logging.INFO, logger="govsvc"):
        await _run_two_loops(settings.model_copy(update=FAST), seconds=3.5)
    # then no sweep left a trace, the chain did not move, and it was signed and checkpointed once
    assert await _count(runtime, DispositionRun) == 0
    assert await _count(runtime, AuditEvent) == events_before
    assert await _count(runtime, SignedTreeHead) == 1
    assert await _count(runtime, AuditCheckpoint) == 1
    await _assert_heads_and_checkpoints_written_once(runtime)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_two_workers_at_once_sweep_once_and_write_each_head_once(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given one item past its retention
    settings = _one_second_retention(settings, tmp_path)
    runtime = Runtime.build(settings)
    try:
        await _expired_item(runtime)
        # when two workers run every job at the same moment
        workers = [Runtime.build(settings), Runtime.build(settings)]
        with caplog.at_level(logging.INFO, logger="govsvc"):
            await asyncio.gather(*(run_worker(w, once=True) for w in workers))
        for w in workers:
            await w.db.dispose()
        # then one sweep disposed of it, and nothing was written twice or failed
        assert await _count(runtime, DispositionRun) == 1
        assert await _count(runtime, DispositionRecord) == 1
        assert await _count(runtime, AuditEvent, AuditEvent.action == "retention.sweep") == 1
        # (a worker that found the sweep taken may have signed the chain before it moved)
        await _assert_heads_and_checkpoints_written_once(runtime, caught_up=False)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    finally:
        await runtime.db.dispose()


@pytest.mark.cli
async def test_two_worker_processes_share_the_jobs(settings: Settings, tmp_path: Path) -> None:
    # given one item past its retention
    settings = _one_second_retention(settings, tmp_path)
    runtime = Runtime.build(settings)
    try:
        await _expired_item(runtime)
        env = cli_env(
            settings,
            GOVSVC_POLICIES_DIR=str(settings.policies_dir),
            **{f"GOVSVC_{k.upper()}": str(v) for k, v in FAST.items()},
        )
        # when two `govsvc worker` processes run side by side for several ticks
        processes = [
            subprocess.Popen(  # noqa: S603 - the venv's own console script
                [str(GOVSVC), "worker"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        # (started processes import the whole service first: wait for the sweep, not a clock)
        await _eventually(lambda: _count(runtime, DispositionRun), within=60)
        await asyncio.sleep(3)  # and three more ticks of each job
        outputs = []
        for process in processes:
            process.send_signal(signal.SIGINT)
            outputs.append(await asyncio.to_thread(process.communicate, timeout=30))
        # then the item went in one sweep, later ticks wrote nothing, and nothing failed
        assert await _count(runtime, DispositionRun) == 1
        assert await _count(runtime, DispositionRecord) == 1
        assert await _count(runtime, AuditEvent, AuditEvent.action == "retention.sweep") == 1
        await _assert_heads_and_checkpoints_written_once(runtime)
        for _stdout, stderr in outputs:
            problems = [line for line in stderr.splitlines() if "failed" in line or "Error" in line]
            assert not problems, stderr
    finally:
        await runtime.db.dispose()
