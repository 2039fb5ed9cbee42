"""teamMemberAdd and teamMemberRemove: who may change a team's members, and what is refused.

A team belongs to a business unit; changing its members is managing the team, which only an
admin whose grant covers the team's unit may do. A team outside the caller's units looks
missing, like a made-up one; a team the caller may read but not manage is FORBIDDEN.
"""

from __future__ import annotations

from typing import Any

import pytest
from strawberry import relay

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
MEMBERSHIP = (
    "mutation($i: TeamMembershipInput!) { %s(input: $i) {"
    f" team {{ id code members {{ email }} }} {ERRORS} }} }}"
)
ADD = MEMBERSHIP % "teamMemberAdd"
REMOVE = MEMBERSHIP % "teamMemberRemove"
MADE_UP_TEAM = relay.to_base64("Team", 987_654)
MADE_UP_PERSON = relay.to_base64("Person", 987_654)


async def _members(gql: GraphQL, team_id: str) -> list[str]:
    data = await gql(
        "query($id: ID!) { node(id: $id) { ... on Team { members { email } } } }", {"id": team_id}
    )
    return sorted(m["email"] for m in data["node"]["members"])


async def _audited(gql: GraphQL, team_id: str) -> list[str]:
    """The actions recorded against the team, in order."""
    _, pk = relay.from_base64(team_id)
    data = await gql(
        "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 50) {"
        " edges { node { action payload } } } }",
        {"f": {"resourceType": "team", "resourceId": pk}},
    )
    return [edge["node"]["action"] for edge in data["auditEvents"]["edges"]]


async def _change(gql: GraphQL, mutation: str, team_id: str, person_id: str) -> dict[str, Any]:
    data = await gql(mutation, {"i": {"teamId": team_id, "personId": person_id}})
    payload: dict[str, Any] = data["teamMemberAdd" if mutation == ADD else "teamMemberRemove"]
    return payload


async def test_an_admin_adds_and_removes_a_member_and_each_change_is_audited_once(
    gql: GraphQL,
) -> None:
    # given a team and two people
    unit_id = await helpers.unit(gql, "payments")
    team_id = await helpers.team(gql, "sre", unit_id)
    ada, _ = await helpers.person_with_token(gql, "ada@example.com")
    bob, _ = await helpers.person_with_token(gql, "bob@example.com")

    # when both are added
    added = await _change(gql, ADD, team_id, ada)
    both = await _change(gql, ADD, team_id, bob)

    # then the payload shows the team with its members
    assert added["errors"] == []
    assert added["team"]["id"] == team_id
    assert added["team"]["members"] == [{"email": "ada@example.com"}]
    assert both["errors"] == []
    assert sorted(m["email"] for m in both["team"]["members"]) == [
        "ada@example.com",
        "bob@example.com",
    ]

    # when one is added again (already a member) and then removed, twice
    again = await _change(gql, ADD, team_id, ada)
    removed = await _change(gql, REMOVE, team_id, ada)
    removed_again = await _change(gql, REMOVE, team_id, ada)

    # then asking for the current state is no error and changes nothing
    assert again["errors"] == []
    assert removed["errors"] == []
    assert removed["team"]["members"] == [{"email": "bob@example.com"}]
    assert removed_again["errors"] == []
    assert removed_again["team"]["members"] == [{"email": "bob@example.com"}]
    assert await _members(gql, team_id) == ["bob@example.com"]
    # and only real changes are on the audit log
    assert await _audited(gql, team_id) == [
        "team.create",
        "team.member_add",
        "team.member_add",
        "team.member_remove",
    ]


