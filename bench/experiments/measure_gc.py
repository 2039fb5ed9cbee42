"""DIAGNOSTIC: `govsvc serve` that reports the time spent in garbage collection, per generation.

    .venv/bin/python bench/run.py --backend postgresql --scenarios page --concurrency 1 \\
        --server-wrapper bench/experiments/measure_gc.py
    grep GCSTATS /tmp/govsvc-bench-postgresql-<pid>.log

Every 200 collections, one line with the cumulative count and milliseconds of collections of
each generation since start (compare with the number of requests served). With the environment
variable BENCH_GC_FREEZE=1 it also applies gc_freeze.py's change, to compare.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

EVERY = 200
_count = [0, 0, 0]
_ms = [0.0, 0.0, 0.0]
_started = [0.0]


def _callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    generation = info["generation"]
    _count[generation] += 1
    _ms[generation] += 1000 * (time.perf_counter() - _started[0])
    if sum(_count) % EVERY == 0:
        stats = ", ".join(f"gen{g}: {_count[g]} collections {_ms[g]:.0f} ms" for g in range(3))
        print(
            f"GCSTATS {stats}; tracked objects {len(gc.get_objects())}", file=sys.stderr, flush=True
        )


gc.callbacks.append(_callback)

if os.environ.get("BENCH_GC_FREEZE") == "1":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gc_freeze  # noqa: F401 - patches on import

if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
