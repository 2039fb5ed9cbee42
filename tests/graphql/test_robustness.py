"""Hostile input over HTTP gets a typed refusal, never an internal error: ids and cursors past
what a column holds, ids spelt another way, NUL and broken Unicode, undecodable or absurdly
nested bodies, and a database that cannot answer while a caller is authenticated."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from govsvc.app import create_app
from govsvc.settings import Settings
from tests.conftest import GraphQL, build_runtime, free_port
from tests.graphql import helpers

NODE = "query($id: ID!) { node(id: $id) { id } }"
NOTE = (
    "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i) {"
    " errors { field code } } }"
)
INCIDENT_CREATE = (
    "mutation($i: IncidentCreateInput!) { incidentCreate(input: $i) {"
    " incident { id } errors { code } } }"
)
COUNT = "{ incidents(first: 100) { edges { node { id } } } }"
HUGE = [2**31, 2**32 + 1, 2**63, 10**30]


def gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def _incident(gql: GraphQL) -> str:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    return str((await helpers.incident(gql, service_id))["id"])


async def _upload(http: httpx.AsyncClient, token: str, incident_id: str) -> dict[str, Any]:
    response = await http.post(
        "/evidence",
        params={"title": "Log", "kind": "log_export", "incidentId": incident_id},
        content=b"log line\n",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 201, response.text
    evidence: dict[str, Any] = response.json()["evidence"]
    return evidence


async def test_ids_and_cursors_beyond_a_column_are_missing_not_internal_errors(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given an incident, so that there is something a wrong key could reach
    await _incident(gql)
    auth = {"Authorization": f"Bearer {admin_token}"}
    for number in HUGE:
        # when an id or a cursor carries a number no id column holds
        node = await gql(NODE, {"id": gid(f"Incident:{number}")})
        nodes = await gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            {"ids": [gid(f"Incident:{number}"), gid(f"AuditEvent:{number}")]},
        )
        note = await gql(NOTE, {"i": {"incidentId": gid(f"Incident:{number}"), "text": "x"}})
        page = await gql(
            "query($a: String) { incidents(after: $a) { edges { node { id } } } }",
            {"a": cursor(f"cursor:{number}")},
        )
        audit = await gql(
            "query($a: String) { auditEvents(after: $a) { edges { node { seq } } } }",
            {"a": cursor(f"cursor:{number}")},
        )
        evidence = await http.get(
            f"/evidence/{gid(f'EvidenceItem:{number}')}/content", headers=auth
        )
        pack = await http.get(f"/audit-packs/{gid(f'AuditPack:{number}')}/content", headers=auth)
        upload = await http.post(
            "/evidence",
            params={"title": "Log", "kind": "log_export", "incidentId": gid(f"Incident:{number}")},
            content=b"x",
            headers={**auth, "Content-Type": "text/plain"},
        )
        # then each answers as for any id that names nothing
        assert node == {"node": None}
        assert nodes == {"nodes": [None, None]}
        assert note["incidentTimelineAdd"]["errors"] == [
            {"field": "incidentId", "code": "NOT_FOUND"}
        ]
        assert page == {"incidents": {"edges": []}}
        assert audit == {"auditEvents": {"edges": []}}
        for response in (evidence, pack, upload):
            assert response.status_code == 404, response.text
            assert response.json()["errors"][0]["code"] == "NOT_FOUND"


async def test_an_id_resolves_only_as_it_was_handed_out(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given an incident with evidence, both with key 1
    incident_id = await _incident(gql)
    evidence = await _upload(http, admin_token, incident_id)
    assert incident_id == gid("Incident:1")
    assert evidence["id"] == gid("EvidenceItem:1")
    auth = {"Authorization": f"Bearer {admin_token}"}
    other_spellings = [
        gid("Incident: 1 "),
        gid("Incident:01"),
        gid("Incident:+1"),
        gid("Incident:1_"),
        gid("Incident:\u0661"),  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
        gid("Incident:\uff11"),  # FULLWIDTH DIGIT ONE
        incident_id.rstrip("="),  # the same bytes without padding
        incident_id[:4] + "\n" + incident_id[4:],  # a character base64 would skip
        incident_id[:4] + "!" + incident_id[4:],
    ]
    for spelling in other_spellings:
        # when a client spells the same id another way
        node = await gql(NODE, {"id": spelling})
        note = await gql(NOTE, {"i": {"incidentId": spelling, "text": "x"}})
        # then it names nothing
        assert node == {"node": None}, spelling
        assert note["incidentTimelineAdd"]["errors"] == [
            {"field": "incidentId", "code": "NOT_FOUND"}
        ]
    for spelling in (gid("EvidenceItem:01"), gid("EvidenceItem:\u0661")):
        response = await http.get(f"/evidence/{spelling}/content", headers=auth)
        assert response.status_code == 404, spelling
    # and an id of another type names no incident, even where two types are accepted
    mapped = await gql(
        "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
        " state errors { field code } } }",
        {"i": {"controlKey": "soc2:CC7.3", "targetId": gid("Person:1"), "confirm": True}},
    )
    assert mapped["controlMappingDecide"]["errors"] == [{"field": "targetId", "code": "NOT_FOUND"}]
    # and the id as handed out still works everywhere
    assert await gql(NODE, {"id": incident_id}) == {"node": {"id": incident_id}}
    assert (await http.get(f"/evidence/{evidence['id']}/content", headers=auth)).status_code == 200
    page = await gql(
        "query($a: String) { incidents(after: $a) { edges { node { id } } } }",
        {"a": cursor("cursor:02")},
    )
    assert page == {"incidents": {"edges": []}}


async def test_nul_in_any_string_is_a_typed_request_error_and_changes_nothing(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a service to report against
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    before = await gql(COUNT)
    # when NUL arrives in a variable, deep in an input object or a list, or in a literal
    refused = [
        await gql.post(INCIDENT_CREATE, {"i": {"title": "db\u0000down", "serviceId": service_id}}),
        await gql.post(
            INCIDENT_CREATE,
            {"i": {"title": "db down", "serviceId": service_id, "tags": ["dns", "a\u0000"]}},
        ),
        await gql.post(
            'mutation { incidentCreate(input: {title: "db\\u0000down", serviceId: "'
            + service_id
            + '"}) { incident { id } errors { code } } }'
        ),
        await gql.post(
            "query($s: String) { auditEvents(filter: {actor: $s}) { edges { node { seq } } } }",
            {"s": "\u0000"},
        ),
    ]
    # then each is a request error naming the input, nothing ran, nothing was stored
    for response in refused:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("data") is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert "NUL" in error["message"]
    assert refused[0].json()["errors"][0]["extensions"]["field"] == "i.title"
    assert refused[1].json()["errors"][0]["extensions"]["field"] == "i.tags.1"
    assert await gql(COUNT) == before
    # and a client speaking application/graphql-response+json gets a 400 for it
    strict = await http.post(
        "/graphql",
        json={"query": INCIDENT_CREATE, "variables": {"i": {"title": "\u0000", "serviceId": "x"}}},
        headers={
            "Authorization": f"Bearer {admin_token}",
            "Accept": "application/graphql-response+json",
        },
    )
    assert strict.status_code == 400
    assert strict.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unpaired_surrogates_are_refused_as_bad_json(
    http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a body whose JSON escapes name half a UTF-16 pair (no UTF-8 encoding exists)
    body = b'{"query": "query($s: String) { auditEvents(filter: {actor: $s}) { edges {'
    body += b' node { seq } } } }", "variables": {"s": "\\ud800"}}'
    # when
    response = await http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
    )
    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_nul_in_a_url_is_refused_before_any_route(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given an incident
    incident_id = await _incident(gql)
    auth = {"Authorization": f"Bearer {admin_token}", "Content-Type": "text/plain"}
    # when evidence arrives titled with a NUL, and a download names one
    upload = await http.post(
        "/evidence",
        params={"title": "Log\u0000", "kind": "log_export", "incidentId": incident_id},
        content=b"x",
        headers=auth,
    )
    download = await http.get("/evidence/a%00b/content", headers=auth)
    # then both are typed refusals, and nothing was stored
    for response in (upload, download):
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    listed = await gql("{ evidence { edges { node { id } } } }")
    assert listed == {"evidence": {"edges": []}}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"query": "{ me { actor } }", "x": "\xff\xfe"}', "application/json"),
        (b'{"query": "{ me { actor } }", "x": "\xed\xa0\x80"}', "application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (
            b'{"query": "{ me { actor } }", "variables": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "application/json",
        ),
        (b"1", "application/json"),
        (b"null", "application/json"),
        (b'"{ me { actor } }"', "application/json"),
        (b"not json", "application/json"),
    ],
    ids=[
        "invalid-utf8",
        "encoded-surrogate",
        "nested-100k",
        "nested-variables",
        "number",
        "null",
        "string",
        "junk",
    ],
)
async def test_an_undecodable_body_is_a_json_400(
    http: httpx.AsyncClient, admin_token: str, body: bytes, content_type: str
) -> None:
    # when
    response = await http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": content_type},
    )
    # then
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


async def test_deeply_nested_variables_over_get_are_a_json_400(
    http: httpx.AsyncClient, admin_token: str
) -> None:
    # (5,000 levels: deeper than Python's recursion limit, and an URL httpx still sends)
    response = await http.get(
        "/graphql",
        params={"query": "{ me { actor } }", "variables": "[" * 5_000 + "]" * 5_000},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # while variables=null still means none
    fine = await http.get(
        "/graphql",
        params={"query": "{ me { actor } }", "variables": "null"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert fine.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}


def _unreachable(settings: Settings) -> Settings:
    """The same settings, pointing at a database that is not there."""
    if settings.is_sqlite:
        url = "sqlite+aiosqlite:////nonexistent-directory/govsvc.db"
    else:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test"
    return settings.model_copy(update={"database_url": url, "db_pool_timeout_seconds": 2})


@pytest.mark.parametrize("path", ["/graphql", "/evidence/x/content", "/audit-packs/x/content"])
async def test_a_database_error_while_authenticating_is_a_json_503_with_the_request_id(
    settings: Settings, admin_token: str, path: str
) -> None:
    # given a server whose database cannot be reached
    broken = _unreachable(settings)
    runtime = build_runtime(broken)
    transport = httpx.ASGITransport(app=create_app(broken, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        # when a caller with a valid token calls
        response = await http.request(
            "POST" if path == "/graphql" else "GET",
            path,
            json={"query": "{ me { actor } }"},
            headers={"Authorization": f"Bearer {admin_token}", "X-Request-Id": "req-503"},
        )
    await runtime.db.dispose()
    # then it is told to come back, in JSON, with the id to quote
    assert response.status_code == 503, response.text
    assert response.headers["x-request-id"] == "req-503"
    assert int(response.headers["retry-after"]) > 0
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "requestId": "req-503"}
    assert "req-503" in error["message"]
    assert "Traceback" not in response.text


async def test_an_exhausted_pool_is_a_json_503_after_the_configured_wait(
    settings: Settings, admin_token: str
) -> None:
    # given one connection per process, and it is busy
    small = settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.5}
    )
    runtime = build_runtime(small)
    assert runtime.db.engine.pool.size() == 1  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=create_app(small, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        async with runtime.db.engine.connect() as held:
            await held.exec_driver_sql("SELECT 1")
            # when a request needs a connection
            busy = await http.post(
                "/graphql",
                json={"query": "{ me { actor } }"},
                headers={"Authorization": f"Bearer {admin_token}"},
            )
        # then it is refused after the pool's wait, and served once the connection is back
        fine = await http.post(
            "/graphql",
            json={"query": "{ me { actor } }"},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
    await runtime.db.dispose()
    assert busy.status_code == 503, busy.text
    assert busy.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert fine.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}


def test_pool_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    for name, value in {
        "GOVSVC_DB_POOL_SIZE": "7",
        "GOVSVC_DB_MAX_OVERFLOW": "3",
        "GOVSVC_DB_POOL_TIMEOUT_SECONDS": "4.5",
        "GOVSVC_DB_POOL_RECYCLE_SECONDS": "600",
    }.items():
        monkeypatch.setenv(name, value)
    # when
    settings = Settings()
    # then
    assert (
        settings.db_pool_size,
        settings.db_max_overflow,
        settings.db_pool_timeout_seconds,
        settings.db_pool_recycle_seconds,
    ) == (7, 3, 4.5, 600)
    assert Settings.model_fields["db_pool_size"].default == 10


async def test_an_audit_window_that_ends_before_it_starts_is_empty_not_an_error(
    gql: GraphQL,
) -> None:
    # given events exist
    await gql("{ me { actor } }")
    # when the window is upside down (schemathesis found this answered as an error)
    data = await gql(
        '{ auditEvents(filter: {since: "2651-06-02T07:28:11Z", until: "0013-03-01T14:57:43Z"})'
        " { edges { node { seq } } } }"
    )
    # then
    assert data["auditEvents"]["edges"] == []
