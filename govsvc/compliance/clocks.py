"""Regulator notification clocks: regimes as data (policies/regimes.yaml), a pure deadline engine.

A regime (GDPR, NIS2, DORA, SEC 8-K, HIPAA ...) lists clocks: who must be told, what the clock
counts from and how its deadline is reckoned. `evaluate` turns an incident's recorded triggers,
sent notifications and facts into the state of every clock, with an explanation a person can
check by hand. Nothing here reads a database or the system clock, so a past evaluation can be
reproduced exactly.

Time: inputs are timezone-aware instants and outputs are UTC. Hour, day and month rules are UTC
arithmetic, so a DST change never stretches or shrinks "72 hours". Business-day and
calendar-year rules count local dates in the regime's time zone, because that is where "a
business day" and "a calendar year" are meant.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from dateutil.relativedelta import relativedelta
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from govsvc.compliance.facts import KNOWN_FACTS, FactKind
from govsvc.compliance.facts import known as known_facts
from govsvc.policy_files import KEBAB_CASE, PolicyFileError, _line_of, load_yaml_model

__all__ = [
    "Clock",
    "ClockState",
    "ClockStatus",
    "Due",
    "FactTest",
    "Limit",
    "Regime",
    "RegimeError",
    "Regimes",
    "TriggerKind",
    "evaluate",
    "load_regimes",
]


# --- vocabulary ---------------------------------------------------------------------------------


class TriggerKind(StrEnum):
    """Moments recorded on an incident that a clock can count from (the first of each kind)."""

    DETECTED = "detected"
    BECAME_AWARE = "became_aware"
    CLASSIFIED_MAJOR = "classified_major"
    MATERIALITY_DETERMINED = "materiality_determined"
    CONTAINED = "contained"
    RESOLVED = "resolved"


class ClockState(StrEnum):
    NOT_STARTED = "NOT_STARTED"  # what it counts from has not happened (nor been sent)
    # Not sent, and whether it applies hangs on facts not yet known (`pending_facts`): kept in
    # view, never dropped. Near or past its deadline it shows DUE_SOON or MISSED instead (still
    # with its pending facts), so waiting for facts never silences an alarm.
    WAITING = "WAITING"
    OPEN = "OPEN"
    DUE_SOON = "DUE_SOON"  # not sent, and the deadline is within the `due_soon` window
    MET = "MET"  # sent at or before the deadline
    MISSED = "MISSED"  # deadline passed unsent, or sent after it


class RegimeError(PolicyFileError):
    what = "notification regimes"


_STRICT = ConfigDict(extra="forbid", frozen=True)
_KEBAB = KEBAB_CASE.removeprefix("^").removesuffix("$")
_NOTIFICATION = re.compile(rf"^notification:(?P<regime>{_KEBAB})/(?P<clock>{_KEBAB})$")
_TRIGGER_KINDS = frozenset(kind.value for kind in TriggerKind)
# Deadlines that end "on a day" end at the last whole second of that local day.
_END_OF_DAY = time(23, 59, 59)


def _check_start(value: str) -> str:
    if value in _TRIGGER_KINDS or _NOTIFICATION.match(value):
        return value
    if value.startswith("notification:"):
        raise ValueError(
            f"{value!r}: write notification:<regime id>/<clock id>, both in lower-kebab-case"
        )
    kinds = ", ".join(TriggerKind)
    raise ValueError(
        f"unknown trigger {value!r}; use one of {kinds}, or notification:<regime id>/<clock id>"
    )


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {name!r}, e.g. Europe/Brussels") from None
    return name


def _check_calendar(code: str) -> str:
    if code not in holidays.list_supported_countries():
        raise ValueError(f"no holiday calendar {code!r}; use a country code such as US")
    return code


Identifier = Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
SnakeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
StartsAt = Annotated[StrictStr, AfterValidator(_check_start)]
TimeZoneName = Annotated[StrictStr, AfterValidator(_check_time_zone)]
CalendarCode = Annotated[StrictStr, AfterValidator(_check_calendar)]
# Quoted in YAML on purpose: unquoted, 2026.10 would be read as the number 2026.1.
Version = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
# Strict so that YAML `true` or "5" is refused rather than silently read as a number; the upper
# bounds only catch slips such as hours written where minutes were meant.
Hours = Annotated[StrictInt, Field(ge=1, le=24 * 366)]
Days = Annotated[StrictInt, Field(ge=1, le=3660)]
Months = Annotated[StrictInt, Field(ge=1, le=120)]
BusinessDays = Annotated[StrictInt, Field(ge=1, le=366)]
Number = StrictInt | StrictFloat
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr


def _refuse_explicit_nulls(model: BaseModel) -> None:
    # `sent: null` would silently mean the default; leaving the key out is the one way to say it.
    for name in sorted(model.model_fields_set):
        if getattr(model, name) is None:
            key = type(model).model_fields[name].alias or name
            raise ValueError(f"{key!r} is null; give a value or leave the key out")


def _first_duplicate(values: Iterable[str]) -> tuple[str, int, int] | None:
    """(value, index of its first use, index of its repeat) for the first repeat, if any."""
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            return value, first[value], index
        first[value] = index
    return None


# --- formatting for explanations ----------------------------------------------------------------


def _iso(moment: datetime) -> str:
    pattern = "%Y-%m-%dT%H:%MZ" if moment.second == 0 else "%Y-%m-%dT%H:%M:%SZ"
    return moment.astimezone(UTC).strftime(pattern)


def _when(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    pattern = "%Y-%m-%d %H:%M %Z" if local.second == 0 else "%Y-%m-%d %H:%M:%S %Z"
    return f"{_iso(moment)} ({zone.key} {local.strftime(pattern)})"


def _span(amount: timedelta) -> str:
    seconds = int(amount.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


# --- deadline rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Deadline:
    at: datetime  # UTC
    rule: str  # e.g. "72 h", "4 business days (US calendar)"
    detail: str = ""  # how a calendar rule counted, for the explanation


@functools.cache
def _holiday_calendar(code: str) -> holidays.HolidayBase:
    # Expands to further years on lookup, so one instance serves every year.
    return holidays.country_holidays(code)


def _end_of_local_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, _END_OF_DAY, tzinfo=zone).astimezone(UTC)


_DUE_FORMS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"hours"}), "{hours: N}"),
    (frozenset({"calendar_days"}), "{calendar_days: N}"),
    (frozenset({"months"}), "{months: N}"),
    (frozenset({"business_days", "calendar"}), "{business_days: N, calendar: US}"),
    (frozenset({"end_of_calendar_year_plus_days"}), "{end_of_calendar_year_plus_days: N}"),
    (frozenset({"without_undue_delay", "hours"}), "{without_undue_delay: true, hours: N}"),
)


class Due(BaseModel):
    """How a deadline is reckoned from a start: exactly one of the forms in `_DUE_FORMS`."""

    model_config = _STRICT

    hours: Hours | None = None
    calendar_days: Days | None = None
    months: Months | None = None
    business_days: BusinessDays | None = None
    calendar: CalendarCode | None = None
    end_of_calendar_year_plus_days: Days | None = None
    without_undue_delay: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        _refuse_explicit_nulls(self)
        given = frozenset(self.model_fields_set)
        if all(given != form for form, _ in _DUE_FORMS):
            forms = ", ".join(text for _, text in _DUE_FORMS)
            got = "{" + ", ".join(sorted(given)) + "}"
            raise ValueError(f"give exactly one deadline form: {forms}; got {got}")
        return self

    @property
    def soft(self) -> bool:
        """No fixed limit in law ("without undue delay"): the hours are only a target."""
        return self.without_undue_delay is True

    @property
    def rule(self) -> str:
        """The rule in words, to be followed by its start: "72 h after", "4 business days ..."."""
        if self.hours is not None:
            hours = f"{self.hours} h after"
            return f"without undue delay, indicative target {hours}" if self.soft else hours
        if self.calendar_days is not None:
            return f"{_plural(self.calendar_days, 'calendar day')} after"
        if self.months is not None:
            return f"{_plural(self.months, 'month')} after"
        if self.business_days is not None:
            return f"{_plural(self.business_days, 'business day')} ({self.calendar} calendar) after"
        days = self.end_of_calendar_year_plus_days or 0
        return f"{_plural(days, 'day')} after the end of the calendar year of"

    def after(self, start: datetime, zone: ZoneInfo) -> _Deadline:
        start = start.astimezone(UTC)
        if self.hours is not None:
            # Aware UTC arithmetic: real elapsed hours whatever the local clocks do meanwhile.
            return _Deadline(start + timedelta(hours=self.hours), self.rule)
        if self.calendar_days is not None:
            return _Deadline(start + timedelta(days=self.calendar_days), self.rule)
        if self.months is not None:
            # relativedelta clamps to the month's end: 31 January + 1 month is 28/29 February.
            return _Deadline(start + relativedelta(months=self.months), self.rule)
        if self.business_days is not None and self.calendar is not None:
            at, detail = _business_days_after(start, self.business_days, self.calendar, zone)
            return _Deadline(at, self.rule, detail)
        if self.end_of_calendar_year_plus_days is not None:
            days = self.end_of_calendar_year_plus_days
            year = start.astimezone(zone).year
            last_day = date(year, 12, 31) + timedelta(days=days)
            detail = (
                f"the start falls in {year} in {zone.key}; day {days} after {year}-12-31 "
                f"is {last_day.isoformat()}, ending 23:59:59 local time"
            )
            return _Deadline(_end_of_local_day(last_day, zone), self.rule, detail)
        raise AssertionError("a validated Due has exactly one form")  # pragma: no cover


def _business_days_after(
    start: datetime, count: int, calendar: str, zone: ZoneInfo
) -> tuple[datetime, str]:
    """The end (23:59:59 local) of the `count`th business day after the start's local date.

    The start's own date is day 0 whatever the hour, and whether or not it is a business day;
    so a determination on a Saturday counts Monday as day 1, as Form 8-K's General Instruction
    B.1 has it ("begin to run on, and include, the first business day thereafter").
    """
    days_off = _holiday_calendar(calendar)
    day = day_zero = start.astimezone(zone).date()
    skipped: list[str] = []
    counted = 0
    while counted < count:
        day += timedelta(days=1)
        if days_off.is_working_day(day):
            counted += 1
        elif day in days_off:
            skipped.append(f"{day.isoformat()} {days_off.get(day)}")
    detail = (
        f"day 0 is {day_zero.isoformat()} in {zone.key}; day {count} is {day.isoformat()}, "
        "ending 23:59:59 local time"
    )
    if skipped:
        detail += f"; holidays not counted: {', '.join(skipped)}"
    return _end_of_local_day(day, zone), detail


# --- conditions on facts ------------------------------------------------------------------------


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: object, expected: Scalar) -> bool:
    # Type-strict equality: `eq: true` must not match the number 1, nor "1" match 1.
    if _is_number(value) and _is_number(expected):
        return value == expected
    return type(value) is type(expected) and value == expected


_BOUNDS: tuple[tuple[str, str, Callable[[float, float], bool]], ...] = (
    ("gte", ">=", operator.ge),
    ("gt", ">", operator.gt),
    ("lte", "<=", operator.le),
    ("lt", "<", operator.lt),
)


class FactTest(BaseModel):
    """What one fact must be for a clock to apply; all given tests must hold."""

    model_config = _STRICT

    gte: Number | None = None
    gt: Number | None = None
    lte: Number | None = None
    lt: Number | None = None
    eq: Scalar | None = None
    in_: Annotated[tuple[Scalar, ...], Field(min_length=1)] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        _refuse_explicit_nulls(self)
        if not self.model_fields_set:
            raise ValueError("no test given; use gte, gt, lte, lt, eq or in")
        return self

    def holds(self, fact: str, value: object) -> bool:
        """Whether `value` passes; a bound on a value that is not a number is a caller's error."""
        if self.eq is not None and not _same(value, self.eq):
            return False
        if self.in_ is not None and not any(_same(value, option) for option in self.in_):
            return False
        for name, symbol, compare in _BOUNDS:
            bound = getattr(self, name)
            if bound is None:
                continue
            if not _is_number(value):
                raise ValueError(
                    f"fact {fact!r} must be a number to test {symbol} {bound}, got {value!r}"
                )
            if not compare(value, bound):
                return False
        return True

    def describe(self, fact: str) -> str:
        tests = [
            f"{fact} {symbol} {getattr(self, name)}"
            for name, symbol, _ in _BOUNDS
            if getattr(self, name) is not None
        ]
        if self.eq is not None:
            tests.append(f"{fact} = {self.eq}")
        if self.in_ is not None:
            tests.append(f"{fact} in [{', '.join(str(option) for option in self.in_)}]")
        return " and ".join(tests)


