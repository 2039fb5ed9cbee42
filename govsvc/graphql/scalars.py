"""DateTime as RFC 3339 in UTC; a time without an offset is refused, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types.scalar import ScalarDefinition


class InputValueError(ValueError):
    """Bad client input caught while parsing a value; its message is safe to show."""


def serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise InputValueError("DateTime must be an RFC 3339 string such as 2026-11-27T09:30:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputValueError(f"not an RFC 3339 date-time: {value!r}") from None
    if parsed.tzinfo is None:
        raise InputValueError(f"DateTime needs a UTC offset (Z or +hh:mm): {value!r}")
    return parsed.astimezone(UTC)


# Mapped onto Python's datetime in the schema config, so fields simply say `datetime`.
DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="An RFC 3339 date-time; always returned in UTC, accepted with any offset.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
