"""Who a schedule puts on call, computed from its layers and overrides (pure: no database).

A layer rotates through its members at each hand-off of an RFC 5545 recurrence, evaluated by
`dateutil.rrule` in the layer's own wall-clock time and only then placed in its IANA zone, so
a 09:00 hand-off stays at 09:00 local on both sides of a DST change. A layer may cover only
daily windows (follow-the-sun): outside them it has nobody. Layers are listed top first: where
the top layer has someone, it wins; an override beats every layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as rr

from govsvc.errors import Invalid

MAX_LAYERS = 10
MAX_MEMBERS = 100
MAX_WINDOWS = 14
# Hand-offs more often than hourly are not a rotation anyone could follow (and would make
# every lookup walk thousands of occurrences).
ALLOWED_FREQUENCIES = {rr.HOURLY, rr.DAILY, rr.WEEKLY, rr.MONTHLY, rr.YEARLY}
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Nothing earlier than this is looked at: a lookup walks hand-offs from the layer's start.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A daily window in the layer's zone; `end` before `start` runs past midnight."""

    start: time
    end: time
    days: tuple[int, ...]  # weekday numbers (0 = Monday) on which the window starts

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "days": [DAYS[d] for d in self.days],
        }


@dataclass(frozen=True)
class Layer:
    name: str
    time_zone: str
    rrule: str
    start: datetime  # naive: wall-clock time in `time_zone`
    members: tuple[int, ...]
    windows: tuple[Window, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "time_zone": self.time_zone,
            "rrule": self.rrule,
            "start": self.start.isoformat(timespec="minutes"),
            "members": list(self.members),
            "windows": [w.as_dict() for w in self.windows],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Layer:
        windows: list[dict[str, Any]] = data.get("windows") or []  # type: ignore[assignment]
        members: list[int] = data["members"]  # type: ignore[assignment]
        return cls(
            name=str(data["name"]),
            time_zone=str(data["time_zone"]),
            rrule=str(data["rrule"]),
            start=datetime.fromisoformat(str(data["start"])),
            members=tuple(int(m) for m in members),
            windows=tuple(
                Window(
                    start=time.fromisoformat(w["start"]),
                    end=time.fromisoformat(w["end"]),
                    days=tuple(DAYS.index(d) for d in w["days"]),
                )
                for w in windows
            ),
        )

    # ------------------------------------------------------------------ hand-offs

    def _rule(self) -> rr.rrule:
        rule = rr.rrulestr(self.rrule, dtstart=self.start)
        if not isinstance(rule, rr.rrule):  # parse_layer accepts single rules only
            raise TypeError(f"layer {self.name}: not a single RRULE")
        return rule

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def handoffs(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        """(rotation index, UTC instant) of every hand-off that begins a rotation overlapping
        [start, end): the one in force at `start` first. Index 0 is the layer's start."""
        begin = self._utc(self.start)
        if end <= begin:
            return []
        out: list[tuple[int, datetime]] = [(0, begin)]
        index = 0
        for local in self._rule():
            if local <= self.start:
                continue
            index += 1
            moment = self._utc(local)
            if moment <= out[-1][1]:
                continue  # a repeated wall-clock time (DST fall-back): one hand-off
            if moment >= end:
                out.append((index, moment))  # the end of the last rotation
                break
            if moment <= start:
                out = [(index, moment)]
            else:
                out.append((index, moment))
        return out

    def rotations(self, start: datetime, end: datetime) -> list[Segment]:
        """Who this layer rotates to, as segments, before restriction windows."""
        marks = self.handoffs(start, end)
        segments = []
        for n, (index, moment) in enumerate(marks):
            until = marks[n + 1][1] if n + 1 < len(marks) else None
            if until is None:
                if moment >= end:
                    break
                until = end + timedelta(days=3660)  # the recurrence ended: the last one stays
            member = self.members[index % len(self.members)]
            segments.append(Segment(member, moment, until, self.name, None))
        return segments

    def windows_between(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The restriction windows as UTC intervals overlapping [start, end)."""
        if not self.windows:
            return [(start, end)]
        out = []
        day = self._local(start).date() - timedelta(days=1)
        last = self._local(end).date() + timedelta(days=1)
        while day <= last:
            for window in self.windows:
                if day.weekday() not in window.days:
                    continue
                opens = datetime.combine(day, window.start)
                closes_day = day if window.end > window.start else day + timedelta(days=1)
                closes = datetime.combine(closes_day, window.end)
                a, b = self._utc(opens), self._utc(closes)
                if b > start and a < end:
                    out.append((max(a, start), min(b, end)))
            day += timedelta(days=1)
        merged: list[tuple[datetime, datetime]] = []  # windows may overlap: one interval each
        for a, b in sorted(out):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def segments(self, start: datetime, end: datetime) -> list[Segment]:
        """Who this layer has on call within [start, end), windows applied."""
        windows = self.windows_between(start, end)
        out = []
        for segment in self.rotations(start, end):
            for a, b in windows:
                lo, hi = max(a, segment.start), min(b, segment.end)
                if lo < hi:
                    out.append(Segment(segment.person_id, lo, hi, self.name, None, segment))
        return out


@dataclass(frozen=True)
class Segment:
    person_id: int
    start: datetime
    end: datetime
    layer: str | None  # None for an override
    override_id: int | None
    rotation: Segment | None = None  # the whole rotation this (windowed) part belongs to


@dataclass(frozen=True)
class Override:
    id: int
    person_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shift:
    """A stretch of time one person is on call, and what put them there."""

    person_id: int
    start: datetime
    end: datetime
    layer: str | None
    override_id: int | None

    @property
    def source(self) -> str:
        return "override" if self.override_id is not None else "layer"


def final_shifts(
    layers: Sequence[Layer], overrides: Iterable[Override], start: datetime, end: datetime
) -> list[Shift]:
    """The schedule's answer for [start, end): overrides first, then the top layer with
    someone, merged into shifts (consecutive pieces of the same person from the same source)."""
    candidates: list[list[Segment]] = [
        [Segment(o.person_id, max(o.start, start), min(o.end, end), None, o.id)]
        for o in overrides
        if o.end > start and o.start < end
    ]
    # All overrides form one top tier (they never overlap within a schedule).
    tiers: list[list[Segment]] = [[s for group in candidates for s in group]]
    tiers += [layer.segments(start, end) for layer in layers]
    cuts = {start, end}
    for tier in tiers:
        for s in tier:
            cuts.update((max(s.start, start), min(s.end, end)))
    points = sorted(c for c in cuts if start <= c <= end)
    # Within a tier segments never overlap (rotations follow each other, windows are merged,
    # overrides are refused if they overlap), so sorted, the one that can cover [a, b) is the
    # first ending after a: one pointer per tier walks them all once.
    ordered = [sorted(tier, key=lambda s: s.start) for tier in tiers]
    cursor = [0] * len(ordered)
    shifts: list[Shift] = []
    for a, b in pairwise(points):
        chosen = None
        for k, tier in enumerate(ordered):
            i = cursor[k]
            while i < len(tier) and tier[i].end <= a:
                i += 1
            cursor[k] = i
            if i < len(tier) and tier[i].start <= a and tier[i].end >= b:
                chosen = tier[i]
                break
        if chosen is None:
            continue
        if (
            shifts
            and shifts[-1].end == a
            and shifts[-1].person_id == chosen.person_id
            and shifts[-1].layer == chosen.layer
            and shifts[-1].override_id == chosen.override_id
        ):
            shifts[-1] = Shift(
                chosen.person_id, shifts[-1].start, b, chosen.layer, chosen.override_id
            )
        else:
            shifts.append(Shift(chosen.person_id, a, b, chosen.layer, chosen.override_id))
    return shifts


def shift_at(layers: Sequence[Layer], overrides: Sequence[Override], at: datetime) -> Shift | None:
    """The shift in force at `at`, with its true start and end (looked for around `at` as far
    as the rotations in force then reach, and at least a day either side)."""
    lo, hi = at - timedelta(days=1), at + timedelta(days=1)
    for layer in layers:
        for rotation in layer.rotations(at, at + timedelta(seconds=1)):
            if rotation.start <= at < rotation.end:
                lo, hi = (
                    min(lo, rotation.start),
                    max(hi, min(rotation.end, at + timedelta(days=400))),
                )
    for o in overrides:
        if o.start <= at < o.end:
            lo, hi = min(lo, o.start), max(hi, o.end)
    lo = max(lo, EARLIEST)
    for shift in final_shifts(layers, overrides, lo, hi):
        if shift.start <= at < shift.end:
            return shift
    return None


# ---------------------------------------------------------------------- validation


def _hhmm(value: str, field: str) -> time:
    match = _HHMM.match(value)
    if not match:
        raise Invalid("use HH:MM, 24-hour", field=field)
    return time(int(match[1]), int(match[2]))


def parse_window(start: str, end: str, days: Sequence[str] | None, field: str) -> Window:
    opens, closes = _hhmm(start, f"{field}.start"), _hhmm(end, f"{field}.end")
    if opens == closes:
        raise Invalid("a window must not start and end at the same time", field=f"{field}.end")
    chosen = [d.strip().upper() for d in days] if days else list(DAYS)
    unknown = [d for d in chosen if d not in DAYS]
    if unknown or not chosen:
        raise Invalid(f"days are {', '.join(DAYS)}", field=f"{field}.days")
    return Window(opens, closes, tuple(sorted({DAYS.index(d) for d in chosen})))


def parse_layer(
    *,
    name: str,
    time_zone: str,
    rrule_text: str,
    start: str,
    members: Sequence[int],
    windows: Sequence[Window],
    field: str,
) -> Layer:
    """A layer from its parts, or Invalid naming the field at fault."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("a layer needs a name of 1-100 characters", field=f"{field}.name")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown IANA time zone {time_zone!r}", field=f"{field}.timeZone") from None
    try:
        local_start = datetime.fromisoformat(start)
    except ValueError:
        raise Invalid(
            "use a local date and time without offset, e.g. 2026-03-02T09:00",
            field=f"{field}.start",
        ) from None
    if local_start.tzinfo is not None:
        raise Invalid(
            "the start is wall-clock time in the layer's zone: leave the offset out",
            field=f"{field}.start",
        )
    local_start = local_start.replace(second=0, microsecond=0)
    if local_start.replace(tzinfo=UTC) < EARLIEST:
        raise Invalid("start in 2000 or later", field=f"{field}.start")
    rule_text = rrule_text.strip().removeprefix("RRULE:")
    if not rule_text or "DTSTART" in rule_text.upper() or "\n" in rule_text:
        raise Invalid(
            "one RRULE value such as FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0 (the start is"
            " given separately)",
            field=f"{field}.rrule",
        )
    try:
        rule = rr.rrulestr(rule_text, dtstart=local_start)
    except (ValueError, TypeError) as error:
        raise Invalid(f"not an RFC 5545 recurrence: {error}", field=f"{field}.rrule") from None
    # dateutil keeps the frequency private; it is what bounds how often hand-offs come.
    if not isinstance(rule, rr.rrule) or getattr(rule, "_freq", None) not in ALLOWED_FREQUENCIES:
        raise Invalid("hand-offs recur at most hourly", field=f"{field}.rrule")
    if rule.after(local_start) is None:
        raise Invalid("the recurrence has no hand-off after the start", field=f"{field}.rrule")
    if not members:
        raise Invalid("a layer needs at least one member", field=f"{field}.memberIds")
    if len(members) > MAX_MEMBERS:
        raise Invalid(f"at most {MAX_MEMBERS} members", field=f"{field}.memberIds")
    if len(windows) > MAX_WINDOWS:
        raise Invalid(f"at most {MAX_WINDOWS} windows", field=f"{field}.windows")
    return Layer(name, time_zone, rule_text, local_start, tuple(members), tuple(windows))


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
