"""DIAGNOSTIC: `govsvc serve` that reports how long the audit chain lock is waited for and held.

    .venv/bin/python bench/run.py --backend postgresql --scenarios create \\
        --server-wrapper bench/experiments/measure_audit_lock.py
    grep AUDITLOCK /tmp/govsvc-bench-postgresql-<pid>.log

Wait: the `_lock_chain_head` call (pg_advisory_xact_lock). Held: from then until the
transaction commits (the lock is transaction-scoped). One line per 500 appends, in the server
log. The timing adds a little work per create; compare throughput with a plain run.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from govsvc.audit import chain

EVERY = 500
_held: list[float] = []
_waited: list[float] = []
_lock = chain._lock_chain_head


async def _timed_lock(session: AsyncSession) -> None:
    started = time.perf_counter()
    await _lock(session)
    acquired = time.perf_counter()
    _waited.append(acquired - started)
    session.sync_session.info["audit_lock_acquired"] = acquired


@event.listens_for(Session, "after_commit")
def _released(session: Any) -> None:
    acquired = session.info.pop("audit_lock_acquired", None)
    if acquired is None:
        return
    _held.append(time.perf_counter() - acquired)
    if len(_held) % EVERY == 0:
        print(
            f"AUDITLOCK n={len(_held)} {_describe('held', _held)}; {_describe('wait', _waited)}",
            file=sys.stderr,
            flush=True,
        )


def _describe(name: str, values: list[float]) -> str:
    last = sorted(values[-EVERY:])
    ms = [1000 * v for v in last]
    return (
        f"{name} p50={ms[len(ms) // 2]:.2f} p90={ms[int(len(ms) * 0.9)]:.2f} "
        f"mean={statistics.fmean(ms):.2f} ms"
    )


chain._lock_chain_head = _timed_lock  # type: ignore[assignment]

if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
