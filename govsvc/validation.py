"""Input checks shared by the domains; each raises Invalid naming the offending field."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from govsvc.errors import Invalid

_CODE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$")
_JURISDICTION = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")


def code(value: str, *, field: str = "code") -> str:
    value = value.strip()
    if not _CODE.match(value):
        raise Invalid(
            "use 1-64 lower-case letters, digits and inner hyphens (e.g. payments-eu)", field=field
        )
    return value


def text(value: str, *, field: str, max_length: int = 200, allow_empty: bool = False) -> str:
    value = value.strip()
    if not value and not allow_empty:
        raise Invalid("must not be empty", field=field)
    if len(value) > max_length:
        raise Invalid(f"must be at most {max_length} characters", field=field)
    return value


def email(value: str, *, field: str = "email") -> str:
    value = value.strip().lower()
    if not _EMAIL.match(value):
        raise Invalid("not an e-mail address", field=field)
    return value


def time_zone(value: str, *, field: str = "timeZone") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown IANA time zone {value!r}", field=field) from None
    return value


def jurisdiction(value: str | None, *, field: str = "jurisdiction") -> str | None:
    if value is None:
        return None
    value = value.strip().upper()
    if not _JURISDICTION.match(value):
        raise Invalid("use an ISO 3166 code such as DE or US-CA", field=field)
    return value


_HANDLE = re.compile(r"^[^\W_][\w.-]{0,78}[^\W_]$|^[^\W_]$")
MAX_HANDLES = 10


def handles(values: list[str], *, field: str = "handles") -> list[str]:
    """Chat ids as people write them after "@" ("kofi.mensah"): stored without the "@"."""
    if len(values) > MAX_HANDLES:
        raise Invalid(f"at most {MAX_HANDLES} handles", field=field)
    clean: list[str] = []
    for value in values:
        handle = value.strip().removeprefix("@")
        if not _HANDLE.match(handle):
            raise Invalid(
                f"{value!r} is not a chat handle: letters, digits, '.', '-' or '_', "
                "starting and ending with a letter or digit",
                field=field,
            )
        if handle.casefold() not in {h.casefold() for h in clean}:
            clean.append(handle)
    return clean