# --- regimes and clocks -------------------------------------------------------------------------


class Limit(BaseModel):
    """A deadline counted from one start: a trigger kind or another clock's notification."""

    model_config = _STRICT

    starts_at: StartsAt
    # Which of several sent notifications a `notification:` start counts from.
    sent: Literal["first", "latest"] | None = None
    due: Due

    @model_validator(mode="after")
    def _sent_needs_a_notification(self) -> Self:
        _refuse_explicit_nulls(self)
        if self.sent is not None and self.notification is None:
            raise ValueError(
                f"'sent' only applies to a notification:<regime id>/<clock id> start, "
                f"not to {self.starts_at!r}"
            )
        return self

    @property
    def trigger(self) -> TriggerKind | None:
        return None if self.notification is not None else TriggerKind(self.starts_at)

    @property
    def notification(self) -> str | None:
        """The "<regime>/<clock>" key whose sending starts this limit, if it is such a start."""
        match = _NOTIFICATION.match(self.starts_at)
        return None if match is None else f"{match['regime']}/{match['clock']}"


class Clock(Limit):
    """One notification a regime requires, with its deadline and when it applies."""

    id: Identifier
    name: Text
    audience: SnakeName
    citation: Text
    # Further limits, each from its own start; the clock is due at the earliest of them all.
    earliest_of: Annotated[tuple[Limit, ...], Field(min_length=1)] | None = None
    applies_when: dict[SnakeName, FactTest] = Field(default_factory=dict)
    late_allowed_with_reasons: StrictBool = False
    phased: StrictBool = False

    @model_validator(mode="after")
    def _soft_stands_alone(self) -> Self:
        _refuse_explicit_nulls(self)
        limits: tuple[Limit, ...] = (self, *(self.earliest_of or ()))
        if self.earliest_of is not None and any(limit.due.soft for limit in limits):
            # A soft target is not a limit, so "the earliest of" it and a hard one means nothing.
            raise ValueError("'earliest_of' cannot be combined with a without_undue_delay due")
        return self

    @property
    def soft(self) -> bool:
        return self.due.soft


