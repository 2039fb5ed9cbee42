"""Delivery against a real receiver on 127.0.0.1: signed, retried with growing waits, never
processed twice, dead-lettered, requeued, and never lost across a worker's crash."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from govsvc import usecase
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.outbox import admin
from govsvc.outbox.admin import EndpointView
from govsvc.outbox.deliver import LOST, Result, claim_due, deliver_due, finish, lease_seconds
from govsvc.outbox.models import DeliveryState
from govsvc.outbox.retries import Outcome, ceiling
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from govsvc.worker import run_worker
from tests.conftest import build_runtime
from tests.outbox.helpers import CHAT_PAYLOAD, RECEIVER_SECRET, attempts, delivery, publish
from tests.outbox.receiver import Answer, Receiver, Slow


class AlwaysCeiling(random.Random):
    """Jitter pinned to its upper bound, so the exponential schedule shows exactly."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def _audit(runtime: Runtime, action: str) -> list[AuditEvent]:
    async with runtime.db.read() as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


async def _drive(runtime: Runtime, delivery_id: int, *, rng: random.Random) -> list[float]:
    """Run the worker whenever the delivery is next due, until it is settled; return the waits
    it was given after each failure."""
    waits: list[float] = []
    await deliver_due(runtime, rng=rng)
    while (row := await delivery(runtime, delivery_id)).state == DeliveryState.PENDING.value:
        finished_at = (await attempts(runtime, delivery_id))[-1].finished_at
        assert finished_at is not None
        waits.append((row.next_attempt_at - finished_at).total_seconds())
        await deliver_due(runtime, now=row.next_attempt_at, rng=rng)
    return waits


