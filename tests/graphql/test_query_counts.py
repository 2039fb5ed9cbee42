"""No N+1: the statement count of a page does not grow with the page size."""

from __future__ import annotations

import pytest

from tests.conftest import GraphQL, StatementCounter
from tests.graphql import helpers

# Pages through a large data set.
pytestmark = pytest.mark.slow

PAGE = """
query($first: Int!) {
  incidents(first: $first) {
    edges { node {
      id reference title severity status tags
      latestTimeline(limit: 3) { text occurredAt }
      service { code name tier businessUnit { code } owningTeam { code } }
      businessUnit { code parent { code } }
      decisions { decision decidedBy { email } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _count(gql: GraphQL, counter: StatementCounter, first: int) -> int:
    counter.reset()
    data = await gql(PAGE, {"first": first})
    assert len(data["incidents"]["edges"]) == first
    return counter.count


async def test_statements_per_page_do_not_grow_with_the_page_size(
    gql: GraphQL, sql_statements: StatementCounter
) -> None:
    # given incidents on two services in two units, each with tags, notes and a decision
    group = await helpers.unit(gql, "group")
    units = [await helpers.unit(gql, code, group) for code in ("payments", "retail")]
    services = [await helpers.service(gql, f"svc-{n}", unit) for n, unit in enumerate(units)]
    for n in range(30):
        created = await helpers.incident(gql, services[n % 2], tags=["dns", "network"])
        await gql(
            "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i)"
            " { entry { id } } }",
            {"i": {"incidentId": created["id"], "text": f"n{n}"}},
        )
        await gql(
            "mutation($i: IncidentDecisionRecordInput!) { incidentDecisionRecord("
            "input: $i) { decision { decision } } }",
            {"i": {"incidentId": created["id"], "decision": "d", "rationale": "r"}},
        )
    # when
    small = await _count(gql, sql_statements, 3)
    large = await _count(gql, sql_statements, 30)
    # then
    assert small == large, "\n".join(s[:90] for s in sql_statements.statements)
    assert large <= 12


SERVICES = """
query($first: Int!) {
  services(first: $first) {
    edges { node {
      code
      dependsOn { code businessUnit { code } dependsOn { code } }
      dependents { code owningTeam { code } }
    } }
  }
}
"""


async def test_services_with_their_dependencies_take_the_same_statements_at_any_page_size(
    gql: GraphQL, sql_statements: StatementCounter
) -> None:
    # given 20 services in two units, each depending on the two before it
    group = await helpers.unit(gql, "group")
    units = [await helpers.unit(gql, code, group) for code in ("payments", "retail")]
    services = [await helpers.service(gql, f"svc-{n:02}", units[n % 2]) for n in range(20)]
    for n, service_id in enumerate(services):
        for before in services[max(0, n - 2) : n]:
            await gql(
                "mutation($i: ServiceDependencyInput!) { serviceDependencyAdd(input: $i)"
                " { errors { code } } }",
                {"i": {"serviceId": service_id, "dependsOnId": before}},
            )

    # when a small page and a large one are read with both directions, two levels deep
    async def count(first: int) -> int:
        sql_statements.reset()
        data = await gql(SERVICES, {"first": first})
        edges = data["services"]["edges"]
        assert len(edges) == first
        assert [s["code"] for s in edges[-1]["node"]["dependsOn"]] == [
            f"svc-{first - 3:02}",
            f"svc-{first - 2:02}",
        ]
        return sql_statements.count

    small, large = await count(3), await count(20)

    # then the statements do not grow with the page
    assert small == large, "\n".join(s[:90] for s in sql_statements.statements)
    assert large <= 10


ROLES_PAGE = """
query($first: Int!) {
  incidents(first: $first) {
    edges { node {
      reference
      commander { email name }
      roles { role note person { email } }
      roleHistory { role endReason person { email } handedOverTo { email } }
      commandModel { model source rule }
    } }
  }
}
"""


async def test_commander_and_roles_in_a_list_take_the_same_statements_at_any_page_size(
    gql: GraphQL, sql_statements: StatementCounter
) -> None:
    # given 30 incidents, each with a commander handed over once and two experts
    unit = await helpers.unit(gql, "platform")
    service = await helpers.service(gql, "svc", unit)
    people = []
    for n in range(4):
        created = await gql(
            "mutation($i: PersonCreateInput!) { personCreate(input: $i) { person { id } } }",
            {"i": {"email": f"p{n}@example.com", "name": f"P{n}"}},
        )
        people.append(created["personCreate"]["person"]["id"])
    assign = (
        "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i)"
        " { errors { code message } } }"
    )
    for _ in range(30):
        incident = await helpers.incident(gql, service)
        for role, who in (
            ("COORDINATOR", people[0]),
            ("SUBJECT_MATTER_EXPERT", people[1]),
            ("SUBJECT_MATTER_EXPERT", people[2]),
            ("SCRIBE", people[3]),
            ("SCRIBE", people[0]),
        ):
            done = await gql(
                assign, {"i": {"incidentId": incident["id"], "role": role, "personId": who}}
            )
            if done["incidentRoleAssign"]["errors"]:  # past the load rule: override it
                done = await gql(
                    assign,
                    {
                        "i": {
                            "incidentId": incident["id"],
                            "role": role,
                            "personId": who,
                            "override": {"justification": "a drill of many parallel roles"},
                        }
                    },
                )
            assert done["incidentRoleAssign"]["errors"] == [], done

    # when a small page and a large one are read with commander and roles
    async def count(first: int) -> int:
        sql_statements.reset()
        data = await gql(ROLES_PAGE, {"first": first})
        edges = data["incidents"]["edges"]
        assert len(edges) == first
        node = edges[0]["node"]
        assert [r["role"] for r in node["roles"]] == [
            "SCRIBE",
            "SUBJECT_MATTER_EXPERT",
            "SUBJECT_MATTER_EXPERT",
            "COORDINATOR",
        ]
        assert node["roleHistory"][3]["handedOverTo"] == {"email": "p0@example.com"}
        assert node["commandModel"]["model"] == "DISTRIBUTED"
        return sql_statements.count

    small, large = await count(3), await count(30)

    # then the statements do not grow with the page
    assert small == large, "\n".join(s[:90] for s in sql_statements.statements)
    assert large <= 10