class Regime(BaseModel):
    model_config = _STRICT

    id: Identifier
    name: Text
    citation: Text
    time_zone: TimeZoneName
    clocks: Annotated[tuple[Clock, ...], Field(min_length=1)]

    @field_validator("clocks")
    @classmethod
    def _clock_ids_unique(cls, clocks: tuple[Clock, ...]) -> tuple[Clock, ...]:
        duplicate = _first_duplicate(clock.id for clock in clocks)
        if duplicate is not None:
            clock_id, first, again = duplicate
            raise ValueError(
                f"clocks.{again}: duplicate clock id {clock_id!r} (see clocks.{first})"
            )
        return clocks

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def clock_ids(self) -> tuple[str, ...]:
        return tuple(clock.id for clock in self.clocks)

    def clock(self, clock_id: str) -> Clock:
        for clock in self.clocks:
            if clock.id == clock_id:
                return clock
        raise KeyError(f"regime {self.id!r} has no clock {clock_id!r}")


class _RegimesDocument(BaseModel):
    model_config = _STRICT

    version: Version
    regimes: Annotated[tuple[Regime, ...], Field(min_length=1)]

    @field_validator("regimes")
    @classmethod
    def _regime_ids_unique(cls, regimes: tuple[Regime, ...]) -> tuple[Regime, ...]:
        duplicate = _first_duplicate(regime.id for regime in regimes)
        if duplicate is not None:
            regime_id, first, again = duplicate
            raise ValueError(
                f"regimes.{again}: duplicate regime id {regime_id!r} (see regimes.{first})"
            )
        return regimes


