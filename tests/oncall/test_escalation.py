"""Escalation through the API and the worker: who is on call for a service, pages per level,
escalation on time exactly once (two worker loops), acknowledgement, jurisdiction skips, and
the alerts pipeline starting an escalation."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from govsvc import usecase
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.graphql.relay import split_global_id
from govsvc.oncall import escalation
from govsvc.oncall.models import Escalation, EscalationPolicy, Page
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from govsvc.worker import jobs, run_worker
from tests.alerts.helpers import fixture, machine_token, post
from tests.conftest import GraphQL, build_runtime
from tests.graphql import helpers
from tests.oncall.helpers import ERRORS, SHIFT, layer, point_service, policy, schedule

PAGE = "id level round target state reason channels pagedAt acknowledgedAt person { email }"


def _pk(global_id: str) -> int:
    split = split_global_id(global_id)
    assert split is not None
    return split[1]


def _system(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, "system:test")


async def _ladder(gql: GraphQL, org: dict[str, str], **kw: Any) -> dict[str, str]:
    """cara's schedule at level 1, dai at level 2, a minute each; checkout points at it."""
    sid = await schedule(
        gql,
        org["unit"],
        [layer("primary", [org["cara"]], time_zone="America/New_York", start="2026-01-05T09:00")],
    )
    pid = await policy(
        gql,
        org["unit"],
        [
            {"timeoutSeconds": 60, "targets": [{"kind": "schedule", "id": sid}]},
            {"timeoutSeconds": 60, "targets": [{"kind": "person", "id": org["dai"]}]},
        ],
        **kw,
    )
    assert (await point_service(gql, org["service"], pid))["errors"] == []
    return {"schedule": sid, "policy": pid}


async def _pages(gql: GraphQL, incident_id: str) -> list[dict[str, Any]]:
    data = await gql(
        f"query($i: ID) {{ onCallPages(incidentId: $i) {{ edges {{ node {{ {PAGE} }} }} }} }}",
        {"i": incident_id},
    )
    return sorted((e["node"] for e in data["onCallPages"]["edges"]), key=lambda p: _pk(p["id"]))


async def _page_now(gql: GraphQL, incident_id: str, policy_id: str) -> dict[str, Any]:
    data = await gql(
        "mutation($i: IncidentPageInput!) { incidentPage(input: $i) {"
        f" pages {{ {PAGE} }} {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "policyId": policy_id}},
    )
    payload: dict[str, Any] = data["incidentPage"]
    return payload


async def test_who_is_on_call_resolves_the_first_level_at_a_time(
    gql: GraphQL, org: dict[str, str]
) -> None:
    sid = await schedule(gql, org["unit"], [layer("primary", [org["anna"], org["ben"]])])
    team = await helpers.team(gql, "sre", org["unit"])
    pid = await policy(
        gql,
        org["unit"],
        [
            {
                "timeoutSeconds": 300,
                "targets": [{"kind": "schedule", "id": sid}, {"kind": "person", "id": org["dai"]}],
            },
            {"timeoutSeconds": 300, "targets": [{"kind": "team", "id": team}]},
        ],
    )
    query = (
        "query($s: ID!, $at: DateTime) { whoIsOnCall(serviceId: $s, at: $at) {"
        f" target person {{ id }} shift {{ {SHIFT} }} }} }}"
    )
    # before the service points anywhere: nobody
    assert (await gql(query, {"s": org["service"], "at": "2027-03-25T12:00:00Z"}))[
        "whoIsOnCall"
    ] == []
    await point_service(gql, org["service"], pid)
    found = (await gql(query, {"s": org["service"], "at": "2027-03-25T12:00:00Z"}))["whoIsOnCall"]
    assert [(f["person"]["id"], f["target"].split(":")[0]) for f in found] == [
        (org["ben"], "schedule"),
        (org["dai"], "person"),
    ]
    assert found[0]["shift"]["start"].startswith("2027-03-22T08:00:00")
    assert found[1]["shift"] is None


