"""serviceDependencyAdd and serviceDependencyRemove, and Service.dependsOn / dependents.

A dependency `checkout -> payments` says checkout fails when payments does. Changing it is
managing the dependent service (checkout); both services must be readable (a service outside
the caller's units looks missing, like a made-up one). The graph has no cycles: an edge that
would close one is refused with the cycle's path, and stores nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from strawberry import relay

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
CHANGE = (
    "mutation($i: ServiceDependencyInput!) { %s(input: $i) {"
    f" service {{ id code dependsOn {{ code }} dependents {{ code }} }} {ERRORS} }} }}"
)
ADD = CHANGE % "serviceDependencyAdd"
REMOVE = CHANGE % "serviceDependencyRemove"
MADE_UP_SERVICE = relay.to_base64("Service", 987_654)


async def _change(gql: GraphQL, mutation: str, service_id: str, depends_on_id: str) -> Any:
    data = await gql(mutation, {"i": {"serviceId": service_id, "dependsOnId": depends_on_id}})
    (payload,) = data.values()
    return payload


async def _add(gql: GraphQL, service_id: str, depends_on_id: str) -> None:
    payload = await _change(gql, ADD, service_id, depends_on_id)
    assert payload["errors"] == [], payload


async def _graph(gql: GraphQL, service_id: str) -> tuple[list[str], list[str]]:
    """(what it depends on, what depends on it), as codes."""
    data = await gql(
        "query($id: ID!) { node(id: $id) { ... on Service {"
        " dependsOn { code } dependents { code } } } }",
        {"id": service_id},
    )
    node = data["node"]
    return [s["code"] for s in node["dependsOn"]], [s["code"] for s in node["dependents"]]


async def _audited(gql: GraphQL, service_id: str) -> list[tuple[str, Any]]:
    """The dependency events recorded against a service, in order: (action, payload)."""
    _, pk = relay.from_base64(service_id)
    data = await gql(
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 50) {"
        " edges { node { action payload businessUnit } } } }",
        {"f": {"resourceType": "service", "resourceId": pk}},
    )
    return [
        (e["node"]["action"], e["node"]["payload"])
        for e in data["auditEvents"]["edges"]
        if e["node"]["action"].startswith("service.dependency")
    ]


@pytest.fixture
async def org(gql: GraphQL) -> dict[str, str]:
    """A unit with checkout, payments and ledger."""
    unit_id = await helpers.unit(gql, "payments")
    ids = {"unit": unit_id}
    for code in ("checkout", "payments", "ledger"):
        ids[code] = await helpers.service(gql, code, unit_id)
    return ids


async def test_a_dependency_is_added_read_both_ways_and_audited(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # when checkout comes to depend on payments and ledger
    first = await _change(gql, ADD, org["checkout"], org["payments"])
    second = await _change(gql, ADD, org["checkout"], org["ledger"])

    # then the payload is the dependent service with what it depends on, by code
    assert first["errors"] == []
    assert first["service"]["id"] == org["checkout"]
    assert first["service"]["dependsOn"] == [{"code": "payments"}]
    assert second["service"]["dependsOn"] == [{"code": "ledger"}, {"code": "payments"}]
    # and both ends read it
    assert await _graph(gql, org["checkout"]) == (["ledger", "payments"], [])
    assert await _graph(gql, org["payments"]) == ([], ["checkout"])
    # and each change is on the audit log of the dependent service, in its unit
    _, payments_pk = relay.from_base64(org["payments"])
    _, ledger_pk = relay.from_base64(org["ledger"])
    assert await _audited(gql, org["checkout"]) == [
        (
            "service.dependency_add",
            {"service": "checkout", "depends_on": "payments", "depends_on_id": int(payments_pk)},
        ),
        (
            "service.dependency_add",
            {"service": "checkout", "depends_on": "ledger", "depends_on_id": int(ledger_pk)},
        ),
    ]
    events = await gql(
        'query { auditEvents(filter: {action: "service.dependency_add"}) {'
        " edges { node { businessUnit } } } }"
    )
    assert {e["node"]["businessUnit"] for e in events["auditEvents"]["edges"]} == {"payments"}


async def test_a_duplicate_is_refused_and_changes_nothing(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # given checkout depends on payments
    await _add(gql, org["checkout"], org["payments"])

    # when it is added again
    again = await _change(gql, ADD, org["checkout"], org["payments"])

    # then
    assert again["service"] is None
    assert again["errors"] == [
        {
            "field": "dependsOnId",
            "message": "checkout already depends on payments",
            "code": "ALREADY_EXISTS",
        }
    ]
    assert await _graph(gql, org["checkout"]) == (["payments"], [])
    assert [a for a, _ in await _audited(gql, org["checkout"])] == ["service.dependency_add"]


@pytest.mark.parametrize("mutation", [ADD, REMOVE], ids=["add", "remove"])
async def test_a_service_cannot_depend_on_itself(
    gql: GraphQL, org: dict[str, str], mutation: str
) -> None:
    refused = await _change(gql, mutation, org["checkout"], org["checkout"])

    assert refused["service"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("dependsOnId", "INVALID")]
    assert await _graph(gql, org["checkout"]) == ([], [])
    assert await _audited(gql, org["checkout"]) == []


async def test_an_edge_that_would_close_a_cycle_is_refused_with_the_path(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # given checkout -> payments -> ledger
    await _add(gql, org["checkout"], org["payments"])
    await _add(gql, org["payments"], org["ledger"])

    # when ledger would depend on checkout (a 3-cycle), or payments on checkout (a 2-cycle)
    three = await _change(gql, ADD, org["ledger"], org["checkout"])
    two = await _change(gql, ADD, org["payments"], org["checkout"])

    # then both are refused, naming the cycle from the new edge round
    assert three["service"] is None
    assert three["errors"] == [
        {
            "field": "dependsOnId",
            "message": "ledger cannot depend on checkout: that would make a cycle, "
            "ledger -> checkout -> payments -> ledger",
            "code": "CONFLICT",
        }
    ]
    assert two["errors"][0]["code"] == "CONFLICT"
    assert two["errors"][0]["message"].endswith("payments -> checkout -> payments")
    # and nothing was stored
    assert await _graph(gql, org["ledger"]) == ([], ["payments"])
    assert await _graph(gql, org["checkout"]) == (["payments"], [])
    assert await _audited(gql, org["ledger"]) == []
    # while an edge across the chain that closes no cycle is fine
    await _add(gql, org["checkout"], org["ledger"])
    assert await _graph(gql, org["ledger"]) == ([], ["checkout", "payments"])


async def test_two_edges_added_at_once_cannot_close_a_cycle_between_them(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # given checkout -> payments
    await _add(gql, org["checkout"], org["payments"])

    # when payments -> ledger and ledger -> checkout are asked for at the same time
    answers = await asyncio.gather(
        _change(gql, ADD, org["payments"], org["ledger"]),
        _change(gql, ADD, org["ledger"], org["checkout"]),
    )

    # then one of them is stored and the other refused as a cycle (the graph is locked)
    assert sorted(e["code"] for a in answers for e in a["errors"]) == ["CONFLICT"], answers
    stored = [await _graph(gql, org[code]) for code in ("payments", "ledger")]
    assert stored in (
        [(["ledger"], ["checkout"]), ([], ["payments"])],
        [([], ["checkout"]), (["checkout"], [])],
    ), stored


async def test_a_dependency_is_removed_once_and_audited(gql: GraphQL, org: dict[str, str]) -> None:
    # given checkout depends on payments and ledger
    await _add(gql, org["checkout"], org["payments"])
    await _add(gql, org["checkout"], org["ledger"])

    # when payments is removed, twice
    removed = await _change(gql, REMOVE, org["checkout"], org["payments"])
    again = await _change(gql, REMOVE, org["checkout"], org["payments"])

    # then the first removes it, the second finds nothing to remove
    assert removed["errors"] == []
    assert removed["service"]["dependsOn"] == [{"code": "ledger"}]
    assert again["service"] is None
    assert again["errors"] == [
        {
            "field": "dependsOnId",
            "message": "checkout does not depend on payments",
            "code": "NOT_FOUND",
        }
    ]
    assert await _graph(gql, org["payments"]) == ([], [])
    assert [a for a, _ in await _audited(gql, org["checkout"])] == [
        "service.dependency_add",
        "service.dependency_add",
        "service.dependency_remove",
    ]
    # and the edge may be added back
    await _add(gql, org["checkout"], org["payments"])


@pytest.mark.parametrize("mutation", [ADD, REMOVE], ids=["add", "remove"])
async def test_made_up_and_other_unit_services_look_the_same(gql: GraphQL, mutation: str) -> None:
    # given two units, a service in each, and an admin of payments only
    group = await helpers.unit(gql, "group")
    payments = await helpers.unit(gql, "payments", group)
    retail = await helpers.unit(gql, "retail", group)
    checkout = await helpers.service(gql, "checkout", payments)
    shop = await helpers.service(gql, "shop", retail)
    await _add(gql, shop, checkout)  # so that a remove would have something to remove
    _, token = await helpers.person_with_token(gql, "unit-admin@example.com", "admin", payments)
    unit_admin = gql.as_(token)

    for field in ("serviceId", "dependsOnId"):
        # when either end is the other unit's service, or a made-up one, or not a service id
        def ids(other: str, field: str = field) -> tuple[str, str]:
            return (other, checkout) if field == "serviceId" else (checkout, other)

        other = await _change(unit_admin, mutation, *ids(shop))
        made_up = await _change(unit_admin, mutation, *ids(MADE_UP_SERVICE))
        wrong_type = await _change(unit_admin, mutation, *ids(payments))

        # then each is NOT_FOUND on that field, the other unit's exactly like a made-up one
        assert other["service"] is None
        assert [(e["field"], e["code"]) for e in other["errors"]] == [(field, "NOT_FOUND")]
        assert other == made_up
        assert [(e["field"], e["code"]) for e in wrong_type["errors"]] == [(field, "NOT_FOUND")]

    # and nothing changed: the unit admin does not even see shop's edge
    assert await _graph(gql, shop) == (["checkout"], [])
    assert await _graph(unit_admin, checkout) == ([], [])
    assert [a for a, _ in await _audited(gql, shop)] == ["service.dependency_add"]
    assert await _audited(gql, checkout) == []


async def test_a_cycle_through_a_hidden_service_does_not_name_it(gql: GraphQL) -> None:
    # given pay-api -> shop-api (retail) -> pay-db, and an admin of payments only
    group = await helpers.unit(gql, "group")
    payments = await helpers.unit(gql, "payments", group)
    retail = await helpers.unit(gql, "retail", group)
    pay_api = await helpers.service(gql, "pay-api", payments)
    pay_db = await helpers.service(gql, "pay-db", payments)
    shop_api = await helpers.service(gql, "shop-api", retail)
    await _add(gql, pay_api, shop_api)
    await _add(gql, shop_api, pay_db)
    _, token = await helpers.person_with_token(gql, "unit-admin@example.com", "admin", payments)
    unit_admin = gql.as_(token)

    # when the unit admin would make pay-db depend on pay-api
    refused = await _change(unit_admin, ADD, pay_db, pay_api)

    # then the cycle is refused, and the service they may not read is not named
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("dependsOnId", "CONFLICT")]
    message = refused["errors"][0]["message"]
    assert message.endswith("pay-db -> pay-api -> (a service you cannot see) -> pay-db")
    assert "shop" not in message
    # and the edges through retail are not theirs to read
    assert await _graph(unit_admin, pay_api) == ([], [])
    assert await _graph(unit_admin, pay_db) == ([], [])
    assert await _graph(gql, pay_db) == ([], ["shop-api"])


@pytest.mark.parametrize("role", ["viewer", "responder", "incident_commander"])
@pytest.mark.parametrize("mutation", [ADD, REMOVE], ids=["add", "remove"])
async def test_someone_who_may_read_services_but_not_manage_them_is_forbidden(
    gql: GraphQL, org: dict[str, str], role: str, mutation: str
) -> None:
    # given checkout depends on payments, and someone of the unit who may read both
    await _add(gql, org["checkout"], org["payments"])
    _, token = await helpers.person_with_token(gql, "someone@example.com", role, org["unit"])
    someone = gql.as_(token)
    assert await _graph(someone, org["checkout"]) == (["payments"], [])

    # when they try to change checkout's dependencies
    target = org["ledger"] if mutation == ADD else org["payments"]
    response = await someone.post(
        mutation, {"i": {"serviceId": org["checkout"], "dependsOnId": target}}
    )

    # then a top-level FORBIDDEN, no data, and the graph is as it was
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await _graph(gql, org["checkout"]) == (["payments"], [])
    assert [a for a, _ in await _audited(gql, org["checkout"])] == ["service.dependency_add"]
