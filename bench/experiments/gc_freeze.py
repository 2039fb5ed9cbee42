"""EXPERIMENT, not a fix: `govsvc serve` with the start-up heap moved out of the collector's way.

    .venv/bin/python bench/run.py --server-wrapper bench/experiments/gc_freeze.py

Why: a page of 50 incidents leaves a few thousand objects in reference cycles (graphql-core's
validation visitors, SQLAlchemy instance states, DataLoader futures). They outlive the young
generations while the request is in flight, so CPython runs a full (generation 2) collection
every ~10 page requests, and each one walks every long-lived object of the process (the
schema, SQLAlchemy's mappers, all modules): ~100 ms per collection on the benchmark machine.
Just before uvicorn starts, this collects once and calls gc.freeze(), so full collections
only walk what requests allocate.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

import uvicorn

_run = uvicorn.run


def _run_frozen(*args: Any, **kwargs: Any) -> Any:
    gc.collect()
    gc.freeze()
    return _run(*args, **kwargs)


uvicorn.run = _run_frozen

if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
