"""Alembic environment: async engines, batch mode for SQLite's limited ALTER TABLE.

Run from code (govsvc/migrate.py: `govsvc migrate`, `make migration`, readiness, the tests), which
names the database; or from Alembic's own command line (`alembic current`, `alembic check`,
`alembic revision --autogenerate -m "..."`), which uses the service's database:
GOVSVC_DATABASE_URL and GOVSVC_DATABASE_SCHEMA, as `govsvc migrate` does.

On PostgreSQL everything happens in the session's schema (search_path), so autogenerate compares
the models with that schema alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from govsvc.db import connect_args
from govsvc.migrate import COMPARE_OPTIONS, REVISION_ID, next_revision_id, render_item
from govsvc.models import metadata

config = context.config

if config.cmd_opts is not None and config.config_file_name is not None:
    # Alembic's command line: its progress goes to the console (alembic.ini, [loggers]).
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database() -> tuple[str, str]:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url, config.attributes.get("schema", "")
    from govsvc.settings import Settings

    settings = Settings()
    return settings.database_url, settings.database_schema


def _number_the_revision(
    _context: object, _revision: object, directives: Iterable[MigrationScript]
) -> None:
    # Revisions are 0001, 0002, ... whoever makes them (`make migration` or `alembic revision`),
    # unless an id is given on purpose (--rev-id 0012).
    for script in directives:
        if not REVISION_ID.fullmatch(str(script.rev_id)):
            script.rev_id = next_revision_id(ScriptDirectory.from_config(config))


def _options() -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "render_as_batch": True,
        "render_item": render_item,
        "process_revision_directives": _number_the_revision,
        **COMPARE_OPTIONS,
    }


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **_options())
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url, schema = _database()
    engine = create_async_engine(
        url, connect_args={} if url.startswith("sqlite") else connect_args(schema)
    )
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_database()[0], literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_async())
