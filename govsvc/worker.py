"""Background work: disposition sweeps, audit tree heads and checkpoints, outbox deliveries and
the recovery of interrupted uploads, each on its interval.

Runs inside `govsvc serve` on the embedded default, or as `govsvc worker` processes. Each job
runs only while its worker holds the job's leader lock (govsvc.leader) for the whole run; a
worker that finds the lock taken skips that job until its next tick, so several workers never
repeat each other's work. To add a job, add one `Job(...)` line to `jobs()`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from govsvc import leader, usecase
from govsvc.alerts import detect, heartbeat, notify
from govsvc.audit import checkpoints, tree_heads
from govsvc.caller import Caller
from govsvc.compliance import pack_jobs
from govsvc.evidence import recovery
from govsvc.oncall import escalation
from govsvc.outbox import deliver as outbox_delivery
from govsvc.retention import disposition
from govsvc.runbooks import automation as runbook_automation
from govsvc.runtime import Runtime

log = logging.getLogger("govsvc.worker")


@dataclass(frozen=True)
class Job:
    name: str  # also names its leader lock
    interval_seconds: float
    run: Callable[[], Awaitable[object]]
    # False only for work that already splits itself between workers (outbox claims are taken
    # with FOR UPDATE SKIP LOCKED), where one leader would only slow delivery down.
    exclusive: bool = True


def jobs(runtime: Runtime) -> list[Job]:
    caller = Caller.system(runtime.policies.access, "system:worker")
    settings = runtime.settings
    return [
        Job(recovery.JOB, settings.worker_sweep_interval_seconds,
            lambda: usecase.run(runtime, caller, recovery.reconcile_uploads)),
        Job(disposition.JOB, settings.worker_sweep_interval_seconds,
            lambda: usecase.run(runtime, caller, disposition.sweep)),
        Job(tree_heads.JOB, settings.worker_checkpoint_interval_seconds,
            lambda: tree_heads.sign_head(runtime)),
        Job(checkpoints.JOB, settings.worker_checkpoint_interval_seconds,
            lambda: checkpoints.write_checkpoint(runtime)),
        # Packs are claimed one at a time with a claim token: workers may build several at once.
        # A build commits in steps (claim, progress, outcome): see pack_jobs.build_next.
        Job("audit pack build", settings.worker_pack_interval_seconds,
            lambda: usecase.run(runtime, caller, pack_jobs.build_next), exclusive=False),
        # Alerts: pending detections (minimum durations, corroboration), calm flapping, storms
        # that have ended, and sources whose heartbeat stopped.
        Job(detect.PENDING_JOB, settings.worker_alert_interval_seconds,
            lambda: usecase.run(runtime, caller, detect.evaluate_pending)),
        Job(notify.STORM_JOB, settings.worker_alert_interval_seconds,
            lambda: usecase.run(runtime, caller, notify.end_storms)),
        Job(heartbeat.JOB, settings.worker_alert_interval_seconds,
            lambda: usecase.run(runtime, caller, heartbeat.find_blind_sources)),
        # Escalations are claimed with FOR UPDATE SKIP LOCKED: workers share them, and each
        # level of each escalation fires once.
        Job(escalation.JOB, settings.worker_escalation_interval_seconds,
            lambda: escalation.escalate_caught_up(runtime, caller), exclusive=False),
        Job("outbox delivery", settings.worker_outbox_interval_seconds,
            lambda: outbox_delivery.deliver_due(runtime), exclusive=False),
        # Automated runbook steps are claimed with FOR UPDATE SKIP LOCKED: workers share them.
        Job(runbook_automation.JOB, settings.worker_runbook_interval_seconds,
            lambda: runbook_automation.run_due(runtime), exclusive=False),
    ]  # fmt: skip


async def run_job(runtime: Runtime, job: Job) -> bool:
    """Run `job` once if this worker can lead it; False when another worker is running it."""
    if not job.exclusive:
        await job.run()
        return True
    async with leader.lead(runtime.db, job.name) as leading:
        if not leading:
            log.debug("%s: another worker is running it; skipped", job.name)
            return False
        await job.run()
        return True


async def run_worker(
    runtime: Runtime, *, once: bool = False, stop: asyncio.Event | None = None
) -> None:
    """Run each job when it is due; with `once`, run them all one time and return."""
    todo = jobs(runtime)
    due = [0.0 for _ in todo]
    stop = stop or asyncio.Event()
    while not stop.is_set():
        for n, job in enumerate(todo):
            if time.monotonic() >= due[n]:
                try:
                    await run_job(runtime, job)
                except Exception:  # one failed run must not stop the worker; it retries
                    log.exception("%s failed; retrying in %s s", job.name, job.interval_seconds)
                due[n] = time.monotonic() + job.interval_seconds
        if once:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.1, min(due) - time.monotonic()))
