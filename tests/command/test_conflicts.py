"""Role conflicts by rule (policies/command.yaml): refused with the rule, the other incidents
and free backups; SEV1 takes precedence; an override is a recorded decision."""

from __future__ import annotations

import asyncio

from govsvc.runtime import Runtime
from tests.command import helpers as h
from tests.conftest import GraphQL
from tests.graphql import helpers


async def _world(gql: GraphQL) -> tuple[str, str, str]:
    unit = await helpers.unit(gql, "payments")
    team = await helpers.team(gql, "payments-sre", unit)
    service = await helpers.service(gql, "card-api", unit, owningTeamId=team)
    return unit, service, team


async def test_a_second_command_role_is_refused_with_the_rule_the_incident_and_free_backups(
    gql: GraphQL, runtime: Runtime
) -> None:
    # given Ada commands one incident, Cy another; Bo and Di are free, Di in another team
    unit, service, team = await _world(gql)
    other_team = await helpers.team(gql, "payments-dba", unit)
    ada = await h.person(gql, "ada@example.com", team, other_team)
    await h.person(gql, "bo@example.com", team)
    cy = await h.person(gql, "cy@example.com", team)
    await h.person(gql, "di@example.com", other_team)
    await h.person(gql, "eve@example.com")  # in no team of theirs: no backup
    first = await h.incident(gql, service, "SEV2")
    busy = await h.incident(gql, service, "SEV2")
    await h.assigned(gql, first["id"], "INCIDENT_COMMANDER", ada)
    await h.assigned(gql, busy["id"], "INCIDENT_COMMANDER", cy)
    second = await h.incident(gql, service, "SEV2")
    before = (await h.roles(gql, second["id"]), await h.audit_count(runtime))
    # when Ada is asked to command the second too
    refused = await h.assign(gql, second["id"], "INCIDENT_COMMANDER", ada)
    # then it is refused naming the rule and the other incident, with backups
    (error,) = refused["errors"]
    assert error["code"] == "CONFLICT"
    assert error["field"] == "personId"
    assert "one-command-role" in error["message"]
    assert f"incident commander of {first['reference']} (SEV2)" in error["message"]
    assert refused["conflicts"] == [
        {
            "rule": "one-command-role",
            "description": "at most one command role (commander, deputy or coordinator) at a time",
            "held": [f"incident commander of {first['reference']} (SEV2)"],
            "hidden": 0,
        }
    ]
    assert sorted(b["email"] for b in refused["backups"]) == ["bo@example.com", "di@example.com"]
    assert refused["holder"] is None
    # and nothing changed
    assert (await h.roles(gql, second["id"]), await h.audit_count(runtime)) == before
    # a role the rule does not count is fine
    await h.assigned(gql, second["id"], "SCRIBE", ada)


async def test_an_override_needs_a_justification_the_right_and_is_a_recorded_decision(
    gql: GraphQL, runtime: Runtime
) -> None:
    unit, service, team = await _world(gql)
    ada = await h.person(gql, "ada@example.com", team)
    await h.person(gql, "bo@example.com", team)
    first = await h.incident(gql, service, "SEV2")
    second = await h.incident(gql, service, "SEV2")
    await h.assigned(gql, first["id"], "INCIDENT_COMMANDER", ada)
    _, responder = await helpers.person_with_token(gql, "r@example.com", "responder", unit)
    before = (await h.roles(gql, second["id"]), await h.audit_count(runtime))
    # a short justification is refused; a responder may not override at all
    short = await h.assign(
        gql, second["id"], "INCIDENT_COMMANDER", ada, override={"justification": "because"}
    )
    assert short["errors"][0]["field"] == "override.justification"
    assert short["errors"][0]["code"] == "INVALID"
    denied = await gql.as_(responder).post(
        h.ASSIGN,
        {
            "i": {
                "incidentId": second["id"],
                "role": "INCIDENT_COMMANDER",
                "personId": ada,
                "override": {"justification": h.REASON},
            }
        },
    )
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await h.roles(gql, second["id"]), await h.audit_count(runtime)) == before
    # when an administrator overrides with a justification
    done = await h.assigned(
        gql, second["id"], "INCIDENT_COMMANDER", ada, override={"justification": h.REASON}
    )
    # then Ada commands both, and the decision log says why and what else was possible
    assert done["holder"]["overrodeConflict"] is True
    seen = await h.roles(gql, second["id"])
    assert seen["commander"] == {"email": "ada@example.com"}
    (decision,) = seen["decisions"]
    assert (
        decision["decision"]
        == "Ada is incident commander despite conflict rule(s) one-command-role"
    )
    assert decision["rationale"] == h.REASON
    assert decision["alternatives"] == ["Bo as incident commander"]
    actions = await h.audit_actions(runtime)
    assert actions[-3:] == [
        "incident.decision",
        "incident.role_conflict_override",
        "incident.role_assign",
    ]


