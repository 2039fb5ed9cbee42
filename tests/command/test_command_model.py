"""The command model per business unit or service (policies/command.yaml), and responderLoad."""

from __future__ import annotations

from govsvc.runtime import Runtime
from tests.command import helpers as h
from tests.conftest import GraphQL
from tests.graphql import helpers

LOAD = """
query($u: ID) { responderLoad(unitId: $u) {
  person { email }
  roles { role incidentReference severity since incident { reference title } }
} }
"""


async def test_the_incident_shows_its_command_model_and_why(gql: GraphQL) -> None:
    # policies/command.yaml: unit "platform" distributed (children too), service
    # "platform-ledger" centralised, everything else centralised by default
    platform = await helpers.unit(gql, "platform")
    storage = await helpers.unit(gql, "storage", platform)
    payments = await helpers.unit(gql, "payments")
    cases = {
        "platform-ledger": (platform, ("CENTRALISED", "SERVICE", "platform-ledger")),
        "blob-store": (storage, ("DISTRIBUTED", "UNIT", "platform")),
        "card-api": (payments, ("CENTRALISED", "DEFAULT", None)),
    }
    for code, (unit, expected) in cases.items():
        incident = await h.incident(gql, await helpers.service(gql, code, unit))
        model = (await h.roles(gql, incident["id"]))["commandModel"]
        assert (model["model"], model["source"], model["rule"]) == expected
        assert model["reason"]


async def test_under_distributed_command_the_services_owners_lead_with_a_coordinator(
    gql: GraphQL, runtime: Runtime
) -> None:
    # given a platform service owned by a team, and a centralised payments service
    platform = await helpers.unit(gql, "platform")
    owners = await helpers.team(gql, "blob-owners", platform)
    owner = await h.person(gql, "owner@example.com", owners)
    outsider = await h.person(gql, "outsider@example.com")
    blob = await h.incident(
        gql, await helpers.service(gql, "blob-store", platform, owningTeamId=owners)
    )
    unowned = await h.incident(gql, await helpers.service(gql, "queue", platform))
    card = await h.incident(
        gql, await helpers.service(gql, "card-api", await helpers.unit(gql, "payments"))
    )
    before = await h.audit_count(runtime)
    # when someone outside the owning team is asked to lead, or nobody owns the service
    refused = await h.assign(gql, blob["id"], "INCIDENT_COMMANDER", outsider)
    assert refused["errors"][0]["code"] == "INVALID"
    assert "distributed command (unit rule 'platform')" in refused["errors"][0]["message"]
    assert "not in the owning team blob-owners" in refused["errors"][0]["message"]
    no_owner = await h.assign(gql, unowned["id"], "INCIDENT_COMMANDER", owner)
    assert "has no owning team" in no_owner["errors"][0]["message"]
    # and a coordinator under centralised command
    central = await h.assign(gql, card["id"], "COORDINATOR", outsider)
    assert "centralised command (the default rule)" in central["errors"][0]["message"]
    assert await h.audit_count(runtime) == before
    # then the owner leads and anyone may coordinate
    await h.assigned(gql, blob["id"], "INCIDENT_COMMANDER", owner)
    await h.assigned(gql, blob["id"], "COORDINATOR", outsider)
    seen = await h.roles(gql, blob["id"])
    assert seen["commander"] == {"email": "owner@example.com"}
    assert [r["role"] for r in seen["roles"]] == ["INCIDENT_COMMANDER", "COORDINATOR"]


async def test_responder_load_shows_who_holds_what_where_the_caller_may_read(
    gql: GraphQL,
) -> None:
    # given roles on incidents in alpha (one resolved) and bravo
    alpha = await helpers.unit(gql, "alpha")
    alpha_child = await helpers.unit(gql, "alpha-eu", alpha)
    bravo = await helpers.unit(gql, "bravo")
    ada = await h.person(gql, "ada@example.com")
    bo = await h.person(gql, "bo@example.com")
    a1 = await h.incident(gql, await helpers.service(gql, "a-api", alpha), "SEV1")
    a2 = await h.incident(gql, await helpers.service(gql, "a-eu", alpha_child), "SEV3")
    done = await h.incident(gql, await helpers.service(gql, "a-old", alpha), "SEV3")
    b1 = await h.incident(gql, await helpers.service(gql, "b-api", bravo), "SEV2")
    await h.assigned(gql, a1["id"], "INCIDENT_COMMANDER", ada)
    await h.assigned(gql, a2["id"], "SCRIBE", ada)
    await h.assigned(gql, done["id"], "SCRIBE", bo)
    await gql(
        "mutation($i: IncidentStatusChangeInput!) { incidentStatusChange(input: $i)"
        " { errors { code } } }",
        {"i": {"incidentId": done["id"], "status": "RESOLVED"}},
    )
    await h.assigned(gql, b1["id"], "COMMS_LEAD", bo)
    # an administrator sees everyone, busiest first
    load = (await gql(LOAD))["responderLoad"]
    assert [
        (
            p["person"]["email"],
            [(r["role"], r["incidentReference"], r["severity"]) for r in p["roles"]],
        )
        for p in load
    ] == [
        (
            "ada@example.com",
            [("INCIDENT_COMMANDER", a1["reference"], "SEV1"), ("SCRIBE", a2["reference"], "SEV3")],
        ),
        ("bo@example.com", [("COMMS_LEAD", b1["reference"], "SEV2")]),
    ]
    assert load[0]["roles"][0]["incident"]["reference"] == a1["reference"]
    # filtered to a unit (and its children)
    in_child = (await gql(LOAD, {"u": alpha_child}))["responderLoad"]
    assert [(p["person"]["email"], len(p["roles"])) for p in in_child] == [("ada@example.com", 1)]
    # a viewer of alpha sees alpha's roles only; bravo looks like a unit that does not exist
    _, viewer_token = await helpers.person_with_token(gql, "v@example.com", "viewer", alpha)
    viewer = gql.as_(viewer_token)
    seen = (await viewer(LOAD))["responderLoad"]
    assert [p["person"]["email"] for p in seen] == ["ada@example.com"]
    bravo_answer = (await viewer.post(LOAD, {"u": bravo})).json()
    made_up = (await viewer.post(LOAD, {"u": "QnVzaW5lc3NVbml0Ojk5OTk5"})).json()
    assert bravo_answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert bravo_answer["errors"][0]["message"] == made_up["errors"][0]["message"]
    assert bravo_answer["data"] == made_up["data"]
