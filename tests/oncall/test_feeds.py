"""ICS feeds: created once with their URL, parsed with icalendar as a calendar app would,
DST-correct hand-offs, revocation, and unknown tokens that look like missing pages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar

from govsvc.caller import Caller
from govsvc.oncall import feeds
from govsvc.runtime import Runtime
from govsvc.usecase import reading
from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.oncall.helpers import ERRORS, layer, schedule

FEED = f"feed {{ id kind prefix revokedAt }} url {ERRORS}"


async def _feed(gql: GraphQL, **target: str) -> dict[str, str]:
    data = await gql(
        f"mutation($i: OnCallFeedCreateInput!) {{ onCallFeedCreate(input: $i) {{ {FEED} }} }}",
        {"i": target},
    )
    payload = data["onCallFeedCreate"]
    assert payload["errors"] == [], payload
    return {"id": payload["feed"]["id"], "url": payload["url"]}


def _path(url: str) -> str:
    return url[url.index("/oncall/") :]


def _events(body: bytes) -> list[tuple[datetime, datetime, str]]:
    calendar = Calendar.from_ical(body)
    return [
        (e.decoded("dtstart"), e.decoded("dtend"), str(e.get("summary")))
        for e in calendar.walk("VEVENT")
    ]


async def test_a_schedule_feed_shows_the_next_sixty_days_over_http(
    gql: GraphQL, http: httpx.AsyncClient, org: dict[str, str]
) -> None:
    sid = await schedule(
        gql, org["unit"], [layer("primary", [org["anna"], org["ben"]], start="2026-01-05T09:00")]
    )
    feed = await _feed(gql, scheduleId=sid)
    assert feed["url"].startswith("http")
    assert feed["url"].endswith(".ics")
    response = await http.get(_path(feed["url"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = _events(response.content)
    # weekly shifts: about nine in 60 days, back to back, each a Monday 09:00 Berlin hand-off
    assert 8 <= len(events) <= 10
    for (_, end, _), (start, _, _) in itertools.pairwise(events):
        assert end == start
    for start, _, summary in events[1:]:
        local = start.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert "Primary" in summary


async def test_the_feed_hands_off_at_0800z_before_and_0700z_after_the_last_sunday_of_march(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"], org["ben"]])])
    feed = await _feed(gql, scheduleId=sid)
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    caller = Caller.system(runtime.policies.access, "system:test")
    async with reading(runtime, caller) as uc:
        body = await feeds.calendar(uc, token=token, now=datetime(2027, 3, 10, tzinfo=UTC))
    starts = [start for start, _, _ in _events(body)]
    assert datetime(2027, 3, 22, 8, 0, tzinfo=UTC) in starts  # CET: 09:00 is 08:00Z
    assert datetime(2027, 3, 29, 7, 0, tzinfo=UTC) in starts  # CEST: 09:00 is 07:00Z
    assert all(s.tzinfo is not None for s in starts)


async def test_a_person_feed_has_only_their_shifts_from_every_schedule(
    gql: GraphQL, http: httpx.AsyncClient, org: dict[str, str]
) -> None:
    await schedule(
        gql,
        org["unit"],
        [layer("a", [org["anna"], org["ben"]], start="2026-01-05T09:00")],
        name="A",
    )
    await schedule(
        gql,
        org["unit"],
        [layer("b", [org["ben"], org["cara"]], start="2026-01-05T09:00")],
        name="B",
    )
    feed = await _feed(gql, personId=org["ben"])
    events = _events((await http.get(_path(feed["url"]))).content)
    summaries = {summary for _, _, summary in events}
    assert summaries == {"On call: Ben (A)", "On call: Ben (B)"}


async def test_anyone_may_subscribe_to_their_own_shifts_but_not_to_someone_elses(
    gql: GraphQL, http: httpx.AsyncClient, org: dict[str, str]
) -> None:
    await schedule(gql, org["unit"], [layer("a", [org["anna"]], start="2026-01-05T09:00")])
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) { token } }",
        {"i": {"principalId": org["anna"]}},
    )
    anna = gql.as_(minted["apiTokenCreate"]["token"])  # anna holds no role at all
    own = await anna(
        f"mutation($i: OnCallFeedCreateInput!) {{ onCallFeedCreate(input: $i) {{ {FEED} }} }}",
        {"i": {"personId": org["anna"]}},
    )
    assert own["onCallFeedCreate"]["errors"] == []
    events = _events((await http.get(_path(own["onCallFeedCreate"]["url"]))).content)
    assert events
    assert all("Anna" in summary for _, _, summary in events)
    _, token = await helpers.person_with_token(gql, "resp@ops.example", "responder", org["unit"])
    errors = await gql.as_(token).errors(
        f"mutation($i: OnCallFeedCreateInput!) {{ onCallFeedCreate(input: $i) {{ {FEED} }} }}",
        {"i": {"personId": org["anna"]}},
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_revoked_or_unknown_token_is_404_alike(
    gql: GraphQL, http: httpx.AsyncClient, org: dict[str, str]
) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"]])])
    feed = await _feed(gql, scheduleId=sid)
    revoked = await gql(
        f"mutation($i: OnCallFeedRevokeInput!) {{ onCallFeedRevoke(input: $i) {{ {FEED} }} }}",
        {"i": {"feedId": feed["id"]}},
    )
    assert revoked["onCallFeedRevoke"]["feed"]["revokedAt"] is not None
    gone = await http.get(_path(feed["url"]))
    unknown = await http.get("/oncall/gsf_" + "x" * 43 + ".ics")
    garbage = await http.get("/oncall/nothing.ics")
    assert gone.status_code == unknown.status_code == garbage.status_code == 404
    assert gone.json() == unknown.json() == garbage.json()
    # and revoking twice is refused
    again = await gql(
        f"mutation($i: OnCallFeedRevokeInput!) {{ onCallFeedRevoke(input: $i) {{ {FEED} }} }}",
        {"i": {"feedId": feed["id"]}},
    )
    assert [e["code"] for e in again["onCallFeedRevoke"]["errors"]] == ["NOT_FOUND"]


async def test_a_feed_names_a_schedule_or_a_person(gql: GraphQL, org: dict[str, str]) -> None:
    data = await gql(
        f"mutation($i: OnCallFeedCreateInput!) {{ onCallFeedCreate(input: $i) {{ {FEED} }} }}",
        {"i": {}},
    )
    assert data["onCallFeedCreate"]["url"] is None
    assert [e["code"] for e in data["onCallFeedCreate"]["errors"]] == ["INVALID"]
