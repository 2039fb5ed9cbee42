"""Legal holds across business units: a hold belongs to every unit it touches (an incident
hold to the incident's unit, a unit hold to the unit, a matter hold to the units of the items
it names), and only those whose grants cover all of them may see or lift it. To anyone else
the hold looks exactly like one that does not exist.

    group ─┬─ payments   (legal: Lena, compliance officer: Colm)
           └─ retail     (the holds under test)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from strawberry import relay

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
PLACE = (
    "mutation($i: LegalHoldPlaceInput!) { legalHoldPlace(input: $i) {"
    f" legalHold {{ id }} {ERRORS} }} }}"
)
LIFT = (
    "mutation($i: LegalHoldLiftInput!) { legalHoldLift(input: $i) {"
    f" legalHold {{ id liftedAt }} {ERRORS} }} }}"
)
HOLDS = "{ legalHolds { edges { node { id matter reason } } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on LegalHold { matter reason } } }"
MADE_UP_HOLD = relay.to_base64("LegalHold", 987_654)
NOT_FOUND = [{"field": "holdId", "message": "no such legal hold", "code": "NOT_FOUND"}]


@dataclass(frozen=True)
class Org:
    units: dict[str, str]
    incidents: dict[str, str]
    evidence: dict[str, str]


async def _evidence(http: httpx.AsyncClient, token: str, incident_id: str, title: str) -> str:
    response = await http.post(
        "/evidence",
        params={"title": title, "kind": "log_export", "incidentId": incident_id},
        content=title.encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["evidence"]["id"])


async def _org(gql: GraphQL, http: httpx.AsyncClient, admin_token: str) -> Org:
    group = await helpers.unit(gql, "group")
    units = {
        "payments": await helpers.unit(gql, "payments", group),
        "retail": await helpers.unit(gql, "retail", group),
    }
    incidents, evidence = {}, {}
    for code, unit_id in units.items():
        service_id = await helpers.service(gql, f"{code}-api", unit_id)
        incidents[code] = str((await helpers.incident(gql, service_id, title=code))["id"])
        evidence[code] = await _evidence(http, admin_token, incidents[code], f"{code} logs")
    return Org({"group": group, **units}, incidents, evidence)


async def _place(gql: GraphQL, matter: str, scope: str, **target: Any) -> str:
    data = await gql(
        PLACE,
        {
            "i": {
                "matter": matter,
                "reason": f"Counsel instructs: {matter}",
                "scope": scope,
                **target,
            }
        },
    )
    assert data["legalHoldPlace"]["errors"] == [], data
    return str(data["legalHoldPlace"]["legalHold"]["id"])


async def _retail_holds(gql: GraphQL, org: Org) -> dict[str, str]:
    """Holds whose matter concerns retail, in every form a hold can take."""
    return {
        "incident": await _place(
            gql, "Retail v. Supplier", "INCIDENT", incidentId=org.incidents["retail"]
        ),
        "unit": await _place(
            gql, "Retail audit", "BUSINESS_UNIT", businessUnitId=org.units["retail"]
        ),
        "matter": await _place(
            gql, "Retail matter", "MATTER", evidenceIds=[org.evidence["retail"]]
        ),
        "matter across units": await _place(
            gql,
            "Group matter",
            "MATTER",
            evidenceIds=[org.evidence["payments"], org.evidence["retail"]],
        ),
    }


async def _lift(gql: GraphQL, hold_id: str) -> dict[str, Any]:
    data = await gql(LIFT, {"i": {"holdId": hold_id, "reason": "Matter closed by counsel"}})
    result: dict[str, Any] = data["legalHoldLift"]
    return result


async def test_legal_in_one_unit_cannot_lift_another_units_hold_it_looks_missing(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given holds on retail in every form, and legal counsel granted in payments only
    org = await _org(gql, http, admin_token)
    holds = await _retail_holds(gql, org)
    _, token = await helpers.person_with_token(
        gql, "lena@example.com", "legal", org.units["payments"]
    )
    lena = gql.as_(token)
    missing = await _lift(lena, MADE_UP_HOLD)
    assert missing == {"legalHold": None, "errors": NOT_FOUND}
    for form, hold_id in holds.items():
        # when
        refused = await _lift(lena, hold_id)
        # then it is refused exactly as a hold that does not exist, and stays on
        assert refused == missing, form
    still = await gql(HOLDS)
    assert all(e["node"]["matter"] for e in still["legalHolds"]["edges"])
    evidence = await gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on EvidenceItem { legalHold } } }",
        {"ids": [org.evidence["retail"]]},
    )
    assert evidence["nodes"] == [{"legalHold": True}]
    unlifted = await gql("{ legalHolds(activeOnly: true) { edges { node { id } } } }")
    assert {e["node"]["id"] for e in unlifted["legalHolds"]["edges"]} == set(holds.values())
    # and a hold of her own unit she lifts
    own = await _place(gql, "Payments dispute", "INCIDENT", incidentId=org.incidents["payments"])
    lifted = await _lift(lena, own)
    assert lifted["errors"] == []
    assert lifted["legalHold"]["liftedAt"] is not None


async def test_a_reader_of_a_hold_must_also_hold_the_right_to_lift_it_everywhere(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a matter across both units, legal in retail only, a compliance officer in both
    org = await _org(gql, http, admin_token)
    holds = await _retail_holds(gql, org)
    _, token = await helpers.person_with_token(
        gql, "rita@example.com", "legal", org.units["retail"]
    )
    rita = gql.as_(token)
    _, token = await helpers.person_with_token(
        gql, "colm@example.com", "compliance_officer", org.units["group"]
    )
    colm = gql.as_(token)
    # when / then: legal in retail cannot even see the matter that also names payments evidence
    assert await _lift(rita, holds["matter across units"]) == {
        "legalHold": None,
        "errors": NOT_FOUND,
    }
    # the compliance officer sees every hold but may lift none: a FORBIDDEN error
    errors = await colm.errors(
        LIFT, {"i": {"holdId": holds["incident"], "reason": "Matter closed by counsel"}}
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    # legal in retail lifts the retail-only matter
    assert (await _lift(rita, holds["matter"]))["errors"] == []
    active = await gql("{ legalHolds(activeOnly: true) { edges { node { id } } } }")
    assert {e["node"]["id"] for e in active["legalHolds"]["edges"]} == set(holds.values()) - {
        holds["matter"]
    }


async def test_another_units_holds_are_not_listed_nor_found_by_id(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given retail holds, one payments hold, and readers of holds in payments
    org = await _org(gql, http, admin_token)
    holds = await _retail_holds(gql, org)
    own = await _place(gql, "Payments dispute", "INCIDENT", incidentId=org.incidents["payments"])
    for email, role in [("lena@example.com", "legal"), ("colm@example.com", "compliance_officer")]:
        _, token = await helpers.person_with_token(gql, email, role, org.units["payments"])
        reader = gql.as_(token)
        # when
        listed = await reader(HOLDS)
        by_id = await reader(NODES, {"ids": [*holds.values(), own, MADE_UP_HOLD]})
        single = await reader("query($id: ID!) { node(id: $id) { id } }", {"id": holds["matter"]})
        # then only the payments hold, and the others are null like a made-up id
        assert [e["node"]["id"] for e in listed["legalHolds"]["edges"]] == [own], role
        assert by_id["nodes"] == [None] * len(holds) + [
            {
                "id": own,
                "matter": "Payments dispute",
                "reason": "Counsel instructs: Payments dispute",
            },
            None,
        ], role
        assert single == {"node": None}
    # and a reader granted on the parent unit sees them all
    _, token = await helpers.person_with_token(
        gql, "gus@example.com", "auditor", org.units["group"]
    )
    everything = await gql.as_(token)(HOLDS)
    assert len(everything["legalHolds"]["edges"]) == len(holds) + 1


async def test_a_hold_cannot_be_placed_on_what_the_caller_cannot_see_and_says_nothing_of_it(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given legal counsel granted in payments only
    org = await _org(gql, http, admin_token)
    _, token = await helpers.person_with_token(
        gql, "lena@example.com", "legal", org.units["payments"]
    )
    lena = gql.as_(token)
    made_up_unit = relay.to_base64("BusinessUnit", 987_654)

    async def place(scope: str, **target: Any) -> dict[str, Any]:
        data = await lena(
            PLACE,
            {
                "i": {
                    "matter": "Probe",
                    "reason": "Counsel instructs: probe",
                    "scope": scope,
                    **target,
                }
            },
        )
        result: dict[str, Any] = data["legalHoldPlace"]
        return result

    # when / then: retail's unit answers exactly like a unit that does not exist
    assert await place("BUSINESS_UNIT", businessUnitId=org.units["retail"]) == await place(
        "BUSINESS_UNIT", businessUnitId=made_up_unit
    )
    refused = await place("BUSINESS_UNIT", businessUnitId=org.units["retail"])
    assert refused["errors"][0]["code"] == "NOT_FOUND"
    # and nothing was placed
    assert (await gql(HOLDS))["legalHolds"]["edges"] == []
    # while her own unit takes a hold
    assert (await place("BUSINESS_UNIT", businessUnitId=org.units["payments"]))["errors"] == []
