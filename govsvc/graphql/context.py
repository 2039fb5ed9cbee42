"""Per-request context: the caller, the runtime, and DataLoaders built for this request only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from govsvc.auth.caller import Caller
from govsvc.runtime import Runtime

BatchFn = Callable[[AsyncSession, Caller, list[Any]], Awaitable[dict[Any, Any]]]


@dataclass
class Context:
    runtime: Runtime
    caller: Caller
    _loaders: dict[Hashable, DataLoader[Any, Any]] = field(default_factory=dict)

    @property
    def request_id(self) -> str | None:
        return self.caller.request_id

    def loader(
        self, fn: BatchFn, *, default: Any = None, variant: Hashable = None
    ) -> DataLoader[Any, Any]:
        """The loader for `fn`, made once per request: a global loader would cache forever.

        `variant` tells apart loaders of one function with different fixed arguments."""
        key = (fn, variant)
        if key not in self._loaders:
            self._loaders[key] = DataLoader(load_fn=self._batch(fn, default))
        return self._loaders[key]

    def _batch(self, fn: BatchFn, default: Any) -> Callable[[list[Any]], Awaitable[Sequence[Any]]]:
        async def load(keys: list[Any]) -> Sequence[Any]:
            async with self.runtime.db.read() as session:
                found = await fn(session, self.caller, keys)
            return [found.get(key, default() if callable(default) else default) for key in keys]

        return load


Info = StrawberryInfo[Context, None]
