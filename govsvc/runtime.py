"""Everything a use case may need besides its caller: settings, database, policies, storage."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from govsvc.db import Database, PoolSettings
from govsvc.evidence.crypto import master_key_from_secret
from govsvc.policies import Policies
from govsvc.settings import Settings
from govsvc.storage import WormStore, build_store

if TYPE_CHECKING:
    from govsvc.redaction import RedactionEngine


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    policies: Policies
    store: WormStore
    master_key: bytes  # wraps evidence data keys

    @cached_property
    def redactor(self) -> RedactionEngine:
        """The Presidio engine, built on first use: loading the language model takes seconds
        (and importing it is heavy too, so commands that never redact never pay for it)."""
        from govsvc.redaction import RedactionEngine, load_redaction_patterns

        return RedactionEngine(
            model=self.settings.redaction_model,
            patterns=load_redaction_patterns(self.settings.policies_dir / "redaction.yaml"),
        )

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        return cls(
            settings=settings,
            db=Database(
                settings.database_url,
                schema=settings.database_schema,
                sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                pool=PoolSettings(
                    size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow,
                    timeout_seconds=settings.db_pool_timeout_seconds,
                    recycle_seconds=settings.db_pool_recycle_seconds,
                ),
            ),
            policies=Policies.load(settings.policies_dir, settings.controls_dir),
            store=build_store(settings),
            master_key=master_key_from_secret(settings.master_key.get_secret_value()),
        )
