"""One leader per job: a job runs only while holding a lock of its own for its whole duration.

Several `govsvc worker` processes (and the worker inside each `serve`) tick on the same
intervals; without this they sweep, sign and checkpoint the same things at the same time.

- PostgreSQL: a session-level advisory lock, taken on a connection of the job's own (in
  autocommit, so no transaction stays open while the job runs) and released when the job ends.
  A worker that dies loses its connection, and the lock with it.
- SQLite: an exclusive `flock` on a file next to the database. WAL databases are only shared by
  processes of one host, so a host-level lock reaches every worker; the kernel drops it when
  the process dies, so no lease ever has to expire. Locks on separate opens of the file exclude
  each other, so two worker loops in one process are kept apart too.

The lock is re-entrant within one task (and the tasks it starts): a use case that takes its
job's lock itself (a sweep asked for on the command line) runs unchanged inside the worker,
which already holds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from govsvc.db import Database

log = logging.getLogger("govsvc.leader")

# How often a caller that waits for a lock tries again.
POLL_SECONDS = 0.1
_held: ContextVar[frozenset[str]] = ContextVar("govsvc_leader_held", default=frozenset())


def lock_key(db: Database, job: str) -> int:
    """A signed 64-bit advisory-lock key for `job`, distinct per schema (one PostgreSQL
    database may hold several deployments, each with its own leaders)."""
    digest = hashlib.sha256(f"govsvc job {db.schema}:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(db: Database, job: str) -> Path | None:
    """The file whose flock elects `job`'s leader on SQLite; None for an in-memory database."""
    path = make_url(db.url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    slug = hashlib.sha256(job.encode()).hexdigest()[:16]
    return Path(path).with_name(f"{Path(path).name}.job-{slug}.lock")


@contextlib.asynccontextmanager
async def lead(db: Database, job: str, *, wait: bool = False) -> AsyncIterator[bool]:
    """Hold `job`'s lock for the block; yields False at once when another holder has it and
    `wait` is false (the caller skips the job), else waits for it."""
    if job in _held.get():
        yield True
        return
    holder = _postgres_lock(db, job, wait) if not db.is_sqlite else _file_lock(db, job, wait)
    async with holder as acquired:
        if not acquired:
            yield False
            return
        token = _held.set(_held.get() | {job})
        try:
            yield True
        finally:
            _held.reset(token)


@contextlib.asynccontextmanager
async def _postgres_lock(db: Database, job: str, wait: bool) -> AsyncIterator[bool]:
    key = lock_key(db, job)
    connection = await db.engine.connect()
    try:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while not (
            await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        ):
            if not wait:
                yield False
                return
            await asyncio.sleep(POLL_SECONDS)
        try:
            yield True
        finally:
            try:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except BaseException:
                # A connection that may still hold the lock must never go back to the pool.
                await connection.invalidate()
                raise
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def _file_lock(db: Database, job: str, wait: bool) -> AsyncIterator[bool]:
    path = lock_file(db, job)
    if path is None:
        # An in-memory database lives and dies with one connection: nobody else can share it.
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            if not wait:
                yield False
                return
            await asyncio.sleep(POLL_SECONDS)
        yield True
    finally:
        os.close(fd)  # releases the lock
