"""Roles on incidents through GraphQL: assignment, hand-over, release, several experts, and
refusals that change nothing."""

from __future__ import annotations

from govsvc.runtime import Runtime
from tests.command import helpers as h
from tests.conftest import GraphQL
from tests.graphql import helpers


async def _world(gql: GraphQL) -> tuple[str, str]:
    unit = await helpers.unit(gql, "payments")
    team = await helpers.team(gql, "payments-sre", unit)
    service = await helpers.service(gql, "card-api", unit, owningTeamId=team)
    return service, team


async def test_a_hand_over_ends_the_previous_term_and_is_on_the_timeline_and_audit_log(
    gql: GraphQL, runtime: Runtime
) -> None:
    # given an incident with a commander
    service, team = await _world(gql)
    ada = await h.person(gql, "ada@example.com", team)
    bo = await h.person(gql, "bo@example.com", team)
    incident = await h.incident(gql, service)
    first = await h.assigned(gql, incident["id"], "INCIDENT_COMMANDER", ada)
    assert first["holder"]["person"]["email"] == "ada@example.com"
    # when she hands over to Bo with a note
    handed = await h.assigned(
        gql, incident["id"], "INCIDENT_COMMANDER", bo, note="going off shift; rollback running"
    )
    # then Bo commands, Ada's term ended pointing at him, the note is kept
    assert handed["holder"]["note"] == "going off shift; rollback running"
    seen = await h.roles(gql, incident["id"])
    assert seen["commander"] == {"email": "bo@example.com"}
    assert [(r["role"], r["person"]["email"]) for r in seen["roles"]] == [
        ("INCIDENT_COMMANDER", "bo@example.com")
    ]
    ada_term, bo_term = seen["roleHistory"]
    assert ada_term["person"]["email"] == "ada@example.com"
    assert ada_term["endReason"] == "HANDED_OVER"
    assert ada_term["handedOverTo"] == {"email": "bo@example.com"}
    assert ada_term["endNote"] == "going off shift; rollback running"
    assert ada_term["endedAt"] is not None
    assert bo_term["endedAt"] is None
    texts = [e["text"] for e in seen["latestTimeline"] if e["kind"] == "role"]
    assert (
        texts[0]
        == "Bo is incident commander (handed over by Ada): going off shift; rollback running"
    )
    assert "incident.role_assign" in await h.audit_actions(runtime)
    # when Bo releases the role
    released = await gql(
        h.RELEASE,
        {"i": {"incidentId": incident["id"], "role": "INCIDENT_COMMANDER", "note": "resolved"}},
    )
    payload = released["incidentRoleRelease"]
    assert payload["errors"] == []
    assert payload["holder"]["endReason"] == "RELEASED"
    seen = await h.roles(gql, incident["id"])
    assert seen["commander"] is None
    assert seen["roles"] == []
    assert len(seen["roleHistory"]) == 2
    assert (await h.audit_actions(runtime))[-1] == "incident.role_release"


async def test_every_role_has_one_holder_but_experts_may_be_several(gql: GraphQL) -> None:
    service, team = await _world(gql)
    people = [await h.person(gql, f"p{n}@example.com", team) for n in range(3)]
    incident = await h.incident(gql, service)
    for role, who in (
        ("DEPUTY_COMMANDER", people[0]),
        ("COMMS_LEAD", people[1]),
        ("SCRIBE", people[2]),
        ("OPERATIONS_LEAD", people[0]),
        ("SUBJECT_MATTER_EXPERT", people[1]),
        ("SUBJECT_MATTER_EXPERT", people[2]),
    ):
        await h.assigned(gql, incident["id"], role, who)
    seen = await h.roles(gql, incident["id"])
    assert [(r["role"], r["person"]["email"]) for r in seen["roles"]] == [
        ("DEPUTY_COMMANDER", "p0@example.com"),
        ("COMMS_LEAD", "p1@example.com"),
        ("SCRIBE", "p2@example.com"),
        ("OPERATIONS_LEAD", "p0@example.com"),
        ("SUBJECT_MATTER_EXPERT", "p1@example.com"),
        ("SUBJECT_MATTER_EXPERT", "p2@example.com"),
    ]
    assert seen["commander"] is None


