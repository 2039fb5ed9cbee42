"""DIAGNOSTIC: `govsvc serve` that reports how long SQLite writers wait in BEGIN IMMEDIATE.

    .venv/bin/python bench/run.py --backend sqlite --scenarios create \\
        --server-wrapper bench/experiments/measure_sqlite_begin.py
    grep SQLITEBEGIN /tmp/govsvc-bench-sqlite-<pid>.log

BEGIN IMMEDIATE returns once this connection holds SQLite's write lock; until then it sits in
SQLite's busy handler (sleep and retry, up to GOVSVC_SQLITE_BUSY_TIMEOUT_MS). One line per 250
write transactions, in the server log.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

EVERY = 250
_waits: list[float] = []


@event.listens_for(Engine, "before_cursor_execute")
def _before(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if statement.startswith("BEGIN IMMEDIATE"):
        connection.info["begin_started"] = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _after(connection: Any, *_: Any) -> None:
    started = connection.info.pop("begin_started", None)
    if started is None:
        return
    _waits.append(1000 * (time.perf_counter() - started))
    if len(_waits) % EVERY == 0:
        last = sorted(_waits[-EVERY:])
        n = len(last)
        print(
            f"SQLITEBEGIN n={len(_waits)} p50={last[n // 2]:.1f} p90={last[int(n * 0.9)]:.1f} "
            f"p99={last[int(n * 0.99)]:.1f} max={last[-1]:.1f} ms",
            file=sys.stderr,
            flush=True,
        )


if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
