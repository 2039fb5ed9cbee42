"""Administering endpoints and deliveries: who may, what is checked, what is never shown."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from govsvc import usecase
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.errors import AlreadyExists, Conflict, Forbidden, Invalid, NotFound
from govsvc.outbox import admin
from govsvc.outbox.admin import EndpointView
from govsvc.outbox.deliver import deliver_due
from govsvc.outbox.models import Endpoint
from govsvc.runtime import Runtime
from tests.outbox.helpers import RECEIVER_SECRET, publish
from tests.outbox.receiver import Answer, Receiver

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXabcd"


async def test_a_secret_is_sealed_and_never_shown_or_logged(
    runtime: Runtime, administrator: Caller
) -> None:
    # when
    created = await usecase.run(
        runtime,
        administrator,
        admin.create_endpoint,
        name="chat",
        url=SLACK_URL,
        kind="slack",
        secret=RECEIVER_SECRET,
    )
    # then the view has no secret, and the Slack URL (itself a credential) is redacted
    assert "secret" not in {f.name for f in dataclasses.fields(EndpointView)}
    assert created.url == "https://hooks.slack.com/…abcd"
    async with runtime.db.read() as session:
        row = await session.get(Endpoint, created.id)
        (event,) = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "webhook.endpoint_create")
            )
        ).scalars()
        listed = await admin.list_endpoints(usecase.UseCase(administrator, runtime, session))
    assert row is not None
    assert RECEIVER_SECRET.encode() not in row.sealed_secret
    assert RECEIVER_SECRET not in event.payload
    assert "XXXXXXXX" not in event.payload
    assert json.loads(event.payload) == {
        "name": "chat",
        "kind": "slack",
        "url": "https://hooks.slack.com/…abcd",
    }
    assert event.actor == "admin@example.com"
    assert listed == [created]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "https:///no-host"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "https://example.com:99999/hook"}, "url"),
        ({"kind": "pager"}, "kind"),
        ({"secret": "short"}, "secret"),
        ({"secret": "tab\tinside-a-long-secret"}, "secret"),
        ({"name": "  "}, "name"),
    ],
)
async def test_bad_endpoints_are_refused_by_field(
    runtime: Runtime, administrator: Caller, kwargs: dict[str, str], field: str
) -> None:
    # given
    arguments = {
        "name": "hook",
        "url": "https://status.example.com/hook",
        "kind": "status_page",
        "secret": RECEIVER_SECRET,
        **kwargs,
    }
    # when
    with pytest.raises(Invalid) as refused:
        await usecase.run(runtime, administrator, admin.create_endpoint, **arguments)
    # then
    assert refused.value.field == field
    assert RECEIVER_SECRET not in refused.value.message
    async with runtime.db.read() as session:
        assert await admin.list_endpoints(usecase.UseCase(administrator, runtime, session)) == []


async def test_endpoint_names_are_unique(runtime: Runtime, administrator: Caller) -> None:
    # given
    await usecase.run(
        runtime,
        administrator,
        admin.create_endpoint,
        name="hook",
        url="https://a.example.com",
        kind="generic",
        secret=RECEIVER_SECRET,
    )
    # when / then
    with pytest.raises(AlreadyExists):
        await usecase.run(
            runtime,
            administrator,
            admin.create_endpoint,
            name="hook",
            url="https://b.example.com",
            kind="generic",
            secret=RECEIVER_SECRET,
        )


async def test_only_administrators_manage_or_read_the_outbox(
    runtime: Runtime, viewer: Caller, endpoint: EndpointView
) -> None:
    # given
    (delivery_id,) = await publish(runtime, "k1")
    # when / then
    with pytest.raises(Forbidden):
        await usecase.run(
            runtime,
            viewer,
            admin.create_endpoint,
            name="x",
            url="https://x.example.com",
            kind="generic",
            secret=RECEIVER_SECRET,
        )
    with pytest.raises(Forbidden):
        await usecase.run(runtime, viewer, admin.retry, delivery_id=delivery_id)
    with pytest.raises(Forbidden):
        await usecase.run(
            runtime, viewer, admin.set_endpoint_active, endpoint_id=endpoint.id, active=False
        )
    async with runtime.db.read() as session:
        with pytest.raises(Forbidden):
            await admin.list_deliveries(usecase.UseCase(viewer, runtime, session))
        with pytest.raises(Forbidden):
            await admin.list_endpoints(usecase.UseCase(viewer, runtime, session))


async def test_only_dead_or_failed_deliveries_are_requeued(
    runtime: Runtime, administrator: Caller, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given one delivery waiting for its first attempt and one delivered
    (waiting,) = await publish(runtime, "k1")
    await deliver_due(runtime)
    (fresh,) = await publish(runtime, "k2")
    # when / then
    with pytest.raises(Conflict, match="delivered"):
        await usecase.run(runtime, administrator, admin.retry, delivery_id=waiting)
    with pytest.raises(Conflict, match="pending"):
        await usecase.run(runtime, administrator, admin.retry, delivery_id=fresh)
    with pytest.raises(NotFound):
        await usecase.run(runtime, administrator, admin.retry, delivery_id=999_999)


async def test_a_failed_delivery_can_be_retried_now(
    runtime: Runtime, administrator: Caller, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given a delivery that failed once and waits for its retry
    receiver.will(Answer(500))
    (delivery_id,) = await publish(runtime, "k1")
    await deliver_due(runtime)
    # when
    requeued = await usecase.run(runtime, administrator, admin.retry, delivery_id=delivery_id)
    # then it is due at once, with a fresh budget
    assert requeued.state == "pending"
    assert requeued.attempt_base == 1
    assert await deliver_due(runtime) == 1


async def test_the_delivery_log_filters_and_pages_in_the_query(
    runtime: Runtime, administrator: Caller, endpoint: EndpointView, receiver: Receiver
) -> None:
    # given five deliveries, two of them delivered
    for n in range(5):
        await publish(runtime, f"k{n}")
    await deliver_due(runtime, batch=2)
    # when
    async with runtime.db.read() as session:
        delivered = await admin.list_deliveries(
            usecase.UseCase(administrator, runtime, session), state="delivered"
        )
        first = await admin.list_deliveries(
            usecase.UseCase(administrator, runtime, session), first=2
        )
        second = await admin.list_deliveries(
            usecase.UseCase(administrator, runtime, session), first=2, after_id=first.items[-1].id
        )
        history = await admin.attempts_for(session, [d.id for d in delivered.items] + [999])
        with pytest.raises(Invalid):
            await admin.list_deliveries(
                usecase.UseCase(administrator, runtime, session), state="lost"
            )
    # then
    assert [d.idempotency_key for d in delivered.items] == ["k1", "k0"]
    assert [d.idempotency_key for d in first.items + second.items] == ["k4", "k3", "k2", "k1"]
    assert first.has_next
    assert second.has_next
    assert {i: [a.status_code for a in found] for i, found in history.items()} == {
        delivered.items[0].id: [200],
        delivered.items[1].id: [200],
        999: [],
    }
