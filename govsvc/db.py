"""Database access: one declarative base, tz-aware UTC timestamps, read and write transactions.

Writes on SQLite start with BEGIN IMMEDIATE so a read-then-write (the audit chain head) can never
interleave with another writer; reads start a plain deferred transaction and never block writers
(WAL). On PostgreSQL both are ordinary transactions; serialization points take advisory locks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event
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
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        async with self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read transaction, ended (rolled back) on close; loaded objects stay readable."""
        async with self._reader() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
