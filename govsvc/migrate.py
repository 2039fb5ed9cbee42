"""Alembic, driven from code: `govsvc migrate`, `make migration`, readiness and the tests share one
configuration (alembic.ini beside migrations/, whose env.py reads the options below).

A new revision: `make migration NAME=short_description` (`python -m govsvc.migrate NAME`) builds
a scratch SQLite database at head, lets autogenerate compare the models with it and writes
migrations/versions/NNNN_short_description.py, numbered after the newest revision. No server
is needed; the migration test then runs every revision on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from govsvc.db import UTCDateTime
from govsvc.settings import REPO_ROOT

ALEMBIC_INI = REPO_ROOT / "alembic.ini"

# What autogenerate compares (`make migration`, `alembic check`) and what the migration test
# holds the migrated schema to: column types and server defaults too, not only tables, columns,
# indexes, unique and foreign keys.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}

REVISION_ID = re.compile(r"\d{4}")
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def alembic_config(
    database_url: str, schema: str = "", script_location: Path | None = None
) -> Config:
    config = Config(str(ALEMBIC_INI))
    if script_location is not None:
        config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(database_url: str, schema: str = "", revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url, schema), revision)


def render_item(type_: str, obj: Any, _autogen: AutogenContext) -> str | Literal[False]:
    """Migrations stay free of application imports: a UTC column is rendered as what it is in
    the database, a tz-aware DateTime."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def next_revision_id(scripts: ScriptDirectory) -> str:
    """Revisions are numbered 0001, 0002, ...: the next one follows the single head."""
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise SystemExit(
            f"migrations have {len(heads)} heads ({', '.join(sorted(heads))}): chain them "
            "(set one's down_revision to the other) before adding another"
        )
    numbers = [
        int(r.revision) for r in scripts.walk_revisions() if REVISION_ID.fullmatch(r.revision)
    ]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(name: str, script_location: Path | None = None) -> Path:
    """Autogenerate the next revision from the models' differences with a database at head."""
    if not NAME.fullmatch(name):
        raise SystemExit(
            f"NAME must be a short snake_case description (a-z, 0-9, _; at most 40), got {name!r}"
        )
    with tempfile.TemporaryDirectory(prefix="govsvc-migration-") as scratch:
        config = alembic_config(
            f"sqlite+aiosqlite:///{Path(scratch) / 'head.db'}", script_location=script_location
        )
        command.upgrade(config, "head")
        # The revision id is given by env.py (next_revision_id), the file name by alembic.ini.
        script = command.revision(config, message=name.replace("_", " "), autogenerate=True)
    if not isinstance(script, Script):  # one revision asked, one made
        raise RuntimeError(f"alembic made {script!r}, not one revision")
    return Path(script.path)


REVIEW = """\
Review it before committing: autogenerate compared the models with SQLite, so it does not see
  - triggers, functions and data (backfills): write them by hand; a server_default added only
    to fill existing rows is dropped again at the end of the upgrade (see 0006 and 0009);
  - differences only PostgreSQL has (some type changes): the migration test runs on both;
  - renames: it proposes a drop and an add, losing the data; use alter_column / rename_table.
Then run the migration test, which migrates an empty database up and down step by step and
compares it with the models, with GOVSVC_TEST_DATABASE_URL=sqlite and with PostgreSQL's URL:
  GOVSVC_TEST_DATABASE_URL=sqlite .venv/bin/pytest tests/integration/test_migrations.py
"""

EMPTY = """\
No difference between the models and the migrations was found: the revision is empty. Fill it
in by hand (data, triggers) or delete it.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m govsvc.migrate", description="Autogenerate the next migration."
    )
    parser.add_argument("name", help="short snake_case description, e.g. add_incident_owner")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # What autogenerate detected ("Detected added column ...") is worth reading.
    logging.getLogger("alembic.autogenerate").setLevel(logging.INFO)
    path = new_revision(args.name)
    print(f"\n==> {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}\n")
    source = path.read_text()
    print(source)
    upgrade = source.split("def upgrade()")[1].split("def downgrade()")[0]
    print(REVIEW if "op." in upgrade else EMPTY, file=sys.stderr)


if __name__ == "__main__":
    main()
