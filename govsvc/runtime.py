"""Everything a use case may need besides its caller: settings, database, policies, storage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from govsvc.db import Database, PoolSettings
from govsvc.evidence.crypto import master_key_from_secret
from govsvc.policies import Policies
from govsvc.settings import Settings
from govsvc.storage import WormStore, build_store

if TYPE_CHECKING:
    from govsvc.redaction import RedactionEngine


def build_redactor(settings: Settings) -> RedactionEngine:
    """The Presidio engine the settings describe (model and policies/redaction.yaml)."""
    from govsvc.redaction import RedactionEngine, load_redaction_patterns

    return RedactionEngine(
        model=settings.redaction_model,
        patterns=load_redaction_patterns(settings.policies_dir / "redaction.yaml"),
    )


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    policies: Policies
    store: WormStore
    master_key: bytes  # wraps evidence data keys
    # How `redactor` is made on first use; the test suite passes one that shares an engine.
    redactor_factory: Callable[[Settings], RedactionEngine] = field(
        default=build_redactor, repr=False, compare=False
    )

    @cached_property
    def redactor(self) -> RedactionEngine:
        """The Presidio engine, built on first use: loading the language model takes seconds
        (and importing it is heavy too, so commands that never redact never pay for it)."""
        return self.redactor_factory(self.settings)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        policies: Policies | None = None,
        redactor_factory: Callable[[Settings], RedactionEngine] = build_redactor,
    ) -> Runtime:
        """`policies` already loaded from the settings' directories may be passed in (the test
        suite loads them once per session: loading takes about half a second)."""
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
            policies=(
                Policies.load(settings.policies_dir, settings.controls_dir)
                if policies is None
                else policies
            ),
            store=build_store(settings),
            master_key=master_key_from_secret(settings.master_key.get_secret_value()),
            redactor_factory=redactor_factory,
        )
