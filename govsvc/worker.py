"""Background work: disposition sweeps and audit checkpoints, on their intervals.

Runs inside `govsvc serve` on the embedded default, or as `govsvc worker` processes; sweeps
serialize on a database lock, so several workers are safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from govsvc.audit import checkpoints, tree_heads
from govsvc.auth.caller import Caller
from govsvc.compliance import pack_jobs
from govsvc.outbox import deliver as outbox_delivery
from govsvc.retention import disposition
from govsvc.runtime import Runtime

log = logging.getLogger("govsvc.worker")


async def run_worker(
    runtime: Runtime, *, once: bool = False, stop: asyncio.Event | None = None
) -> None:
    """Run each job when it is due; with `once`, run them all one time and return."""
    caller = Caller.system(runtime.policies.access, "system:worker")
    settings = runtime.settings
    jobs: list[tuple[str, int, Callable[[], Awaitable[object]]]] = [
        (
            "disposition sweep",
            settings.worker_sweep_interval_seconds,
            lambda: disposition.sweep(runtime, caller),
        ),
        (
            "audit tree head",
            settings.worker_checkpoint_interval_seconds,
            lambda: tree_heads.sign_head(runtime),
        ),
        (
            "audit checkpoint",
            settings.worker_checkpoint_interval_seconds,
            lambda: checkpoints.write_checkpoint(runtime),
        ),
        (
            "audit pack build",
            settings.worker_pack_interval_seconds,
            lambda: pack_jobs.build_next(runtime),
        ),
        (
            "outbox delivery",
            settings.worker_outbox_interval_seconds,
            lambda: outbox_delivery.deliver_due(runtime),
        ),
    ]
    due = [0.0 for _ in jobs]
    stop = stop or asyncio.Event()
    while not stop.is_set():
        for n, (name, interval, job) in enumerate(jobs):
            if time.monotonic() >= due[n]:
                try:
                    await job()
                except Exception:  # one failed run must not stop the worker; it retries
                    log.exception("%s failed; retrying in %s s", name, interval)
                due[n] = time.monotonic() + interval
        if once:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.1, min(due) - time.monotonic()))
