"""Alertmanager's webhook into incidents: recorded payloads posted as Alertmanager posts them."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select

from govsvc.audit.models import AuditEvent
from govsvc.runtime import Runtime
from tests.alerts.helpers import alert, alerts, batch, fixture, post
from tests.conftest import GraphQL
from tests.graphql import helpers


async def _audit_count(runtime: Runtime) -> int:
    async with runtime.db.read() as session:
        return int(
            (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        )


async def test_a_recorded_firing_payload_opens_one_classified_incident(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    # given the payload Alertmanager sent when the synthetic check of portal failed
    body = fixture("firing")
    # when it is posted with the machine's token
    response = await post(http, ops["token"], body)
    # then one alert is recorded and, portal being tier 1 and the signal critical, one incident
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["new"], answer["incidentsOpened"], answer["replayed"]) == (1, 1, False)
    (found,) = await alerts(gql)
    assert found["ruleName"] == "SyntheticCheckFailed"
    assert found["fingerprint"] == body["alerts"][0]["fingerprint"]
    assert (found["perspective"], found["location"], found["service"]["code"]) == (
        "SYNTHETIC",
        "lab-1",
        "portal",
    )
    assert (found["detection"], found["detectionRule"], found["detectionVersion"]) == (
        "INCIDENT",
        "tier1-critical",
        "2026.1",
    )
    assert found["correlation"] == "origin"
    assert found["incident"]["classificationPolicyVersion"]
    assert (found["incident"]["detectionRule"], found["incident"]["detectionVersion"]) == (
        "tier1-critical",
        "2026.1",
    )
    assert found["incident"]["severity"] in ("SEV1", "SEV2")
    kinds = [e["kind"] for e in found["events"]]
    assert kinds[:2] == ["fired", "incident_opened"]
    assert "paged" in kinds
    # the element exactly as received is on the alert, the whole body on the payload
    assert json.loads(found["events"][0]["received"]) == body["alerts"][0]
    raw = await gql("query($id: ID!) { receivedAlertPayload(id: $id) }", {"id": answer["payload"]})
    assert json.loads(raw["receivedAlertPayload"]) == body


async def test_replays_change_nothing_and_repeats_only_count(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str], runtime: Runtime
) -> None:
    body = fixture("firing")
    first = await post(http, ops["token"], body)
    audit_before = await _audit_count(runtime)
    # when the same bytes come again (a retry), then nothing is recorded a second time
    again = await post(http, ops["token"], body)
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["payload"] == first.json()["payload"]
    assert await _audit_count(runtime) == audit_before
    # when Alertmanager repeats the notification (new bytes, same alert), it only counts
    repeated = await post(http, ops["token"], json.dumps(body, indent=1).encode())
    assert (repeated.json()["repeats"], repeated.json()["incidentsOpened"]) == (1, 0)
    (found,) = await alerts(gql)
    assert found["count"] == 2
    incidents = await gql("{ incidents(first: 10) { edges { node { id } } } }")
    assert len(incidents["incidents"]["edges"]) == 1


async def test_the_resolved_payload_resolves_the_alert(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    await post(http, ops["token"], fixture("firing"))
    response = await post(http, ops["token"], fixture("resolved"))
    assert response.json()["resolved"] == 1
    (found,) = await alerts(gql)
    assert found["status"] == "RESOLVED"
    assert [e["kind"] for e in found["events"]].count("resolved") == 1


async def test_watchdog_is_a_heartbeat_not_an_alert(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    response = await post(http, ops["token"], fixture("watchdog"))
    assert response.status_code == 200, response.text
    assert response.json()["alerts"] == []
    sources = await gql("{ alertSources { name lastHeartbeatAt lastPayloadAt blindSince } }")
    (am,) = [s for s in sources["alertSources"] if s["name"] == "alertmanager"]
    assert am["lastHeartbeatAt"]
    assert am["lastPayloadAt"]
    assert am["blindSince"] is None


async def test_unknown_labels_wait_unrouted_visible_to_administrators_only(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    response = await post(http, ops["token"], batch(alert("DiskFull", service="no-such-service")))
    assert (response.json()["unrouted"], response.json()["incidentsOpened"]) == (1, 0)
    (queued,) = await alerts(gql, unrouted=True)
    assert queued["detection"] == "UNROUTED"
    assert queued["service"] is None
    _, responder = await helpers.person_with_token(gql, "r@x.test", "responder", ops["unit"])
    assert await alerts(gql.as_(responder), unrouted=True) == []


async def test_an_administrator_routes_an_unrouted_alert_and_detection_decides_it(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    await post(http, ops["token"], batch(alert("PortalDown", service="portal-legacy")))
    (queued,) = await alerts(gql, unrouted=True)
    route = (
        "mutation($i: AlertRouteInput!) { alertRoute(input: $i) {"
        " alert { detection route service { code } incident { id } } errors { code field } } }"
    )
    data = await gql(route, {"i": {"alertId": queued["id"], "serviceId": ops["portal"]}})
    routed = data["alertRoute"]["alert"]
    assert (routed["route"], routed["service"]["code"], routed["detection"]) == (
        "manual",
        "portal",
        "INCIDENT",
    )
    assert routed["incident"]["id"]
    again = await gql(route, {"i": {"alertId": queued["id"], "serviceId": ops["portal"]}})
    assert again["alertRoute"]["errors"] == [{"code": "CONFLICT", "field": "alertId"}]
    # a unit's own administrator does not see the unrouted queue, so cannot route from it
    _, unit_admin = await helpers.person_with_token(gql, "ua@x.test", "admin", ops["unit"])
    await post(http, ops["token"], batch(alert("Other", service="nowhere")))
    (other,) = await alerts(gql, unrouted=True)
    refused = await gql.as_(unit_admin)(
        route, {"i": {"alertId": other["id"], "serviceId": ops["portal"]}}
    )
    assert refused["alertRoute"]["errors"] == [{"code": "NOT_FOUND", "field": "alertId"}]


async def test_two_alertmanager_replicas_sending_at_once_make_one_alert_and_one_incident(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    # given the same notification from two replicas of an HA pair (bytes differ: receiver)
    bodies = []
    for replica in ("am-0", "am-1"):
        body = fixture("firing")
        body["receiver"] = f"govsvc-{replica}"
        bodies.append(body)
    # when both arrive at once, four times over
    responses = await asyncio.gather(*(post(http, ops["token"], body) for body in bodies * 4))
    # then one alert counted eight times, and one incident
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["incidentsOpened"] for r in responses) == 1
    (found,) = await alerts(gql)
    assert found["count"] == 2  # six of the eight are byte-identical replays
    incidents = await gql("{ incidents(first: 10) { edges { node { id } } } }")
    assert len(incidents["incidents"]["edges"]) == 1


async def test_long_non_ascii_alerts_are_kept_exactly_as_sent(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    # given a batch of 60 alerts with non-ASCII labels and long multi-script annotations
    description = ("Zürich → 東京: Ошибка оплаты, café crème; " * 120).strip()
    sent = [
        {
            **alert(f"Überlast-{n}", service="portal", severity="info", fingerprint=f"ü-{n}"),
            "annotations": {
                "summary": f"Überlast {n} in Zürich — 東京",
                "description": description,
            },
        }
        for n in range(60)
    ]
    for element in sent:
        element["labels"]["région"] = "Île-de-France"
    response = await post(http, ops["token"], batch(*sent))
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 60
    found = {a["fingerprint"]: a for a in await alerts(gql)}
    assert len(found) == 60
    for element in sent:
        stored = found[element["fingerprint"]]
        assert stored["summary"] == element["annotations"]["summary"]
        assert json.loads(stored["events"][0]["received"]) == element
