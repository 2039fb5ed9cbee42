"""No N+1 in on-call reads: schedules with their layers' members, overrides and computed
shifts, and pages with their people, take the same statements at any page size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import GraphQL, StatementCounter
from tests.graphql import helpers
from tests.oncall.helpers import layer, override, person, policy, schedule

pytestmark = pytest.mark.slow  # builds a few dozen schedules

SCHEDULES = """
query($first: Int!) {
  schedules(first: $first) {
    edges { node {
      name version
      layers { name members { email } }
      overrides { reason person { email } }
      shifts(from: "2027-03-15T00:00:00Z", to: "2027-04-15T00:00:00Z") {
        start end layer person { email }
      }
    } }
  }
}
"""

PAGES = """
query($first: Int!) {
  onCallPages(first: $first) { edges { node { level state person { email } } } }
}
"""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_schedules_and_pages_take_the_same_statements_at_any_page_size(
    gql: GraphQL, sql_statements: StatementCounter
) -> None:
    unit = await helpers.unit(gql, "ops")
    service = await helpers.service(gql, "checkout", unit)
    people = [await person(gql, f"p{n}@ops.example") for n in range(6)]
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for n in range(12):
        sid = await schedule(
            gql, unit, [layer("primary", [people[n % 6], people[(n + 1) % 6]])], name=f"S{n}"
        )
        made = await override(
            gql, sid, people[(n + 2) % 6], _iso(soon), _iso(soon + timedelta(hours=2))
        )
        assert made["errors"] == []
        pid = await policy(
            gql,
            unit,
            [{"timeoutSeconds": 60, "targets": [{"kind": "person", "id": people[n % 6]}]}],
        )
        incident = await helpers.incident(gql, service, title=f"Outage {n}")
        await gql(
            "mutation($i: IncidentPageInput!) { incidentPage(input: $i) { errors { code } } }",
            {"i": {"incidentId": incident["id"], "policyId": pid}},
        )
    await gql(SCHEDULES, {"first": 1})  # warm: first requests load what later ones reuse
    counts = {}
    for query, key in ((SCHEDULES, "schedules"), (PAGES, "onCallPages")):
        for first in (2, 12):
            sql_statements.reset()
            data = await gql(query, {"first": first})
            assert len(data[key]["edges"]) == first
            counts[(key, first)] = sql_statements.count
    # people are loaded in at most two batches (layer members, then the people of overrides
    # and shifts that were not among them): a bound, not a count per schedule
    assert counts[("schedules", 12)] <= counts[("schedules", 2)], counts
    assert counts[("onCallPages", 2)] == counts[("onCallPages", 12)], counts
    assert counts[("schedules", 12)] <= 8, counts
