"""Alembic, driven from code: `govsvc migrate` and the test fixtures use the same path."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from govsvc.settings import REPO_ROOT


def alembic_config(database_url: str, schema: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(database_url: str, schema: str = "", revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url, schema), revision)
