"""Database access: one declarative base, tz-aware UTC timestamps, read and write transactions.

Writes on SQLite start with BEGIN IMMEDIATE so a read-then-write (the audit chain head) can never
interleave with another writer; reads start a plain deferred transaction and never block writers
(WAL). On PostgreSQL both are ordinary transactions; serialization points take advisory locks.

A use case may be made of several steps, each in its own `write()` block (approve, then publish).
Run inside `unit_of_work()` (every GraphQL mutation is), all of them join one transaction that
commits when the whole call succeeds and is rolled back entirely when anything refuses: a refused
call stores nothing. Only what records an act outside the database that cannot be undone (an
object put in WORM storage) is written with `write(durable=True)`, and commits on its own; what
must follow a commit or a refusal (release a hold in the store, tell the commander) is queued
with `after_commit` / `after_rollback`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Serialization points among PostgreSQL advisory locks: arbitrary constants, one per thing that
# must change one writer at a time. The second key of each lock is the schema's, so deployments
# (or test runs) in other schemas of one database never wait for each other.
AUDIT_CHAIN_LOCK = 0x6F76530A
SERVICE_GRAPH_LOCK = 0x6F76530B
ALERT_PIPELINE_LOCK = 0x6F76530C
# Role assignments: the conflict rules count roles across incidents, which no row lock covers.
ROLE_ASSIGNMENT_LOCK = 0x6F76530D


async def one_writer_at_a_time(session: AsyncSession, key: int) -> None:
    """Hold `key` until the transaction ends. SQLite write transactions begin IMMEDIATE, so
    they are one at a time already."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"), {"key": key}
        )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always tz-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store naive UTC so text comparisons order correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("govsvc_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


log = logging.getLogger("govsvc.db")
Hook = Callable[[], Awaitable[None]]


@dataclass
class _Unit:
    """One use case's transaction, opened by its first write."""

    task: asyncio.Task[Any] | None
    db: Database | None = None
    session: AsyncSession | None = None
    on_commit: list[Hook] = field(default_factory=list)
    on_rollback: list[Hook] = field(default_factory=list)


_UNIT: ContextVar[_Unit | None] = ContextVar("govsvc_unit_of_work", default=None)


def _current_unit() -> _Unit | None:
    unit = _UNIT.get()
    # Tasks started inside a use case inherit its context, but not its transaction: a session
    # serves one task at a time.
    if unit is None or unit.task is not asyncio.current_task():
        return None
    return unit


def _begun(session: AsyncSession) -> bool:
    """Whether a unit's session holds a transaction (and so locks) or has changes pending."""
    return session.in_transaction() or bool(session.new)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    """Run a whole use case as one transaction: committed when the block ends, rolled back
    entirely on any exception (a refusal included). Nested units join the outer one."""
    if _current_unit() is not None:
        yield
        return
    unit = _Unit(asyncio.current_task())
    token = _UNIT.set(unit)
    try:
        try:
            yield
        except BaseException:
            if unit.session is not None:
                await unit.session.rollback()
            raise
        else:
            if unit.session is not None:
                await unit.session.commit()
        finally:
            if unit.session is not None:
                await unit.session.close()
    except BaseException:
        _UNIT.reset(token)
        await _run(unit.on_rollback, "after rollback")
        raise
    _UNIT.reset(token)
    await _run(unit.on_commit, "after commit")


async def _run(hooks: list[Hook], when: str) -> None:
    for hook in hooks:
        try:
            await hook()
        except Exception:  # the call's own outcome is what its caller must hear
            log.exception("a hook run %s failed", when)


async def after_commit(hook: Hook) -> None:
    """Run `hook` once the use case's changes are committed (now, outside a unit of work)."""
    unit = _current_unit()
    if unit is None:
        await hook()
    else:
        unit.on_commit.append(hook)


async def after_rollback(hook: Hook) -> None:
    """Run `hook` if the use case is refused, after its changes are rolled back (now, outside a
    unit of work): for what must be said even though nothing was done."""
    unit = _current_unit()
    if unit is None:
        await hook()
    else:
        unit.on_rollback.append(hook)


def connect_args(schema: str) -> dict[str, Any]:
    """asyncpg arguments that put a PostgreSQL session in `schema` (when one is set)."""
    return {"server_settings": {"search_path": schema}} if schema else {}


@dataclass(frozen=True)
class PoolSettings:
    """How many connections one process may hold, and how long it waits for one."""

    size: int = 10
    max_overflow: int = 10
    timeout_seconds: float = 30.0
    recycle_seconds: int = 1800


class Database:
    """Owns the engine; hands out transactions. One per application, never module-level."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = "",
        sqlite_busy_timeout_ms: int = 30_000,
        pool: PoolSettings | None = None,
        echo: bool = False,
    ):
        self.url = url
        self.schema = schema
        self.is_sqlite = url.startswith("sqlite")
        pool = pool or PoolSettings()
        kwargs: dict[str, Any] = {
            "echo": echo,
            "pool_size": pool.size,
            "max_overflow": pool.max_overflow,
            "pool_timeout": pool.timeout_seconds,
            "pool_recycle": pool.recycle_seconds,
        }
        if not self.is_sqlite:
            kwargs.update(pool_pre_ping=True, connect_args=connect_args(schema))
        self.engine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, sqlite_busy_timeout_ms)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._writer = async_sessionmaker(
            self.engine.execution_options(govsvc_write=True),
            expire_on_commit=False,
            autoflush=True,
        )

    @asynccontextmanager
    async def write(self, *, durable: bool = False) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on any exception.

        Inside a unit of work the block joins the unit's transaction instead, and commits with
        it. `durable` writes always commit on their own (records of acts outside the database)."""
        unit = None if durable else self._unit()
        if unit is None:
            joined = self._unit() if durable else None
            if joined is not None and joined.session and _begun(joined.session):
                # It would wait on the unit's own locks (SQLite's one writer, the audit chain's
                # advisory lock on PostgreSQL) and never get them: durable writes come first.
                # A unit whose session has run nothing yet (a use case built by `writing` that
                # has not touched uc.session) holds no lock: its durable writes may go first.
                raise RuntimeError(
                    "a durable write after the unit of work has written; do it first"
                )
            async with self._writer() as session, session.begin():
                yield session
            return
        if unit.session is None:
            unit.session = self._writer()
        yield unit.session
        await unit.session.flush()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read transaction, ended (rolled back) on close; loaded objects stay readable.

        Inside a unit of work that has written, reads see its writes (its own session)."""
        unit = self._unit()
        # A unit that has not begun (built by `writing`, nothing run or added yet) has nothing
        # to show: the read gets its own session, so a durable write may still come after it.
        if unit is not None and unit.session is not None and _begun(unit.session):
            yield unit.session
            return
        async with self._reader() as session:
            yield session

    def _unit(self) -> _Unit | None:
        unit = _current_unit()
        if unit is None:
            return None
        if unit.db is None:
            unit.db = self
        return unit if unit.db is self else None

    async def dispose(self) -> None:
        await self.engine.dispose()
