"""Status updates are read per audience, as policies/policy.csv says: internal for those who
work incidents, executive for executives, commanders and comms, regulator for legal and
compliance, public and customer for every reader; drafts only for those who may write or
approve them; machines none. An update one may not read looks exactly like a missing one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ id state audience }} {ERRORS} }} }}"
)
LIST = "query($id: ID!) { statusUpdates(incidentId: $id) { audience state } }"
CURRENT = (
    "query($id: ID!, $a: Audience!) { incidentStatus(incidentId: $id, audience: $a) { body } }"
)

EVERY = {
    ("INTERNAL", "PUBLISHED"),
    ("EXECUTIVE", "PUBLISHED"),
    ("PUBLIC", "PUBLISHED"),
    ("REGULATOR", "PUBLISHED"),
    ("REGULATOR", "DRAFT"),
}


async def _incident_with_every_audience(gql: GraphQL) -> tuple[str, str, dict[str, str]]:
    """An incident with a published update for four audiences and a regulator draft."""
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments")
    incident_id = str((await helpers.incident(gql, service_id))["id"])
    ids: dict[str, str] = {}
    for audience, body in [
        ("INTERNAL", "Rolling back release 4.2"),
        ("EXECUTIVE", "Revenue impact estimated at 40k per hour"),
        ("PUBLIC", "Some card payments are failing. We are investigating."),
        ("REGULATOR", "Initial notification of a payment service outage"),
    ]:
        data = await gql(
            DRAFT,
            {
                "i": {
                    "incidentId": incident_id,
                    "audience": audience,
                    "status": "investigating",
                    "body": body,
                }
            },
        )
        assert data["statusUpdateDraft"]["errors"] == [], data
        ids[audience] = data["statusUpdateDraft"]["update"]["id"]
    # the first regulator update needs legal's approval: approve it as a lawyer
    _, lawyer = await helpers.person_with_token(gql, "counsel@example.com", "legal", unit_id)
    approved = await gql.as_(lawyer)(
        "mutation($i: StatusUpdateDecideInput!) { statusUpdateDecide(input: $i) {"
        f" update {{ state }} {ERRORS} }} }}",
        {"i": {"updateId": ids["REGULATOR"], "role": "legal", "approve": True}},
    )
    assert approved["statusUpdateDecide"]["update"]["state"] == "PUBLISHED", approved
    second = await gql(
        DRAFT,
        {
            "i": {
                "incidentId": incident_id,
                "audience": "REGULATOR",
                "status": "identified",
                "body": "Cause identified",
                "supersedesId": ids["REGULATOR"],
            }
        },
    )
    assert second["statusUpdateDraft"]["update"]["state"] == "DRAFT", second
    ids["REGULATOR_DRAFT"] = second["statusUpdateDraft"]["update"]["id"]
    return unit_id, incident_id, ids


async def _machine_token(gql: GraphQL, unit_id: str) -> str:
    machine = await gql(
        "mutation($i: MachineCreateInput!) { machineCreate(input: $i) { machine { id } } }",
        {"i": {"handle": "alertmanager", "name": "Alertmanager"}},
    )
    machine_id = machine["machineCreate"]["machine"]["id"]
    await gql(
        "mutation($i: GrantCreateInput!) { grantCreate(input: $i) { grant { id } } }",
        {"i": {"principalId": machine_id, "role": "alert_source", "businessUnitId": unit_id}},
    )
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) { token } }",
        {"i": {"principalId": machine_id}},
    )
    return str(minted["apiTokenCreate"]["token"])


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        pytest.param("viewer", {("PUBLIC", "PUBLISHED")}, id="viewer"),
        pytest.param(
            "responder", {("INTERNAL", "PUBLISHED"), ("PUBLIC", "PUBLISHED")}, id="responder"
        ),
        pytest.param(
            "executive",
            {("INTERNAL", "PUBLISHED"), ("EXECUTIVE", "PUBLISHED"), ("PUBLIC", "PUBLISHED")},
            id="executive",
        ),
        pytest.param(
            "compliance_officer",
            {("INTERNAL", "PUBLISHED"), ("PUBLIC", "PUBLISHED"), ("REGULATOR", "PUBLISHED")},
            id="compliance officer",
        ),
        pytest.param(
            "legal",
            {
                ("INTERNAL", "PUBLISHED"),
                ("PUBLIC", "PUBLISHED"),
                ("REGULATOR", "PUBLISHED"),
                ("REGULATOR", "DRAFT"),
            },
            id="legal (approves regulator drafts)",
        ),
        pytest.param("comms_lead", EVERY, id="comms lead (writes them all)"),
        pytest.param("incident_commander", EVERY, id="incident commander"),
        pytest.param("alert_source", set(), id="alert source (a machine)"),
    ],
)
async def test_each_role_reads_exactly_its_audiences(
    gql: GraphQL, role: str, expected: set[tuple[str, str]]
) -> None:
    # given an incident with updates for every audience, and someone in one role
    unit_id, incident_id, _ = await _incident_with_every_audience(gql)
    if role == "alert_source":
        token = await _machine_token(gql, unit_id)
    else:
        _, token = await helpers.person_with_token(gql, f"{role}@example.com", role, unit_id)
    # when they list the incident's updates
    listed = await gql.as_(token)(LIST, {"id": incident_id})
    # then they see exactly their audiences
    assert {(u["audience"], u["state"]) for u in listed["statusUpdates"]} == expected
    # and the administrator sees everything
    everything = await gql(LIST, {"id": incident_id})
    assert {(u["audience"], u["state"]) for u in everything["statusUpdates"]} == EVERY


async def test_an_audience_one_may_not_read_looks_like_one_without_updates(
    gql: GraphQL,
) -> None:
    # given a responder, and an incident with an executive update but no customer update
    unit_id, incident_id, ids = await _incident_with_every_audience(gql)
    _, token = await helpers.person_with_token(gql, "r@example.com", "responder", unit_id)
    responder = gql.as_(token)
    # when they ask for the current executive status, and for the (empty) customer one
    hidden = await responder.post(CURRENT, {"id": incident_id, "a": "EXECUTIVE"})
    empty = await responder.post(CURRENT, {"id": incident_id, "a": "CUSTOMER"})
    # then both answers are the same: nothing
    assert hidden.json() == empty.json() == {"data": {"incidentStatus": None}}
    # and deciding on a draft they may not read is refused as for a draft that does not exist
    decide = (
        "mutation($i: StatusUpdateDecideInput!) { statusUpdateDecide(input: $i) {"
        f" update {{ id }} {ERRORS} }} }}"
    )
    hidden_draft = await responder(
        decide, {"i": {"updateId": ids["REGULATOR_DRAFT"], "role": "legal", "approve": True}}
    )
    missing = await responder(
        decide, {"i": {"updateId": "U3RhdHVzVXBkYXRlOjk5OTk5", "role": "legal", "approve": True}}
    )
    assert hidden_draft["statusUpdateDecide"]["errors"] == [
        {"field": "updateId", "message": "no such status update", "code": "NOT_FOUND"}
    ]
    assert hidden_draft == missing


async def test_writing_an_audiences_update_needs_the_right_to_write_it(gql: GraphQL) -> None:
    # given a responder (who writes internal updates only)
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident_id = str((await helpers.incident(gql, service_id))["id"])
    _, token = await helpers.person_with_token(gql, "r@example.com", "responder", unit_id)
    fields = {"incidentId": incident_id, "status": "investigating", "body": "Board briefing"}
    # when they draft an executive update, then it is refused
    errors = await gql.as_(token).errors(DRAFT, {"i": {**fields, "audience": "EXECUTIVE"}})
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    # while an internal one goes out
    done = await gql.as_(token)(DRAFT, {"i": {**fields, "audience": "INTERNAL"}})
    assert done["statusUpdateDraft"]["update"]["state"] == "PUBLISHED"


@pytest.mark.slow  # a live server, and a wait for nothing more
async def test_a_subscriber_hears_only_of_the_audiences_they_may_read(
    live_server: str, gql: GraphQL, admin_token: str
) -> None:
    # given a responder subscribed to an incident of their unit
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident_id = str((await helpers.incident(gql, service_id))["id"])
    _, token = await helpers.person_with_token(gql, "r@example.com", "responder", unit_id)
    query = (
        "subscription($id: ID!) { incidentEvents(incidentId: $id) { kind"
        " statusUpdate { audience body } } }"
    )
    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"id": incident_id}},
                }
            )
        )
        await asyncio.sleep(0.3)
        # when an executive update and then an internal one are published
        admin = {"Authorization": f"Bearer {admin_token}"}
        async with httpx.AsyncClient(base_url=f"http://{live_server}", headers=admin) as http:
            for audience, body in [("EXECUTIVE", "Board: 40k/h"), ("INTERNAL", "Rolling back")]:
                response = await http.post(
                    "/graphql",
                    json={
                        "query": DRAFT,
                        "variables": {
                            "i": {
                                "incidentId": incident_id,
                                "audience": audience,
                                "status": "investigating",
                                "body": body,
                            }
                        },
                    },
                )
                assert response.json()["data"]["statusUpdateDraft"]["errors"] == []
        # then they hear of the internal one only
        heard: list[Any] = []
        while len([e for e in heard if e["kind"] == "status_update"]) < 1:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            heard.append(message["payload"]["data"]["incidentEvents"])
        await asyncio.sleep(1.0)  # and nothing more arrives
        with pytest.raises(TimeoutError):
            heard.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
    updates = [e["statusUpdate"] for e in heard if e["kind"] == "status_update"]
    assert updates == [{"audience": "INTERNAL", "body": "Rolling back"}]


async def test_the_frozen_text_of_a_narrow_audience_is_not_readable_as_evidence_either(
    gql: GraphQL,
) -> None:
    # given published internal and executive updates, frozen as evidence
    unit_id, _, _ = await _incident_with_every_audience(gql)
    _, token = await helpers.person_with_token(gql, "r@example.com", "responder", unit_id)
    query = "{ evidence(filter: {kinds: [DOCUMENT]}) { edges { node { title sensitivity } } } }"
    # when a responder (who reads evidence up to confidential) lists the frozen texts
    seen = await gql.as_(token)(query)
    titles = {e["node"]["title"] for e in seen["evidence"]["edges"]}
    # then they find the internal update's but not the executive or regulator ones
    assert any("internal update" in t for t in titles), titles
    assert not any("executive" in t or "regulator" in t for t in titles), titles
    everything = await gql(query)
    narrow = [
        e["node"] for e in everything["evidence"]["edges"] if "executive" in e["node"]["title"]
    ]
    assert [n["sensitivity"] for n in narrow] == ["RESTRICTED"]
