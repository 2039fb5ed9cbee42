"""From a failing synthetic check to one classified incident, through the real pipeline:
Prometheus probes a target with the blackbox exporter, Alertmanager posts its webhook (version
4, bearer token of the `alertmanager` machine) to a real govsvc server on 127.0.0.1, and what
govsvc recorded is read back over GraphQL as an administrator.

Takes ~15 s: ~6 s for the stack to start (Prometheus's service discovery), ~4 s from the break
to the firing payload, ~1-2 s from the repair to the resolved one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from govsvc.graphql.alerts import RECEIVED_PAYLOAD
from govsvc.graphql.relay import global_id
from tests.alerts.helpers import alerts, machine_token
from tests.alerts.monitoring import ALERT_NAME, WATCHDOG, monitoring_stack
from tests.conftest import GraphQL
from tests.graphql import helpers

pytestmark = pytest.mark.slow

T = TypeVar("T")
TIMEOUT = 30.0

INCIDENTS = (
    "{ incidents(first: 10) { edges { node { id reference status severity"
    " classificationPolicyVersion detectionRule detectionVersion"
    " alerts { id ruleName detection } } } } }"
)
INGESTS = (
    '{ auditEvents(filter: {action: "alert.ingest"}, first: 100) { edges { node {'
    " actor resourceType resourceId payload } } } }"
)
SOURCES = "{ alertSources { name lastHeartbeatAt lastPayloadAt blindSince } }"


async def _until(
    what: str, probe: Callable[[], Awaitable[T | None]], *, timeout: float = TIMEOUT
) -> T:
    """Poll `probe` until it returns something other than None; fail after `timeout` s with
    the last thing seen."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.25)


async def _incidents(gql: GraphQL) -> list[dict[str, Any]]:
    return [e["node"] for e in (await gql(INCIDENTS))["incidents"]["edges"]]


async def _synthetic(gql: GraphQL) -> list[dict[str, Any]]:
    return [a for a in await alerts(gql) if a["ruleName"] == ALERT_NAME]


