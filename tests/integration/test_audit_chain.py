"""The audit chain: one unbroken chain under concurrent writers, refused edits, one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from govsvc import usecase
from govsvc.audit import chain
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.errors import AlreadyExists
from govsvc.org import service as org_service
from govsvc.runtime import Runtime

WRITERS = 8
EACH = 15


def _system(runtime: Runtime, name: str) -> Caller:
    return Caller.system(runtime.policies.access, f"system:{name}")


async def test_concurrent_writers_leave_one_unbroken_chain_without_gaps(runtime: Runtime) -> None:
    # given 8 writers, each with its own connection, creating units as fast as they can
    async def writer(n: int) -> None:
        caller = _system(runtime, f"writer-{n}")
        for i in range(EACH):
            await usecase.run(
                runtime,
                caller,
                org_service.create_business_unit,
                code=f"w{n}-u{i}",
                name=f"Writer {n} unit {i}",
            )

    # when
    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    # then
    async with runtime.db.read() as session:
        result = await chain.verify(session)
        seqs = list(
            (await session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq))).scalars()
        )
    assert result.ok, result
    assert result.events_checked == WRITERS * EACH
    assert seqs == list(range(1, WRITERS * EACH + 1))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 1",
    ],
)
async def test_the_database_refuses_to_change_audit_rows(runtime: Runtime, statement: str) -> None:
    # given
    await usecase.run(
        runtime, _system(runtime, "t"), org_service.create_business_unit, code="a", name="A"
    )
    # when / then
    with pytest.raises(DBAPIError, match="append-only"):
        async with runtime.db.write() as session:
            await session.execute(text(statement))
    async with runtime.db.read() as session:
        assert (await chain.verify(session)).ok


async def test_a_refused_change_leaves_no_audit_event(runtime: Runtime) -> None:
    # given
    caller = _system(runtime, "t")
    await usecase.run(
        runtime, caller, org_service.create_business_unit, code="payments", name="Payments"
    )
    # when the same code is used again
    with pytest.raises(AlreadyExists):
        await usecase.run(
            runtime, caller, org_service.create_business_unit, code="payments", name="Dup"
        )
    # then the change and its audit event were rolled back together
    async with runtime.db.read() as session:
        count = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar()
    assert count == 1


async def test_an_empty_chain_verifies(runtime: Runtime) -> None:
    async with runtime.db.read() as session:
        result = await chain.verify(session)
    assert result.ok
    assert result.events_checked == 0
    assert result.head_seq is None
