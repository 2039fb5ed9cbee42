"""Everything a use case may need besides its caller: settings, database, policies."""

from __future__ import annotations

from dataclasses import dataclass

from govsvc.db import Database
from govsvc.policies import Policies
from govsvc.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    policies: Policies

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        return cls(
            settings=settings,
            db=Database(
                settings.database_url,
                schema=settings.database_schema,
                sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            ),
            policies=Policies.load(settings.policies_dir),
        )
