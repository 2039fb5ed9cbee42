"""Global IDs and connections, the Relay way, over keyset pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar

from strawberry import relay

from govsvc.errors import NotFound
from govsvc.pagination import PAST_THE_END, Page

N = TypeVar("N", bound=relay.Node)
_CURSOR = "cursor:"


def global_id(type_name: str, pk: int) -> str:
    return relay.to_base64(type_name, pk)


def decode_id(value: str, type_name: str, *, field: str) -> int:
    """The primary key inside a global ID of the expected type; anything else is not found."""
    try:
        found_type, pk = relay.from_base64(value)
        if found_type != type_name:
            raise ValueError(found_type)
        return int(pk)
    except (ValueError, TypeError, binascii.Error):
        raise NotFound(f"no {type_name} with this id", field=field) from None


def decode_optional(value: str | None, type_name: str, *, field: str) -> int | None:
    return None if value is None else decode_id(value, type_name, field=field)


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR}{pk}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor points after; an empty one means the start, a foreign one the end."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_CURSOR):
            raise ValueError(text)
        return int(text.removeprefix(_CURSOR))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return PAST_THE_END


def decode_filter(value: str | None, type_name: str) -> int | None:
    """An id to filter by; one that names nothing filters everything out, like a missing one."""
    if value is None:
        return None
    try:
        return decode_id(value, type_name, field="filter")
    except NotFound:
        return PAST_THE_END


def connection(
    page: Page[Any], to_node: Callable[[Any], N], key: Callable[[Any], int] = lambda row: row.id
) -> relay.Connection[N]:
    edges = [relay.Edge(cursor=encode_cursor(key(row)), node=to_node(row)) for row in page.items]
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
