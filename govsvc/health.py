"""Readiness: the database answers and its schema is at the newest migration."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from govsvc.db import Database
from govsvc.migrate import alembic_config


async def readiness_problems(db: Database) -> list[str]:
    try:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
    except Exception as error:
        return [f"database unreachable: {type(error).__name__}: {error}"]
    heads = ScriptDirectory.from_config(alembic_config(db.url, db.schema)).get_heads()
    if set(current) != set(heads):
        return [
            f"database at migration {sorted(current) or 'none'}, code expects {sorted(heads)}; "
            "run `govsvc migrate`"
        ]
    return []
