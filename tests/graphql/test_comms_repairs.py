"""Repairs to communication (issue 8): chat endpoints never break a status update, refused
calls store nothing, audiences are read per role, templates render under limits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
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


# --- item 7: templates under limits -----------------------------------------------------

PREVIEW = (
    "query($b: String!, $v: JSON) { templatePreview(body: $b, variables: $v)"
    " { text errors { field message code } } }"
)
BOMBS = [
    pytest.param("{{ 'x' * 1000000000 }}", id="string multiplication"),
    pytest.param("{{ [0] * 1000000000 }}", id="list multiplication"),
    pytest.param("{{ 9 ** 999999999 }}", id="power"),
    pytest.param("{% for i in range(1000000000) %}{% endfor %}", id="huge range"),
    pytest.param(
        "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        id="nested loops",
    ),
    pytest.param(
        "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", id="macro recursion"
    ),
    pytest.param(
        "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(64) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        id="doubling concatenation",
    ),
    pytest.param("{{ '%0999999999d' % 1 }}", id="format width"),
    pytest.param("{{ (range(1000)|list)|join('x' * 10000) }}", id="join separator"),
]


@pytest.mark.parametrize("body", BOMBS)
async def test_a_template_bomb_is_a_prompt_typed_error_and_the_server_keeps_answering(
    live_server: str, admin_token: str, body: str
) -> None:
    # given a real server and a template writer (the administrator)
    headers = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=f"http://{live_server}", headers=headers) as http:
        started = time.monotonic()
        # when the bomb is previewed while someone else asks something
        bomb, other = await asyncio.gather(
            http.post("/graphql", json={"query": PREVIEW, "variables": {"b": body}}, timeout=30),
            http.post("/graphql", json={"query": "{ __typename }"}, timeout=30),
        )
        elapsed = time.monotonic() - started
    # then the bomb is refused with a typed error, quickly, and the other request was answered
    assert other.json() == {"data": {"__typename": "Query"}}
    preview = bomb.json()["data"]["templatePreview"]
    assert preview["text"] is None
    (error,) = preview["errors"]
    assert error["code"] == "TEMPLATE_LIMIT", error
    assert error["field"] == "body"
    assert elapsed < 5


async def test_a_status_update_from_a_template_renders_under_the_same_limits(
    gql: GraphQL,
) -> None:
    # given a template that is harmless with sample data but repeats a variable
    created = await gql(
        "mutation($i: TemplateCreateInput!) { templateCreate(input: $i) {"
        f" template {{ version }} {ERRORS} }} }}",
        {"i": {"name": "stretchy", "audience": "INTERNAL", "body": "{{ note ~ note ~ note }}"}},
    )
    assert created["templateCreate"]["errors"] == []
    _, incident_id = await _setup(gql)
    # when a status update renders it with a long value
    update = await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        template="stretchy",
        variables={"note": "n" * 10_000},
    )
    # then it is a typed refusal, and nothing was stored
    assert update["update"] is None
    assert [e["code"] for e in update["errors"]] == ["TEMPLATE_LIMIT"]
    listed = await gql(
        "query($id: ID!) { statusUpdates(incidentId: $id) { id } }", {"id": incident_id}
    )
    assert listed["statusUpdates"] == []


async def test_previewing_a_template_needs_the_template_writing_right(gql: GraphQL) -> None:
    # given a comms lead (who writes updates, not templates)
    unit_id = await helpers.unit(gql, "payments")
    _, token = await helpers.person_with_token(gql, "cl@example.com", "comms_lead", unit_id)
    # when they preview, then it is refused as forbidden
    errors = await gql.as_(token).errors(PREVIEW, {"b": "Hello {{ incident.reference }}"})
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    # while the administrator (who writes templates) may
    assert await gql(PREVIEW, {"b": "Hello {{ incident.reference }}"}) == {
        "templatePreview": {"text": "Hello INC-42", "errors": []}
    }


# --- item 27: a refused call stores nothing ---------------------------------------------

AUDIT = (
    "query($f: AuditEventFilter) { auditEvents(filter: $f) { edges { node { action actor } } } }"
)


async def _assign(gql: GraphQL, incident_id: str, role: str, person_id: str) -> None:
    done = await gql(
        "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i)"
        f" {{ role {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "role": role, "personId": person_id}},
    )
    assert done["incidentRoleAssign"]["errors"] == [], done


async def test_an_approval_refused_for_want_of_a_comms_lead_is_not_stored_and_can_be_given_again(
    gql: GraphQL,
) -> None:
    # given a SEV1 public draft, approved by legal, and a comms lead not yet assigned
    unit_id, incident_id = await _setup(gql, impact={"unavailable": True, "durationMinutes": 45})
    body = "Card payments are failing. We are investigating."
    draft = await _draft(gql, incidentId=incident_id, audience="PUBLIC", body=body)
    update_id = draft["update"]["id"]
    _, lawyer = await helpers.person_with_token(gql, "legal@example.com", "legal", unit_id)
    comms_id, comms = await helpers.person_with_token(
        gql, "comms@example.com", "comms_lead", unit_id
    )
    approve = {"updateId": update_id, "role": "comms_lead", "approve": True}
    await gql.as_(lawyer)(DECIDE, {"i": {**approve, "role": "legal"}})
    # when the comms lead approves before being assigned
    held = await gql.as_(comms)(DECIDE, {"i": approve})
    # then the call is refused, and their approval was not stored
    assert [e["code"] for e in held["statusUpdateDecide"]["errors"]] == ["COMMS_LEAD_REQUIRED"]
    audit = await gql(AUDIT, {"f": {"actor": "comms@example.com"}})
    assert [e["node"]["action"] for e in audit["auditEvents"]["edges"]] == [
        "incident.comms_lead_missing"
    ]
    # (only that the commander has been told, which is the point of the refusal)
    # when they are assigned and approve again, then the draft goes out
    await _assign(gql, incident_id, "COMMS_LEAD", comms_id)
    done = await gql.as_(comms)(DECIDE, {"i": approve})
    assert done["statusUpdateDecide"]["errors"] == []
    assert done["statusUpdateDecide"]["update"]["state"] == "PUBLISHED"


async def test_a_stale_update_is_refused_without_leaving_anything_behind(gql: GraphQL) -> None:
    # given two published internal updates
    _, incident_id = await _setup(gql)
    first = await _draft(gql, incidentId=incident_id, audience="INTERNAL", body="one")
    await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        body="two",
        supersedesId=first["update"]["id"],
    )
    # when someone writes against the first
    stale = await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        body="three",
        supersedesId=first["update"]["id"],
    )
    # then it is refused, and neither the update nor any trace of it was stored
    assert [e["code"] for e in stale["errors"]] == ["CONFLICT"]
    listed = await gql(
        "query($id: ID!) { statusUpdates(incidentId: $id) { body } }", {"id": incident_id}
    )
    assert [u["body"] for u in listed["statusUpdates"]] == ["one", "two"]
    drafted = await gql(AUDIT, {"f": {"action": "status_update.draft"}})
    assert len(drafted["auditEvents"]["edges"]) == 2


async def test_a_public_draft_that_could_never_go_out_is_refused_before_its_approvals(
    gql: GraphQL,
) -> None:
    # given a SEV1 outage, whose public updates need approvals
    _, incident_id = await _setup(gql, impact={"unavailable": True, "durationMinutes": 45})
    # when a public draft names a person's e-mail address
    refused = await _draft(
        gql,
        incidentId=incident_id,
        audience="PUBLIC",
        body="Contact maria.garcia@example.com for the refund of failed payments.",
    )
    # then it is refused at once (not after two approvals), and nothing is stored
    assert [e["code"] for e in refused["errors"]] == ["REDACTION_REQUIRED"]
    listed = await gql(
        "query($id: ID!) { statusUpdates(incidentId: $id) { id } }", {"id": incident_id}
    )
    assert listed["statusUpdates"] == []


async def test_a_preview_that_cannot_render_says_why_in_data(gql: GraphQL) -> None:
    # when a template is empty or broken (schemathesis: answered as a server error before)
    for body in ("", "{% for %}"):
        data = await gql(PREVIEW, {"b": body})
        # then the answer is an expected outcome with the reason, not a top-level error
        preview = data["templatePreview"]
        assert preview["text"] is None
        assert [e["field"] for e in preview["errors"]] == ["body"], preview
