"""Chat bodies are built with slack_sdk's Block Kit models, and a payload a chat platform cannot
show becomes a dead letter with a reason at delivery, never a refusal of the change."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from govsvc import usecase
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.outbox import admin, formats
from govsvc.outbox.deliver import deliver_due
from govsvc.outbox.models import DeliveryState, EndpointKind
from govsvc.runtime import Runtime
from tests.outbox.helpers import CHAT_PAYLOAD, RECEIVER_SECRET, delivery, publish
from tests.outbox.receiver import Receiver

AT = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


def _slack(payload: dict[str, Any]) -> dict[str, Any]:
    event = formats.Event("status_update.internal", "k", AT, payload)
    body: dict[str, Any] = json.loads(formats.render(EndpointKind.SLACK, event))
    return body


@pytest.mark.parametrize("url", ["", None])
def test_a_message_without_a_link_has_no_button(url: str | None) -> None:
    # given a status update as the service announces it: no incident page to link to
    payload = {k: v for k, v in {**CHAT_PAYLOAD, "url": url}.items() if v is not None}
    # when
    slack = _slack(payload)
    teams = json.loads(formats.render(EndpointKind.TEAMS, formats.Event("e.x", "k", AT, payload)))
    # then both render, without an action to nowhere, and Slack's own SDK accepts the blocks
    blocks = Block.parse_all(slack["blocks"])
    for block in blocks:
        block.validate_json()
    assert [b.type for b in blocks] == ["header", "section", "section"]
    assert "actions" not in teams["attachments"][0]["content"]


async def test_an_unshowable_chat_payload_is_a_dead_letter_with_a_reason(
    runtime: Runtime, receiver: Receiver, administrator: Caller
) -> None:
    # given a Slack endpoint and, queued for it, an event a chat message cannot show
    await usecase.run(
        runtime,
        administrator,
        admin.create_endpoint,
        name="slack",
        url=f"{receiver.url}/slack",
        kind="slack",
        secret=RECEIVER_SECRET,
    )
    (delivery_id,) = await publish(runtime, "k1", {"incident": 42})
    # when the worker comes to it
    await deliver_due(runtime)
    # then nothing was sent, it is dead at once (no pointless retries), and it says why
    assert receiver.seen == []
    row = await delivery(runtime, delivery_id)
    assert row.state == DeliveryState.DEAD.value
    assert row.attempts == 1
    assert row.last_error is not None
    assert "needs text fields" in row.last_error
    async with runtime.db.read() as session:
        (dead,) = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "webhook.delivery_dead")
            )
        ).scalars()
    assert "needs text fields" in json.loads(dead.payload)["reason"]
