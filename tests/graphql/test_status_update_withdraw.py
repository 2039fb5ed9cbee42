"""statusUpdateWithdraw: a draft is withdrawn by someone who may write its audience, and stays
on record; anything else is refused.

A regulator update waits for legal's approval, so it stays a draft: the subject of every test
here. Whoever may not read the incident (another unit), or may change it but not read the
draft's audience (a responder), finds the draft missing, like a made-up one; whoever may read
the incident but not change it (legal, executives, auditors) is FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

import pytest
from strawberry import relay

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ id state }} {ERRORS} }} }}"
)
WITHDRAW = (
    "mutation($i: StatusUpdateWithdrawInput!) { statusUpdateWithdraw(input: $i) {"
    f" update {{ id state audience body }} {ERRORS} }} }}"
)
DECIDE = (
    "mutation($i: StatusUpdateDecideInput!) { statusUpdateDecide(input: $i) {"
    f" update {{ id state }} {ERRORS} }} }}"
)
NODE = "query($id: ID!) { node(id: $id) { id } }"
MADE_UP_UPDATE = relay.to_base64("StatusUpdate", 987_654)


async def _unit_with_incident(gql: GraphQL, code: str, parent: str | None = None) -> dict[str, str]:
    unit_id = await helpers.unit(gql, code, parent)
    service_id = await helpers.service(gql, f"{code}-api", unit_id)
    incident = await helpers.incident(gql, service_id)
    return {"unit": unit_id, "incident": str(incident["id"])}


async def _draft(gql: GraphQL, incident_id: str, audience: str = "REGULATOR") -> dict[str, Any]:
    data = await gql(
        DRAFT,
        {
            "i": {
                "incidentId": incident_id,
                "audience": audience,
                "status": "investigating",
                "body": "Initial notification under Art. 33",
            }
        },
    )
    payload: dict[str, Any] = data["statusUpdateDraft"]
    assert payload["errors"] == [], payload
    update: dict[str, Any] = payload["update"]
    return update


async def _withdraw(gql: GraphQL, update_id: str) -> dict[str, Any]:
    data = await gql(WITHDRAW, {"i": {"updateId": update_id}})
    payload: dict[str, Any] = data["statusUpdateWithdraw"]
    return payload


async def _states(gql: GraphQL, incident_id: str) -> list[str]:
    data = await gql(
        "query($id: ID!) { statusUpdates(incidentId: $id) { state } }", {"id": incident_id}
    )
    return [u["state"] for u in data["statusUpdates"]]


async def _withdrawals(gql: GraphQL) -> int:
    data = await gql(
        '{ auditEvents(filter: {action: "status_update.withdraw"}, first: 50) {'
        " edges { node { seq } } } }"
    )
    return len(data["auditEvents"]["edges"])


async def test_the_author_withdraws_a_draft_which_stays_on_record_and_can_go_no_further(
    gql: GraphQL,
) -> None:
    # given a regulator draft, and a lawyer who could approve it
    place = await _unit_with_incident(gql, "payments")
    draft = await _draft(gql, place["incident"])
    assert draft["state"] == "DRAFT"
    _, lawyer = await helpers.person_with_token(gql, "legal@example.com", "legal", place["unit"])

    # when its author withdraws it
    withdrawn = await _withdraw(gql, draft["id"])

    # then it is withdrawn, not deleted, and the withdrawal is audited
    assert withdrawn["errors"] == []
    assert withdrawn["update"] == {
        "id": draft["id"],
        "state": "WITHDRAWN",
        "audience": "REGULATOR",
        "body": "Initial notification under Art. 33",
    }
    assert await _states(gql, place["incident"]) == ["WITHDRAWN"]
    assert await _withdrawals(gql) == 1
    current = await gql(
        "query($id: ID!) { incidentStatus(incidentId: $id, audience: REGULATOR) { id } }",
        {"id": place["incident"]},
    )
    assert current["incidentStatus"] is None

    # when it is withdrawn again, or legal approves it after all
    again = await _withdraw(gql, draft["id"])
    approved = await gql.as_(lawyer)(
        DECIDE, {"i": {"updateId": draft["id"], "role": "legal", "approve": True}}
    )

    # then neither is a legal transition, and nothing changed
    assert again["update"] is None
    assert [(e["field"], e["code"]) for e in again["errors"]] == [
        ("updateId", "ILLEGAL_TRANSITION")
    ]
    assert approved["statusUpdateDecide"]["update"] is None
    assert approved["statusUpdateDecide"]["errors"][0]["code"] == "ILLEGAL_TRANSITION"
    assert await _states(gql, place["incident"]) == ["WITHDRAWN"]
    assert await _withdrawals(gql) == 1


async def test_a_comms_lead_of_the_unit_withdraws_someone_elses_draft(gql: GraphQL) -> None:
    # given a draft by the admin, and a comms lead of the incident's unit
    place = await _unit_with_incident(gql, "payments")
    draft = await _draft(gql, place["incident"])
    _, token = await helpers.person_with_token(
        gql, "comms@example.com", "comms_lead", place["unit"]
    )

    # when the comms lead withdraws it
    withdrawn = await _withdraw(gql.as_(token), draft["id"])

    # then
    assert withdrawn["errors"] == []
    assert withdrawn["update"]["state"] == "WITHDRAWN"
    assert await _states(gql, place["incident"]) == ["WITHDRAWN"]


async def test_a_published_update_cannot_be_withdrawn(gql: GraphQL) -> None:
    # given an internal update, published at once
    place = await _unit_with_incident(gql, "payments")
    published = await _draft(gql, place["incident"], audience="INTERNAL")
    assert published["state"] == "PUBLISHED"

    # when
    refused = await _withdraw(gql, published["id"])

    # then
    assert refused["update"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        ("updateId", "ILLEGAL_TRANSITION")
    ]
    assert await _states(gql, place["incident"]) == ["PUBLISHED"]
    assert await _withdrawals(gql) == 0


@pytest.mark.parametrize(
    "update",
    [
        pytest.param(MADE_UP_UPDATE, id="made-up update"),
        pytest.param("incident", id="an incident's id"),
        pytest.param("not-an-id", id="not a global id"),
    ],
)
async def test_bad_ids_are_not_found(gql: GraphQL, update: str) -> None:
    # given a draft
    place = await _unit_with_incident(gql, "payments")
    await _draft(gql, place["incident"])

    # when
    refused = await _withdraw(gql, place["incident"] if update == "incident" else update)

    # then
    assert refused["update"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("updateId", "NOT_FOUND")]
    assert await _states(gql, place["incident"]) == ["DRAFT"]
    assert await _withdrawals(gql) == 0


@pytest.mark.parametrize(
    ("role", "unit"),
    [
        pytest.param("comms_lead", "retail", id="a comms lead of another unit"),
        pytest.param("admin", "retail", id="an admin of another unit"),
        pytest.param("responder", "payments", id="a responder (never reads regulator drafts)"),
    ],
)
async def test_a_draft_the_caller_may_not_read_looks_missing(
    gql: GraphQL, role: str, unit: str
) -> None:
    # given a draft in payments, and someone who may not see it
    group = await helpers.unit(gql, "group")
    payments = await _unit_with_incident(gql, "payments", group)
    retail = await _unit_with_incident(gql, "retail", group)
    draft = await _draft(gql, payments["incident"])
    units = {"payments": payments["unit"], "retail": retail["unit"]}
    _, token = await helpers.person_with_token(gql, "someone@example.com", role, units[unit])
    someone = gql.as_(token)

    # when they try to withdraw it, and a made-up update
    refused = await _withdraw(someone, draft["id"])
    made_up = await _withdraw(someone, MADE_UP_UPDATE)

    # then both answers are the same NOT_FOUND, and the draft is still a draft
    assert refused["update"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("updateId", "NOT_FOUND")]
    assert refused == made_up
    assert await _states(gql, payments["incident"]) == ["DRAFT"]
    assert await _withdrawals(gql) == 0


@pytest.mark.parametrize(
    "role",
    [
        pytest.param("legal", id="legal (approves regulator drafts, so reads them)"),
        pytest.param("executive", id="an executive"),
        pytest.param("auditor", id="an auditor"),
    ],
)
async def test_someone_who_may_read_the_incident_but_not_change_it_is_forbidden(
    gql: GraphQL, role: str
) -> None:
    # given a regulator draft, and someone of the unit who reads the incident, not changes it
    place = await _unit_with_incident(gql, "payments")
    draft = await _draft(gql, place["incident"])
    _, token = await helpers.person_with_token(gql, "someone@example.com", role, place["unit"])
    someone = gql.as_(token)
    assert (await someone(NODE, {"id": place["incident"]}))["node"] is not None
    drafts = await _states(someone, place["incident"])

    # when they try to withdraw it
    response = await someone.post(WITHDRAW, {"i": {"updateId": draft["id"]}})

    # then a top-level FORBIDDEN (changing the incident is checked before the update's
    # audience), no data, and the draft is untouched
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert drafts == (["DRAFT"] if role == "legal" else [])
    assert await _states(gql, place["incident"]) == ["DRAFT"]
    assert await _withdrawals(gql) == 0