async def test_a_broken_target_opens_one_incident_and_its_repair_resolves_the_alert(
    tmp_path: Path, gql: GraphQL, live_server: str
) -> None:
    began = time.monotonic()
    # given a business unit with the tier-1 service portal, and Alertmanager's machine
    unit = await helpers.unit(gql, "ops")
    await helpers.service(gql, "portal", unit, tier=1)
    token = await machine_token(gql, "alertmanager", unit)

    async with monitoring_stack(
        tmp_path / "stack",
        webhook_url=f"http://{live_server}/alerts/alertmanager",
        bearer_token=token,
        service="portal",
        location="lab-1",
    ) as stack:
        print(f"stack ready in {stack.started_in:.2f} s")
        await stack.wait_for_probe(success=True)
        assert await _synthetic(gql) == []
        assert await _incidents(gql) == []

        # when the target breaks
        stack.target.down()
        broken = time.monotonic()

        async def classified_incident() -> tuple[dict[str, Any], dict[str, Any]] | None:
            found = await _synthetic(gql)
            incidents = await _incidents(gql)
            if len(found) != 1 or found[0]["detection"] != "INCIDENT" or not incidents:
                return None
            return found[0], incidents[0]

        # then one classified incident opens, with the firing alert attached
        firing, incident = await _until("a classified incident", classified_incident)
        print(f"incident {time.monotonic() - broken:.2f} s after the target broke")
        incidents = await _incidents(gql)
        assert len(incidents) == 1, incidents
        assert incident["status"] != "RESOLVED"
        assert incident["severity"] in ("SEV1", "SEV2"), incident
        assert incident["classificationPolicyVersion"], incident
        assert [(a["id"], a["ruleName"]) for a in incident["alerts"]] == [
            (firing["id"], ALERT_NAME)
        ]
        assert firing["status"] == "FIRING"
        assert (firing["detection"], firing["detectionRule"], firing["correlation"]) == (
            "INCIDENT",
            "tier1-critical",
            "origin",
        )
        assert firing["detectionVersion"]
        assert (incident["detectionRule"], incident["detectionVersion"]) == (
            "tier1-critical",
            firing["detectionVersion"],
        )
        assert firing["incident"]["id"] == incident["id"]
        assert (firing["service"]["code"], firing["perspective"], firing["location"]) == (
            "portal",
            "SYNTHETIC",
            "lab-1",
        )
        assert firing["severity"] == "critical"
        assert "paged" in [e["kind"] for e in firing["events"]]

        # when the target is repaired
        stack.target.up()
        restored = time.monotonic()

        async def resolved_alert() -> dict[str, Any] | None:
            found = await _synthetic(gql)
            return found[0] if len(found) == 1 and found[0]["status"] == "RESOLVED" else None

        # then the same alert resolves
        resolved = await _until("the alert resolved", resolved_alert)
        print(f"resolved {time.monotonic() - restored:.2f} s after the target recovered")

    # and nothing else opened: still the one incident, with that one alert
    incidents = await _incidents(gql)
    assert len(incidents) == 1, incidents
    assert incidents[0]["id"] == incident["id"]
    assert [a["id"] for a in incidents[0]["alerts"]] == [firing["id"]]
    assert resolved["id"] == firing["id"]
    assert resolved["firings"] == 1

    # the alert's history holds the firing and the resolution, each element as received
    events = resolved["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["fired", "incident_opened"], kinds
    assert (kinds.count("fired"), kinds.count("resolved")) == (1, 1), kinds
    received = {e["kind"]: json.loads(e["received"]) for e in events if e["received"]}
    assert set(received) == {"fired", "resolved"}, kinds
    assert received["fired"]["status"] == "firing"
    assert received["resolved"]["status"] == "resolved"
    for element in received.values():
        assert element["labels"]["alertname"] == ALERT_NAME
        assert element["labels"]["service"] == "portal"
        assert element["fingerprint"] == resolved["fingerprint"]
    assert received["resolved"]["startsAt"] == received["fired"]["startsAt"]
    assert received["resolved"]["endsAt"] > received["resolved"]["startsAt"]

    # every payload is on record as sent, one audit event `alert.ingest` each, by the machine
    ingests = [e["node"] for e in (await gql(INGESTS))["auditEvents"]["edges"]]
    assert ingests, "no alert.ingest audit events"
    bodies = []
    for event in ingests:
        assert event["actor"] == "machine:alertmanager", event
        assert event["resourceType"] == "alert_payload"
        assert event["payload"]["authenticated_as"] == "token:machine:alertmanager"
        raw = await gql(
            "query($id: ID!) { receivedAlertPayload(id: $id) }",
            {"id": global_id(RECEIVED_PAYLOAD, int(event["resourceId"]))},
        )
        assert raw["receivedAlertPayload"], event
        body = json.loads(raw["receivedAlertPayload"])
        assert body["version"] == "4"
        assert body["receiver"] == "govsvc"
        assert len(body["alerts"]) == event["payload"]["alerts"]
        bodies.append(body)
    seen = {(a["labels"]["alertname"], a["status"]) for b in bodies for a in b["alerts"]}
    assert {(ALERT_NAME, "firing"), (ALERT_NAME, "resolved"), (WATCHDOG, "firing")} <= seen, seen
    as_received = [a for b in bodies for a in b["alerts"] if a["labels"]["alertname"] == ALERT_NAME]
    assert received["fired"] in as_received
    assert received["resolved"] in as_received

    # and the Watchdog was taken as the source's heartbeat, not as an alert
    assert [a for a in await alerts(gql) if a["ruleName"] == WATCHDOG] == []
    (source,) = [s for s in (await gql(SOURCES))["alertSources"] if s["name"] == "alertmanager"]
    assert source["lastHeartbeatAt"], source
    assert source["lastPayloadAt"], source
    assert source["blindSince"] is None
    print(f"whole test {time.monotonic() - began:.2f} s")
