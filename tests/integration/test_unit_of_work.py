"""A use case's writes, however many blocks they take, commit together or not at all: the
mechanism every GraphQL mutation runs in (govsvc.db.unit_of_work)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from govsvc.caller import Caller
from govsvc.db import after_commit, after_rollback, unit_of_work
from govsvc.errors import Invalid
from govsvc.org.models import BusinessUnit
from govsvc.runtime import Runtime
from govsvc.usecase import writing


async def _units(runtime: Runtime) -> list[str]:
    async with runtime.db.read() as session:
        return list(
            (await session.execute(select(BusinessUnit.code).order_by(BusinessUnit.code))).scalars()
        )


async def _two_steps_then(runtime: Runtime, refuse: bool, heard: list[str]) -> None:
    async with runtime.db.write() as session:
        session.add(BusinessUnit(code="first", name="First"))
    async with runtime.db.read() as session:  # a later step sees the earlier one's writes
        seen = (await session.execute(select(func.count()).select_from(BusinessUnit))).scalar()
        assert seen == 1
    async with runtime.db.write(durable=False) as session:
        session.add(BusinessUnit(code="second", name="Second"))

    async def on_commit() -> None:
        heard.append("committed")

    async def on_rollback() -> None:
        heard.append("rolled back")

    await after_commit(on_commit)
    await after_rollback(on_rollback)
    if refuse:
        raise Invalid("refused at the end")


async def test_a_refusal_after_several_committed_looking_steps_stores_nothing(
    runtime: Runtime,
) -> None:
    # given / when a use case writes in two steps, then refuses
    heard: list[str] = []
    with pytest.raises(Invalid):
        async with unit_of_work():
            await _two_steps_then(runtime, True, heard)
    # then neither step was stored, and only the rollback hook ran (after the rollback)
    assert await _units(runtime) == []
    assert heard == ["rolled back"]


async def test_a_use_case_that_succeeds_commits_every_step(runtime: Runtime) -> None:
    heard: list[str] = []
    async with unit_of_work():
        await _two_steps_then(runtime, False, heard)
    assert await _units(runtime) == ["first", "second"]
    assert heard == ["committed"]


async def test_a_durable_write_survives_the_rollback(runtime: Runtime) -> None:
    # given a use case that records something irreversible first, then refuses
    async def use_case() -> None:
        async with unit_of_work():
            async with runtime.db.write(durable=True) as session:
                session.add(BusinessUnit(code="kept", name="Kept"))
            async with runtime.db.write() as session:
                session.add(BusinessUnit(code="dropped", name="Dropped"))
            raise Invalid("refused")

    # when
    with pytest.raises(Invalid):
        await use_case()
    # then the durable record stays, the rest is gone
    assert await _units(runtime) == ["kept"]


async def test_a_use_case_writes_durably_before_its_own_first_statement(runtime: Runtime) -> None:
    # given a use case (its session open, no statement run) that reads, records something
    # irreversible, then writes in its own transaction and refuses (evidence.collect's shape)
    caller = Caller.system(runtime.policies.access, "system:test")

    async def use_case() -> None:
        async with writing(runtime, caller) as uc:
            async with uc.db.read() as session:  # a read of its own: takes no write lock
                await session.execute(select(BusinessUnit.id))
            async with uc.db.write(durable=True) as session:
                session.add(BusinessUnit(code="kept", name="Kept"))
            uc.session.add(BusinessUnit(code="dropped", name="Dropped"))
            await uc.session.flush()
            raise Invalid("refused")

    # when
    with pytest.raises(Invalid):
        await use_case()
    # then the durable record stays (no wait on the use case's own lock), the rest is gone
    assert await _units(runtime) == ["kept"]
