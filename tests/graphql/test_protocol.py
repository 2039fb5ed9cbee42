"""The GraphQL endpoint as a client sees it: limits, introspection, masking, the schema file."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from govsvc.app import create_app
from govsvc.graphql.schema import schema_sdl
from govsvc.runtime import Runtime
from govsvc.settings import Environment, Settings
from tests.conftest import GraphQL, build_runtime
from tests.graphql import helpers

SCHEMA_FILE = Path(__file__).parents[2] / "schema.graphql"


def test_the_committed_schema_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql is stale: run `make schema` and commit it"
    )


async def test_a_query_deeper_than_the_limit_is_refused(gql: GraphQL) -> None:
    # given a query nesting units through their parents beyond the depth limit
    deep = "{ businessUnits { edges { node { " + "parent { " * 12 + "code" + " }" * 12 + " } } } }"
    # when
    errors = await gql.errors(deep)
    # then
    assert "exceeds maximum operation depth" in errors[0]["message"]


async def test_too_many_aliases_are_refused(gql: GraphQL) -> None:
    query = "{ " + " ".join(f"a{n}: me {{ actor }}" for n in range(30)) + " }"
    errors = await gql.errors(query)
    assert "aliases" in errors[0]["message"]


async def test_introspection_is_off_outside_dev(gql: GraphQL) -> None:
    errors = await gql.errors("{ __schema { types { name } } }")
    assert "introspection" in errors[0]["message"].lower()


async def test_introspection_is_on_in_dev(settings: Settings, admin_token: str) -> None:
    # given the same database served in dev mode
    dev = settings.model_copy(update={"env": Environment.DEV})
    runtime = build_runtime(dev)
    transport = httpx.ASGITransport(app=create_app(dev, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        # when
        data = await GraphQL(http, admin_token)("{ __schema { queryType { name } } }")
    await runtime.db.dispose()
    # then
    assert data == {"__schema": {"queryType": {"name": "Query"}}}


async def test_an_unexpected_failure_is_masked_with_the_request_id(
    gql: GraphQL, runtime: Runtime
) -> None:
    # given an incident, then a table that its query needs goes missing
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    await helpers.incident(gql, service_id, tags=["dns"])
    async with runtime.db.write() as session:
        await session.execute(text("ALTER TABLE incident_tag RENAME TO incident_tag_hidden"))
    # when
    try:
        response = await gql.post("{ incidents { edges { node { title tags } } } }")
    finally:  # the PostgreSQL schema outlives this test
        async with runtime.db.write() as session:
            await session.execute(text("ALTER TABLE incident_tag_hidden RENAME TO incident_tag"))
    # then no SQL, no stack trace; a request id to quote, the same one the header carries
    body = response.json()
    [error] = body["errors"]
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert request_id in error["message"]
    assert "incident_tag" not in response.text
    assert "Traceback" not in response.text


async def test_queries_work_over_get_and_echo_a_sane_request_id(
    http: httpx.AsyncClient, admin_token: str
) -> None:
    # when
    response = await http.get(
        "/graphql",
        params={"query": "{ me { actor } }"},
        headers={"Authorization": f"Bearer {admin_token}", "X-Request-Id": "portal-42"},
    )
    # then
    assert response.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}
    assert response.headers["x-request-id"] == "portal-42"


async def test_an_insane_request_id_is_replaced(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz", headers={"X-Request-Id": "x" * 500})
    assert len(response.headers["x-request-id"]) == 32


async def test_mutations_are_refused_over_get(http: httpx.AsyncClient, admin_token: str) -> None:
    response = await http.get(
        "/graphql",
        params={
            "query": 'mutation { businessUnitCreate(input: {code: "x", name: "X"})'
            " { businessUnit { id } } }"
        },
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code in (400, 405)
    assert "mutation" in response.text.lower()


async def test_graphql_response_json_gets_400_for_a_document_that_never_ran(
    http: httpx.AsyncClient, admin_token: str
) -> None:
    # given a client that speaks the GraphQL-over-HTTP response media type
    headers = {
        "Authorization": f"Bearer {admin_token}",
        "Accept": "application/graphql-response+json",
    }
    # when the document does not parse, or does not validate
    unparsable = await http.post("/graphql", json={"query": "{ me { "}, headers=headers)
    invalid = await http.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    fine = await http.post("/graphql", json={"query": "{ me { actor } }"}, headers=headers)
    # then
    for response in (unparsable, invalid):
        assert response.status_code == 400
        assert "data" not in response.json()
        assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert fine.status_code == 200
    assert fine.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}
