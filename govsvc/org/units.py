"""The tree of business units, as access checks need it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import UnitTree
from govsvc.org.models import BusinessUnit


async def load_unit_tree(session: AsyncSession) -> UnitTree:
    rows = (
        await session.execute(select(BusinessUnit.id, BusinessUnit.parent_id, BusinessUnit.code))
    ).all()
    return UnitTree({r.id: r.parent_id for r in rows}, {r.id: r.code for r in rows})
