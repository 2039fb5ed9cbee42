"""Coverage reports and audit packs say only that the caller's access MAY have kept something
out, never how many or which: the answer depends on grants alone, so it is the same for a unit
full of incidents, an empty one and one that does not exist, whatever the period.

    group ─┬─ payments   (compliance officer: Colm)
           └─ retail     (incidents Colm may not see)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from strawberry import relay

from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers, pack_helpers

MADE_UP_UNIT = relay.to_base64("BusinessUnit", 987_654)
COVERAGE = (
    'query($s: DateTime!, $e: DateTime!, $units: [ID!]) { controlCoverage(framework: "soc2",'
    " periodStart: $s, periodEnd: $e, businessUnitIds: $units) { accessLimited leftOut"
    " controls { control { id } status gaps incidents { reference } } } }"
)


def _at(hours_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()


async def _org(gql: GraphQL) -> dict[str, str]:
    group = await helpers.unit(gql, "group")
    units = {
        "group": group,
        "payments": await helpers.unit(gql, "payments", group),
        "retail": await helpers.unit(gql, "retail", group),
        "empty": await helpers.unit(gql, "empty", group),
    }
    service_id = await helpers.service(gql, "shop", units["retail"])
    for hours_ago in (10, 20, 30):
        created = await helpers.incident(
            gql, service_id, title="Checkout", detectedAt=_at(hours_ago)
        )
        decided = await gql(
            "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
            " errors { code } } }",
            {"i": {"controlKey": "soc2:CC7.3", "targetId": created["id"]}},
        )
        assert decided["controlMappingDecide"]["errors"] == []
    return units


async def _coverage(who: GraphQL, units: list[str] | None, start: str, end: str) -> Any:
    data = await who(COVERAGE, {"s": start, "e": end, "units": units})
    return data["controlCoverage"]


async def test_coverage_answers_alike_for_a_busy_an_empty_and_a_missing_unit(
    gql: GraphQL,
) -> None:
    # given incidents in retail only, and a compliance officer granted in payments
    units = await _org(gql)
    _, token = await helpers.person_with_token(
        gql, "colm@example.com", "compliance_officer", units["payments"]
    )
    colm = gql.as_(token)
    start, end = _at(100), _at(-1)
    # when asking about retail, an empty unit, a unit that does not exist, and bisected periods
    answers = [
        await _coverage(colm, [units["retail"]], start, end),
        await _coverage(colm, [units["empty"]], start, end),
        await _coverage(colm, [MADE_UP_UNIT], start, end),
        await _coverage(colm, [units["retail"]], start, _at(15)),
        await _coverage(colm, [units["retail"]], _at(15), end),
    ]
    # then every answer is the same, says only that things may have been left out, and counts
    # nothing
    assert answers[1] == answers[0]
    assert answers[2] == answers[0]
    seen = [
        (a["accessLimited"], a["leftOut"], [c["incidents"] for c in a["controls"]]) for a in answers
    ]
    assert all(answer == seen[0] for answer in seen)  # the gaps name each period, nothing else
    assert answers[0]["accessLimited"] is True
    assert answers[0]["leftOut"]
    assert all("may have been left out" in note for note in answers[0]["leftOut"])
    assert not any(ch.isdigit() for note in answers[0]["leftOut"] for ch in note)
    # and with no unit named it is the same notice about every unit
    everywhere = await _coverage(colm, None, start, end)
    assert everywhere["accessLimited"] is True
    assert not any(ch.isdigit() for note in everywhere["leftOut"] for ch in note)


async def test_a_reader_of_everything_asked_for_is_told_nothing_was_left_out(
    gql: GraphQL,
) -> None:
    # given a compliance officer granted on the parent of retail
    units = await _org(gql)
    _, token = await helpers.person_with_token(
        gql, "gus@example.com", "compliance_officer", units["group"]
    )
    # when
    report = await _coverage(gql.as_(token), [units["retail"]], _at(100), _at(-1))
    # then the incidents are there and nothing is said to be missing
    assert report["accessLimited"] is False
    assert report["leftOut"] == []
    [cc73] = [c for c in report["controls"] if c["control"]["id"] == "CC7.3"]
    assert len(cc73["incidents"]) == 3


@pytest.mark.slow  # builds packs (PDF)
async def test_an_audit_pack_excludes_alike_for_a_busy_and_a_missing_unit(
    gql: GraphQL, runtime: Runtime
) -> None:
    # given
    units = await _org(gql)
    _, token = await helpers.person_with_token(
        gql, "colm@example.com", "compliance_officer", units["payments"]
    )
    colm = gql.as_(token)
    period = {"periodStart": _at(100), "periodEnd": _at(-1)}
    # when
    packs = []
    for unit in (units["retail"], MADE_UP_UNIT):
        built = await pack_helpers.build(colm, runtime, **period, businessUnitIds=[unit])
        assert built["state"] == "READY", built
        packs.append(built["excluded"])
    # then
    assert packs[0] == packs[1]
    assert packs[0]
    assert not any(ch.isdigit() for note in packs[0] for ch in note)
