"""Jurisdiction rules as data (policies/jurisdictions.yaml): rest, weekly on-call hours, public
holidays and quiet hours per country, and the checks that apply them to shifts and pages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

from govsvc.policy_files import PolicyFileError, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class JurisdictionsError(PolicyFileError):
    what = "jurisdiction rules"


class QuietHours(BaseModel):
    model_config = _STRICT
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"use HH:MM, 24-hour, got {value!r}")
        return value

    def covers(self, local: time) -> bool:
        opens, closes = time.fromisoformat(self.start), time.fromisoformat(self.end)
        if opens < closes:
            return opens <= local < closes
        return local >= opens or local < closes


class Rules(BaseModel):
    model_config = _STRICT
    min_daily_rest_hours: Annotated[float, Field(ge=0, le=24)] = 0
    max_oncall_hours_per_week: Annotated[float, Field(gt=0, le=168)] = 168
    public_holidays: bool = False
    quiet_hours: QuietHours | None = None


class _File(BaseModel):
    model_config = _STRICT
    version: str
    default: Rules
    jurisdictions: dict[str, Rules]

    @field_validator("jurisdictions")
    @classmethod
    def _countries(cls, value: dict[str, Rules]) -> dict[str, Rules]:
        for country in value:
            if not _COUNTRY.match(country):
                raise ValueError(f"key by ISO 3166 alpha-2 country (DE, US), got {country!r}")
            if country not in holidays.list_supported_countries():
                raise ValueError(f"the holidays library does not know country {country!r}")
        return value


@dataclass(frozen=True)
class Jurisdictions:
    version: str
    default: Rules
    by_country: dict[str, Rules]

    def rules_for(self, jurisdiction: str | None) -> tuple[str, Rules]:
        """(the key used, its rules) for a person's jurisdiction such as DE or US-CA."""
        country = (jurisdiction or "").split("-", 1)[0].upper()
        if country in self.by_country:
            return country, self.by_country[country]
        return "default", self.default


def load_jurisdictions(path: Path) -> Jurisdictions:
    data = load_yaml_model(path, _File, error=JurisdictionsError)
    return Jurisdictions(data.version, data.default, dict(data.jurisdictions))


@lru_cache(maxsize=256)
def _holidays(jurisdiction: str, year: int) -> dict[date, str]:
    country, _, subdivision = jurisdiction.partition("-")
    try:
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError:
        return {}
    except Exception:  # an unknown subdivision: the country's national holidays
        found = holidays.country_holidays(country, years=year)
    return {day: str(name) for day, name in found.items()}


def holiday_name(jurisdiction: str | None, day: date) -> str | None:
    if not jurisdiction:
        return None
    return _holidays(jurisdiction.upper(), day.year).get(day)


@dataclass(frozen=True)
class Person:
    id: int
    time_zone: str
    jurisdiction: str | None


@dataclass(frozen=True)
class Violation:
    rule: str  # min_daily_rest | max_oncall_hours_per_week | public_holiday | quiet_hours
    person_id: int
    start: datetime
    end: datetime
    jurisdiction: str
    detail: str


def _merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _overlap(spans: list[tuple[datetime, datetime]], a: datetime, b: datetime) -> float:
    return sum(max(0.0, (min(y, b) - max(x, a)).total_seconds()) for x, y in spans)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0)).replace(tzinfo=zone)


