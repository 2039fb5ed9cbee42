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