class Regimes(Mapping[str, Regime]):
    """The loaded regimes by id, in file order; references between clocks are known to hold."""

    def __init__(self, document: _RegimesDocument) -> None:
        self.version = document.version
        self._by_id = {regime.id: regime for regime in document.regimes}

    def __getitem__(self, regime_id: str) -> Regime:
        return self._by_id[regime_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


# --- loading ------------------------------------------------------------------------------------

_Location = tuple[int | str, ...]


def _reference_problems(document: _RegimesDocument) -> list[tuple[_Location, str]]:
    """Notification starts that name no clock, name their own clock, or can never start."""
    clocks = {regime.id: regime.clock_ids for regime in document.regimes}
    problems: list[tuple[_Location, str]] = []
    follows: dict[str, tuple[str, _Location]] = {}  # clock key -> the clock it starts from
    for r, regime in enumerate(document.regimes):
        for c, clock in enumerate(regime.clocks):
            own = f"{regime.id}/{clock.id}"
            where: _Location = ("regimes", r, "clocks", c)
            limits = [(where, clock)] + [
                ((*where, "earliest_of", e), limit)
                for e, limit in enumerate(clock.earliest_of or ())
            ]
            for place, limit in limits:
                key = limit.notification
                if key is None:
                    continue
                location = (*place, "starts_at")
                regime_id, _, clock_id = key.partition("/")
                if key == own:
                    problems.append((location, f"{key!r}: a clock cannot count from itself"))
                elif regime_id not in clocks:
                    known = ", ".join(clocks)
                    problems.append((location, f"no regime {regime_id!r} (regimes: {known})"))
                elif clock_id not in clocks[regime_id]:
                    known = ", ".join(clocks[regime_id])
                    problems.append(
                        (location, f"regime {regime_id!r} has no clock {clock_id!r} ({known})")
                    )
                elif limit is clock:
                    follows[own] = (key, location)
    problems.extend(_cycles(follows))
    return problems


def _cycles(follows: Mapping[str, tuple[str, _Location]]) -> list[tuple[_Location, str]]:
    # Each clock starts from at most one other, so following starts from any clock either ends
    # at a trigger kind or runs into a loop, whose clocks all wait for each other forever.
    problems: list[tuple[_Location, str]] = []
    reported: set[str] = set()
    for origin in follows:
        path = [origin]
        while path[-1] in follows and follows[path[-1]][0] not in path:
            path.append(follows[path[-1]][0])
        if path[-1] not in follows:
            continue  # reached a clock that counts from a trigger
        loop = path[path.index(follows[path[-1]][0]) :]
        if reported.isdisjoint(loop):
            reported.update(loop)
            chain = " -> ".join([*loop, loop[0]])
            problems.append(
                (follows[loop[0]][1], f"clocks that start from each other never start: {chain}")
            )
    return problems


def _fact_problems(document: _RegimesDocument) -> list[tuple[_Location, str]]:
    """`applies_when` naming a fact nobody can record (the clock would wait for ever), or
    testing it in a way its values can never pass (a bound on a yes/no, an unknown level)."""
    problems: list[tuple[_Location, str]] = []
    for r, regime in enumerate(document.regimes):
        for c, clock in enumerate(regime.clocks):
            for name, test in clock.applies_when.items():
                location: _Location = ("regimes", r, "clocks", c, "applies_when", name)
                fact = KNOWN_FACTS.get(name)
                if fact is None:
                    problems.append(
                        (location, f"unknown fact {name!r}; known facts: {known_facts()}")
                    )
                    continue
                bounds = [b for b, _, _ in _BOUNDS if getattr(test, b) is not None]
                if bounds and fact.kind is not FactKind.COUNT:
                    problems.append(
                        (location, f"{', '.join(bounds)} needs a number; {fact.describe()}")
                    )
                values = [test.eq] if test.eq is not None else []
                values += list(test.in_ or ())
                wrong = [v for v in values if not fact.admits(v)]
                if wrong:
                    shown = ", ".join(repr(v) for v in wrong)
                    problems.append((location, f"{shown} can never be {fact.describe()}"))
    return problems


def load_regimes(path: Path) -> Regimes:
    """Load and validate the regimes; a broken file names itself and the line."""
    document = load_yaml_model(path, _RegimesDocument, error=RegimeError)
    problems = _reference_problems(document) + _fact_problems(document)
    if problems:
        try:
            root: yaml.Node | None = yaml.compose(
                path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader
            )
        except (OSError, UnicodeError, yaml.YAMLError):
            root = None  # changed under us since it loaded: report without line numbers
        raise RegimeError(path, [_at(root, location, message) for location, message in problems])
    return Regimes(document)


def _at(root: yaml.Node | None, location: _Location, message: str) -> str:
    where = ".".join(str(part) for part in location)
    line = _line_of(root, location)
    return f"{where} (line {line}): {message}" if line is not None else f"{where}: {message}"


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockStatus:
    """Where one clock stands for an incident at `now`, and why, in words a person can check."""

    regime: str
    clock: str
    name: str
    audience: str
    citation: str
    state: ClockState
    started_at: datetime | None  # UTC; None while what it counts from has not happened
    due_at: datetime | None  # UTC; for a soft clock, the indicative target
    sent_at: datetime | None  # the first notification sent for this clock
    sent_late_by: timedelta | None
    soft: bool
    phased: bool
    late_allowed_with_reasons: bool
    pending_facts: tuple[str, ...]  # facts that decide whether it applies, not yet known
    explanation: str

    @property
    def reasons_required(self) -> bool:
        """Late, and the law accepts a late notification only with the reasons for the delay."""
        return self.state is ClockState.MISSED and self.late_allowed_with_reasons


@dataclass(frozen=True)
class _Start:
    at: datetime
    label: str  # e.g. "became_aware", "latest dora/intermediate-report sent"


@dataclass(frozen=True)
class _Inputs:
    regime: Regime
    zone: ZoneInfo
    triggers: Mapping[TriggerKind, datetime]
    sent: Mapping[str, tuple[datetime, ...]]  # sorted, UTC
    now: datetime
    due_soon: timedelta


def _as_utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _recorded_triggers(triggers: Mapping[str, datetime]) -> dict[TriggerKind, datetime]:
    recorded: dict[TriggerKind, datetime] = {}
    for name, moment in triggers.items():
        try:
            kind = TriggerKind(name)
        except ValueError:
            kinds = ", ".join(TriggerKind)
            raise ValueError(f"unknown trigger kind {name!r}; known: {kinds}") from None
        recorded[kind] = _as_utc(moment, f"trigger {name}")
    return recorded


def _sent_notifications(
    regime: Regime, notifications: Mapping[str, Sequence[datetime]]
) -> dict[str, tuple[datetime, ...]]:
    sent: dict[str, tuple[datetime, ...]] = {}
    for key, moments in notifications.items():
        regime_id, _, clock_id = key.partition("/")
        # Other regimes' keys pass through: a clock may count from another regime's notice.
        if regime_id == regime.id and clock_id not in regime.clock_ids:
            known = ", ".join(regime.clock_ids)
            raise ValueError(f"notification {key!r} names no clock of {regime.id} ({known})")
        sent[key] = tuple(sorted(_as_utc(moment, f"notification {key}") for moment in moments))
    return sent


def _start_of(limit: Limit, inputs: _Inputs) -> _Start | None:
    key = limit.notification
    if key is None:
        trigger = TriggerKind(limit.starts_at)
        moment = inputs.triggers.get(trigger)
        return None if moment is None else _Start(moment, trigger.value)
    moments = inputs.sent.get(key, ())
    if not moments:
        return None
    if limit.sent == "latest":
        return _Start(moments[-1], f"latest {key} sent")
    return _Start(moments[0], f"{key} sent")


def _describe_start(limit: Limit) -> str:
    key = limit.notification
    if key is None:
        return f"{limit.starts_at}, not yet recorded"
    return f"{'the latest' if limit.sent == 'latest' else 'the first'} {key}, not yet sent"


def _applicability(clock: Clock, facts: Mapping[str, object]) -> tuple[str, ...] | None:
    """None when a known fact rules the clock out; else the facts it still waits for."""
    pending: list[str] = []
    for fact, test in clock.applies_when.items():
        value = facts.get(fact)
        if value is None:
            pending.append(fact)  # unknown yet: keep the clock in view rather than miss it
        elif not test.holds(fact, value):
            return None
    return tuple(pending)


def evaluate(
    regime: Regime,
    *,
    triggers: Mapping[str, datetime],
    notifications: Mapping[str, Sequence[datetime]],
    facts: Mapping[str, object],
    now: datetime,
    due_soon: timedelta,
) -> list[ClockStatus]:
    """The state of each of `regime`'s clocks that applies, in the order of the regimes file.

    `triggers`: the first recorded time of each trigger kind. `notifications`: the times
    notifications were sent, by "<regime>/<clock id>". `facts`: what `applies_when` tests; a
    clock whose deciding facts are unknown (absent or None) is kept, listing them in
    `pending_facts`; one that a known fact rules out is left out. All times must be aware.
    """
    if due_soon < timedelta(0):
        raise ValueError(f"due_soon must not be negative, got {due_soon}")
    inputs = _Inputs(
        regime=regime,
        zone=regime.zone,
        triggers=_recorded_triggers(triggers),
        sent=_sent_notifications(regime, notifications),
        now=_as_utc(now, "now"),
        due_soon=due_soon,
    )
    statuses: list[ClockStatus] = []
    for clock in regime.clocks:
        pending = _applicability(clock, facts)
        if pending is not None:
            statuses.append(_evaluate_clock(clock, pending, inputs))
    return statuses


def _evaluate_clock(clock: Clock, pending: tuple[str, ...], inputs: _Inputs) -> ClockStatus:
    zone = inputs.zone
    own_sent = inputs.sent.get(f"{inputs.regime.id}/{clock.id}", ())
    sent_at = own_sent[0] if own_sent else None
    notes: list[str] = []
    if pending:
        conditions = "; ".join(clock.applies_when[fact].describe(fact) for fact in pending)
        notes.append(f"applies if {conditions} (not yet known)")
    if clock.soft:
        notes.append("a soft target: the law sets no fixed limit")
    if clock.phased:
        notes.append("information may be provided in phases")

    start = _start_of(clock, inputs)
    started_at = due_at = sent_late_by = None
    if start is None:
        summary = _not_started(clock, inputs)
        if sent_at is None:
            state = ClockState.NOT_STARTED
        else:
            # Sent before what it counts from was recorded: nothing can be late.
            state = ClockState.MET
            summary += f"; sent {_when(sent_at, zone)} before it started: met"
    else:
        started_at = start.at
        due_at, summary = _due(clock, start, inputs)
        state, sent_late_by, outcome = _judge(clock, due_at, sent_at, inputs)
        summary = f"{summary}; {outcome}"
    if pending and sent_at is None and state in (ClockState.NOT_STARTED, ClockState.OPEN):
        state = ClockState.WAITING
    return ClockStatus(
        regime=inputs.regime.id,
        clock=clock.id,
        name=clock.name,
        audience=clock.audience,
        citation=clock.citation,
        state=state,
        started_at=started_at,
        due_at=due_at,
        sent_at=sent_at,
        sent_late_by=sent_late_by,
        soft=clock.soft,
        phased=clock.phased,
        late_allowed_with_reasons=clock.late_allowed_with_reasons,
        pending_facts=pending,
        explanation=" ".join(_sentence(part) for part in [summary, *notes, clock.citation]),
    )


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


def _not_started(clock: Clock, inputs: _Inputs) -> str:
    summary = f"not started: counts from {_describe_start(clock)}"
    for limit in clock.earliest_of or ():
        start = _start_of(limit, inputs)
        if start is not None:
            cap = limit.due.after(start.at, inputs.zone)
            summary += (
                f"; once started, due no later than {_when(cap.at, inputs.zone)} "
                f"({cap.rule} {start.label} at {_when(start.at, inputs.zone)})"
            )
    return summary


def _deadline_text(deadline: _Deadline, start: _Start, zone: ZoneInfo) -> str:
    text = f"{deadline.rule} {start.label} at {_when(start.at, zone)}"
    return f"{text} [{deadline.detail}]" if deadline.detail else text


def _due(clock: Clock, start: _Start, inputs: _Inputs) -> tuple[datetime, str]:
    zone = inputs.zone
    own = clock.due.after(start.at, zone)
    if clock.earliest_of is None:
        return own.at, f"due {_when(own.at, zone)}: {_deadline_text(own, start, zone)}"
    candidates = [(own, start)]
    unbound: list[str] = []
    for limit in clock.earliest_of:
        limit_start = _start_of(limit, inputs)
        if limit_start is None:
            unbound.append(f"{limit.due.rule} {limit.starts_at}")
        else:
            candidates.append((limit.due.after(limit_start.at, zone), limit_start))
    binding, binding_start = min(candidates, key=lambda candidate: candidate[0].at)
    each = "; ".join(
        f"{_deadline_text(deadline, limit_start, zone)} -> {_iso(deadline.at)}"
        for deadline, limit_start in candidates
    )
    summary = (
        f"due {_when(binding.at, zone)}, the earliest of: {each}; "
        f"the {binding.rule} {binding_start.label} binds"
    )
    if unbound:
        summary += f" (not binding yet, start not recorded: {', '.join(unbound)})"
    return binding.at, summary


def _judge(
    clock: Clock, due_at: datetime, sent_at: datetime | None, inputs: _Inputs
) -> tuple[ClockState, timedelta | None, str]:
    zone, now = inputs.zone, inputs.now
    reasons = clock.late_allowed_with_reasons
    if sent_at is not None:
        if sent_at <= due_at:
            outcome = f"sent {_when(sent_at, zone)}"
            if sent_at < due_at:
                outcome += f", {_span(due_at - sent_at)} before the deadline"
            return ClockState.MET, None, f"{outcome}: met"
        late = sent_at - due_at
        outcome = f"sent {_when(sent_at, zone)}, {_span(late)} late: missed"
        if reasons:
            outcome += "; the late notification must give the reasons for the delay"
        return ClockState.MISSED, late, outcome
    if now > due_at:
        if clock.soft:
            return ClockState.MISSED, None, f"not sent, {_span(now - due_at)} past the target"
        outcome = f"not sent, overdue by {_span(now - due_at)}: missed"
        if reasons:
            outcome += "; it may still be made, giving the reasons for the delay"
        return ClockState.MISSED, None, outcome
    left = due_at - now
    if left <= inputs.due_soon:
        return ClockState.DUE_SOON, None, f"not sent, {_span(left)} left: due soon"
    return ClockState.OPEN, None, f"not sent, {_span(left)} left"
