"""Per-request context: the caller, the runtime, and DataLoaders built for this request only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from govsvc.caller import Caller
from govsvc.runtime import Runtime

BatchFn = Callable[..., Awaitable[dict[Any, Any]]]  # (session, caller, keys, *args)


@dataclass
class Context:
    runtime: Runtime
    caller: Caller
    # Set by the graphql-transport-ws handshake (connection_init payload).
    connection_params: dict[str, Any] | None = None
    # A socket's credential, and a way to check it again: a subscription outlives the moment
    # it was authenticated, so it re-checks before delivering anything (tokens get revoked,
    # grants removed, people deactivated).
    credential: str | None = None
    reauthenticate: Callable[[str | None], Awaitable[Caller]] | None = None
    # The open socket (websocket requests only), so a subscription can close it.
    socket: Any = None
    _loaders: dict[Hashable, DataLoader[Any, Any]] = field(default_factory=dict)

    @property
    def request_id(self) -> str | None:
        return self.caller.request_id

    def loader(
        self, fn: BatchFn, *, default: Any = None, args: tuple[Hashable, ...] = ()
    ) -> DataLoader[Any, Any]:
        """The loader for `fn` (with fixed extra `args`), made once per request.

        A global loader would cache forever; one per request sees each request's rights."""
        key = (fn, args)
        if key not in self._loaders:
            self._loaders[key] = DataLoader(load_fn=self._batch(fn, default, args))
        return self._loaders[key]

    def _batch(
        self, fn: BatchFn, default: Any, args: tuple[Hashable, ...]
    ) -> Callable[[list[Any]], Awaitable[Sequence[Any]]]:
        async def load(keys: list[Any]) -> Sequence[Any]:
            async with self.runtime.db.read() as session:
                found = await fn(session, self.caller, keys, *args)
            return [found.get(key, default() if callable(default) else default) for key in keys]

        return load


Info = StrawberryInfo[Context, None]
