"""Global IDs and connections, the Relay way, over keyset pages."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any, TypeVar

from strawberry import relay

from govsvc.errors import NotFound
from govsvc.pagination import PAST_THE_END, Page

N = TypeVar("N", bound=relay.Node)
_CURSOR = "cursor:"


# Keys are 32-bit integers except where the column is 64-bit (the audit chain's sequence);
# a number a column cannot hold names nothing, so it is refused before any SQL sees it.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
_WIDE_KEYS = {"AuditEvent": INT64_MAX}
# Canonical decimal: ASCII digits only, no sign, no padding, no leading zero.
_KEY = re.compile(r"[1-9][0-9]{0,18}")


def global_id(type_name: str, pk: int) -> str:
    return relay.to_base64(type_name, pk)


def parse_key(text: str, *, max_key: int = INT32_MAX) -> int | None:
    """A primary key written the one way we write it, within what a column holds; else None.

    int() alone would take " 1 ", "+1", "01" and "\\u0661" (an Arabic-Indic one) as 1."""
    if not _KEY.fullmatch(text):
        return None
    key = int(text)
    return key if key <= max_key else None


def split_global_id(value: str) -> tuple[str, int] | None:
    """(type name, key) of a global ID exactly as we hand them out; None for anything else.

    The one decoder of global IDs: an ID that is not byte-for-byte what `global_id` would
    produce (other padding, stray characters, another spelling of the number) names nothing."""
    try:
        text = base64.b64decode(value.encode("ascii"), validate=True).decode("ascii")
    except (UnicodeError, ValueError, binascii.Error):
        return None
    type_name, separator, digits = text.partition(":")
    if not separator:
        return None
    key = parse_key(digits, max_key=_WIDE_KEYS.get(type_name, INT32_MAX))
    if key is None or global_id(type_name, key) != value:
        return None
    return type_name, key


def decode_id(value: str, type_name: str, *, field: str) -> int:
    """The primary key inside a global ID of the expected type; anything else is not found."""
    split = split_global_id(value)
    if split is None or split[0] != type_name:
        raise NotFound(f"no {type_name} with this id", field=field)
    return split[1]


def decode_optional(value: str | None, type_name: str, *, field: str) -> int | None:
    return None if value is None else decode_id(value, type_name, field=field)


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR}{pk}".encode()).decode()


def decode_cursor(cursor: str | None, *, max_key: int = INT32_MAX) -> int | None:
    """The id a cursor points after; an empty one means the start, a foreign one the end.

    `max_key` is what the keyset column holds (INT64_MAX for 64-bit columns)."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (UnicodeError, ValueError, binascii.Error):
        return PAST_THE_END
    key = parse_key(text.removeprefix(_CURSOR), max_key=max_key)
    if not text.startswith(_CURSOR) or key is None or encode_cursor(key) != cursor:
        return PAST_THE_END
    return key


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
