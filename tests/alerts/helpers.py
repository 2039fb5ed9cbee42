"""Builders for alert tests: a machine that may send alerts, payloads shaped as Alertmanager
sends them (from the recorded fixtures), and a poster."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import GraphQL

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"alertmanager_{name}.json").read_text())
    return data


async def machine_token(gql: GraphQL, handle: str, unit_id: str | None) -> str:
    """A machine principal holding alert_source in `unit_id` (None: every unit), and its token."""
    data = await gql(
        "mutation($i: MachineCreateInput!) { machineCreate(input: $i) {"
        " machine { id } errors { code message } } }",
        {"i": {"handle": handle, "name": handle}},
    )
    machine_id = data["machineCreate"]["machine"]["id"]
    granted = await gql(
        "mutation($i: GrantCreateInput!) { grantCreate(input: $i) { errors { code message } } }",
        {"i": {"principalId": machine_id, "role": "alert_source", "businessUnitId": unit_id}},
    )
    assert granted["grantCreate"]["errors"] == [], granted
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) {"
        " token errors { code } } }",
        {"i": {"principalId": machine_id}},
    )
    return str(minted["apiTokenCreate"]["token"])


def alert(
    name: str,
    *,
    service: str,
    severity: str = "critical",
    perspective: str = "synthetic",
    location: str = "lab-1",
    status: str = "firing",
    started: datetime | None = None,
    fingerprint: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    """One alert element as Alertmanager writes it (the firing fixture's shape)."""
    element: dict[str, Any] = copy.deepcopy(fixture("firing")["alerts"][0])
    start = started or datetime.now(UTC) - timedelta(seconds=30)
    element["status"] = status
    element["labels"] = {
        "alertname": name,
        "service": service,
        "severity": severity,
        "perspective": perspective,
        "location": location,
        **labels,
    }
    element["annotations"] = {"summary": f"{name} on {service} from {location}"}
    element["startsAt"] = start.isoformat().replace("+00:00", "Z")
    element["endsAt"] = (
        "0001-01-01T00:00:00Z" if status == "firing" else datetime.now(UTC).isoformat()
    )
    element["fingerprint"] = fingerprint or f"{name}-{service}-{location}"
    return element


def batch(*alerts: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """A webhook payload around these alerts, as Alertmanager groups them."""
    body = fixture("firing")
    body["alerts"] = list(alerts)
    body["status"] = status or (
        "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    )
    return body


async def post(
    http: httpx.AsyncClient,
    token: str | None,
    body: Any,
    *,
    path: str = "/alerts/alertmanager",
    source: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    params = {"source": source} if source else None
    return await http.post(path, content=raw, headers=sent, params=params)


ALERT_FIELDS = (
    "id source fingerprint ruleName status severity perspective location summary"
    " detection detectionRule detectionVersion correlation count firings flapping"
    " ackSeconds acknowledgedBy noise route"
    " service { code } incident { id reference severity classificationPolicyVersion"
    " detectionRule detectionVersion }"
    " events { kind detail received }"
)


async def alerts(gql: GraphQL, **filters: Any) -> list[dict[str, Any]]:
    args = ", ".join(f"{k}: ${k}" for k in filters)
    types = {"status": "AlertStatus", "unrouted": "Boolean", "serviceId": "ID", "source": "String"}
    params = ", ".join(f"${k}: {types[k]}" for k in filters)
    query = (
        f"query{f'({params})' if params else ''} {{ alerts(first: 100{', ' if args else ''}{args})"
        f" {{ edges {{ node {{ {ALERT_FIELDS} }} }} }} }}"
    )
    data = await gql(query, filters)
    return [e["node"] for e in data["alerts"]["edges"]]
