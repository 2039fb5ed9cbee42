"""What a response means for a delivery, and when to try again.

Backoff is exponential with full jitter (a uniformly random wait between zero and
min(cap, base * 2**(n-1)) after the n-th failure), so many deliveries failing together against
one receiver do not come back in lockstep. A receiver's Retry-After is honoured, up to the cap.
"""

from __future__ import annotations

import random
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import Enum

# 4xx answers that mean "not now" rather than "never": timeout, conflict, too early, slow down.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_MAX_EXPONENT = 60  # far past any cap; keeps the float arithmetic finite


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    PERMANENT = "permanent"
    UNSENDABLE = "unsendable"  # never sent: the endpoint's format cannot carry this event


def classify(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.DELIVERED
    if 400 <= status_code < 500 and status_code not in RETRYABLE_4XX:
        return Outcome.PERMANENT
    # 5xx, the retryable 4xx, and redirects (not followed: a signed POST is not re-sent to
    # wherever a redirect points) may all heal, or be fixed by correcting the URL.
    return Outcome.RETRY


def ceiling(failures: int, *, base: float, cap: float) -> float:
    """The longest wait after `failures` consecutive failures (at least one)."""
    return float(min(cap, base * 2 ** min(max(failures, 1) - 1, _MAX_EXPONENT)))


def backoff(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    return rng.uniform(0.0, ceiling(failures, base=base, cap=cap))


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks us to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