async def test_a_unit_admin_manages_the_teams_of_their_unit_and_no_other(gql: GraphQL) -> None:
    # given two units with a team each, and an admin of payments only
    group = await helpers.unit(gql, "group")
    payments = await helpers.unit(gql, "payments", group)
    retail = await helpers.unit(gql, "retail", group)
    payments_team = await helpers.team(gql, "pay-sre", payments)
    retail_team = await helpers.team(gql, "shop-sre", retail)
    ada, _ = await helpers.person_with_token(gql, "ada@example.com")
    _, token = await helpers.person_with_token(gql, "unit-admin@example.com", "admin", payments)
    unit_admin = gql.as_(token)

    # when they add someone to their unit's team
    own = await _change(unit_admin, ADD, payments_team, ada)

    # then it is done
    assert own["errors"] == []
    assert own["team"]["members"] == [{"email": "ada@example.com"}]

    # when they try the other unit's team, and a team that does not exist
    other = await _change(unit_admin, ADD, retail_team, ada)
    made_up = await _change(unit_admin, ADD, MADE_UP_TEAM, ada)
    other_remove = await _change(unit_admin, REMOVE, retail_team, ada)

    # then the other unit's team looks missing, exactly like a made-up one, and is unchanged
    assert other["team"] is None
    assert [(e["field"], e["code"]) for e in other["errors"]] == [("teamId", "NOT_FOUND")]
    assert other == made_up
    assert other_remove == made_up
    assert await _members(gql, retail_team) == []
    assert await _audited(gql, retail_team) == ["team.create"]


@pytest.mark.parametrize("role", ["viewer", "responder", "incident_commander", "auditor"])
@pytest.mark.parametrize("mutation", [ADD, REMOVE], ids=["add", "remove"])
async def test_someone_who_may_read_a_team_but_not_manage_it_is_forbidden(
    gql: GraphQL, role: str, mutation: str
) -> None:
    # given a team with one member, and someone of the team's unit who may read it
    unit_id = await helpers.unit(gql, "payments")
    team_id = await helpers.team(gql, "sre", unit_id)
    ada, _ = await helpers.person_with_token(gql, "ada@example.com")
    assert (await _change(gql, ADD, team_id, ada))["errors"] == []
    _, token = await helpers.person_with_token(gql, "someone@example.com", role, unit_id)
    someone = gql.as_(token)
    assert await _members(someone, team_id) == ["ada@example.com"]

    # when they try to add or remove a member
    response = await someone.post(mutation, {"i": {"teamId": team_id, "personId": ada}})

    # then a top-level FORBIDDEN, no data, and the team is as it was
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert await _members(gql, team_id) == ["ada@example.com"]
    assert await _audited(gql, team_id) == ["team.create", "team.member_add"]


@pytest.mark.parametrize("mutation", [ADD, REMOVE], ids=["add", "remove"])
@pytest.mark.parametrize(
    ("team", "person", "field"),
    [
        pytest.param("made-up", "ada", "teamId", id="made-up team"),
        pytest.param("person-id", "ada", "teamId", id="a person's id as the team"),
        pytest.param("garbage", "ada", "teamId", id="not a global id"),
        pytest.param("team", "made-up", "personId", id="made-up person"),
        pytest.param("team", "team-id", "personId", id="a team's id as the person"),
        pytest.param("team", "garbage", "personId", id="not a global id as the person"),
    ],
)
async def test_bad_ids_are_not_found_and_change_nothing(
    gql: GraphQL, mutation: str, team: str, person: str, field: str
) -> None:
    # given a team with one member
    unit_id = await helpers.unit(gql, "payments")
    team_id = await helpers.team(gql, "sre", unit_id)
    ada, _ = await helpers.person_with_token(gql, "ada@example.com")
    assert (await _change(gql, ADD, team_id, ada))["errors"] == []
    ids = {
        "team": team_id,
        "ada": ada,
        "made-up": MADE_UP_TEAM if field == "teamId" else MADE_UP_PERSON,
        "person-id": ada,
        "team-id": team_id,
        "garbage": "not-an-id",
    }

    # when
    refused = await _change(gql, mutation, ids[team], ids[person])

    # then
    assert refused["team"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [(field, "NOT_FOUND")]
    assert await _members(gql, team_id) == ["ada@example.com"]
    assert await _audited(gql, team_id) == ["team.create", "team.member_add"]
