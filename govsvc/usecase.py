"""The one argument every use case takes first: who calls, in which transaction, with what.

A use case is `async def verb_noun(uc: UseCase, *, input...) -> result`. GraphQL resolvers,
HTTP routes, the CLI and the worker all build the `UseCase` the same way, through `writing`
(one unit of work: everything commits together or nothing does) or `reading` (a read-only
transaction), so a rule written once in a use case holds for every way in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.caller import Caller
from govsvc.db import Database, unit_of_work

if TYPE_CHECKING:
    from govsvc.policies import Policies
    from govsvc.redaction import RedactionEngine
    from govsvc.runtime import Runtime
    from govsvc.settings import Settings
    from govsvc.storage import WormStore


P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class UseCase:
    caller: Caller
    runtime: Runtime
    # The transaction the call runs in. Inside `writing`, `db.write()` joins this same session;
    # only `db.write(durable=True)` (an intent about to act outside the database) opens another.
    session: AsyncSession

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def policies(self) -> Policies:
        return self.runtime.policies

    @property
    def store(self) -> WormStore:
        return self.runtime.store

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def redactor(self) -> RedactionEngine:
        return self.runtime.redactor

    def on_behalf(self, purpose: str) -> UseCase:
        """The same call, acting as the service on the caller's behalf (e.g. to freeze a text
        as evidence, which the caller may not be allowed to upload directly)."""
        return replace(self, caller=self.caller.on_behalf(purpose))


@asynccontextmanager
async def writing(runtime: Runtime, caller: Caller) -> AsyncIterator[UseCase]:
    """One unit of work: committed when the block ends, rolled back on any exception (a refusal
    included), so a refused call stores nothing."""
    async with unit_of_work(), runtime.db.write() as session:
        yield UseCase(caller, runtime, session)


@asynccontextmanager
async def reading(runtime: Runtime, caller: Caller) -> AsyncIterator[UseCase]:
    """A read-only transaction: one consistent view for the whole call."""
    async with runtime.db.read() as session:
        yield UseCase(caller, runtime, session)


async def run(
    runtime: Runtime,
    caller: Caller,
    use_case: Callable[Concatenate[UseCase, P], Awaitable[T]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run one use case as its own unit of work (for the CLI, the worker, seeds and tests)."""
    async with writing(runtime, caller) as uc:
        return await use_case(uc, *args, **kwargs)
