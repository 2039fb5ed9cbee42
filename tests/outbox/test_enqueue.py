"""Enqueueing: atomic with the caller's transaction, idempotent, aimed at the right endpoints."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from govsvc import usecase
from govsvc.caller import Caller
from govsvc.errors import Invalid
from govsvc.org.models import BusinessUnit
from govsvc.outbox import admin
from govsvc.outbox.admin import EndpointView
from govsvc.outbox.enqueue import enqueue
from govsvc.outbox.models import Delivery, DeliveryState
from govsvc.runtime import Runtime
from tests.outbox.helpers import CHAT_PAYLOAD, RECEIVER_SECRET, publish


class Boom(Exception):
    pass


async def _count(runtime: Runtime) -> int:
    async with runtime.db.read() as session:
        return (await session.execute(select(func.count()).select_from(Delivery))).scalar_one()


async def _endpoint(runtime: Runtime, caller: Caller, name: str, kind: str) -> EndpointView:
    return await usecase.run(
        runtime,
        caller,
        admin.create_endpoint,
        name=name,
        url=f"https://{name}.example.com/hook",
        kind=kind,
        secret=RECEIVER_SECRET,
    )


async def _change_and_enqueue_then_fail(runtime: Runtime, queued: list[int]) -> None:
    """A service function that changes state, enqueues its event, then fails."""
    async with runtime.db.write() as session:
        session.add(BusinessUnit(code="payments", name="Payments"))
        await session.flush()
        queued += await enqueue(
            session,
            event_type="business_unit.created",
            payload={"code": "payments"},
            idempotency_key="bu-payments",
        )
        raise Boom


async def test_a_rolled_back_change_enqueues_nothing(
    runtime: Runtime, endpoint: EndpointView
) -> None:
    # given
    queued: list[int] = []
    # when the caller's transaction rolls back after enqueueing
    with pytest.raises(Boom):
        await _change_and_enqueue_then_fail(runtime, queued)
    # then the delivery row existed inside the transaction, but neither it nor the change
    # survived
    assert len(queued) == 1
    assert await _count(runtime) == 0
    async with runtime.db.read() as session:
        assert (await session.execute(select(BusinessUnit))).first() is None


async def test_a_committed_change_commits_its_event(
    runtime: Runtime, endpoint: EndpointView
) -> None:
    # when
    async with runtime.db.write() as session:
        session.add(BusinessUnit(code="payments", name="Payments"))
        (created,) = await enqueue(
            session,
            event_type="business_unit.created",
            payload={"code": "payments"},
            idempotency_key="bu-payments",
        )
    # then
    async with runtime.db.read() as session:
        row = await session.get(Delivery, created)
    assert row is not None
    assert (row.endpoint_id, row.state, row.attempts) == (endpoint.id, "pending", 0)
    assert row.payload == '{"code":"payments"}'


async def test_a_repeated_idempotency_key_is_a_no_op(
    runtime: Runtime, endpoint: EndpointView
) -> None:
    # given
    first = await publish(runtime, "inc-42-update-3")
    # when the same event is enqueued again (a retried request, a replayed job)
    again = await publish(runtime, "inc-42-update-3", {**CHAT_PAYLOAD, "status": "changed"})
    # then nothing new was queued, and the first payload stands
    assert len(first) == 1
    assert again == []
    assert await _count(runtime) == 1


async def test_one_delivery_per_active_endpoint_of_the_requested_kinds(
    runtime: Runtime, administrator: Caller
) -> None:
    # given endpoints of every kind, one of them paused
    status = await _endpoint(runtime, administrator, "status", "status_page")
    slack = await _endpoint(runtime, administrator, "slack", "slack")
    await _endpoint(runtime, administrator, "teams", "teams")
    paused = await _endpoint(runtime, administrator, "paused", "status_page")
    await usecase.run(
        runtime, administrator, admin.set_endpoint_active, endpoint_id=paused.id, active=False
    )
    # when
    to_chat_and_status = await publish(runtime, "k1", kinds={"status_page", "slack"})
    to_all = await publish(runtime, "k2")
    # then
    async with runtime.db.read() as session:
        rows = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars().all()
    by_key: dict[str, set[int]] = {}
    for row in rows:
        by_key.setdefault(row.idempotency_key, set()).add(row.endpoint_id)
    assert by_key["k1"] == {status.id, slack.id}
    assert len(to_chat_and_status) == 2
    assert len(by_key["k2"]) == 3
    assert len(to_all) == 3
    assert paused.id not in by_key["k2"]
    assert all(row.state == DeliveryState.PENDING.value for row in rows)


async def test_a_chat_payload_is_not_the_enqueuing_changes_problem(
    runtime: Runtime, administrator: Caller
) -> None:
    # given a Slack endpoint
    await _endpoint(runtime, administrator, "slack", "slack")
    # when an event without the chat fields is published to it
    queued = await publish(runtime, "k1", {"incident": 42})
    # then the change that announces it is not refused: the delivery is queued, and the
    # deliverer dead-letters it with a reason (tests/outbox/test_chat_formats.py)
    assert len(queued) == 1
    assert await _count(runtime) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event_type": "Incident Updated"}, "event_type"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "x" * 201}, "idempotency_key"),
        ({"kinds": {"pager"}}, "kinds"),
        ({"payload": {"when": object()}}, "payload"),
        ({"payload": {"ratio": float("nan")}}, "payload"),
        ({"payload": {"blob": "x" * 300_000}}, "payload"),
    ],
)
async def test_bad_input_is_refused_by_field(
    runtime: Runtime, endpoint: EndpointView, kwargs: dict[str, object], field: str
) -> None:
    # given
    arguments: dict[str, object] = {
        "event_type": "incident.updated",
        "payload": CHAT_PAYLOAD,
        "idempotency_key": "k1",
        **kwargs,
    }
    # when
    with pytest.raises(Invalid) as refused:
        async with runtime.db.write() as session:
            await enqueue(session, **arguments)  # type: ignore[arg-type]
    # then
    assert refused.value.field == field
    assert await _count(runtime) == 0