async def test_an_unacknowledged_page_escalates_on_time_then_the_ladder_ends(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    ladder = await _ladder(gql, org)
    incident = await helpers.incident(gql, org["service"])
    started = await _page_now(gql, incident["id"], ladder["policy"])
    assert started["errors"] == []
    (first,) = started["pages"]
    assert (first["person"]["email"], first["level"], first["state"]) == (
        "cara@ops.example",
        1,
        "sent",
    )
    # paging the same incident through the same policy twice is refused
    again = await _page_now(gql, incident["id"], ladder["policy"])
    assert [e["code"] for e in again["errors"]] == ["CONFLICT"]
    paged_at = datetime.fromisoformat(first["pagedAt"].replace("Z", "+00:00"))
    caller = _system(runtime)
    # not yet: the level waits a minute
    early = paged_at + timedelta(seconds=59)
    assert await usecase.run(runtime, caller, escalation.escalate_due, now=early) == 0
    # on time: level 2, once
    due = paged_at + timedelta(seconds=61)
    assert await usecase.run(runtime, caller, escalation.escalate_due, now=due) == 1
    assert await usecase.run(runtime, caller, escalation.escalate_due, now=due) == 0
    pages = await _pages(gql, incident["id"])
    assert [(p["level"], p["person"]["email"]) for p in pages] == [
        (1, "cara@ops.example"),
        (2, "dai@ops.example"),
    ]
    # and after the last level times out, the escalation is exhausted
    late = due + timedelta(seconds=61)
    assert await usecase.run(runtime, caller, escalation.escalate_due, now=late) == 1
    assert (
        await usecase.run(runtime, caller, escalation.escalate_due, now=late + timedelta(hours=1))
        == 0
    )
    async with runtime.db.read() as session:
        state = (await session.execute(select(Escalation.state))).scalar_one()
    assert state == "exhausted"
    timeline = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident {"
        " timeline { edges { node { kind text } } } } } }",
        {"id": incident["id"]},
    )
    notes = [
        e["node"]["text"]
        for e in timeline["node"]["timeline"]["edges"]
        if e["node"]["kind"] == "paging"
    ]
    assert len(notes) == 3
    assert "exhausted" in notes[-1]


async def test_repeats_run_the_ladder_again(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    ladder = await _ladder(gql, org, repeats=1)
    incident = await helpers.incident(gql, org["service"])
    await _page_now(gql, incident["id"], ladder["policy"])
    caller, now = _system(runtime), utcnow()
    for step in range(1, 4):
        moved = await usecase.run(
            runtime, caller, escalation.escalate_due, now=now + timedelta(seconds=61 * step)
        )
        assert moved == 1
    pages = await _pages(gql, incident["id"])
    assert [(p["round"], p["level"]) for p in pages] == [(1, 1), (1, 2), (2, 1), (2, 2)]


async def test_acknowledging_stops_the_escalation(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    ladder = await _ladder(gql, org)
    incident = await helpers.incident(gql, org["service"])
    (first,) = (await _page_now(gql, incident["id"], ladder["policy"]))["pages"]
    # cara herself acknowledges, with no role in the unit
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) { token } }",
        {"i": {"principalId": org["cara"]}},
    )
    cara = gql.as_(minted["apiTokenCreate"]["token"])
    ack = "mutation($i: PageAcknowledgeInput!) { pageAcknowledge(input: $i) {" + (
        f" page {{ acknowledgedAt acknowledgedBy }} {ERRORS} }} }}"
    )
    done = await cara(ack, {"i": {"pageId": first["id"]}})
    assert done["pageAcknowledge"]["errors"] == []
    assert done["pageAcknowledge"]["page"]["acknowledgedBy"] == "cara@ops.example"
    twice = await cara(ack, {"i": {"pageId": first["id"]}})
    assert [e["code"] for e in twice["pageAcknowledge"]["errors"]] == ["CONFLICT"]
    later = utcnow() + timedelta(minutes=10)
    assert await usecase.run(runtime, _system(runtime), escalation.escalate_due, now=later) == 0
    assert len(await _pages(gql, incident["id"])) == 1
    # someone else, neither paged nor a responder there, finds no such page
    _, token = await helpers.person_with_token(gql, "stranger@ops.example")
    stranger = await gql.as_(token)(ack, {"i": {"pageId": first["id"]}})
    assert [e["code"] for e in stranger["pageAcknowledge"]["errors"]] == ["NOT_FOUND"]


