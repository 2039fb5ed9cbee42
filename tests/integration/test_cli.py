"""The real `govsvc` console script, run as a subprocess against the test database: tokens,
audit-chain verification (including after tampering behind the service's back) and migrations."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, select

from govsvc import usecase
from govsvc.audit import chain
from govsvc.audit.models import AuditEvent
from govsvc.auth.models import ApiToken
from govsvc.caller import Caller
from govsvc.db import Database
from govsvc.grants.models import Grant
from govsvc.health import readiness_problems
from govsvc.org import service as org_service
from govsvc.org.models import Principal
from govsvc.runtime import Runtime
from govsvc.settings import Settings

# Every test runs the console script as a subprocess.
pytestmark = pytest.mark.cli

GOVSVC = Path(sys.executable).parent / "govsvc"
TOKEN_LINE = re.compile(r"gsv_[A-Za-z0-9_-]{40,}\n")
CHAIN_LENGTH = 6  # the bootstrap's three events and three people
MIDDLE = 3


# ---------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def cli_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSVC_")}
    env.update(
        GOVSVC_DATABASE_URL=settings.database_url,
        GOVSVC_DATABASE_SCHEMA=settings.database_schema,
        GOVSVC_SECRET_KEY=settings.secret_key.get_secret_value(),
        GOVSVC_MASTER_KEY=settings.master_key.get_secret_value(),
        GOVSVC_STORAGE_URL=settings.storage_url,
        GOVSVC_ENV="test",
    )
    env.update(overrides)
    return env


async def govsvc(settings: Settings, *args: str, **env: str) -> Result:
    """Run the installed console script to completion, off the event loop."""
    completed = await asyncio.to_thread(
        subprocess.run,
        [str(GOVSVC), *args],
        capture_output=True,
        text=True,
        env=cli_env(settings, **env),
        timeout=120,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


async def create_token(settings: Settings, email: str, *extra: str) -> str:
    result = await govsvc(settings, "token", "create", "--email", email, *extra)
    assert result.code == 0, result
    return result.stdout.strip()


async def me(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": "{ me { actor roles } }"},
        headers={"Authorization": f"Bearer {token}"},
    )


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@dataclass(frozen=True)
class Counts:
    principals: int
    grants: int
    tokens: int
    audit_events: int


async def counts(runtime: Runtime) -> Counts:
    async with runtime.db.read() as session:

        async def count(model: Any) -> int:
            found: int = (
                await session.execute(select(func.count()).select_from(model))
            ).scalar_one()
            return found

        return Counts(
            await count(Principal),
            await count(Grant),
            await count(ApiToken),
            await count(AuditEvent),
        )


class RawDatabase:
    """The test process's own connection, doing what the service (and its triggers) refuse."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.sqlite_path = settings.database_url.removeprefix("sqlite+aiosqlite:///")

    async def tamper(self, *statements: str) -> None:
        """Run statements against audit_event with its append-only triggers out of the way."""
        if self.settings.is_sqlite:
            with closing(sqlite3.connect(self.sqlite_path)) as connection:
                connection.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
                connection.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
                for statement in statements:
                    assert connection.execute(statement).rowcount == 1, statement
                connection.commit()
            return
        connection = await asyncpg.connect(
            self.settings.database_url.replace("postgresql+asyncpg://", "postgresql://"),
            server_settings={"search_path": self.settings.database_schema},
        )
        try:
            # Superuser only, and for this session only: user triggers do not fire.
            await connection.execute("SET session_replication_role = replica")
            for statement in statements:
                status = await connection.execute(statement)
                assert status.endswith(" 1"), (statement, status)
        finally:
            await connection.close()


@pytest.fixture
async def audit_chain(runtime: Runtime, admin_token: str) -> int:
    """A chain of CHAIN_LENGTH events: the bootstrap's and three people registered after it."""
    caller = Caller.system(runtime.policies.access, "system:test")
    for name in ("bea", "cai", "dov"):
        await usecase.run(
            runtime,
            caller,
            org_service.create_person,
            email=f"{name}@example.com",
            name=name.title(),
        )
    assert (await counts(runtime)).audit_events == CHAIN_LENGTH
    return CHAIN_LENGTH


# ---------------------------------------------------------------------------- token create


