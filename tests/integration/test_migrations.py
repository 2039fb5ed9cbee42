"""Migrations against the models, on the test database (SQLite or PostgreSQL): an empty database
migrated to head is what the models describe (no drift), every downgrade undoes its upgrade
exactly, and `make migration` numbers and writes the next revision.

The tests are synchronous: Alembic's env.py runs its own event loop."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from govsvc.db import connect_args
from govsvc.migrate import COMPARE_OPTIONS, alembic_config, new_revision, render_item
from govsvc.models import metadata
from govsvc.settings import REPO_ROOT

TEST_DATABASE = os.environ.get("GOVSVC_TEST_DATABASE_URL", "sqlite")
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    url: str
    schema: str  # PostgreSQL: the schema everything is made in

    def config(self) -> Config:
        return alembic_config(self.url, self.schema)

    def run(self, work: Callable[[Connection], T]) -> T:
        """Look at the database, on a connection of its own."""
        if self.url.startswith("sqlite"):
            # Python's own sqlite3 driver: reflecting some forty tables is several times faster
            # than through aiosqlite's thread, and reads the same file.
            engine = create_engine(self.url.replace("sqlite+aiosqlite:", "sqlite:"))
            try:
                with engine.connect() as connection:
                    return work(connection)
            finally:
                engine.dispose()

        async def go() -> T:
            engine = create_async_engine(self.url, connect_args=connect_args(self.schema))
            try:
                async with engine.connect() as connection:
                    return await connection.run_sync(work)
            finally:
                await engine.dispose()

        return asyncio.run(go())


async def _pg(sql: str) -> None:
    connection = await asyncpg.connect(
        TEST_DATABASE.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[Target]:
    """A database with nothing in it, of the same kind as the test database."""
    if TEST_DATABASE == "sqlite":
        yield Target(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}", "")
        return
    schema = f"govsvc_migrations_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Target(TEST_DATABASE, schema)
    finally:
        asyncio.run(_pg(f'DROP SCHEMA "{schema}" CASCADE'))


def drift(connection: Connection) -> str:
    """The migration autogenerate would write for this database: none, when it matches the
    models (and the Python code of one otherwise, to read in the failure).

    Nothing is ignored: each difference found so far was a real one, fixed by a migration
    (0009: server defaults a backfill had left behind)."""
    context = MigrationContext.configure(
        connection, opts={**COMPARE_OPTIONS, "render_item": render_item}
    )
    operations = produce_migrations(context, metadata).upgrade_ops
    if operations is None or operations.is_empty():
        return ""
    return render_python_code(operations, render_item=render_item, render_as_batch=True)


def check_constraints(connection: Connection) -> set[tuple[str, str | None]]:
    # Autogenerate does not compare CHECK constraints; their names at least must agree (their
    # text does not: PostgreSQL rewrites it, `tier BETWEEN 1 AND 4` comes back `tier >= 1 ...`).
    inspector = inspect(connection)
    return {
        (table, check["name"])
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for check in inspector.get_check_constraints(table)
    }


def model_check_constraints() -> set[tuple[str, str | None]]:
    return {
        (table.name, str(constraint.name))
        for table in metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }


def schema_of(connection: Connection) -> dict[str, Any]:
    """Everything a migration can make, as the database reports it: tables with their columns,
    keys, indexes and constraints, and what reflection does not see (triggers, functions,
    sequences)."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table),
            "foreign keys": sorted(
                (str(fk["name"]), tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (str(i["name"]), tuple(map(str, i["column_names"])), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (str(u["name"]), tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (str(c["name"]), c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    if connection.dialect.name == "sqlite":
        others = connection.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master "
                "WHERE type NOT IN ('table', 'index') ORDER BY type, name"
            )
        )
    else:
        others = connection.execute(
            text(
                "SELECT 'trigger', t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal "
                "UNION ALL SELECT 'function', p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "WHERE p.pronamespace = current_schema()::regnamespace "
                "UNION ALL SELECT 'sequence', c.relname, '' FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'S' "
                "ORDER BY 1, 2"
            )
        )
    return {"tables": tables, "others": [tuple(row) for row in others]}


def revisions(config: Config) -> list[str]:
    """Every revision, oldest first (one line of them: a branch fails here)."""
    scripts = ScriptDirectory.from_config(config)
    assert len(scripts.get_heads()) == 1, f"more than one head: {scripts.get_heads()}"
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def test_an_empty_database_migrated_to_head_matches_the_models(empty_database: Target) -> None:
    # when
    command.upgrade(empty_database.config(), "head")
    # then
    assert empty_database.run(drift) == ""
    assert empty_database.run(check_constraints) == model_check_constraints()


def test_every_migration_downgrades_to_what_was_before_it_and_upgrades_again(
    empty_database: Target,
) -> None:
    # given: the schema after each revision, on the way up from nothing
    config = empty_database.config()
    at_base = empty_database.run(schema_of)
    assert at_base == {"tables": {}, "others": []}
    after: dict[str, dict[str, Any]] = {}
    steps = revisions(config)
    for revision in steps:
        command.upgrade(config, revision)
        after[revision] = empty_database.run(schema_of)
    # when / then: each downgrade leaves the schema as it was after the revision before
    for revision, previous in zip(reversed(steps), [*reversed(steps[:-1]), None], strict=True):
        command.downgrade(config, previous or "base")
        expected = after[previous] if previous else at_base
        now = empty_database.run(schema_of)
        if previous is None:  # only Alembic's own bookkeeping is left
            now["tables"].pop("alembic_version")
        assert now == expected, f"downgrade of {revision} does not undo its upgrade"
    # and back up, the newest step first then everything: the same schema, matching the models
    command.upgrade(config, "head")
    command.downgrade(config, "-1")
    command.upgrade(config, "head")
    assert empty_database.run(schema_of) == after[steps[-1]]
    assert empty_database.run(drift) == ""


@pytest.mark.skipif(
    TEST_DATABASE != "sqlite", reason="`make migration` diffs against SQLite whatever the database"
)
def test_make_migration_writes_the_next_numbered_revision(tmp_path: Path) -> None:
    # given: a copy of the migrations, at head
    location = tmp_path / "migrations"
    shutil.copytree(
        REPO_ROOT / "migrations", location, ignore=shutil.ignore_patterns("__pycache__")
    )
    head = revisions(alembic_config("sqlite://", script_location=location))[-1]
    expected = f"{int(head) + 1:04d}"
    # when
    path = new_revision("probe_of_the_recipe", script_location=location)
    # then: numbered after the head, named after its description, empty (the models match)
    assert path == location / "versions" / f"{expected}_probe_of_the_recipe.py"
    source = path.read_text()
    assert f"revision: str = '{expected}'" in source
    assert f"down_revision: str | None = '{head}'" in source
    assert "def upgrade() -> None:\n    # ### commands auto generated by Alembic" in source
    assert "op." not in source.split("def upgrade() -> None:")[1], source


def test_autogenerate_renders_utc_timestamps_without_importing_the_application() -> None:
    # given: what autogenerate would write for the whole schema, from nothing
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={**COMPARE_OPTIONS, "render_item": render_item}
        )
        operations = produce_migrations(context, metadata).upgrade_ops
    engine.dispose()
    assert operations is not None
    # when
    code = render_python_code(operations, render_item=render_item, render_as_batch=True)
    # then
    assert "sa.DateTime(timezone=True)" in code
    assert "govsvc" not in code
    assert "UTCDateTime" not in code
    compile(f"def upgrade():\n{code}", "<autogenerated>", "exec")
