"""Jurisdiction rules (policies/jurisdictions.yaml) against schedules: each breach names the
rule, the person and the period; and a broken rules file stops start-up saying where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govsvc.oncall.jurisdictions import JurisdictionsError, load_jurisdictions
from govsvc.settings import REPO_ROOT
from tests.conftest import GraphQL
from tests.oncall.helpers import layer, schedule

QUERY = (
    "query($s: ID!, $from: DateTime!, $to: DateTime!) {"
    " scheduleViolations(scheduleId: $s, from: $from, to: $to) {"
    " rule jurisdiction start end detail person { email } } }"
)


async def _violations(gql: GraphQL, sid: str, start: str, end: str) -> list[dict[str, Any]]:
    data = await gql(QUERY, {"s": sid, "from": start, "to": end})
    found: list[dict[str, Any]] = data["scheduleViolations"]
    return found


async def test_a_week_round_the_clock_in_germany_breaks_every_rule_over_christmas(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # anna (DE) alone on a weekly rotation: on call 24/7
    sid = await schedule(
        gql, org["unit"], [layer("primary", [org["anna"]], start="2026-12-14T09:00")]
    )
    found = await _violations(gql, sid, "2026-12-20T23:00:00Z", "2026-12-27T23:00:00Z")
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for v in found:
        assert v["person"]["email"] == "anna@ops.example"
        assert v["jurisdiction"] == "DE"
        by_rule.setdefault(v["rule"], []).append(v)
    # every local day (Monday 21st to Sunday 27th): no 11 h rest, on call in quiet hours
    assert len(by_rule["min_daily_rest"]) == 7
    assert len(by_rule["quiet_hours"]) == 7
    assert by_rule["min_daily_rest"][0]["start"].startswith("2026-12-20T23:00:00")
    # Christmas Day and Boxing Day are public holidays in Germany
    holidays = by_rule["public_holiday"]
    assert [h["start"][:10] for h in holidays] == ["2026-12-24", "2026-12-25"]  # local midnights
    assert "Christmas" in holidays[0]["detail"] or "Weihnacht" in holidays[0]["detail"]
    # and 168 h in one ISO week where 48 are allowed
    (week,) = by_rule["max_oncall_hours_per_week"]
    assert "168.0 h" in week["detail"]
    assert week["start"].startswith("2026-12-20T23:00:00")
    assert week["end"].startswith("2026-12-27T23:00:00")


async def test_the_same_rotation_breaks_nothing_where_the_rules_allow_it(
    gql: GraphQL, org: dict[str, str]
) -> None:
    us = await schedule(gql, org["unit"], [layer("us", [org["cara"]], start="2026-12-14T09:00")])
    nowhere = await schedule(
        gql, org["unit"], [layer("jp", [org["dai"]], start="2026-12-14T09:00")]
    )
    for sid in (us, nowhere):
        assert await _violations(gql, sid, "2026-12-21T00:00:00Z", "2026-12-28T00:00:00Z") == []


async def test_office_hours_in_germany_break_no_rule(gql: GraphQL, org: dict[str, str]) -> None:
    weekdays = [{"start": "08:00", "end": "16:00", "days": ["MO", "TU", "WE", "TH", "FR"]}]
    sid = await schedule(
        gql,
        org["unit"],
        [layer("EMEA", [org["anna"]], start="2027-01-04T08:00", windows=weekdays)],
    )
    assert await _violations(gql, sid, "2027-01-11T00:00:00Z", "2027-01-18T00:00:00Z") == []


async def test_a_period_is_bounded(gql: GraphQL, org: dict[str, str]) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"]])])
    response = await gql.post(
        QUERY, {"s": sid, "from": "2027-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"}
    )
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INVALID"


GOOD = (REPO_ROOT / "policies" / "jurisdictions.yaml").read_text()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD.replace("  DE:\n", "  XX:\n"), "does not know country 'XX'"),
        (GOOD.replace('start: "22:00", end: "06:00"', 'start: "25:00", end: "06:00"'), "HH:MM"),
        (
            GOOD.replace("    min_daily_rest_hours: 11\n", "    min_daily_rest_hours: 30\n", 1),
            "less than or equal to 24",
        ),
        (
            GOOD.replace("  public_holidays: false\n", "  public_holiday: false\n", 1),
            "unknown key 'public_holiday'",
        ),
    ],
)
def test_a_broken_rules_file_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert text != GOOD
    path = tmp_path / "jurisdictions.yaml"
    path.write_text(text)
    with pytest.raises(JurisdictionsError) as caught:
        load_jurisdictions(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_the_shipped_rules_load_and_a_subdivision_reads_its_country() -> None:
    book = load_jurisdictions(REPO_ROOT / "policies" / "jurisdictions.yaml")
    assert book.rules_for("US-CA")[0] == "US"
    assert book.rules_for("DE")[1].min_daily_rest_hours == 11
    assert book.rules_for(None)[0] == book.rules_for("BR")[0] == "default"
