"""Alerts through the GraphQL API: acknowledging, marking noise, silences, rule noise, an
incident's alerts, and what a page of alerts costs in statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from strawberry import relay

from govsvc.audit.models import AuditEvent
from govsvc.runtime import Runtime
from tests.alerts.helpers import alert, batch, machine_token, post
from tests.conftest import GraphQL, StatementCounter
from tests.graphql import helpers

ERRORS = "errors { field message code }"
ALERT = (
    "id status ruleName ackSeconds acknowledgedAt acknowledgedBy noise noiseReason"
    " events { kind detail }"
)
ACKNOWLEDGE = (
    "mutation($i: AlertAcknowledgeInput!) { alertAcknowledge(input: $i)"
    f" {{ alert {{ {ALERT} }} {ERRORS} }} }}"
)
MARK_NOISE = (
    "mutation($i: AlertMarkNoiseInput!) { alertMarkNoise(input: $i)"
    f" {{ alert {{ {ALERT} }} {ERRORS} }} }}"
)
SILENCE = "id kind reason startsAt endsAt cancelledAt cancelledBy service { code }"
SILENCE_CREATE = (
    "mutation($i: AlertSilenceCreateInput!) { alertSilenceCreate(input: $i)"
    f" {{ silence {{ {SILENCE} }} {ERRORS} }} }}"
)
SILENCE_CANCEL = (
    "mutation($i: AlertSilenceCancelInput!) { alertSilenceCancel(input: $i)"
    f" {{ silence {{ {SILENCE} }} {ERRORS} }} }}"
)
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Alert {{ {ALERT} }} }} }}"


def _at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def _pk(global_id: str) -> str:
    return relay.from_base64(global_id)[1]


@dataclass
class Ops:
    unit: str
    portal: str
    search: str
    token: str  # the alertmanager machine's, alert_source in the unit
    http: httpx.AsyncClient

    async def send(self, *elements: dict[str, Any]) -> dict[str, Any]:
        response = await post(self.http, self.token, batch(*elements))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def fire(self, name: str, service: str = "portal", fingerprint: str | None = None) -> str:
        """One firing alert; its global id."""
        answer = await self.send(alert(name, service=service, fingerprint=fingerprint))
        (alert_id,) = answer["alerts"]
        return str(alert_id)


@pytest.fixture
async def ops(gql: GraphQL, http: httpx.AsyncClient) -> Ops:
    """A unit with two tier-1 services and the `alertmanager` machine sending into it."""
    unit = await helpers.unit(gql, "ops")
    return Ops(
        unit=unit,
        portal=await helpers.service(gql, "portal", unit, tier=1),
        search=await helpers.service(gql, "search", unit, tier=1),
        token=await machine_token(gql, "alertmanager", unit),
        http=http,
    )


async def _as(gql: GraphQL, ops: Ops, email: str, role: str, *, everywhere: bool = False) -> Any:
    _, token = await helpers.person_with_token(gql, email, role, None if everywhere else ops.unit)
    return gql.as_(token)


async def _payload(client: GraphQL, document: str, values: dict[str, Any]) -> dict[str, Any]:
    data = await client(document, {"i": values})
    (payload,) = data.values()
    result: dict[str, Any] = payload
    return result


def _codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def _actions(runtime: Runtime, action: str) -> list[AuditEvent]:
    async with runtime.db.read() as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


# ---------------------------------------------------------------------------- acknowledge


async def test_a_responder_acknowledges_a_firing_alert_once(
    gql: GraphQL, ops: Ops, runtime: Runtime
) -> None:
    # given a firing alert and a responder of its unit
    alert_id = await ops.fire("SyntheticCheckFailed")
    responder = await _as(gql, ops, "oncall@ops.test", "responder")
    # when they acknowledge it
    payload = await _payload(responder, ACKNOWLEDGE, {"alertId": alert_id, "note": "on it"})
    # then the time from firing is kept, with who, an event and an audit record
    assert payload["errors"] == [], payload
    acked = payload["alert"]
    assert acked["ackSeconds"] >= 0
    assert "oncall@ops.test" in acked["acknowledgedBy"]
    assert acked["acknowledgedAt"]
    (event,) = [e for e in acked["events"] if e["kind"] == "acknowledged"]
    assert event["detail"].endswith(": on it")
    (audited,) = await _actions(runtime, "alert.acknowledge")
    assert audited.resource_type == "alert"
    assert audited.resource_id == _pk(alert_id)
    # when it is acknowledged a second time, then that conflicts and nothing changes
    again = await _payload(responder, ACKNOWLEDGE, {"alertId": alert_id})
    assert _codes(again) == [("alertId", "CONFLICT")]
    assert again["alert"] is None
    assert len(await _actions(runtime, "alert.acknowledge")) == 1


async def test_a_resolved_alert_cannot_be_acknowledged(gql: GraphQL, ops: Ops) -> None:
    alert_id = await ops.fire("ProbeFailed", fingerprint="probe")
    resolved = await ops.send(
        alert("ProbeFailed", service="portal", status="resolved", fingerprint="probe")
    )
    assert resolved["resolved"] == 1
    payload = await _payload(gql, ACKNOWLEDGE, {"alertId": alert_id})
    assert _codes(payload) == [("alertId", "CONFLICT")]


async def test_who_may_not_acknowledge_is_refused_and_a_made_up_alert_is_not_found(
    gql: GraphQL, ops: Ops
) -> None:
    alert_id = await ops.fire("SyntheticCheckFailed")
    # an auditor reads the unit's alerts but may not act on them: denied, top-level
    auditor = await _as(gql, ops, "audit@ops.test", "auditor")
    errors = await auditor.errors(ACKNOWLEDGE, {"i": {"alertId": alert_id}})
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    # a plain viewer does not even see alerts: to them it does not exist
    viewer = await _as(gql, ops, "view@ops.test", "viewer")
    unseen = await _payload(viewer, ACKNOWLEDGE, {"alertId": alert_id})
    assert _codes(unseen) == [("alertId", "NOT_FOUND")]
    # nobody's made-up id is found
    made_up = await _payload(gql, ACKNOWLEDGE, {"alertId": relay.to_base64("Alert", 987654)})
    assert _codes(made_up) == [("alertId", "NOT_FOUND")]
    assert made_up["alert"] is None
    still = await gql(NODE, {"id": alert_id})
    assert still["node"]["acknowledgedAt"] is None


# ---------------------------------------------------------------------------- noise


async def test_marking_noise_keeps_the_reason_and_needs_one(
    gql: GraphQL, ops: Ops, runtime: Runtime
) -> None:
    alert_id = await ops.fire("CpuHigh")
    responder = await _as(gql, ops, "oncall@ops.test", "responder")
    payload = await _payload(
        responder, MARK_NOISE, {"alertId": alert_id, "reason": "threshold far too low"}
    )
    assert payload["errors"] == [], payload
    assert (payload["alert"]["noise"], payload["alert"]["noiseReason"]) == (
        True,
        "threshold far too low",
    )
    assert "noise" in [e["kind"] for e in payload["alert"]["events"]]
    assert len(await _actions(runtime, "alert.mark_noise")) == 1
    # an empty reason is refused, on another alert as on this one
    other = await ops.fire("CpuHigh", service="search")
    empty = await _payload(responder, MARK_NOISE, {"alertId": other, "reason": ""})
    assert _codes(empty) == [("reason", "INVALID")]
    assert (await gql(NODE, {"id": other}))["node"]["noise"] is False


# ---------------------------------------------------------------------------- silences


async def test_a_commander_silences_a_service_and_its_next_page_is_held_not_its_record(
    gql: GraphQL, ops: Ops
) -> None:
    # given a commander of the unit silences portal
    commander = await _as(gql, ops, "ic@ops.test", "incident_commander")
    created = await _payload(
        commander,
        SILENCE_CREATE,
        {"serviceId": ops.portal, "endsAt": _at(hours=2), "reason": "database upgrade"},
    )
    assert created["errors"] == [], created
    silence = created["silence"]
    assert (silence["kind"], silence["service"]["code"]) == ("silence", "portal")
    # when a critical alert on portal opens a new incident
    answer = await ops.send(alert("SyntheticCheckFailed", service="portal"))
    # then the incident opens and the alert is recorded, but the page is suppressed
    assert (answer["new"], answer["incidentsOpened"]) == (1, 1)
    (alert_id,) = answer["alerts"]
    found = await gql(
        "query($id: ID!) { node(id: $id) { ... on Alert { detection incident { id }"
        " events { kind detail } } } }",
        {"id": alert_id},
    )
    node = found["node"]
    assert node["detection"] == "INCIDENT"
    assert node["incident"] is not None
    kinds = [e["kind"] for e in node["events"]]
    assert "paged" not in kinds
    (held,) = [e for e in node["events"] if e["kind"] == "page_suppressed"]
    assert held["detail"] == f"silence #{_pk(silence['id'])}"
    # and an alert on the service it does not cover still pages
    other = await ops.send(alert("SyntheticCheckFailed", service="search"))
    events = await gql(NODE, {"id": other["alerts"][0]})
    assert "paged" in [e["kind"] for e in events["node"]["events"]]


async def test_a_matcher_only_silence_covers_every_unit_so_needs_a_grant_everywhere(
    gql: GraphQL, ops: Ops
) -> None:
    values = {
        "matchers": [{"label": "severity", "op": "=", "value": "warning"}],
        "endsAt": _at(hours=1),
        "reason": "noisy warnings during the migration",
    }
    commander = await _as(gql, ops, "ic@ops.test", "incident_commander")
    errors = await commander.errors(SILENCE_CREATE, {"i": values})
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    # a commander everywhere may
    everywhere = await _as(gql, ops, "chief@ops.test", "incident_commander", everywhere=True)
    created = await _payload(everywhere, SILENCE_CREATE, values)
    assert created["errors"] == [], created
    assert created["silence"]["service"] is None


async def test_a_silence_with_a_bad_matcher_or_an_end_in_the_past_is_invalid(
    gql: GraphQL, ops: Ops
) -> None:
    base = {"serviceId": ops.portal, "endsAt": _at(hours=1), "reason": "maintenance"}
    bad_regex = await _payload(
        gql,
        SILENCE_CREATE,
        {**base, "matchers": [{"label": "job", "op": "=~", "value": "(unclosed"}]},
    )
    assert _codes(bad_regex) == [("matchers.0", "INVALID")]
    past = await _payload(gql, SILENCE_CREATE, {**base, "endsAt": _at(minutes=-5)})
    assert _codes(past) == [("endsAt", "INVALID")]
    listed = await gql("{ alertSilences { edges { node { id } } } }")
    assert listed["alertSilences"]["edges"] == []


async def test_a_cancelled_silence_cannot_be_cancelled_again(
    gql: GraphQL, ops: Ops, runtime: Runtime
) -> None:
    commander = await _as(gql, ops, "ic@ops.test", "incident_commander")
    created = await _payload(
        commander,
        SILENCE_CREATE,
        {"serviceId": ops.portal, "endsAt": _at(hours=1), "reason": "maintenance"},
    )
    silence_id = created["silence"]["id"]
    cancelled = await _payload(commander, SILENCE_CANCEL, {"silenceId": silence_id})
    assert cancelled["errors"] == [], cancelled
    assert cancelled["silence"]["cancelledAt"]
    assert "ic@ops.test" in cancelled["silence"]["cancelledBy"]
    again = await _payload(commander, SILENCE_CANCEL, {"silenceId": silence_id})
    assert _codes(again) == [("silenceId", "CONFLICT")]
    assert len(await _actions(runtime, "alert.silence_cancel")) == 1


async def test_silences_active_at_a_time(gql: GraphQL, ops: Ops) -> None:
    async def create(**values: Any) -> str:
        created = await _payload(
            gql, SILENCE_CREATE, {"serviceId": ops.portal, "reason": "window", **values}
        )
        assert created["errors"] == [], created
        return str(created["silence"]["id"])

    now = await create(endsAt=_at(hours=1))
    later = await create(startsAt=_at(hours=2), endsAt=_at(hours=3), kind="maintenance")
    cancelled = await create(endsAt=_at(hours=1))
    await _payload(gql, SILENCE_CANCEL, {"silenceId": cancelled})
    query = "query($at: DateTime) { alertSilences(activeAt: $at) { edges { node { id } } } }"

    async def active(at: str | None) -> list[str]:
        data = await gql(query, {"at": at})
        return [e["node"]["id"] for e in data["alertSilences"]["edges"]]

    assert await active(None) == [cancelled, later, now]  # newest first
    assert await active(_at(minutes=1)) == [now]
    assert await active(_at(hours=2, minutes=30)) == [later]
    assert await active(_at(hours=4)) == []


# ---------------------------------------------------------------------------- rule noise

NOISE = (
    "query($since: DateTime!, $until: DateTime!) { alertRuleNoise(since: $since, until: $until)"
    " { source ruleName fired acknowledged incidents noise noiseRatio } }"
)


async def test_rule_noise_ranks_the_rule_marked_noise_first(gql: GraphQL, ops: Ops) -> None:
    # given two rules firing twice each, and one alert of the second marked as noise
    await ops.fire("DiskFull", service="portal")
    await ops.fire("DiskFull", service="search")
    await ops.fire("LatencyHigh", service="portal")
    noisy = await ops.fire("LatencyHigh", service="search")
    marked = await _payload(gql, MARK_NOISE, {"alertId": noisy, "reason": "flaps on deploys"})
    assert marked["errors"] == [], marked
    # when rule noise is asked over the period
    data = await gql(NOISE, {"since": _at(hours=-1), "until": _at(hours=1)})
    # then the rule with noise-marked firings comes first
    ranked = data["alertRuleNoise"]
    assert [r["ruleName"] for r in ranked] == ["LatencyHigh", "DiskFull"]
    assert (ranked[0]["source"], ranked[0]["fired"], ranked[0]["noise"]) == (
        "alertmanager",
        2,
        1,
    )
    assert ranked[0]["noiseRatio"] == 0.5
    assert (ranked[1]["fired"], ranked[1]["noise"], ranked[1]["noiseRatio"]) == (2, 0, 0.0)


async def test_rule_noise_over_an_upside_down_period_is_bad_input(gql: GraphQL) -> None:
    errors = await gql.errors(NOISE, {"since": _at(hours=1), "until": _at(hours=-1)})
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in errors] == [
        ("INVALID", "until")
    ]


# ---------------------------------------------------------------------------- incidents


async def test_an_incident_lists_its_alerts(gql: GraphQL, ops: Ops) -> None:
    # given two alerts on portal in one payload: the first opens an incident, the second joins
    answer = await ops.send(
        alert("SyntheticCheckFailed", service="portal", location="lab-1"),
        alert("SyntheticCheckFailed", service="portal", location="lab-2"),
    )
    assert answer["incidentsOpened"] == 1
    found = await gql(
        "query($id: ID!) { node(id: $id) { ... on Alert { incident { id } } } }",
        {"id": answer["alerts"][0]},
    )
    incident_id = found["node"]["incident"]["id"]
    # and an alert on another service, of another incident
    await ops.fire("SyntheticCheckFailed", service="search")
    data = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident {"
        " alerts { id location correlation incident { id } } } } }",
        {"id": incident_id},
    )
    alerts = data["node"]["alerts"]
    assert sorted(a["id"] for a in alerts) == sorted(answer["alerts"])
    assert sorted(a["correlation"] for a in alerts) == ["origin", "same_service"]
    assert {a["incident"]["id"] for a in alerts} == {incident_id}


# ---------------------------------------------------------------------------- statements

PAGE = """
query($first: Int!) {
  alerts(first: $first) {
    edges { node {
      id ruleName status
      service { code name businessUnit { code } }
      incident { id reference severity }
      events { kind detail at }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.mark.slow  # 30 alerts and their incidents
async def test_a_page_of_alerts_costs_the_same_statements_at_any_size(
    gql: GraphQL, ops: Ops, sql_statements: StatementCounter
) -> None:
    # given 30 alerts over three services, each service's first opening an incident
    third = await helpers.service(gql, "checkout", ops.unit, tier=1)
    assert third
    services = ["portal", "search", "checkout"]
    answer = await ops.send(
        *(alert(f"Rule{n}", service=services[n % 3], location=f"lab-{n}") for n in range(30))
    )
    assert (answer["new"], answer["incidentsOpened"]) == (30, 3)

    async def count(first: int) -> int:
        sql_statements.reset()
        data = await gql(PAGE, {"first": first})
        edges = data["alerts"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["service"] and e["node"]["incident"] for e in edges)
        assert all(e["node"]["events"] for e in edges)
        return sql_statements.count

    small = await count(3)
    large = await count(30)
    assert small == large, "\n".join(s[:90] for s in sql_statements.statements)