async def test_token_create_prints_exactly_the_token_and_it_works(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    # when
    result = await govsvc(
        settings, "token", "create", "--email", "new@example.com", "--role", "responder"
    )
    # then
    assert result.code == 0, result
    assert TOKEN_LINE.fullmatch(result.stdout), result.stdout
    response = await me(http, result.stdout.strip())
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"actor": "new@example.com", "roles": ["responder"]}}}


async def test_token_create_for_a_known_person_adds_a_token_not_a_person(
    settings: Settings, runtime: Runtime, http: httpx.AsyncClient
) -> None:
    # given
    first = await create_token(settings, "new@example.com", "--role", "viewer")
    before = await counts(runtime)
    # when
    second = await create_token(settings, "NEW@example.com")
    # then
    assert first != second
    after = await counts(runtime)
    assert (after.principals, after.grants, after.tokens) == (
        before.principals,
        before.grants,
        before.tokens + 1,
    )
    for token in (first, second):
        assert (await me(http, token)).json()["data"]["me"]["actor"] == "new@example.com"


async def test_token_create_with_a_known_unit_scopes_the_grant(
    settings: Settings, runtime: Runtime
) -> None:
    # given
    caller = Caller.system(runtime.policies.access, "system:test")
    unit = await usecase.run(
        runtime, caller, org_service.create_business_unit, code="retail", name="Retail"
    )
    # when
    result = await govsvc(
        settings, "token", "create", "--email", "r@example.com", "--role", "responder",
        "--unit", "retail",
    )  # fmt: skip
    # then
    assert result.code == 0, result
    async with runtime.db.read() as session:
        grant = (await session.execute(select(Grant))).scalar_one()
    assert (grant.role, grant.business_unit_id) == ("responder", unit.id)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "responder", "--unit", "no-such-unit"], "no business unit with code"),
        (["--role", "overlord"], "unknown role 'overlord'"),
    ],
    ids=["unknown unit", "unknown role"],
)
async def test_token_create_with_an_unknown_name_fails_clearly_and_creates_nothing(
    args: list[str], message: str, settings: Settings, runtime: Runtime, admin_token: str
) -> None:
    # given
    before = await counts(runtime)
    # when
    result = await govsvc(settings, "token", "create", "--email", "new@example.com", *args)
    # then
    assert result.code == 1, result
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert await counts(runtime) == before


@pytest.mark.parametrize(
    "args",
    [
        ["--expires-in", "garbage"],
        ["--expires-in", "30 days"],
        ["--expires-in", "1.5d"],
        ["--expires-in", "10y"],
        ["--expires-in="],
        ["--expires-in=-5d"],
        ["--expires-in", "99999999999999999999w"],
        ["--unit", "retail"],  # a unit needs a role
    ],
)
async def test_token_create_with_bad_options_is_a_usage_error(
    args: list[str], settings: Settings, runtime: Runtime
) -> None:
    # given
    before = await counts(runtime)
    # when
    result = await govsvc(settings, "token", "create", "--email", "new@example.com", *args)
    # then
    assert result.code == 2, result
    assert result.stdout == ""
    assert "Usage: govsvc token create" in result.stderr
    assert "Traceback" not in result.stderr
    assert await counts(runtime) == before


@pytest.mark.parametrize("expires_in", ["0", "0d", "3651d"])
async def test_token_create_refuses_a_lifetime_out_of_range(
    expires_in: str, settings: Settings, runtime: Runtime
) -> None:
    # given
    before = await counts(runtime)
    # when
    result = await govsvc(
        settings, "token", "create", "--email", "new@example.com", "--expires-in", expires_in
    )
    # then
    assert result.code == 1, result
    assert "expire between 1 second and 10 years" in result.stderr
    assert await counts(runtime) == before


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [("2h", timedelta(hours=2)), ("3600", timedelta(hours=1)), ("1w", timedelta(days=7))],
)
async def test_token_create_sets_the_requested_lifetime(
    expires_in: str, lifetime: timedelta, settings: Settings, runtime: Runtime
) -> None:
    # when
    started = datetime.now(UTC)
    await create_token(settings, "new@example.com", "--expires-in", expires_in)
    finished = datetime.now(UTC)
    # then
    async with runtime.db.read() as session:
        token = (await session.execute(select(ApiToken))).scalar_one()
    assert started + lifetime <= token.expires_at <= finished + lifetime