async def test_sev1_takes_precedence_over_lower_severities_not_the_other_way(
    gql: GraphQL,
) -> None:
    _, service, team = await _world(gql)
    ada = await h.person(gql, "ada@example.com", team)
    bo = await h.person(gql, "bo@example.com", team)
    minor = await h.incident(gql, service, "SEV3")
    major = await h.incident(gql, service, "SEV1")
    other_major = await h.incident(gql, service, "SEV1")
    # Ada commands a SEV3: a SEV1 may still take her, and says so on its timeline
    await h.assigned(gql, minor["id"], "INCIDENT_COMMANDER", ada)
    await h.assigned(gql, major["id"], "INCIDENT_COMMANDER", ada)
    seen = await h.roles(gql, major["id"])
    assert any(
        f"takes precedence over {minor['reference']} (SEV3)" in e["text"]
        for e in seen["latestTimeline"]
    )
    # but not a second SEV1, and Bo, who commands a SEV1, is not taken for a SEV3
    refused = await h.assign(gql, other_major["id"], "DEPUTY_COMMANDER", ada)
    assert refused["errors"][0]["code"] == "CONFLICT"
    assert refused["conflicts"][0]["held"] == [f"incident commander of {major['reference']} (SEV1)"]
    await h.assigned(gql, other_major["id"], "INCIDENT_COMMANDER", bo)
    another_minor = await h.incident(gql, service, "SEV3")
    assert (await h.assign(gql, another_minor["id"], "INCIDENT_COMMANDER", bo))["errors"]


async def test_the_total_load_rule_and_resolved_incidents(gql: GraphQL) -> None:
    _, service, team = await _world(gql)
    ada = await h.person(gql, "ada@example.com", team)
    incidents = [await h.incident(gql, service, "SEV3") for _ in range(4)]
    for incident, role in zip(
        incidents, ("SCRIBE", "COMMS_LEAD", "SUBJECT_MATTER_EXPERT"), strict=False
    ):
        await h.assigned(gql, incident["id"], role, ada)
    # a fourth role breaks "role-load" (at most three)
    refused = await h.assign(gql, incidents[3]["id"], "OPERATIONS_LEAD", ada)
    assert [c["rule"] for c in refused["conflicts"]] == ["role-load"]
    assert len(refused["conflicts"][0]["held"]) == 3
    # once one of her incidents is resolved, its role no longer counts
    resolved = await gql(
        "mutation($i: IncidentStatusChangeInput!) { incidentStatusChange(input: $i)"
        " { errors { code } } }",
        {"i": {"incidentId": incidents[0]["id"], "status": "RESOLVED"}},
    )
    assert resolved["incidentStatusChange"]["errors"] == []
    await h.assigned(gql, incidents[3]["id"], "OPERATIONS_LEAD", ada)


async def test_incidents_the_assigner_may_not_read_are_counted_not_named(gql: GraphQL) -> None:
    # given Ada commands an incident in bravo; an alpha commander asks her for alpha's
    alpha = await helpers.unit(gql, "alpha")
    bravo = await helpers.unit(gql, "bravo")
    alpha_team = await helpers.team(gql, "alpha-sre", alpha)
    ada = await h.person(gql, "ada@example.com", alpha_team)
    bravo_incident = await h.incident(gql, await helpers.service(gql, "bravo-api", bravo), "SEV2")
    await h.assigned(gql, bravo_incident["id"], "INCIDENT_COMMANDER", ada)
    alpha_incident = await h.incident(
        gql, await helpers.service(gql, "alpha-api", alpha, owningTeamId=alpha_team), "SEV2"
    )
    _, commander = await helpers.person_with_token(
        gql, "ic@alpha.example", "incident_commander", alpha
    )
    refused = await h.assign(gql.as_(commander), alpha_incident["id"], "INCIDENT_COMMANDER", ada)
    assert refused["conflicts"][0]["held"] == []
    assert refused["conflicts"][0]["hidden"] == 1
    assert bravo_incident["reference"] not in refused["errors"][0]["message"]
    assert "1 role(s) on incidents you may not read" in refused["errors"][0]["message"]


async def test_two_assignments_at_once_cannot_both_pass_the_rules(gql: GraphQL) -> None:
    # given two incidents and one person, asked to command both at the same moment
    _, service, team = await _world(gql)
    ada = await h.person(gql, "ada@example.com", team)
    incidents = [await h.incident(gql, service, "SEV2") for _ in range(2)]
    answers = await asyncio.gather(
        *(h.assign(gql, i["id"], "INCIDENT_COMMANDER", ada) for i in incidents)
    )
    # then exactly one succeeds and the other is refused by the rule
    codes = sorted(tuple(e["code"] for e in a["errors"]) for a in answers)
    assert codes == [(), ("CONFLICT",)]
    commanders = [(await h.roles(gql, i["id"]))["commander"] for i in incidents]
    assert sorted(str(c) for c in commanders) == ["None", "{'email': 'ada@example.com'}"]
