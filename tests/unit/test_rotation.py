"""The rotation arithmetic (govsvc.oncall.rotation), pure: hand-offs in local time across both
DST changes, times that do not exist or happen twice, windows across midnight, priorities."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from govsvc.errors import Invalid
from govsvc.oncall.rotation import (
    Layer,
    Override,
    Window,
    final_shifts,
    parse_layer,
    parse_window,
    shift_at,
)


def _layer(
    name: str,
    members: list[int],
    *,
    time_zone: str = "Europe/Berlin",
    rrule_text: str = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
    start: str = "2026-10-05T09:00",
    windows: list[Window] | None = None,
) -> Layer:
    return parse_layer(
        name=name,
        members=members,
        field="layers.0",
        time_zone=time_zone,
        rrule_text=rrule_text,
        start=start,
        windows=windows or [],
    )


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_the_october_change_moves_the_hand_off_from_0700z_to_0800z() -> None:
    layer = _layer("primary", [1, 2])
    shifts = final_shifts([layer], [], utc(2026, 10, 19), utc(2026, 11, 3))
    starts = [s.start for s in shifts]
    assert utc(2026, 10, 19, 7) in starts  # CEST
    assert utc(2026, 10, 26, 8) in starts  # CET, after Sunday 25 October
    assert [s.person_id for s in shifts] == [2, 1, 2, 1]  # from the rotation in force at the start


def test_a_daily_hand_off_at_a_time_the_spring_change_skips_still_happens_once() -> None:
    # 02:30 does not exist in Berlin on 28 March 2027; the hand-off moves, it is not lost
    layer = _layer(
        "night", [1, 2], rrule_text="FREQ=DAILY;BYHOUR=2;BYMINUTE=30", start="2027-03-26T02:30"
    )
    shifts = final_shifts([layer], [], utc(2027, 3, 26), utc(2027, 3, 31))
    assert [s.person_id for s in shifts] == [1, 2, 1, 2, 1]
    assert all(a.end == b.start for a, b in itertools.pairwise(shifts))


def test_an_hourly_rotation_does_not_hand_off_twice_in_the_repeated_hour() -> None:
    layer = _layer(
        "hourly", [1, 2, 3], rrule_text="FREQ=HOURLY;BYMINUTE=0", start="2026-10-25T00:00"
    )
    shifts = final_shifts([layer], [], utc(2026, 10, 24, 22), utc(2026, 10, 25, 3))
    starts = [s.start for s in shifts]
    assert len(starts) == len(set(starts))
    assert all(a.end == b.start and a.end > a.start for a, b in itertools.pairwise(shifts))


def test_a_window_past_midnight_covers_the_night() -> None:
    night = parse_window("22:00", "06:00", None, "w")
    layer = _layer(
        "night",
        [7],
        rrule_text="FREQ=DAILY;BYHOUR=22;BYMINUTE=0",
        start="2027-01-04T22:00",
        windows=[night],
    )
    found = shift_at([layer], [], utc(2027, 1, 12, 2))
    assert found is not None
    assert (found.start, found.end) == (utc(2027, 1, 11, 21), utc(2027, 1, 12, 5))
    assert shift_at([layer], [], utc(2027, 1, 12, 12)) is None


def test_an_override_cuts_a_shift_into_three() -> None:
    layer = _layer("primary", [1])
    shifts = final_shifts(
        [layer],
        [Override(9, 5, utc(2026, 10, 14, 12), utc(2026, 10, 14, 18))],
        utc(2026, 10, 14),
        utc(2026, 10, 15),
    )
    assert [(s.person_id, s.source) for s in shifts] == [
        (1, "layer"),
        (5, "override"),
        (1, "layer"),
    ]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"rrule_text": "FREQ=DAILY;COUNT=1"}, "layers.0.rrule"),
        ({"rrule_text": "FREQ=SECONDLY"}, "layers.0.rrule"),
        ({"rrule_text": "BYDAY=MO"}, "layers.0.rrule"),
        ({"time_zone": "Mars/Olympus"}, "layers.0.timeZone"),
        ({"start": "yesterday"}, "layers.0.start"),
        ({"start": "1999-12-31T09:00"}, "layers.0.start"),
    ],
)
def test_bad_layers_name_the_field(kw: dict[str, str], field: str) -> None:
    values = {"time_zone": "Europe/Berlin", "rrule_text": "FREQ=DAILY", "start": "2027-01-04T09:00"}
    with pytest.raises(Invalid) as caught:
        parse_layer(name="primary", members=[1], windows=[], field="layers.0", **{**values, **kw})
    assert caught.value.field == field