# ---------------------------------------------------------------------------- token revoke


async def test_token_revoke_by_value_makes_it_401(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    # given
    token = await create_token(settings, "new@example.com", "--role", "viewer")
    assert (await me(http, token)).status_code == 200
    # when
    result = await govsvc(settings, "token", "revoke", "--token", token)
    # then
    assert result.code == 0, result
    assert "revoked" in result.stderr
    assert_unauthenticated(await me(http, token))


async def test_token_revoke_by_id_makes_it_401_and_twice_is_a_no_op(
    settings: Settings, runtime: Runtime, http: httpx.AsyncClient
) -> None:
    # given
    token = await create_token(settings, "new@example.com")
    async with runtime.db.read() as session:
        token_id = (await session.execute(select(ApiToken.id))).scalar_one()
    # when
    first = await govsvc(settings, "token", "revoke", "--id", str(token_id))
    events = (await counts(runtime)).audit_events
    second = await govsvc(settings, "token", "revoke", "--id", str(token_id))
    # then
    assert (first.code, second.code) == (0, 0), (first, second)
    assert (await counts(runtime)).audit_events == events
    assert_unauthenticated(await me(http, token))


async def test_token_revoke_leaves_other_tokens_working(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    # given
    revoked = await create_token(settings, "new@example.com")
    kept = await create_token(settings, "new@example.com")
    # when
    assert (await govsvc(settings, "token", "revoke", "--token", revoked)).code == 0
    # then
    assert_unauthenticated(await me(http, revoked))
    assert (await me(http, kept)).status_code == 200


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--token", "gsv_no-such-token"], 1, "no such token"),
        (["--id", "999999"], 1, "no such token"),
        ([], 2, "exactly one of --token and --id"),
        (["--token", "gsv_x", "--id", "1"], 2, "exactly one of --token and --id"),
    ],
    ids=["unknown token", "unknown id", "neither", "both"],
)
async def test_token_revoke_refuses_what_it_cannot_name(
    args: list[str], code: int, message: str, settings: Settings
) -> None:
    # when
    result = await govsvc(settings, "token", "revoke", *args)
    # then
    assert result.code == code, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- audit verify


async def test_audit_verify_on_an_empty_log(settings: Settings) -> None:
    # when
    result = await govsvc(settings, "audit", "verify")
    # then
    assert result.code == 0, result
    assert "audit chain intact: 0 events" in result.stdout


async def test_audit_verify_passes_an_intact_chain_and_counts_it(
    settings: Settings, runtime: Runtime, audit_chain: int
) -> None:
    # when
    result = await govsvc(settings, "audit", "verify")
    # then
    assert result.code == 0, result
    assert f"audit chain intact: {audit_chain} events, head seq {audit_chain}," in result.stdout
    async with runtime.db.read() as session:
        head = await session.get(AuditEvent, audit_chain)
    assert head is not None
    assert result.stdout.rstrip().endswith(f"head hash {head.hash}")


def assert_broken_at(result: Result, seq: int) -> None:
    assert result.code == 1, result
    assert re.search(rf"audit chain BROKEN at event {seq}\b", result.stdout), result.stdout


@pytest.mark.parametrize("seq", [1, MIDDLE, CHAIN_LENGTH], ids=["first", "middle", "last"])
async def test_audit_verify_names_a_row_whose_payload_was_changed(
    seq: int, settings: Settings, audit_chain: int
) -> None:
    # given
    await RawDatabase(settings).tamper(
        f"UPDATE audit_event SET payload = '{{\"tampered\":true}}' WHERE seq = {seq}"  # noqa: S608
    )
    # when
    result = await govsvc(settings, "audit", "verify")
    # then
    assert_broken_at(result, seq)


TAMPERED_VALUES = {
    "actor": "'mallory@example.com'",
    "at": "'2000-01-01 00:00:00.000000'",
    "action": "'principal.delete'",
    "resource_id": "'999'",
    "prev_hash": "'" + "1" * 64 + "'",
    "hash": "'" + "f" * 64 + "'",
}


