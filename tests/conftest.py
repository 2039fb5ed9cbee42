"""Fixtures over real databases: SQLite (a fresh file per test) or the machine's PostgreSQL
(a schema per run, emptied before each test). Choose with GOVSVC_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import event

from govsvc.app import create_app
from govsvc.bootstrap import bootstrap_admin
from govsvc.migrate import upgrade
from govsvc.runtime import Runtime
from govsvc.settings import Environment, Settings
from tests.s3 import lock_bucket, moto_endpoint, plain_bucket, s3_client  # noqa: F401

TEST_DATABASE = os.environ.get("GOVSVC_TEST_DATABASE_URL", "sqlite")
SECRET = "test-secret-" + "x" * 40
MASTER_KEY = "test-master-key-" + "y" * 40


@dataclass(frozen=True)
class Template:
    kind: str  # "sqlite" | "postgresql"
    location: str  # template file path, or schema name


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    if TEST_DATABASE == "sqlite":
        path = tmp_path_factory.mktemp("template") / "govsvc.db"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield Template("sqlite", str(path))
        return
    schema = f"govsvc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def ddl(sql: str) -> None:
        connection = await asyncpg.connect(_pg_dsn(TEST_DATABASE))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(ddl(f'CREATE SCHEMA "{schema}"'))
    upgrade(TEST_DATABASE, schema)
    yield Template("postgresql", schema)
    asyncio.run(ddl(f'DROP SCHEMA "{schema}" CASCADE'))


async def _empty_schema(schema: str) -> None:
    connection = await asyncpg.connect(
        _pg_dsn(TEST_DATABASE), server_settings={"search_path": schema}
    )
    try:
        tables = [
            r["tablename"]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> "
                "'alembic_version'",
                schema,
            )
        ]
        # The audit table refuses TRUNCATE by trigger; a test harness may step around it.
        await connection.execute("SET session_replication_role = replica")
        await connection.execute(
            "TRUNCATE "
            + ", ".join(f'"{schema}"."{t}"' for t in tables)
            + " RESTART IDENTITY CASCADE"
        )
    finally:
        await connection.close()


@pytest.fixture
async def settings(database_template: Template, tmp_path: Path) -> Settings:
    if database_template.kind == "sqlite":
        path = tmp_path / "govsvc.db"
        shutil.copy(database_template.location, path)
        url, schema = f"sqlite+aiosqlite:///{path}", ""
    else:
        await _empty_schema(database_template.location)
        url, schema = TEST_DATABASE, database_template.location
    return Settings(
        env=Environment.TEST,
        database_url=url,
        database_schema=schema,
        secret_key=SecretStr(SECRET),
        master_key=SecretStr(MASTER_KEY),
        storage_url=(tmp_path / "vault").as_uri(),
        worker_embedded=False,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(settings)
    yield runtime
    await runtime.db.dispose()


@pytest.fixture
async def http(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://govsvc.test") as client:
        yield client


class GraphQL:
    """A GraphQL client over HTTP with a bearer token, as a portal would use it."""

    def __init__(self, http: httpx.AsyncClient, token: str | None):
        self.http = http
        self.token = token

    def as_(self, token: str | None) -> GraphQL:
        return GraphQL(self.http, token)

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute and return `data`; fail the test on any top-level error."""
        response = await self.post(query, variables)
        body = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Execute expecting top-level errors; return them."""
        response = await self.post(query, variables)
        body = response.json()
        assert body.get("errors"), body
        errors: list[dict[str, Any]] = body["errors"]
        return errors


@pytest.fixture
async def admin_token(runtime: Runtime) -> str:
    first = await bootstrap_admin(runtime)
    assert first is not None
    return first.token


@pytest.fixture
async def gql(http: httpx.AsyncClient, admin_token: str) -> GraphQL:
    return GraphQL(http, admin_token)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if head not in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"}:
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def sql_statements(runtime: Runtime) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def live_server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    port = free_port()
    fast = settings.model_copy(update={"live_poll_seconds": 0.2})
    config = uvicorn.Config(
        create_app(fast, runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.05)
    yield f"127.0.0.1:{port}"
    uv.should_exit = True
    await task
