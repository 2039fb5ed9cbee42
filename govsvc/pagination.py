"""Keyset pagination: stable under inserts, one query per page, capped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.errors import Invalid

T = TypeVar("T")
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool


def page_size(first: int | None, *, cap: int) -> int:
    if first is None:
        return min(DEFAULT_PAGE, cap)
    if first < 0 or first > cap:
        raise Invalid(f"first must be between 0 and {cap}", field="first")
    return first


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    *,
    id_column: Any,
    size: int,
    after_id: int | None,
    newest_first: bool = True,
) -> Page[Any]:
    """One page of `query` ordered by id; `after_id` is the last id of the previous page."""
    if after_id is not None:
        query = query.where(id_column < after_id if newest_first else id_column > after_id)
    query = query.order_by(id_column.desc() if newest_first else id_column).limit(size + 1)
    rows = list((await session.execute(query)).scalars().all())
    return Page(rows[:size], len(rows) > size)
