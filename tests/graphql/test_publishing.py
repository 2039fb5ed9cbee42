"""Publishing: updates go out through the outbox to signed endpoints; public text is redacted
or refused; the status page shows what was published."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from govsvc.outbox import deliver
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.outbox.helpers import RECEIVER_SECRET
from tests.outbox.receiver import Answer, Receiver

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ id state body }} {ERRORS} }} }}"
)
DELIVERIES = (
    "{ webhookDeliveries { edges { node { id state eventType idempotencyKey"
    " attempts { attempt statusCode } } } } }"
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(RECEIVER_SECRET).start()
    yield running
    running.stop()


async def _endpoint(gql: GraphQL, receiver: Receiver, kind: str) -> None:
    data = await gql(
        "mutation($i: WebhookEndpointCreateInput!) { webhookEndpointCreate("
        f"input: $i) {{ endpoint {{ id kind }} {ERRORS} }} }}",
        {
            "i": {
                "name": f"{kind}-hook",
                "url": f"{receiver.url}/{kind}",
                "kind": kind,
                "secret": RECEIVER_SECRET,
            }
        },
    )
    assert data["webhookEndpointCreate"]["errors"] == [], data


async def _incident(gql: GraphQL, **fields: Any) -> str:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments", tier=3)
    return str((await helpers.incident(gql, service_id, **fields))["id"])


async def test_an_internal_update_reaches_chat_signed_once_and_every_attempt_is_visible(
    gql: GraphQL, runtime: Runtime, receiver: Receiver
) -> None:
    # given a generic endpoint that refuses the first delivery outright
    await _endpoint(gql, receiver, "generic")
    incident_id = await _incident(gql)
    receiver.will(Answer(400))
    # when an internal update is published and the worker delivers
    await gql(
        DRAFT,
        {
            "i": {
                "incidentId": incident_id,
                "audience": "INTERNAL",
                "status": "investigating",
                "body": "Rolling back 4.2",
            }
        },
    )
    await deliver.deliver_due(runtime)
    dead = (await gql(DELIVERIES))["webhookDeliveries"]["edges"]
    # then a permanent refusal is a dead letter, visible with its attempt
    assert [d["node"]["state"] for d in dead] == ["dead"]
    assert dead[0]["node"]["attempts"] == [{"attempt": 1, "statusCode": 400}]
    # when an administrator requeues it and the worker runs again
    retried = await gql(
        "mutation($i: WebhookDeliveryRetryInput!) { webhookDeliveryRetry("
        f"input: $i) {{ delivery {{ state }} {ERRORS} }} }}",
        {"i": {"deliveryId": dead[0]["node"]["id"]}},
    )
    assert retried["webhookDeliveryRetry"]["delivery"] == {"state": "pending"}
    await deliver.deliver_due(runtime)
    # then it arrives, signed, once
    after = (await gql(DELIVERIES))["webhookDeliveries"]["edges"][0]["node"]
    assert after["state"] == "delivered"
    assert [a["statusCode"] for a in after["attempts"]] == [400, 200]
    assert all(s.signature_ok for s in receiver.seen)
    [body] = receiver.processed.values()
    assert json.loads(body)["text"] == "Rolling back 4.2"


async def test_a_public_update_with_personal_data_is_refused(gql: GraphQL) -> None:
    incident_id = await _incident(gql)
    refused = await gql(
        DRAFT,
        {
            "i": {
                "incidentId": incident_id,
                "audience": "PUBLIC",
                "status": "investigating",
                "body": "Call Jane Roe on +44 20 7946 0958 or mail admin@govsvc.local for details.",
            }
        },
    )
    payload = refused["statusUpdateDraft"]
    assert payload["update"] is None
    assert payload["errors"][0]["code"] == "REDACTION_REQUIRED"
    assert "admin@govsvc.local" not in payload["errors"][0]["message"]


async def test_a_clean_public_update_goes_to_the_status_page_and_its_hook(
    gql: GraphQL, runtime: Runtime, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    # given a status-page hook and an outage (low severity: no approvals needed)
    await _endpoint(gql, receiver, "status_page")
    incident_id = await _incident(gql, impact={"unavailable": True})
    # when
    text = "Card payments are failing for some customers. We are investigating."
    published = await gql(
        DRAFT,
        {
            "i": {
                "incidentId": incident_id,
                "audience": "PUBLIC",
                "status": "investigating",
                "body": text,
            }
        },
    )
    assert published["statusUpdateDraft"]["errors"] == [], published
    await deliver.deliver_due(runtime)
    # then the hook got it, signed, and the page shows it
    [seen] = receiver.seen
    assert seen.signature_ok
    assert json.loads(seen.body)["text"] == text
    page = await http.get("/status.json")
    body = page.json()
    assert body["services"] == [{"name": "Card payments", "state": "partial_outage"}]
    assert body["updates"][0]["text"] == text
    assert "Checkout errors" not in page.text


PM_WRITE = (
    "mutation($i: PostMortemWriteInput!) { postMortemWrite(input: $i) {"
    f" postMortem {{ revision }} {ERRORS} }} }}"
)
PM_MOVE = (
    "mutation($i: PostMortemMoveInput!) { postMortemMove(input: $i) {"
    f" postMortem {{ state }} {ERRORS} }} }}"
)
PM_PUBLISH = (
    "mutation($i: PostMortemPublishInput!) { postMortemPublish(input: $i) {"
    f" publicPostMortem {{ title text sha256 sourceSha256 }} {ERRORS} }} }}"
)


async def test_a_public_post_mortem_is_reviewed_redacted_and_refused_while_anything_leaks(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given an approved post-mortem full of names, contacts, hosts and a secret
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments")
    incident_id = str((await helpers.incident(gql, service_id))["id"])
    _, _ = await helpers.person_with_token(gql, "maria.garcia@example.com")
    await gql(
        PM_WRITE,
        {
            "i": {
                "incidentId": incident_id,
                "customers": ["Globex Corporation"],
                "sections": {
                    "summary": "Card payments failed for 42 minutes after release 4.2 "
                    "at 14:32 UTC.",
                    "timeline": "Maria Garcia (maria.garcia@example.com, +44 20 7946 0958) "
                    "paged the DBA on db-prod-7. Globex Corporation reported failures first.",
                    "rootCause": "A config change set pool_size=0; the deploy key "
                    "AKIAIOSFODNN7EXAMPLE was pasted in the ticket OPS-1234.",
                },
            }
        },
    )
    _, approver = await helpers.person_with_token(
        gql, "ic@example.com", "incident_commander", unit_id
    )
    await gql(PM_MOVE, {"i": {"incidentId": incident_id, "state": "IN_REVIEW"}})
    approved = await gql.as_(approver)(
        PM_MOVE, {"i": {"incidentId": incident_id, "state": "APPROVED"}}
    )
    assert approved["postMortemMove"]["postMortem"] == {"state": "APPROVED"}
    # when the reviewer looks at what the redaction proposes
    spans = (
        await gql(
            "query($id: ID!) { postMortemRedactionPreview(incidentId: $id) {"
            " start end entityType text } }",
            {"id": incident_id},
        )
    )["postMortemRedactionPreview"]
    found = {s["text"] for s in spans}
    # then every name, contact, customer and secret is proposed, technical words are not
    assert {
        "Maria Garcia",
        "maria.garcia@example.com",
        "Globex Corporation",
        "AKIAIOSFODNN7EXAMPLE",
    } <= found
    assert "UTC" not in found
    chosen = [{"start": s["start"], "end": s["end"], "entityType": s["entityType"]} for s in spans]
    # when the reviewer rejects the span over the customer, publishing is refused
    dropped = [
        s for s, raw in zip(chosen, spans, strict=True) if raw["text"] != "Globex Corporation"
    ]
    refused = await gql(PM_PUBLISH, {"i": {"incidentId": incident_id, "spans": dropped}})
    assert refused["postMortemPublish"]["errors"][0]["code"] == "REDACTION_REQUIRED"
    # when every proposed span is accepted
    done = await gql(PM_PUBLISH, {"i": {"incidentId": incident_id, "spans": chosen}})
    # then it publishes, with nothing left that must not leak
    public = done["postMortemPublish"]["publicPostMortem"]
    assert public is not None, done
    for secret in ("Maria", "maria.garcia", "7946", "Globex", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in public["text"]
    assert "42 minutes" in public["text"]
    assert public["sourceSha256"] != public["sha256"]
    page = await http.get("/status")
    assert "Post-incident report INC-1" in page.text
    assert "Globex" not in page.text