async def test_a_delivery_arrives_signed_and_is_recorded(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when
    attempted = await deliver_due(runtime)
    # then the receiver verified the signature and got the event with its envelope
    assert attempted == 1
    (seen,) = receiver.seen
    assert seen.signature_ok
    assert (seen.path, seen.key, seen.event, seen.attempt) == (
        "/hooks/status",
        "inc-42-v1",
        "incident.status_changed",
        "1",
    )
    body = json.loads(seen.body)
    assert body["idempotency_key"] == "inc-42-v1"
    assert body["title"] == CHAT_PAYLOAD["title"]
    # and the outbox says so, attempt included
    row = await delivery(runtime, delivery_id)
    assert row.state == DeliveryState.DELIVERED.value
    assert row.delivered_at is not None
    assert (row.last_status_code, row.last_error, row.claim_token) == (200, None, None)
    (attempt,) = await attempts(runtime, delivery_id)
    assert (attempt.attempt, attempt.status_code, attempt.error) == (1, 200, None)
    assert attempt.finished_at is not None
    assert attempt.duration_ms is not None
    assert attempt.duration_ms >= 0
    # and nothing is left to do
    assert await deliver_due(runtime, now=utcnow() + timedelta(days=1)) == 0


async def test_retries_wait_exponentially_longer(
    runtime: Runtime, settings: Settings, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given a receiver failing three times
    receiver.will(Answer(503), Answer(500), Answer(502))
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when the worker runs whenever the delivery is due, jitter pinned to its ceiling
    waits = await _drive(runtime, delivery_id, rng=AlwaysCeiling())
    # then each wait doubled (base 0.05 s), and the fourth attempt got through
    assert waits == pytest.approx([0.05, 0.1, 0.2], abs=0.002)
    assert [a.status_code for a in await attempts(runtime, delivery_id)] == [503, 500, 502, 200]
    assert (await delivery(runtime, delivery_id)).state == DeliveryState.DELIVERED.value


async def test_jittered_waits_stay_within_bounds_and_then_the_delivery_dies(
    runtime: Runtime, settings: Settings, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given a receiver that always fails
    receiver.will(*[Answer(500)] * 10)
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when
    waits = await _drive(runtime, delivery_id, rng=random.Random(2026))
    # then every wait was in [0, min(cap, base * 2**(n-1))]
    base, cap = settings.outbox_backoff_base_seconds, settings.outbox_backoff_cap_seconds
    assert len(waits) == settings.outbox_max_attempts - 1
    for n, wait in enumerate(waits, start=1):
        assert 0 <= wait <= ceiling(n, base=base, cap=cap) + 0.001
    # and after N attempts it is dead-lettered, with every attempt kept and the death audited
    row = await delivery(runtime, delivery_id)
    assert row.state == DeliveryState.DEAD.value
    assert row.dead_at is not None
    assert (row.attempts, row.last_status_code) == (4, 500)
    assert [a.attempt for a in await attempts(runtime, delivery_id)] == [1, 2, 3, 4]
    (death,) = await _audit(runtime, "webhook.delivery_dead")
    assert death.resource_id == str(delivery_id)
    assert json.loads(death.payload)["reason"] == "no success in 4 attempts"
    # and the worker leaves it alone from now on
    assert await deliver_due(runtime, now=utcnow() + timedelta(days=1)) == 0
    assert len(receiver.seen) == 4
    assert receiver.processed == {}


async def test_retry_after_is_honoured(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given a receiver asking us to slow down for a second
    receiver.will(Answer(429, {"Retry-After": "1"}))
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when
    waits = await _drive(runtime, delivery_id, rng=random.Random(1))
    # then the wait was the second it asked for, not a jittered fraction of base
    assert waits == pytest.approx([1.0], abs=0.002)
    assert (await delivery(runtime, delivery_id)).state == DeliveryState.DELIVERED.value


async def test_a_permanent_refusal_dead_letters_at_once(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given
    receiver.will(Answer(400))
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when
    await deliver_due(runtime)
    # then
    row = await delivery(runtime, delivery_id)
    assert row.state == DeliveryState.DEAD.value
    assert row.attempts == 1
    assert row.last_error == "HTTP 400: no"
    (death,) = await _audit(runtime, "webhook.delivery_dead")
    assert json.loads(death.payload)["reason"] == "refused with HTTP 400"


async def test_a_slow_receiver_is_retried_and_dedupes_the_repeat(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given a receiver that processes the first request but answers after the client timed out
    receiver.will(Slow(1.0))
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when the worker gives up on it, and retries when due
    await deliver_due(runtime)
    first = await delivery(runtime, delivery_id)
    await deliver_due(runtime, now=first.next_attempt_at)
    # then the first attempt is recorded as a timeout, the second delivered it
    assert first.state == DeliveryState.PENDING.value
    timed_out, succeeded = await attempts(runtime, delivery_id)
    assert timed_out.status_code is None
    assert timed_out.error is not None
    assert "timeout" in timed_out.error
    assert succeeded.status_code == 200
    assert (await delivery(runtime, delivery_id)).state == DeliveryState.DELIVERED.value
    # and the receiver saw the same key twice but processed it once
    assert receiver.keys_seen() == ["inc-42-v1", "inc-42-v1"]
    assert [s.duplicate for s in receiver.seen] == [False, True]
    assert all(s.signature_ok for s in receiver.seen)
    assert list(receiver.processed) == [("/hooks/status", "inc-42-v1")]


async def test_an_unreachable_receiver_is_retried(runtime: Runtime, administrator: Caller) -> None:
    # given an endpoint where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await usecase.run(
        runtime,
        administrator,
        admin.create_endpoint,
        name="gone",
        url=f"http://127.0.0.1:{port}/hook",
        kind="generic",
        secret=RECEIVER_SECRET,
    )
    (delivery_id,) = await publish(runtime, "k1", {"incident": 42})
    # when
    await deliver_due(runtime)
    # then
    row = await delivery(runtime, delivery_id)
    assert row.state == DeliveryState.PENDING.value
    assert row.last_error is not None
    assert row.last_error.startswith("ConnectError")
    assert row.next_attempt_at > (await attempts(runtime, delivery_id))[0].started_at


async def test_an_administrator_requeues_a_dead_delivery(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver, administrator: Caller
) -> None:
    # given a dead delivery (the receiver was down for all four attempts)
    receiver.will(*[Answer(503)] * 4)
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    await _drive(runtime, delivery_id, rng=random.Random(3))
    assert (await delivery(runtime, delivery_id)).state == DeliveryState.DEAD.value
    # when an administrator requeues it and the worker runs
    requeued = await usecase.run(runtime, administrator, admin.retry, delivery_id=delivery_id)
    await deliver_due(runtime)
    # then it got a fresh budget, went out, and the history and the audit log show it all
    assert (requeued.state, requeued.attempt_base, requeued.dead_at) == ("pending", 4, None)
    row = await delivery(runtime, delivery_id)
    assert (row.state, row.attempts) == (DeliveryState.DELIVERED.value, 5)
    assert [a.status_code for a in await attempts(runtime, delivery_id)] == [503] * 4 + [200]
    (retried,) = await _audit(runtime, "webhook.delivery_retry")
    assert retried.actor == "admin@example.com"
    assert json.loads(retried.payload)["previous_state"] == "dead"
    assert receiver.keys_seen() == ["inc-42-v1"] * 5
    assert len(receiver.processed) == 1


async def test_a_crashed_workers_claims_come_back_after_the_lease(
    settings: Settings, runtime: Runtime, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given a worker that claimed a delivery and died before sending it
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    claimed_at = utcnow()
    (lost,) = await claim_due(runtime, batch=20, now=claimed_at)
    await runtime.db.dispose()
    # when a new worker process starts while the lease still holds, and again after it ran out
    restarted = build_runtime(settings)
    try:
        during_lease = await deliver_due(restarted, now=claimed_at + timedelta(seconds=1))
        lease_end = claimed_at + timedelta(seconds=lease_seconds(settings))
        after_lease = await deliver_due(restarted, now=lease_end + timedelta(seconds=1))
        # then the lease kept the delivery from a second worker, and its expiry gave it back
        assert (during_lease, after_lease) == (0, 1)
        row = await delivery(restarted, delivery_id)
        assert (row.state, row.attempts) == (DeliveryState.DELIVERED.value, 2)
        first, second = await attempts(restarted, delivery_id)
        assert (first.error, first.finished_at) == (LOST, None)
        assert second.status_code == 200
        assert receiver.keys_seen() == ["inc-42-v1"]
        # and if the lost worker reports after all, its stale claim changes nothing
        stale = Result(Outcome.RETRY, 503, "HTTP 503", 10)
        await finish(restarted, lost, stale, now=utcnow(), rng=random.Random(0))
        assert (await delivery(restarted, delivery_id)).state == DeliveryState.DELIVERED.value
    finally:
        await restarted.db.dispose()


async def test_a_delivery_whose_workers_keep_dying_is_dead_lettered(
    settings: Settings, runtime: Runtime, endpoint: EndpointView
) -> None:
    # given a delivery whose every claim is lost (a payload that crashes workers, say)
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    at = utcnow()
    lease = timedelta(seconds=lease_seconds(settings) + 1)
    for n in range(settings.outbox_max_attempts):
        assert len(await claim_due(runtime, batch=20, now=at + n * lease)) == 1
    # when its last lease runs out
    again = await claim_due(runtime, batch=20, now=at + settings.outbox_max_attempts * lease)
    # then it is not claimed a fifth time but buried, every lost attempt on record
    assert again == []
    row = await delivery(runtime, delivery_id)
    assert (row.state, row.last_error) == (DeliveryState.DEAD.value, LOST)
    assert [a.error for a in await attempts(runtime, delivery_id)] == [LOST] * 4


async def test_concurrent_workers_claim_disjoint_batches(
    settings: Settings, runtime: Runtime, endpoint: EndpointView
) -> None:
    # given ten due deliveries and two worker processes
    for n in range(10):
        await publish(runtime, f"k{n}")
    other = build_runtime(settings)
    try:
        # when both claim at once
        now = utcnow()
        mine, theirs = await asyncio.gather(
            claim_due(runtime, batch=6, now=now), claim_due(other, batch=6, now=now)
        )
    finally:
        await other.db.dispose()
    # then no delivery was claimed twice, and none was left out
    ids = [c.delivery_id for c in mine] + [c.delivery_id for c in theirs]
    assert len(ids) == len(set(ids)) == 10


async def test_a_paused_endpoints_deliveries_wait_for_it(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver, administrator: Caller
) -> None:
    # given a queued delivery whose endpoint is then paused
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    await usecase.run(
        runtime, administrator, admin.set_endpoint_active, endpoint_id=endpoint.id, active=False
    )
    # when the worker runs, and again after the endpoint is resumed
    while_paused = await deliver_due(runtime)
    await usecase.run(
        runtime, administrator, admin.set_endpoint_active, endpoint_id=endpoint.id, active=True
    )
    after_resume = await deliver_due(runtime)
    # then it waited rather than being dropped
    assert (while_paused, after_resume) == (0, 1)
    assert (await delivery(runtime, delivery_id)).state == DeliveryState.DELIVERED.value


@pytest.mark.parametrize(
    ("kind", "keys"), [("slack", {"text", "blocks"}), ("teams", {"type", "attachments"})]
)
async def test_chat_endpoints_receive_their_own_format(
    runtime: Runtime, receiver: Receiver, administrator: Caller, kind: str, keys: set[str]
) -> None:
    # given
    await usecase.run(
        runtime,
        administrator,
        admin.create_endpoint,
        name=kind,
        url=f"{receiver.url}/{kind}",
        kind=kind,
        secret=RECEIVER_SECRET,
    )
    await publish(runtime, "inc-42-v1")
    # when
    await deliver_due(runtime)
    # then
    (seen,) = receiver.seen
    assert seen.signature_ok
    assert set(json.loads(seen.body)) == keys


async def test_the_worker_delivers_the_outbox(
    runtime: Runtime, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given
    (delivery_id,) = await publish(runtime, "inc-42-v1")
    # when
    await run_worker(runtime, once=True)
    # then
    assert (await delivery(runtime, delivery_id)).state == DeliveryState.DELIVERED.value
    assert receiver.keys_seen() == ["inc-42-v1"]