async def test_refusals_are_typed_and_change_nothing(gql: GraphQL, runtime: Runtime) -> None:
    # given an incident with two experts and a comms lead
    service, team = await _world(gql)
    ada = await h.person(gql, "ada@example.com", team)
    bo = await h.person(gql, "bo@example.com", team)
    incident = await h.incident(gql, service)
    await h.assigned(gql, incident["id"], "SUBJECT_MATTER_EXPERT", ada)
    await h.assigned(gql, incident["id"], "SUBJECT_MATTER_EXPERT", bo)
    await h.assigned(gql, incident["id"], "COMMS_LEAD", ada)
    machine = await gql(
        'mutation { machineCreate(input: {handle: "bot", name: "Bot"}) { machine { id } } }'
    )
    before = (await h.roles(gql, incident["id"]), await h.audit_count(runtime))
    i = incident["id"]
    # when the same expert is named twice, a machine or nobody is given a role
    again = await h.assign(gql, i, "SUBJECT_MATTER_EXPERT", ada)
    assert again["errors"][0]["code"] == "CONFLICT"
    assert "already subject matter expert" in again["errors"][0]["message"]
    bot = await h.assign(gql, i, "SCRIBE", machine["machineCreate"]["machine"]["id"])
    assert bot["errors"] == [
        {"field": "personId", "message": "only an active person can hold a role", "code": "INVALID"}
    ]
    nobody = await h.assign(gql, i, "SCRIBE", "UGVyc29uOjk5OTk5")  # Person:99999
    assert nobody["errors"][0]["code"] == "NOT_FOUND"
    long_note = await h.assign(gql, i, "SCRIBE", bo, note="x" * 2001)
    assert long_note["errors"][0]["field"] == "note"
    # and a release that is ambiguous or of an empty role
    releases = [
        {"incidentId": i, "role": "SUBJECT_MATTER_EXPERT"},
        {"incidentId": i, "role": "SCRIBE"},
        {"incidentId": i, "role": "COMMS_LEAD", "personId": bo},
    ]
    codes = []
    for variables in releases:
        answer = (await gql(h.RELEASE, {"i": variables}))["incidentRoleRelease"]
        codes.append((answer["errors"][0]["code"], answer["errors"][0]["field"]))
    assert codes == [("INVALID", "personId"), ("CONFLICT", "role"), ("CONFLICT", "role")]
    # then nothing changed
    assert (await h.roles(gql, incident["id"]), await h.audit_count(runtime)) == before


async def test_another_units_incident_looks_missing(gql: GraphQL, runtime: Runtime) -> None:
    # given a commander of alpha and an incident in bravo
    alpha = await helpers.unit(gql, "alpha")
    bravo = await helpers.unit(gql, "bravo")
    bravo_incident = await h.incident(gql, await helpers.service(gql, "bravo-api", bravo))
    member = await h.person(gql, "b@example.com")
    _, commander = await helpers.person_with_token(
        gql, "ic@alpha.example", "incident_commander", alpha
    )
    intruder = gql.as_(commander)
    before = await h.audit_count(runtime)
    made_up = "SW5jaWRlbnQ6OTk5OTk5"  # Incident:999999
    answers = []
    for incident_id in (bravo_incident["id"], made_up):
        assigned = await h.assign(intruder, incident_id, "SCRIBE", member)
        released = await intruder(h.RELEASE, {"i": {"incidentId": incident_id, "role": "SCRIBE"}})
        seen = await intruder(h.ROLES, {"id": incident_id})
        answers.append((assigned, released, seen))
    assert answers[0] == answers[1]
    assert answers[0][0]["errors"][0]["code"] == "NOT_FOUND"
    assert answers[0][2] == {"node": None}
    assert await h.audit_count(runtime) == before