@pytest.mark.parametrize("column", list(TAMPERED_VALUES))
async def test_audit_verify_names_a_middle_row_with_any_column_changed(
    column: str, settings: Settings, audit_chain: int
) -> None:
    # given
    await RawDatabase(settings).tamper(
        f"UPDATE audit_event SET {column} = {TAMPERED_VALUES[column]} "  # noqa: S608
        f"WHERE seq = {MIDDLE}"
    )
    # when
    result = await govsvc(settings, "audit", "verify")
    # then
    assert_broken_at(result, MIDDLE)


async def test_audit_verify_names_the_seq_of_a_deleted_middle_row(
    settings: Settings, audit_chain: int
) -> None:
    # given
    await RawDatabase(settings).tamper(f"DELETE FROM audit_event WHERE seq = {MIDDLE}")  # noqa: S608
    # when
    result = await govsvc(settings, "audit", "verify")
    # then
    assert_broken_at(result, MIDDLE)
    assert "missing" in result.stdout


async def test_audit_verify_catches_a_row_rewritten_with_a_fresh_hash_at_the_next_row(
    settings: Settings, runtime: Runtime, audit_chain: int
) -> None:
    # given a forger who changes a row and recomputes its own hash, but not the rest
    async with runtime.db.read() as session:
        event = await session.get(AuditEvent, MIDDLE)
        assert event is not None
        session.expunge(event)
    event.payload = '{"tampered":true}'
    forged = chain.hash_of(event)
    await RawDatabase(settings).tamper(
        f"UPDATE audit_event SET payload = '{event.payload}', hash = '{forged}' "  # noqa: S608
        f"WHERE seq = {MIDDLE}"
    )
    # when
    result = await govsvc(settings, "audit", "verify")
    # then
    assert_broken_at(result, MIDDLE + 1)
    assert "prev_hash" in result.stdout


# ---------------------------------------------------------------------------- migrate


@pytest.fixture
async def empty_database(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """A database with no tables at all, of the same kind as the test database."""
    if settings.is_sqlite:
        yield settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
        )
        return
    schema = f"govsvc_cli_{uuid.uuid4().hex[:10]}"
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        yield settings.model_copy(update={"database_schema": schema})
    finally:
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await connection.close()


async def problems_of(settings: Settings) -> list[str]:
    db = Database(settings.database_url, schema=settings.database_schema)
    try:
        return await readiness_problems(db)
    finally:
        await db.dispose()


async def test_migrate_builds_an_empty_database_and_is_idempotent(
    empty_database: Settings,
) -> None:
    # given
    assert await problems_of(empty_database)
    # when
    first = await govsvc(empty_database, "migrate")
    second = await govsvc(empty_database, "migrate")
    # then
    assert (first.code, second.code) == (0, 0), (first, second)
    assert await problems_of(empty_database) == []
    verify = await govsvc(empty_database, "audit", "verify")
    assert verify.code == 0, verify
    assert "0 events" in verify.stdout


async def test_migrate_on_a_current_database_keeps_its_data(
    settings: Settings, runtime: Runtime, http: httpx.AsyncClient, audit_chain: int
) -> None:
    # given
    token = await create_token(settings, "new@example.com")
    before = await counts(runtime)
    # when
    results = [await govsvc(settings, "migrate") for _ in range(2)]
    # then
    assert [r.code for r in results] == [0, 0], results
    assert await counts(runtime) == before
    assert (await me(http, token)).status_code == 200
    assert (await govsvc(settings, "audit", "verify")).code == 0


# ---------------------------------------------------------------------------- settings


async def test_a_weak_secret_outside_dev_is_refused_without_echoing_secrets(
    settings: Settings,
) -> None:
    # given settings that fail validation and hold things that must not reach a log
    secret = "hunter2-but-real"
    url = "postgresql+asyncpg://govsvc:db-password-xyz@127.0.0.1:5432/govsvc"
    # when
    result = await govsvc(
        settings, "audit", "verify",
        GOVSVC_ENV="prod", GOVSVC_SECRET_KEY=secret, GOVSVC_DATABASE_URL=url,
    )  # fmt: skip
    # then
    assert result.code == 1, result
    assert "GOVSVC_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr + result.stdout
    assert "db-password-xyz" not in result.stderr + result.stdout
