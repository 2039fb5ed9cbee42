"""Schedules through the API: hand-offs at local time across DST, follow-the-sun layers,
overrides above layers, refusals that store nothing, and versions kept in the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from govsvc.audit.models import AuditEvent
from govsvc.oncall.models import Schedule, ScheduleOverride
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.oncall.helpers import (
    ERRORS,
    SHIFT,
    create_schedule,
    layer,
    on_call,
    override,
    schedule,
)


async def _counts(runtime: Runtime) -> tuple[int, int, int]:
    async with runtime.db.read() as session:
        return (
            (await session.execute(select(func.count()).select_from(Schedule))).scalar_one(),
            (
                await session.execute(select(func.count()).select_from(ScheduleOverride))
            ).scalar_one(),
            (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one(),
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_weekly_hand_offs_stay_at_nine_local_across_the_march_dst_change(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # given a weekly Monday 09:00 Europe/Berlin rotation of anna and ben from 15 March 2027
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"], org["ben"]])])
    # when we ask who is on call in the week that crosses the last Sunday of March (the 28th)
    found = await on_call(gql, sid, "2027-03-25T12:00:00Z")
    # then ben, from 09:00 CET (08:00Z) on the 22nd to 09:00 CEST (07:00Z) on the 29th
    assert found is not None
    assert found["person"]["id"] == org["ben"]
    assert (found["source"], found["layer"], found["overrideId"]) == ("layer", "primary", None)
    assert found["start"].startswith("2027-03-22T08:00:00")
    assert found["end"].startswith("2027-03-29T07:00:00")
    # and anna before it and after it
    before = await on_call(gql, sid, "2027-03-22T07:59:00Z")
    after = await on_call(gql, sid, "2027-03-29T07:00:00Z")
    assert before is not None
    assert after is not None
    assert before["person"]["id"] == after["person"]["id"] == org["anna"]
    # and nobody before the rotation starts
    assert await on_call(gql, sid, "2027-03-15T07:59:00Z") is None


async def test_shifts_list_the_hand_offs_in_utc(gql: GraphQL, org: dict[str, str]) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"], org["ben"]])])
    data = await gql(
        f'query($id: ID!) {{ schedule(id: $id) {{ name shifts(from: "2027-03-15T00:00:00Z",'
        f' to: "2027-04-06T00:00:00Z") {{ {SHIFT} }} }} }}',
        {"id": sid},
    )
    shifts = data["schedule"]["shifts"]
    assert [(s["start"][:19], s["end"][:19], s["person"]["id"]) for s in shifts] == [
        ("2027-03-15T08:00:00", "2027-03-22T08:00:00", org["anna"]),
        ("2027-03-22T08:00:00", "2027-03-29T07:00:00", org["ben"]),
        ("2027-03-29T07:00:00", "2027-04-05T07:00:00", org["anna"]),
        ("2027-04-05T07:00:00", "2027-04-06T00:00:00", org["ben"]),
    ]


async def test_follow_the_sun_layers_cover_their_own_windows_and_the_top_one_wins(
    gql: GraphQL, org: dict[str, str]
) -> None:
    # given EMEA (anna, 08:00-16:00 Berlin) above AMER (cara, 08:00-16:00 New York), daily
    daily = "FREQ=DAILY;BYHOUR=8;BYMINUTE=0"
    emea = layer(
        "EMEA", [org["anna"]], rrule=daily, start="2027-01-04T08:00",
        windows=[{"start": "08:00", "end": "16:00"}],
    )  # fmt: skip
    amer = layer(
        "AMER", [org["cara"]], time_zone="America/New_York", rrule=daily,
        start="2027-01-04T08:00", windows=[{"start": "08:00", "end": "16:00"}],
    )  # fmt: skip
    sid = await schedule(gql, org["unit"], [emea, amer])
    # when / then: Berlin morning is anna's, New York afternoon cara's, the night nobody's
    morning = await on_call(gql, sid, "2027-01-12T10:00:00Z")
    afternoon = await on_call(gql, sid, "2027-01-12T18:00:00Z")
    assert morning is not None
    assert afternoon is not None
    assert (morning["person"]["id"], morning["layer"]) == (org["anna"], "EMEA")
    assert morning["start"].startswith("2027-01-12T07:00:00")
    assert morning["end"].startswith("2027-01-12T15:00:00")
    assert (afternoon["person"]["id"], afternoon["layer"]) == (org["cara"], "AMER")
    # where both windows are open (13:00-15:00Z) EMEA, the top layer, wins
    assert afternoon["start"].startswith("2027-01-12T15:00:00")
    assert afternoon["end"].startswith("2027-01-12T21:00:00")
    assert await on_call(gql, sid, "2027-01-12T02:00:00Z") is None


async def test_an_override_beats_every_layer_and_overlapping_ones_are_refused(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    sid = await schedule(
        gql, org["unit"], [layer("primary", [org["anna"]], start="2026-01-05T09:00")]
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    made = await override(gql, sid, org["dai"], _iso(start), _iso(start + timedelta(hours=4)))
    assert made["errors"] == [], made
    during = await on_call(gql, sid, _iso(start + timedelta(hours=1)))
    assert during is not None
    assert (during["person"]["id"], during["source"]) == (org["dai"], "override")
    assert during["overrideId"] == made["override"]["id"]
    assert during["start"][:19] == _iso(start)[:19]
    outside = await on_call(gql, sid, _iso(start + timedelta(hours=5)))
    assert outside is not None
    assert outside["person"]["id"] == org["anna"]
    # an overlapping override for the same schedule is refused, and nothing is stored
    before = await _counts(runtime)
    clash = await override(
        gql, sid, org["ben"], _iso(start + timedelta(hours=3)), _iso(start + timedelta(hours=6))
    )
    assert [e["code"] for e in clash["errors"]] == ["CONFLICT"]
    assert await _counts(runtime) == before


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"rrule": "FREQ=FORTNIGHTLY"}, "layers.0.rrule", "INVALID"),
        ({"rrule": "FREQ=MINUTELY"}, "layers.0.rrule", "INVALID"),
        ({"rrule": "DTSTART:20270101T000000\nRRULE:FREQ=DAILY"}, "layers.0.rrule", "INVALID"),
        ({"timeZone": "Europe/Atlantis"}, "layers.0.timeZone", "INVALID"),
        ({"memberIds": []}, "layers.0.memberIds", "INVALID"),
        ({"start": "2027-03-15T09:00+01:00"}, "layers.0.start", "INVALID"),
        ({"windows": [{"start": "25:00", "end": "16:00"}]}, "layers.0.windows.0.start", "INVALID"),
        ({"memberIds": ["UGVyc29uOjk5OTk5"]}, "layers.0.memberIds", "NOT_FOUND"),
    ],
)
async def test_bad_layers_are_refused_and_nothing_is_stored(
    gql: GraphQL,
    org: dict[str, str],
    runtime: Runtime,
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    before = await _counts(runtime)
    payload = await create_schedule(
        gql, org["unit"], [{**layer("primary", [org["anna"]]), **change}]
    )
    assert payload["schedule"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await _counts(runtime) == before


async def test_a_change_is_a_new_version_with_before_and_after_in_the_audit_log(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"]])])
    data = await gql(
        "mutation($i: ScheduleUpdateInput!) { scheduleUpdate(input: $i) {"
        f" schedule {{ version layers {{ members {{ id }} }} }} {ERRORS} }} }}",
        {"i": {"scheduleId": sid, "layers": [layer("primary", [org["anna"], org["ben"]])]}},
    )
    assert data["scheduleUpdate"]["errors"] == []
    assert data["scheduleUpdate"]["schedule"]["version"] == 2
    async with runtime.db.read() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "schedule.update"))
        ).scalar_one()
    payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
    assert payload["before"]["version"] == 1
    assert payload["after"]["version"] == 2
    assert len(payload["before"]["layers"][0]["members"]) == 1
    assert len(payload["after"]["layers"][0]["members"]) == 2
    assert event.business_unit == "ops"


async def test_a_responder_reads_schedules_but_may_not_write_them(
    gql: GraphQL, org: dict[str, str]
) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"]])])
    _, token = await helpers.person_with_token(gql, "resp@ops.example", "responder", org["unit"])
    responder = gql.as_(token)
    assert (await on_call(responder, sid, "2027-03-16T10:00:00Z")) is not None
    errors = await responder.errors(
        "mutation($i: ScheduleUpdateInput!) { scheduleUpdate(input: $i) { errors { code } } }",
        {"i": {"scheduleId": sid, "name": "renamed"}},
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await responder.errors(
        "mutation($i: ScheduleCreateInput!) { scheduleCreate(input: $i) { errors { code } } }",
        {"i": {"businessUnitId": org["unit"], "name": "x", "layers": [layer("p", [org["anna"]])]}},
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
