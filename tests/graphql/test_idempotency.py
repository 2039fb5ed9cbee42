"""`Idempotency-Key` on mutations over HTTP: a retry after a cut connection gets the first
answer byte for byte and writes nothing; the key is the caller's own, names one request, and
expires."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from govsvc.app import create_app
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL, build_runtime
from tests.graphql import helpers

CREATE = (
    "mutation($i: IncidentCreateInput!) { incidentCreate(input: $i) {"
    " incident { id reference } errors { field code } } }"
)
INCIDENTS = "{ incidents(first: 100) { edges { node { reference } } } }"
AUDIT = "{ auditEvents(first: 100) { edges { node { seq } } } }"


async def _service(gql: GraphQL) -> str:
    unit_id = await helpers.unit(gql, "payments")
    return await helpers.service(gql, "checkout", unit_id)


async def _post(
    http: httpx.AsyncClient,
    token: str,
    key: str | None,
    body: dict[str, Any],
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await http.post("/graphql", json=body, headers=headers)


async def _counts(gql: GraphQL) -> tuple[int, int]:
    incidents = len((await gql(INCIDENTS))["incidents"]["edges"])
    events = len((await gql(AUDIT))["auditEvents"]["edges"])
    return incidents, events


def _create(service_id: str, title: str = "Checkout errors") -> dict[str, Any]:
    return {"query": CREATE, "variables": {"i": {"title": title, "serviceId": service_id}}}


async def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a first incidentCreate under a key
    service_id = await _service(gql)
    first = await _post(http, admin_token, "retry-7f3a", _create(service_id))
    assert first.status_code == 200
    assert first.json()["data"]["incidentCreate"]["errors"] == []
    after_first = await _counts(gql)
    # when the client, never having seen that answer, retries twice
    second = await _post(http, admin_token, "retry-7f3a", _create(service_id))
    third = await _post(http, admin_token, "retry-7f3a", _create(service_id))
    # then both get the first answer, byte for byte, marked as a replay
    for replay in (second, third):
        assert replay.status_code == 200
        assert replay.content == first.content
        assert replay.headers["content-type"] == first.headers["content-type"]
        assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    # and nothing more was written: one incident, no new audit event
    assert await _counts(gql) == after_first
    assert after_first[0] == 1
    # while the same request without a key (or under a new one) writes again
    for key in (None, "retry-8b21"):
        again = await _post(http, admin_token, key, _create(service_id))
        assert again.json()["data"]["incidentCreate"]["errors"] == []
    assert (await _counts(gql))[0] == 3


async def test_the_same_key_for_another_request_is_refused_and_changes_nothing(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a key used once
    service_id = await _service(gql)
    await _post(http, admin_token, "k-1", _create(service_id, "Checkout errors"))
    before = await _counts(gql)
    # when it comes back with other variables, or another document
    other_variables = await _post(http, admin_token, "k-1", _create(service_id, "Other"))
    other_document = await _post(
        http,
        admin_token,
        "k-1",
        {
            "query": CREATE.replace("reference }", "reference title }"),
            "variables": _create(service_id)["variables"],
        },
    )
    # then a typed 422 each time, and nothing was written
    for response in (other_variables, other_document):
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _counts(gql) == before


async def test_a_key_is_the_callers_own(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given an admin's request under a key, and a responder of the same unit
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    _, responder = await helpers.person_with_token(gql, "rita@example.com", "responder", unit_id)
    mine = await _post(http, admin_token, "shared-key", _create(service_id, "Admin's"))
    # when the responder sends the same request under the same key
    theirs = await _post(http, responder, "shared-key", _create(service_id, "Admin's"))
    # then it runs as their own request: never the admin's answer
    assert theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.content != mine.content
    references = {
        response.json()["data"]["incidentCreate"]["incident"]["reference"]
        for response in (mine, theirs)
    }
    assert len(references) == 2
    # and each one's retry replays their own answer
    my_retry = await _post(http, admin_token, "shared-key", _create(service_id, "Admin's"))
    their_retry = await _post(http, responder, "shared-key", _create(service_id, "Admin's"))
    assert my_retry.content == mine.content
    assert their_retry.content == theirs.content
    assert (await _counts(gql))[0] == 2


async def test_concurrent_duplicates_run_once(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a service
    service_id = await _service(gql)
    before = await _counts(gql)
    # when a client fires the same keyed mutation four times at once
    responses = await asyncio.gather(
        *(_post(http, admin_token, "burst-1", _create(service_id)) for _ in range(4))
    )
    # then exactly one ran; each other one was refused as in flight or replayed the answer
    ran = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    assert len(ran) == 1
    for response in responses:
        if response is ran[0]:
            continue
        if response.status_code == 409:
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
            assert response.headers["retry-after"] == "1"
        else:
            assert response.headers["idempotent-replayed"] == "true"
            assert response.content == ran[0].content
    assert (await _counts(gql))[0] == before[0] + 1
    created = await gql(
        '{ auditEvents(filter: {action: "incident.create"}) { edges { node { seq } } } }'
    )
    assert len(created["auditEvents"]["edges"]) == 1
    # and a retry once the dust settles gets the one answer
    retry = await _post(http, admin_token, "burst-1", _create(service_id))
    assert retry.content == ran[0].content


async def test_a_duplicate_while_the_first_is_running_is_a_typed_conflict(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given the first request held mid-mutation (its audit write waits on a table lock)
    if runtime.db.is_sqlite:
        pytest.skip("SQLite serializes writers; the key's claim itself would wait")
    service_id = await _service(gql)
    before = await _counts(gql)
    async with runtime.db.engine.connect() as blocker:
        await blocker.exec_driver_sql("LOCK TABLE audit_event IN EXCLUSIVE MODE")
        first = asyncio.create_task(_post(http, admin_token, "slow-1", _create(service_id)))
        await asyncio.sleep(1.0)
        assert not first.done()
        # when the client retries while it runs
        # (bounded: a duplicate that ran instead would wait on the same lock)
        duplicate = await asyncio.wait_for(
            _post(http, admin_token, "slow-1", _create(service_id)), timeout=10
        )
        await blocker.rollback()
    answer = await first
    # then the duplicate is refused, the first completes, and one incident exists
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert answer.json()["data"]["incidentCreate"]["errors"] == []
    assert (await _counts(gql))[0] == before[0] + 1
    replay = await _post(http, admin_token, "slow-1", _create(service_id))
    assert replay.content == answer.content


async def test_a_key_expires_after_the_configured_time(
    settings: Settings, gql: GraphQL, admin_token: str
) -> None:
    # given keys that live one second
    service_id = await _service(gql)
    short = settings.model_copy(update={"idempotency_key_ttl_seconds": 1})
    runtime = build_runtime(short)
    transport = httpx.ASGITransport(app=create_app(short, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        first = await _post(http, admin_token, "brief", _create(service_id))
        replay = await _post(http, admin_token, "brief", _create(service_id))
        await asyncio.sleep(1.2)
        # when the same key comes after it expired
        later = await _post(http, admin_token, "brief", _create(service_id))
    await runtime.db.dispose()
    # then it is a new request
    assert replay.content == first.content
    assert "idempotent-replayed" not in later.headers
    assert later.json()["data"]["incidentCreate"]["incident"]["reference"] == "INC-2"
    assert (await _counts(gql))[0] == 2


async def test_queries_ignore_the_key_and_bad_keys_are_refused(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    service_id = await _service(gql)
    # a query under a key runs each time (it writes nothing to replay)
    query = {"query": "{ me { actor } }"}
    for _ in range(2):
        response = await _post(http, admin_token, "q-1", query)
        assert response.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}
        assert "idempotent-replayed" not in response.headers
    # a malformed key is refused before anything runs
    for bad in (b"", b"x" * 256, "café".encode(), b"a b"):
        response = await http.post(
            "/graphql",
            json=_create(service_id),
            headers=[
                (b"Authorization", f"Bearer {admin_token}".encode()),
                (b"Idempotency-Key", bad),
            ],
        )
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID"
    assert (await _counts(gql))[0] == 0
