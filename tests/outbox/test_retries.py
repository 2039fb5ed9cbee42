"""What each answer means, and how long to wait before the next try."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from govsvc.outbox.retries import Outcome, backoff, ceiling, classify, retry_after


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert classify(status) is Outcome.DELIVERED


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409, 425, 429, 301, 302, 307])
def test_server_errors_throttling_and_redirects_are_retried(status: int) -> None:
    assert classify(status) is Outcome.RETRY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 413, 415, 422])
def test_other_client_errors_are_permanent(status: int) -> None:
    assert classify(status) is Outcome.PERMANENT


def test_the_ceiling_doubles_up_to_the_cap() -> None:
    # when
    ceilings = [ceiling(n, base=2.0, cap=600.0) for n in range(1, 12)]
    # then
    assert ceilings == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert ceiling(10_000, base=2.0, cap=600.0) == 600  # no overflow, however many failures


def test_full_jitter_stays_within_zero_and_the_ceiling() -> None:
    # given
    rng = random.Random(7)
    # when
    waits = {n: [backoff(n, base=2.0, cap=600.0, rng=rng) for _ in range(500)] for n in (1, 4, 12)}
    # then every wait is in [0, ceiling], and they are spread, not in lockstep
    for n, drawn in waits.items():
        assert all(0.0 <= w <= ceiling(n, base=2.0, cap=600.0) for w in drawn)
        assert max(drawn) - min(drawn) > ceiling(n, base=2.0, cap=600.0) / 2


def test_retry_after_in_seconds_or_as_a_date() -> None:
    # given
    now = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    # when / then
    assert retry_after("120", now) == 120.0
    assert retry_after("Sun, 01 Mar 2026 09:00:30 GMT", now) == 30.0
    assert retry_after("Sun, 01 Mar 2026 08:00:00 GMT", now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None
