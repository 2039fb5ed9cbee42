"""Keyset pagination: stable under inserts, one query per page, capped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
DEFAULT_PAGE = 20
# Where a cursor we never handed out points: past the end, so the page is empty. An unknown
# position answers like an unknown id does (nothing there), not with an error.
PAST_THE_END = -1


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool


def page_size(first: int | None, *, cap: int) -> int:
    """How many rows a page holds: `first` clamped to 0..cap (lists are capped, not refused)."""
    if first is None:
        return min(DEFAULT_PAGE, cap)
    return max(0, min(first, cap))


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
    if after_id == PAST_THE_END:
        return Page([], has_next=False)
    if after_id is not None:
        query = query.where(id_column < after_id if newest_first else id_column > after_id)
    query = query.order_by(id_column.desc() if newest_first else id_column).limit(size + 1)
    rows = list((await session.execute(query)).scalars().all())
    return Page(rows[:size], len(rows) > size)
