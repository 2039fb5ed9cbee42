"""EXPERIMENT: cached_validation.py and gc_freeze.py together."""

from __future__ import annotations

import sys

import cached_validation  # noqa: F401 - patches on import
import gc_freeze  # noqa: F401 - patches on import

if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