async def test_quiet_hours_and_rest_skip_a_person_and_say_why(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    # anna (DE: quiet 22:00-06:00 Berlin, 11 h rest) holds the schedule; ben is level 2
    sid = await schedule(
        gql, org["unit"], [layer("primary", [org["anna"]], start="2026-01-05T09:00")]
    )
    pid = await policy(
        gql,
        org["unit"],
        [
            {"timeoutSeconds": 60, "targets": [{"kind": "schedule", "id": sid}]},
            {"timeoutSeconds": 60, "targets": [{"kind": "person", "id": org["cara"]}]},
        ],
    )
    caller = _system(runtime)
    night = datetime(2027, 1, 12, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    first = await helpers.incident(gql, org["service"], title="Night outage")
    await usecase.run(
        runtime,
        caller,
        escalation.page,
        incident_id=_pk(first["id"]),
        policy_id=_pk(pid),
        now=night,
    )
    (skipped,) = await _pages(gql, first["id"])
    assert (skipped["state"], skipped["person"]["email"]) == ("skipped", "anna@ops.example")
    assert skipped["reason"].startswith("quiet hours 22:00-06:00 (DE")
    # nobody was paged at level 1, so level 2 (cara) is due at once, not after the timeout
    assert await usecase.run(runtime, caller, escalation.escalate_due, now=night) == 1
    assert [(p["level"], p["state"]) for p in await _pages(gql, first["id"])] == [
        (1, "skipped"),
        (2, "sent"),
    ]
    # by day she is paged; an hour later, for another incident, her rest keeps her out
    day = datetime(2027, 1, 13, 10, 0, tzinfo=UTC)
    second = await helpers.incident(gql, org["service"], title="Morning outage")
    third = await helpers.incident(gql, org["service"], title="Late morning outage")
    await usecase.run(
        runtime, caller, escalation.page, incident_id=_pk(second["id"]), policy_id=_pk(pid), now=day
    )
    await usecase.run(
        runtime,
        caller,
        escalation.page,
        incident_id=_pk(third["id"]),
        policy_id=_pk(pid),
        now=day + timedelta(hours=1),
    )
    assert [p["state"] for p in await _pages(gql, second["id"])] == ["sent"]
    (rested,) = await _pages(gql, third["id"])
    assert rested["state"] == "skipped"
    assert rested["reason"].startswith("rest: paged for another incident")


@pytest.fixture
async def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_escalation_interval_seconds": 0.05})


@pytest.mark.slow  # two worker loops for a few seconds
async def test_two_worker_loops_escalate_each_page_exactly_once(
    gql: GraphQL, org: dict[str, str], runtime: Runtime, fast_settings: Settings
) -> None:
    ladder = await _ladder(gql, org)
    caller = _system(runtime)
    # twelve incidents paged two minutes ago: every level 1 has timed out
    ago = utcnow() - timedelta(minutes=2)
    incidents = []
    for n in range(12):
        incident = await helpers.incident(gql, org["service"], title=f"Outage {n}")
        incidents.append(incident["id"])
        await usecase.run(
            runtime,
            caller,
            escalation.page,
            incident_id=_pk(incident["id"]),
            policy_id=_pk(ladder["policy"]),
            now=ago,
        )
    # two workers, each its own runtime (engine and pool), loop together
    workers = [build_runtime(fast_settings) for _ in range(2)]
    assert any(job.name == escalation.JOB and not job.exclusive for job in jobs(workers[0]))
    stop = asyncio.Event()
    loops = [asyncio.create_task(run_worker(w, stop=stop)) for w in workers]
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while asyncio.get_running_loop().time() < deadline:
            async with runtime.db.read() as session:
                second = (
                    await session.execute(
                        select(func.count()).select_from(Page).where(Page.level == 2)
                    )
                ).scalar_one()
            if second >= 12:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # time for a repeat, were there to be one
    finally:
        stop.set()
        await asyncio.gather(*loops)
        for w in workers:
            await w.db.dispose()
    async with runtime.db.read() as session:
        rows = (
            await session.execute(
                select(Page.escalation_id, Page.level, func.count()).group_by(
                    Page.escalation_id, Page.level
                )
            )
        ).all()
    counts = {(e, level): n for e, level, n in rows}
    assert len({e for e, _ in counts}) == 12
    assert all(n == 1 for n in counts.values()), counts
    assert sum(1 for (_, level) in counts if level == 2) == 12


async def test_an_alert_opening_an_incident_starts_the_services_escalation(
    gql: GraphQL, http: httpx.AsyncClient, org: dict[str, str]
) -> None:
    # the recorded Alertmanager payload names service "portal" (tier 1)
    portal = await helpers.service(gql, "portal", org["unit"], tier=1)
    ladder = await _ladder(gql, org)
    assert (await point_service(gql, portal, ladder["policy"]))["errors"] == []
    token = await machine_token(gql, "alertmanager", org["unit"])
    response = await post(http, token, fixture("firing"))
    assert response.status_code == 200, response.text
    assert response.json()["incidentsOpened"] == 1
    data = await gql("{ incidents { edges { node { id service { code } } } } }")
    (incident,) = [
        e["node"] for e in data["incidents"]["edges"] if e["node"]["service"]["code"] == "portal"
    ]
    pages = await _pages(gql, incident["id"])
    assert [(p["level"], p["person"]["email"], p["state"]) for p in pages] == [
        (1, "cara@ops.example", "sent")
    ]


@pytest.mark.parametrize(
    ("levels", "repeats", "field"),
    [
        ([], 0, "levels"),
        (
            [{"timeoutSeconds": 30, "targets": [{"kind": "person", "id": "@dai"}]}],
            0,
            "levels.0.timeoutSeconds",
        ),
        ([{"timeoutSeconds": 60, "targets": []}], 0, "levels.0.targets"),
        (
            [{"timeoutSeconds": 60, "targets": [{"kind": "pager", "id": "@dai"}]}],
            0,
            "levels.0.targets.0.kind",
        ),
        ([{"timeoutSeconds": 60, "targets": [{"kind": "person", "id": "@dai"}]}], 11, "repeats"),
        (
            [{"timeoutSeconds": 60, "targets": [{"kind": "team", "id": "VGVhbTo5OTk="}]}],
            0,
            "levels.0.targets.0.id",
        ),
    ],
)
async def test_bad_policies_are_refused_and_nothing_is_stored(
    gql: GraphQL,
    org: dict[str, str],
    runtime: Runtime,
    levels: list[dict[str, Any]],
    repeats: int,
    field: str,
) -> None:
    for level in levels:
        for target in level["targets"]:
            if target["id"] == "@dai":
                target["id"] = org["dai"]
    async with runtime.db.read() as session:
        before = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    data = await gql(
        "mutation($i: EscalationPolicyCreateInput!) { escalationPolicyCreate(input: $i) {"
        f" policy {{ id }} {ERRORS} }} }}",
        {"i": {"businessUnitId": org["unit"], "name": "x", "repeats": repeats, "levels": levels}},
    )
    payload = data["escalationPolicyCreate"]
    assert payload["policy"] is None
    assert [e["field"] for e in payload["errors"]] == [field]
    async with runtime.db.read() as session:
        after = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        policies = (
            await session.execute(select(func.count()).select_from(EscalationPolicy))
        ).scalar_one()
    assert (after, policies) == (before, 0)


async def test_a_service_points_at_a_policy_of_its_own_unit_and_can_be_unpointed(
    gql: GraphQL, org: dict[str, str]
) -> None:
    other = await helpers.unit(gql, "other")
    foreign = await policy(
        gql, other, [{"timeoutSeconds": 60, "targets": [{"kind": "person", "id": org["dai"]}]}]
    )
    refused = await point_service(gql, org["service"], foreign)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("policyId", "INVALID")]
    own = await policy(
        gql,
        org["unit"],
        [{"timeoutSeconds": 60, "targets": [{"kind": "person", "id": org["dai"]}]}],
    )
    assert (await point_service(gql, org["service"], own))["policyId"] == own
    again = await point_service(gql, org["service"], own)
    assert [e["code"] for e in again["errors"]] == ["INVALID"]
    cleared = await point_service(gql, org["service"], None)
    assert cleared["errors"] == []
    assert cleared["policyId"] is None
    found = await gql(
        "query($s: ID!) { whoIsOnCall(serviceId: $s) { target } }", {"s": org["service"]}
    )
    assert found["whoIsOnCall"] == []


async def test_two_pages_of_one_incident_at_once_start_one_escalation(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    ladder = await _ladder(gql, org)
    incident = await helpers.incident(gql, org["service"])
    answers = await asyncio.gather(
        *(_page_now(gql, incident["id"], ladder["policy"]) for _ in range(3))
    )
    codes = sorted(e["code"] for a in answers for e in a["errors"])
    assert codes == ["CONFLICT", "CONFLICT"]
    async with runtime.db.read() as session:
        assert (
            await session.execute(select(func.count()).select_from(Escalation))
        ).scalar_one() == 1
    assert len(await _pages(gql, incident["id"])) == 1


async def test_a_policy_change_is_a_version_and_an_escalation_under_way_keeps_its_ladder(
    gql: GraphQL, org: dict[str, str], runtime: Runtime
) -> None:
    ladder = await _ladder(gql, org)
    incident = await helpers.incident(gql, org["service"])
    (first,) = (await _page_now(gql, incident["id"], ladder["policy"]))["pages"]
    # the policy becomes one level (ben only), after cara's page went out
    data = await gql(
        "mutation($i: EscalationPolicyUpdateInput!) { escalationPolicyUpdate(input: $i) {"
        f" policy {{ version levels {{ targets {{ kind id }} }} }} {ERRORS} }} }}",
        {
            "i": {
                "policyId": ladder["policy"],
                "levels": [
                    {"timeoutSeconds": 60, "targets": [{"kind": "person", "id": org["ben"]}]}
                ],
            }
        },
    )
    updated = data["escalationPolicyUpdate"]
    assert updated["errors"] == []
    assert updated["policy"]["version"] == 2
    assert len(updated["policy"]["levels"]) == 1
    # the escalation under way still goes to level 2 of its own ladder: dai, not ben
    paged_at = datetime.fromisoformat(first["pagedAt"].replace("Z", "+00:00"))
    due = paged_at + timedelta(seconds=61)
    assert await usecase.run(runtime, _system(runtime), escalation.escalate_due, now=due) == 1
    pages = await _pages(gql, incident["id"])
    assert [p["person"]["email"] for p in pages] == ["cara@ops.example", "dai@ops.example"]
    async with runtime.db.read() as session:
        event = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "escalation_policy.update")
            )
        ).scalar_one()
    payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
    assert len(payload["before"]["levels"]) == 2
    assert len(payload["after"]["levels"]) == 1
    # a new incident pages by the new ladder
    second = await helpers.incident(gql, org["service"], title="Another outage")
    (page,) = (await _page_now(gql, second["id"], ladder["policy"]))["pages"]
    assert page["person"]["email"] == "ben@ops.example"


async def test_a_deactivated_person_on_a_schedule_is_skipped_saying_so(
    gql: GraphQL, org: dict[str, str]
) -> None:
    ladder = await _ladder(gql, org)
    await gql(
        "mutation($i: PersonUpdateInput!) { personUpdate(input: $i) { errors { code } } }",
        {"i": {"id": org["cara"], "active": False}},
    )
    incident = await helpers.incident(gql, org["service"])
    (page,) = (await _page_now(gql, incident["id"], ladder["policy"]))["pages"]
    assert (page["state"], page["person"]["email"]) == ("skipped", "cara@ops.example")
    assert page["reason"].startswith("deactivated")
