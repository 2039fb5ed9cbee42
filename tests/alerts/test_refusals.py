"""Bad payloads and bad credentials: a clear status with the reason, and nothing stored."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
from sqlalchemy import func, select

from govsvc.alerts.models import Alert, AlertPayload
from govsvc.runtime import Runtime
from tests.alerts.helpers import alert, batch, fixture, machine_token, post
from tests.conftest import GraphQL
from tests.graphql import helpers

UPTIME_SECRET = "uptime-shared-secret-for-tests"


async def _stored(runtime: Runtime) -> tuple[int, int]:
    async with runtime.db.read() as session:
        payloads = (await session.execute(select(func.count()).select_from(AlertPayload))).scalar()
        alerts = (await session.execute(select(func.count()).select_from(Alert))).scalar()
    return int(payloads or 0), int(alerts or 0)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b"", 400, "body"),
        (b"[1, 2]", 400, "body"),
        (json.dumps({**fixture("firing"), "version": "3"}).encode(), 400, "version"),
        (json.dumps({**fixture("firing"), "alerts": "many"}).encode(), 400, "alerts"),
        (
            json.dumps(batch({**alert("X", service="portal"), "startsAt": "yesterday"})).encode(),
            400,
            "alerts[0].startsAt",
        ),
        (
            json.dumps(batch({**alert("X", service="portal"), "status": "burning"})).encode(),
            400,
            "alerts[0].status",
        ),
        (
            json.dumps(batch(alert("X", service="portal"), {"labels": "nope"})).encode(),
            400,
            "alerts[1].labels",
        ),
        (
            json.dumps(batch(alert("X", service="portal", note="a\u0000b"))).encode(),
            400,
            "alerts.0.labels.note",
        ),
        (
            json.dumps(batch(alert("X", service="portal", fingerprint="f" * 201))).encode(),
            400,
            "alerts[0].fingerprint",
        ),
    ],
)
async def test_a_bad_payload_is_refused_whole_and_stores_nothing(
    http: httpx.AsyncClient,
    ops: dict[str, str],
    runtime: Runtime,
    body: bytes,
    status: int,
    field: str,
) -> None:
    response = await post(http, ops["token"], body)
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert error["message"]
    assert await _stored(runtime) == (0, 0)


async def test_an_oversized_payload_is_413(
    http: httpx.AsyncClient, ops: dict[str, str], runtime: Runtime
) -> None:
    huge = batch(*[alert(f"A{n}", service="portal", pad="x" * 1000) for n in range(9000)])
    response = await post(http, ops["token"], huge)
    assert response.status_code == 413
    assert "larger than" in response.json()["errors"][0]["message"]
    assert await _stored(runtime) == (0, 0)


async def test_credentials(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str], runtime: Runtime
) -> None:
    body = fixture("firing")
    # no credential, a wrong one: 401
    assert (await post(http, None, body)).status_code == 401
    assert (await post(http, "gs_not-a-token", body)).status_code == 401
    # a person (no alert_source role): 403
    _, person = await helpers.person_with_token(gql, "p@x.test", "responder", ops["unit"])
    assert (await post(http, person, body)).status_code == 403
    # a machine with the role that the source does not list: 403, also when naming it
    stranger = await machine_token(gql, "stranger", ops["unit"])
    assert (await post(http, stranger, body)).status_code == 400  # no source of its own
    assert (await post(http, stranger, body, source="alertmanager")).status_code == 403
    # the right machine, the wrong kind of source
    generic = await post(http, ops["token"], body, path="/alerts/generic", source="alertmanager")
    assert generic.status_code == 403
    assert await _stored(runtime) == (0, 0)


def _signed(body: bytes, secret: str = UPTIME_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Govsvc-Signature": f"sha256={digest}"}


UPTIME = {
    "checks": [
        {
            "monitor": "login-page",
            "region": "eu-west",
            "state": "down",
            "level": "page",
            "message": "Login page answers 503",
            "checked_at": "2026-12-08T00:00:00Z",
            "tags": {"service": "portal", "env": "prod"},
        }
    ]
}


async def test_a_generic_tool_signed_with_its_secret(
    http: httpx.AsyncClient,
    gql: GraphQL,
    ops: dict[str, str],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVSVC_ALERT_SECRET_UPTIME", UPTIME_SECRET)
    body = json.dumps(UPTIME).encode()
    # a wrong signature, a missing source, an unknown one: one answer, 401
    for source, headers in (
        ("uptime", _signed(body, "wrong")),
        (None, _signed(body)),
        ("nobody", _signed(body)),
        ("uptime", {"X-Govsvc-Signature": "md5=abc"}),
    ):
        response = await post(
            http, None, body, path="/alerts/generic", source=source, headers=headers
        )
        assert response.status_code == 401, response.text
    assert await _stored(runtime) == (0, 0)
    # signed right: mapped through policies/alert_sources.yaml
    response = await post(
        http, None, body, path="/alerts/generic", source="uptime", headers=_signed(body)
    )
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 1
    data = await gql(
        "{ alerts(first: 5) { edges { node { source fingerprint ruleName severity perspective"
        " location summary status service { code } labels { name value } } } } }"
    )
    (node,) = [e["node"] for e in data["alerts"]["edges"]]
    assert node["source"] == "uptime"
    assert node["fingerprint"] == "login-page/eu-west"
    assert (node["ruleName"], node["severity"], node["perspective"]) == (
        "login-page",
        "critical",
        "SYNTHETIC",
    )
    assert (node["location"], node["summary"], node["service"]["code"]) == (
        "eu-west",
        "Login page answers 503",
        "portal",
    )
    assert {"name": "env", "value": "prod"} in node["labels"]
    # the audit log says how it was authenticated
    events = await gql("{ auditEvents(first: 50) { edges { node { action actor payload } } } }")
    (ingest,) = [
        e["node"] for e in events["auditEvents"]["edges"] if e["node"]["action"] == "alert.ingest"
    ]
    assert ingest["actor"] == "alert-source:uptime"
    assert ingest["payload"]["authenticated_as"] == "hmac:uptime"
    # an unknown state word is refused, naming it
    bad = json.dumps({"checks": [{**UPTIME["checks"][0], "state": "sideways"}]}).encode()
    refused = await post(
        http, None, bad, path="/alerts/generic", source="uptime", headers=_signed(bad)
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "alerts[0].status"


async def test_a_machine_cannot_route_into_a_unit_it_does_not_send_for(
    http: httpx.AsyncClient, gql: GraphQL, ops: dict[str, str]
) -> None:
    other = await helpers.unit(gql, "other")
    await helpers.service(gql, "ledger", other, tier=1)
    response = await post(http, ops["token"], batch(alert("Down", service="ledger")))
    unknown = await post(http, ops["token"], batch(alert("Down", service="no-such")))
    assert response.status_code == unknown.status_code == 200
    assert response.json()["unrouted"] == unknown.json()["unrouted"] == 1
    assert response.json()["incidentsOpened"] == 0
