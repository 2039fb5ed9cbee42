"""Fixtures over real databases: SQLite (a copy of a migrated file per test) or the machine's
PostgreSQL (a migrated schema per process, emptied before each test). Choose with
GOVSVC_TEST_DATABASE_URL.

Not a transaction rolled back after each test: the code under test opens many connections
(read sessions, units of work, worker loops, concurrent writers, CLI and server subprocesses)
that must see each other's commits, which one wrapping transaction would hide.

What never changes while the suite runs is made once per process (per xdist worker): the
repository's policies and control catalogs, and the redaction engine (see `Shared`)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy import event

from govsvc.app import create_app
from govsvc.bootstrap import bootstrap_admin
from govsvc.migrate import upgrade
from govsvc.policies import Policies
from govsvc.runtime import Runtime, build_redactor
from govsvc.settings import Environment, Settings
from tests.s3 import lock_bucket, moto_endpoint, plain_bucket, s3_client  # noqa: F401

if TYPE_CHECKING:
    from govsvc.redaction import RedactionEngine

TEST_DATABASE = os.environ.get("GOVSVC_TEST_DATABASE_URL", "sqlite")
SECRET = "test-secret-" + "x" * 40
MASTER_KEY = "test-master-key-" + "y" * 40


@dataclass(frozen=True)
class Template:
    kind: str  # "sqlite" | "postgresql"
    location: str  # template file path, or schema name
    emptying: str = ""  # PostgreSQL: the statements that empty the schema between tests


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_execute(sql: str) -> None:
    """Run statements (several, separated by `;`: one transaction) on a connection of its own."""
    connection = await asyncpg.connect(_pg_dsn(TEST_DATABASE))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _pg_tables(schema: str) -> list[str]:
    connection = await asyncpg.connect(_pg_dsn(TEST_DATABASE))
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> "
            "'alembic_version' ORDER BY tablename",
            schema,
        )
    finally:
        await connection.close()
    return [row["tablename"] for row in rows]


def _emptying_sql(schema: str, tables: list[str]) -> str:
    """DELETE every row and rewind every sequence that was used, in one round trip and one
    transaction. Triggers (the audit table's refusal to forget, foreign keys) do not fire for a
    session in the replica role: a test harness may step around them.

    TRUNCATE ... RESTART IDENTITY would do the same, but it swaps every table's files and the
    commit fsyncs them all: 0.7-1.3 s per test for 41 tables on this (busy) machine, against a
    few ms for DELETE on the handful of rows a test leaves."""
    # The names are our own schema's and its tables' (from pg_tables): nothing to inject.
    return "; ".join(
        [
            "SET session_replication_role = replica",
            *(f'DELETE FROM "{schema}"."{table}"' for table in tables),  # noqa: S608
            "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"  # noqa: S608
            f" FROM pg_sequences WHERE schemaname = '{schema}' AND last_value IS NOT NULL",
        ]
    )


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    if TEST_DATABASE == "sqlite":
        # A copy of a migrated file per test: well under a millisecond.
        path = tmp_path_factory.mktemp("template") / "govsvc.db"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield Template("sqlite", str(path))
        return
    # One schema per process (each xdist worker has its own), migrated once.
    schema = f"govsvc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_execute(f'CREATE SCHEMA "{schema}"'))
    upgrade(TEST_DATABASE, schema)
    tables = asyncio.run(_pg_tables(schema))
    yield Template("postgresql", schema, _emptying_sql(schema, tables))
    asyncio.run(_pg_execute(f'DROP SCHEMA "{schema}" CASCADE'))


class Emptier:
    """Empties the PostgreSQL test schema, over one connection kept for the session (a new
    connection per test would cost more than the emptying itself: ~30 ms against ~6 ms)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.connection: asyncpg.Connection | None = None

    async def __call__(self) -> None:
        if self.connection is None or self.connection.is_closed():
            self.connection = await asyncpg.connect(_pg_dsn(TEST_DATABASE))
        await self.connection.execute(self.sql)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()


@pytest.fixture(scope="session")
async def emptier(database_template: Template) -> AsyncIterator[Emptier]:
    emptier = Emptier(database_template.emptying)
    yield emptier
    await emptier.close()


@pytest.fixture
async def settings(database_template: Template, tmp_path: Path, emptier: Emptier) -> Settings:
    if database_template.kind == "sqlite":
        path = tmp_path / "govsvc.db"
        shutil.copy(database_template.location, path)
        url, schema = f"sqlite+aiosqlite:///{path}", ""
    else:
        await emptier()
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


_DEFAULTS = Settings.model_fields


class Shared:
    """The repository's policies and catalogs, and the redaction engine over them, made once
    and handed to every Runtime whose settings point at them (a test that copies policies/
    to change a file gets its own). Loading the policies takes about half a second; building
    the engine a second or two (and it is built only if a test redacts)."""

    def __init__(self) -> None:
        self.policies_dir: Path = _DEFAULTS["policies_dir"].default
        self.controls_dir: Path = _DEFAULTS["controls_dir"].default
        self.model: str = _DEFAULTS["redaction_model"].default
        self._policies: Policies | None = None
        self._redactor: RedactionEngine | None = None
        self._lock = threading.Lock()  # the engine is first asked for from worker threads

    def policies(self, settings: Settings) -> Policies | None:
        """The shared policies if the settings name the repository's directories, else None."""
        if (settings.policies_dir, settings.controls_dir) != (self.policies_dir, self.controls_dir):
            return None
        if self._policies is None:
            self._policies = Policies.load(self.policies_dir, self.controls_dir)
        return self._policies

    def redactor(self, settings: Settings) -> RedactionEngine:
        """A Runtime's `redactor_factory`: the shared engine, or a new one for other files."""
        if (settings.policies_dir, settings.redaction_model) != (self.policies_dir, self.model):
            return build_redactor(settings)
        return self.engine()

    def engine(self) -> RedactionEngine:
        """The engine over the repository's policies/redaction.yaml and the default model."""
        from govsvc.redaction import RedactionEngine, load_redaction_patterns

        with self._lock:
            if self._redactor is None:
                self._redactor = RedactionEngine(
                    model=self.model,
                    patterns=load_redaction_patterns(self.policies_dir / "redaction.yaml"),
                )
            return self._redactor


SHARED = Shared()  # one per process: per xdist worker


def build_runtime(settings: Settings) -> Runtime:
    """Runtime.build, with what the session shares: what every test builds its runtimes with."""
    return Runtime.build(
        settings, policies=SHARED.policies(settings), redactor_factory=SHARED.redactor
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings)
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
