"""Repairs to communication (issue 8): chat endpoints never break a status update, refused
calls store nothing, audiences are read per role, templates render under limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from govsvc.outbox.deliver import deliver_due
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.outbox.helpers import RECEIVER_SECRET
from tests.outbox.receiver import Receiver

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ id state number body }} {ERRORS} }} }}"
)
DECIDE = (
    "mutation($i: StatusUpdateDecideInput!) { statusUpdateDecide(input: $i) {"
    f" update {{ id state }} {ERRORS} }} }}"
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(RECEIVER_SECRET).start()
    yield running
    running.stop()


async def _setup(gql: GraphQL, **incident: Any) -> tuple[str, str]:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments")
    created = await helpers.incident(gql, service_id, **incident)
    return unit_id, str(created["id"])


async def _draft(gql: GraphQL, **fields: Any) -> dict[str, Any]:
    data = await gql(DRAFT, {"i": {"status": "investigating", **fields}})
    result: dict[str, Any] = data["statusUpdateDraft"]
    return result


# --- item 26: Slack ---------------------------------------------------------------------


async def test_an_internal_update_publishes_with_a_slack_endpoint_and_slack_gets_a_valid_message(
    gql: GraphQL, runtime: Runtime, receiver: Receiver
) -> None:
    # given a registered Slack endpoint
    created = await gql(
        "mutation($i: WebhookEndpointCreateInput!) { webhookEndpointCreate(input: $i) {"
        f" endpoint {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "name": "ops chat",
                "url": f"{receiver.url}/slack",
                "kind": "slack",
                "secret": RECEIVER_SECRET,
            }
        },
    )
    assert created["webhookEndpointCreate"]["errors"] == []
    _, incident_id = await _setup(gql)
    # when an internal update is written
    update = await _draft(gql, incidentId=incident_id, audience="INTERNAL", body="Rolling back")
    # then it publishes (no stuck draft)
    assert update["errors"] == []
    assert update["update"]["state"] == "PUBLISHED"
    # and the worker sends Slack a message its own SDK accepts
    await deliver_due(runtime)
    (seen,) = receiver.seen
    assert seen.signature_ok
    body = json.loads(seen.body)
    blocks = Block.parse_all(body["blocks"])
    for block in blocks:
        block.validate_json()
    assert "Rolling back" in body["blocks"][1]["text"]["text"]
