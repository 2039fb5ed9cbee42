"""Reading the organisation's records the same way for each kind: one by id (forbidden looks
missing), a page, or a batch for a loader, always filtered by the caller's rights in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.errors import NotFound
from govsvc.pagination import Page, fetch_page

R = TypeVar("R")


@dataclass(frozen=True)
class Kind(Generic[R]):
    model: type[R]
    resource_type: str  # as the access policy names it
    unit_column: Any | None  # where its business unit is; None: it belongs to no unit
    missing: str  # what a caller who cannot see it is told

    def visible(self, caller: Caller) -> ColumnElement[bool]:
        return readable(caller.access, self.resource_type, self.unit_column)

    @property
    def id_column(self) -> Any:
        return self.model.id  # type: ignore[attr-defined]


async def one(session: AsyncSession, caller: Caller, kind: Kind[R], pk: int, *, field: str) -> R:
    found = (
        await session.execute(select(kind.model).where(kind.id_column == pk, kind.visible(caller)))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(kind.missing, field=field)
    return found


async def page(
    session: AsyncSession, caller: Caller, kind: Kind[R], *, size: int, after_id: int | None
) -> Page[R]:
    """Oldest first: organisation records are browsed as a directory, not a feed."""
    return await fetch_page(
        session,
        select(kind.model).where(kind.visible(caller)),
        id_column=kind.id_column,
        size=size,
        after_id=after_id,
        newest_first=False,
    )


async def by_id(
    session: AsyncSession, caller: Caller, kind: Kind[R], ids: Iterable[int]
) -> dict[int, R]:
    rows = await session.execute(
        select(kind.model).where(kind.id_column.in_(set(ids)), kind.visible(caller))
    )
    return {row.id: row for row in rows.scalars()}  # type: ignore[attr-defined]