def violations(
    book: Jurisdictions,
    person: Person,
    spans: Iterable[tuple[datetime, datetime]],
    start: datetime,
    end: datetime,
) -> list[Violation]:
    """Every breach of the person's rules by their on-call `spans` within [start, end)."""
    merged = _merge((max(a, start), min(b, end)) for a, b in spans if b > start and a < end)
    if not merged:
        return []
    key, rules = book.rules_for(person.jurisdiction)
    zone = ZoneInfo(person.time_zone)
    found: list[Violation] = []
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    day = first
    while day <= last:
        lo = _local_midnight(day, zone)
        hi = _local_midnight(day + timedelta(days=1), zone)
        on = _overlap(merged, lo, hi)
        if on > 0:
            if rules.public_holidays:
                name = holiday_name(person.jurisdiction, day)
                if name is not None:
                    found.append(
                        Violation(
                            "public_holiday",
                            person.id,
                            lo,
                            hi,
                            key,
                            f"{day}: on call {on / 3600:.1f} h on {name}",
                        )
                    )
            if rules.quiet_hours is not None:
                quiet = _quiet_overlap(merged, rules.quiet_hours, day, zone)
                if quiet > 0:
                    found.append(
                        Violation(
                            "quiet_hours",
                            person.id,
                            lo,
                            hi,
                            key,
                            f"{day}: on call {quiet / 3600:.1f} h within quiet hours"
                            f" {rules.quiet_hours.start}-{rules.quiet_hours.end}",
                        )
                    )
        day += timedelta(days=1)
    if rules.min_daily_rest_hours > 0:
        found += _rest_breaches(merged, rules.min_daily_rest_hours, person, key, zone)
    week = first - timedelta(days=first.weekday())
    while week <= last:
        lo = _local_midnight(week, zone)
        hi = _local_midnight(week + timedelta(days=7), zone)
        hours = _overlap(merged, lo, hi) / 3600
        if hours > rules.max_oncall_hours_per_week:
            found.append(
                Violation(
                    "max_oncall_hours_per_week",
                    person.id,
                    lo,
                    hi,
                    key,
                    f"week of {week}: {hours:.1f} h on call, the rule is at most"
                    f" {rules.max_oncall_hours_per_week:g} h",
                )
            )
        week += timedelta(days=7)
    return sorted(found, key=lambda v: (v.start, v.rule))


def _rest_breaches(
    merged: list[tuple[datetime, datetime]], hours: float, person: Person, key: str, zone: ZoneInfo
) -> list[Violation]:
    """Each 24-hour period that begins when an on-call span does (and every 24 h within a
    longer one) must hold `hours` consecutive hours off call; time past the period asked
    about counts as off (nothing is known of it)."""
    day, needed = timedelta(hours=24), hours * 3600
    found: list[Violation] = []
    reported_until: datetime | None = None
    for a, b in merged:
        anchor = a
        while anchor < b:
            if reported_until is None or anchor >= reported_until:
                rest = _longest_gap(merged, anchor, anchor + day)
                if rest < needed:
                    local = anchor.astimezone(zone)
                    found.append(
                        Violation(
                            "min_daily_rest",
                            person.id,
                            anchor,
                            anchor + day,
                            key,
                            f"24 h from {local:%Y-%m-%d %H:%M} ({person.time_zone}): longest rest"
                            f" {rest / 3600:.1f} h, the rule is {hours:g} h",
                        )
                    )
                    reported_until = anchor + day
            anchor += day
    return found


def _longest_gap(merged: list[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> float:
    cursor, longest = lo, 0.0
    for a, b in merged:
        if b <= lo or a >= hi:
            continue
        longest = max(longest, (max(a, lo) - cursor).total_seconds())
        cursor = max(cursor, min(b, hi))
    return max(longest, (hi - cursor).total_seconds())


def _quiet_overlap(
    merged: list[tuple[datetime, datetime]], quiet: QuietHours, day: date, zone: ZoneInfo
) -> float:
    opens, closes = time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)
    windows = []
    if opens < closes:
        windows.append((datetime.combine(day, opens), datetime.combine(day, closes)))
    else:  # within this calendar day: midnight to the end, and the start to midnight
        windows.append((datetime.combine(day, time(0)), datetime.combine(day, closes)))
        windows.append(
            (datetime.combine(day, opens), datetime.combine(day + timedelta(days=1), time(0)))
        )
    return sum(_overlap(merged, a.replace(tzinfo=zone), b.replace(tzinfo=zone)) for a, b in windows)


def paging_forbidden(
    book: Jurisdictions, person: Person, now: datetime, last_page_elsewhere: datetime | None
) -> str | None:
    """Why the person's rules forbid paging them now, or None."""
    key, rules = book.rules_for(person.jurisdiction)
    local = now.astimezone(ZoneInfo(person.time_zone))
    if rules.quiet_hours is not None and rules.quiet_hours.covers(local.time()):
        return (
            f"quiet hours {rules.quiet_hours.start}-{rules.quiet_hours.end} ({key}, it is"
            f" {local:%H:%M} {person.time_zone})"
        )
    if last_page_elsewhere is not None and rules.min_daily_rest_hours > 0:
        rested_at = last_page_elsewhere + timedelta(hours=rules.min_daily_rest_hours)
        if now < rested_at:
            return (
                f"rest: paged for another incident at {last_page_elsewhere:%Y-%m-%d %H:%M}Z;"
                f" {rules.min_daily_rest_hours:g} h rest ({key}) until {rested_at:%H:%M}Z"
            )
    return None
