"""Text that no database here can store, refused where input enters the service.

PostgreSQL refuses NUL in text columns, and a lone surrogate (which JSON's \\ud800 escapes can
produce) cannot be encoded as UTF-8 at all; either would surface as a database error deep inside
a use case. Every string a client sends is checked once, at the boundary, against this."""

from __future__ import annotations

import re
from collections.abc import Iterator

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REASON = "text must not contain NUL characters or unpaired surrogates"


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def first_unstorable(value: object, *, root: str = "") -> str | None:
    """The path (a.b.0.c) of the first string, key or value, that cannot be stored; else None.

    Walks with a stack, not recursion: the input's depth is the client's choice."""
    for path, text in _strings(value, root):
        if not is_storable(text):
            return path
    return None


def _strings(value: object, root: str) -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, object]] = [(root, value)]
    while stack:
        path, current = stack.pop()
        if isinstance(current, str):
            yield path, current
        elif isinstance(current, dict):
            for key, item in current.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str):
                    yield child, key
                stack.append((child, item))
        elif isinstance(current, list | tuple):
            stack.extend(
                (f"{path}.{index}" if path else str(index), item)
                for index, item in enumerate(current)
            )
