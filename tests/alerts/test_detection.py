"""From alerts to incidents: detection rules, corroboration, correlation across dependencies,
flapping, storms and blind monitoring."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from govsvc import usecase
from govsvc.alerts import detect, heartbeat
from govsvc.alerts.models import Alert, AlertEvent, SourceHeartbeat
from govsvc.caller import Caller
from govsvc.policies import Policies
from govsvc.runtime import Runtime
from govsvc.settings import REPO_ROOT, Settings
from tests.alerts.helpers import alert, alerts, batch, fixture, post
from tests.conftest import GraphQL
from tests.graphql import helpers

INCIDENTS = "{ incidents(first: 100) { edges { node { id title service { code } } } } }"


async def _incidents(gql: GraphQL) -> list[dict[str, object]]:
    return [e["node"] for e in (await gql(INCIDENTS))["incidents"]["edges"]]


async def _tick(runtime: Runtime) -> int:
    caller = Caller.system(runtime.policies.access, "system:worker")
    return await usecase.run(runtime, caller, detect.evaluate_pending)


async def test_tier_2_waits_for_a_second_location_then_opens(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str], runtime: Runtime
) -> None:
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    one = alert("SearchDown", service="search", location="eu-west", started=long_ago)
    await post(http, ops["token"], batch(one))
    (pending,) = await alerts(gql)
    assert pending["detection"] == "PENDING"
    assert pending["detectionRule"] == "tier2-corroborated"
    assert await _incidents(gql) == []
    # a second location agrees: the incident opens, once, with both alerts on it
    two = alert("SearchDown", service="search", location="us-east", started=long_ago)
    response = await post(http, ops["token"], batch(two))
    assert response.json()["incidentsOpened"] == 1
    assert await _tick(runtime) == 0  # the waiting one was decided with it
    (incident,) = await _incidents(gql)
    found = {a["location"]: a for a in await alerts(gql)}
    assert found["us-east"]["detection"] == found["eu-west"]["detection"] == "INCIDENT"
    assert found["eu-west"]["incident"]["id"] == incident["id"]


async def test_a_minimum_duration_is_waited_for_by_the_worker(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str], runtime: Runtime
) -> None:
    # a warning on a tier-1 service must last five minutes
    await post(http, ops["token"], batch(alert("Slow", service="portal", severity="warning")))
    assert await _tick(runtime) == 0
    (found,) = await alerts(gql)
    assert found["detection"] == "PENDING"
    async with runtime.db.write() as session:
        await session.execute(
            update(Alert).values(fired_at=datetime.now(UTC) - timedelta(minutes=6))
        )
    assert await _tick(runtime) == 1
    (found,) = await alerts(gql)
    assert found["detection"] == "INCIDENT"
    assert found["detectionRule"] == "tier1-warning-sustained"


async def test_info_signals_are_kept_but_never_page(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    await post(http, ops["token"], batch(alert("Note", service="portal", severity="info")))
    (found,) = await alerts(gql)
    assert found["detection"] == "IGNORED"
    assert "no rule opens an incident" in found["events"][-1]["detail"]
    assert await _incidents(gql) == []


async def _depends(gql: GraphQL, service: str, on: str) -> None:
    data = await gql(
        "mutation($i: ServiceDependencyInput!) { serviceDependencyAdd(input: $i) {"
        " errors { code message } } }",
        {"i": {"serviceId": service, "dependsOnId": on}},
    )
    assert data["serviceDependencyAdd"]["errors"] == []


async def test_a_cascade_is_one_incident_with_its_upstream_cause_first(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    # given checkout -> payments -> database, and portal unrelated
    checkout = await helpers.service(gql, "checkout", ops["unit"], tier=1)
    payments = await helpers.service(gql, "payments", ops["unit"], tier=1)
    database = await helpers.service(gql, "database", ops["unit"], tier=1)
    await _depends(gql, checkout, payments)
    await _depends(gql, payments, database)
    # when checkout's alert arrives first, then payments', then the database's, then portal's
    for name, service in (
        ("CheckoutErrors", "checkout"),
        ("PaymentsTimeouts", "payments"),
        ("DatabaseDown", "database"),
        ("PortalDown", "portal"),
    ):
        await post(http, ops["token"], batch(alert(name, service=service)))
    # then the three form one incident, portal another
    incidents = await _incidents(gql)
    assert sorted(str(i["service"]["code"]) for i in incidents) == ["checkout", "portal"]  # type: ignore[index]
    (cascade,) = [i for i in incidents if i["service"]["code"] == "checkout"]  # type: ignore[index]
    data = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { alerts { ruleName correlation } } } }",
        {"id": cascade["id"]},
    )
    listed = [(a["ruleName"], a["correlation"]) for a in data["node"]["alerts"]]
    assert listed[-1] == ("CheckoutErrors", "origin")
    assert set(listed[:2]) == {("PaymentsTimeouts", "upstream"), ("DatabaseDown", "upstream")}


async def test_flapping_is_detected_and_damped(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    for n in range(6):
        status = "firing" if n % 2 == 0 else "resolved"
        element = alert("Flappy", service="portal", status=status, seq=str(n))
        await post(http, ops["token"], batch(element))
    (found,) = await alerts(gql)
    assert found["flapping"] is True
    assert "flapping" in [e["kind"] for e in found["events"]]
    # a new firing while flapping joins no new page
    await post(http, ops["token"], batch(alert("Flappy", service="portal", seq="6")))
    (found,) = await alerts(gql)
    assert [e["kind"] for e in found["events"]].count("paged") <= 1


async def test_a_storm_caps_pages_but_loses_no_alert(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str], runtime: Runtime
) -> None:
    # given 30 independent tier-1 services (the source limit is 20 pages a minute)
    for n in range(30):
        await helpers.service(gql, f"svc-{n}", ops["unit"], tier=1)
    sent = [
        alert("Down", service=f"svc-{n}", fingerprint=f"down-{n}-{r}")
        for n in range(30)
        for r in range(3)
    ]
    response = await post(http, ops["token"], batch(*sent))
    assert response.status_code == 200, response.text
    async with runtime.db.read() as session:
        stored = (await session.execute(select(func.count()).select_from(Alert))).scalar()
        kinds = dict(
            (
                await session.execute(
                    select(AlertEvent.kind, func.count()).group_by(AlertEvent.kind)
                )
            ).all()
        )
    assert stored == 90
    assert kinds["paged"] == 20
    assert kinds["page_suppressed"] == 10
    incidents = await _incidents(gql)
    storms = [i for i in incidents if str(i["title"]).startswith("Alert storm")]
    assert len(storms) == 1
    assert len(incidents) == 30 + 1


async def test_a_silent_source_opens_monitoring_blind_incidents(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    # given the alertmanager source covering portal, heard once long ago
    directory = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", directory)
    sources = directory / "alert_sources.yaml"
    sources.write_text(sources.read_text().replace("covers: []", "covers: [portal]", 1))
    runtime = Runtime.build(settings, policies=Policies.load(directory, REPO_ROOT / "controls"))
    await post(http, ops["token"], fixture("watchdog"))
    async with runtime.db.write() as session:
        await session.execute(
            update(SourceHeartbeat).values(last_heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
    caller = Caller.system(runtime.policies.access, "system:worker")
    # when the worker looks, then one blind incident opens on portal, and only once
    assert await usecase.run(runtime, caller, heartbeat.find_blind_sources) == ["alertmanager"]
    assert await usecase.run(runtime, caller, heartbeat.find_blind_sources) == []
    (blind,) = await _incidents(gql)
    assert str(blind["title"]).startswith("Monitoring blind: alertmanager")
    # and the next Watchdog ends the blind spell
    await post(http, ops["token"], json.dumps(fixture("watchdog"), indent=3).encode())
    status = await gql("{ alertSources { name blindSince blindIncidentIds } }")
    (am,) = [s for s in status["alertSources"] if s["name"] == "alertmanager"]
    assert am["blindSince"] is None
    await runtime.db.dispose()
