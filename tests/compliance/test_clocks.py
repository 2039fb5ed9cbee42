"""Regulator notification clocks: the real regimes file, deadline arithmetic on awkward edges
(DST, month ends, leap years, US federal holidays), clock states, and loader refusals."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from govsvc.compliance.clocks import (
    ClockState,
    ClockStatus,
    RegimeError,
    Regimes,
    evaluate,
    load_regimes,
)
from govsvc.policy_files import PolicyFileError

REGIMES_FILE = Path(__file__).parents[2] / "policies" / "regimes.yaml"
DUE_SOON = timedelta(hours=6)
BRUSSELS = ZoneInfo("Europe/Brussels")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)  # "now" where only deadlines matter


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(scope="module")
def regimes() -> Regimes:
    return load_regimes(REGIMES_FILE)


def status_of(
    regimes: Regimes,
    key: str,
    *,
    triggers: Mapping[str, datetime],
    notifications: Mapping[str, Sequence[datetime]] | None = None,
    facts: Mapping[str, object] | None = None,
    now: datetime = LONG_AGO,
) -> ClockStatus:
    """The status of clock `key` ("<regime>/<clock>"), which must apply."""
    regime_id, _, clock_id = key.partition("/")
    statuses = evaluate(
        regimes[regime_id],
        triggers=triggers,
        notifications=notifications or {},
        facts=facts or {},
        now=now,
        due_soon=DUE_SOON,
    )
    return next(status for status in statuses if status.clock == clock_id)


# --- the real file ------------------------------------------------------------------------------


def test_the_real_regimes_file_loads(regimes: Regimes) -> None:
    # given the policies/regimes.yaml shipped with the service (loaded by the fixture)

    # when
    clocks = {regime_id: regime.clock_ids for regime_id, regime in regimes.items()}

    # then
    assert regimes.version == "2026.1"
    assert clocks == {
        "gdpr": ("supervisory-authority", "data-subjects"),
        "nis2": ("early-warning", "incident-notification", "final-report"),
        "dora": ("initial-notification", "intermediate-report", "final-report"),
        "sec-8k": ("form-8k-item-1-05",),
        "hipaa": ("individuals", "media", "hhs-500-or-more", "hhs-fewer-than-500"),
    }
    gdpr = regimes["gdpr"].clock("supervisory-authority")
    assert gdpr.late_allowed_with_reasons
    assert gdpr.phased
    assert regimes["gdpr"].clock("data-subjects").soft


# --- deadline arithmetic ------------------------------------------------------------------------

HIPAA_SMALL = {"affected_individuals": 20, "max_residents_affected_in_a_state": 20}
HIPAA_LARGE = {"affected_individuals": 1200, "max_residents_affected_in_a_state": 800}


@pytest.mark.parametrize(
    ("clock", "triggers", "notifications", "facts", "started", "due"),
    [
        # GDPR: 72 real hours, whatever Brussels' clocks do meanwhile.
        pytest.param(
            "gdpr/supervisory-authority",
            {"became_aware": utc(2026, 3, 28, 23, 30)},
            {},
            {},
            utc(2026, 3, 28, 23, 30),
            utc(2026, 3, 31, 23, 30),
            id="gdpr 72 h across the spring DST change",
        ),
        pytest.param(
            "gdpr/supervisory-authority",
            {"became_aware": utc(2026, 10, 24, 12)},
            {},
            {},
            utc(2026, 10, 24, 12),
            utc(2026, 10, 27, 12),
            id="gdpr 72 h across the autumn DST change",
        ),
        pytest.param(
            "gdpr/data-subjects",
            {"became_aware": utc(2026, 3, 28, 23, 30)},
            {},
            {},
            utc(2026, 3, 28, 23, 30),
            utc(2026, 3, 31, 23, 30),
            id="gdpr data subjects: indicative 72 h",
        ),
        # NIS2
        pytest.param(
            "nis2/early-warning",
            {"became_aware": utc(2026, 10, 24, 22)},
            {},
            {},
            utc(2026, 10, 24, 22),
            utc(2026, 10, 25, 22),
            id="nis2 early warning 24 h across DST",
        ),
        pytest.param(
            "nis2/incident-notification",
            {"became_aware": utc(2026, 10, 24, 22)},
            {},
            {},
            utc(2026, 10, 24, 22),
            utc(2026, 10, 27, 22),
            id="nis2 incident notification 72 h",
        ),
        pytest.param(
            "nis2/final-report",
            {"became_aware": utc(2026, 1, 28, 9)},
            {"nis2/incident-notification": [utc(2026, 1, 31, 10)]},
            {},
            utc(2026, 1, 31, 10),
            utc(2026, 2, 28, 10),
            id="nis2 final one month after notification on Jan 31 -> Feb 28",
        ),
        pytest.param(
            "nis2/final-report",
            {"became_aware": utc(2028, 1, 28, 9)},
            {"nis2/incident-notification": [utc(2028, 1, 31, 10)]},
            {},
            utc(2028, 1, 31, 10),
            utc(2028, 2, 29, 10),
            id="nis2 final one month after Jan 31 in a leap year -> Feb 29",
        ),
        pytest.param(
            "nis2/final-report",
            {"became_aware": utc(2026, 3, 1)},
            {"nis2/incident-notification": [utc(2026, 3, 3), utc(2026, 3, 1, 12)]},
            {},
            utc(2026, 3, 1, 12),
            utc(2026, 4, 1, 12),
            id="nis2 final counts from the first notification sent",
        ),
        # DORA
        pytest.param(
            "dora/initial-notification",
            {"became_aware": utc(2026, 5, 4, 8), "classified_major": utc(2026, 5, 4, 9)},
            {},
            {},
            utc(2026, 5, 4, 9),
            utc(2026, 5, 4, 13),
            id="dora initial: 4 h after classification comes first",
        ),
        pytest.param(
            "dora/initial-notification",
            {"became_aware": utc(2026, 5, 4, 8), "classified_major": utc(2026, 5, 5, 6)},
            {},
            {},
            utc(2026, 5, 5, 6),
            utc(2026, 5, 5, 8),
            id="dora initial: 24 h after awareness comes first",
        ),
        pytest.param(
            "dora/initial-notification",
            {"classified_major": utc(2026, 5, 4, 8), "became_aware": utc(2026, 5, 4, 10)},
            {},
            {},
            utc(2026, 5, 4, 8),
            utc(2026, 5, 4, 12),
            id="dora initial: classification recorded before awareness",
        ),
        pytest.param(
            "dora/initial-notification",
            {"became_aware": utc(2026, 5, 4, 8), "classified_major": utc(2026, 5, 4, 20)},
            {},
            {},
            utc(2026, 5, 4, 20),
            utc(2026, 5, 5, 0),
            id="dora initial: both limits fall together",
        ),
        pytest.param(
            "dora/intermediate-report",
            {"became_aware": utc(2026, 10, 23, 8), "classified_major": utc(2026, 10, 23, 9)},
            {"dora/initial-notification": [utc(2026, 10, 23, 12, 15)]},
            {},
            utc(2026, 10, 23, 12, 15),
            utc(2026, 10, 26, 12, 15),
            id="dora intermediate 72 h after the initial was sent",
        ),
        pytest.param(
            "dora/final-report",
            {"became_aware": utc(2026, 1, 2, 8), "classified_major": utc(2026, 1, 2, 9)},
            {
                "dora/initial-notification": [utc(2026, 1, 2, 11)],
                "dora/intermediate-report": [utc(2026, 1, 4, 10), utc(2026, 1, 31, 16)],
            },
            {},
            utc(2026, 1, 31, 16),
            utc(2026, 2, 28, 16),
            id="dora final one month after the latest intermediate",
        ),
        # SEC Form 8-K: day 0 is the determination's New York date; ends 23:59:59 New York.
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 3, 5, 15)},
            {},
            {},
            utc(2026, 3, 5, 15),
            utc(2026, 3, 12, 3, 59, 59),
            id="sec thursday -> next wednesday across a weekend (and US DST)",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 3, 7, 15)},
            {},
            {},
            utc(2026, 3, 7, 15),
            utc(2026, 3, 13, 3, 59, 59),
            id="sec saturday determination -> monday is day 1",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 11, 25, 20)},
            {},
            {},
            utc(2026, 11, 25, 20),
            utc(2026, 12, 3, 4, 59, 59),
            id="sec across thanksgiving; the friday after is a business day",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 11, 26, 15)},
            {},
            {},
            utc(2026, 11, 26, 15),
            utc(2026, 12, 3, 4, 59, 59),
            id="sec determined on thanksgiving itself",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 11, 25, 3, 30)},
            {},
            {},
            utc(2026, 11, 25, 3, 30),
            utc(2026, 12, 2, 4, 59, 59),
            id="sec day 0 is the new york date, not the utc date",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 12, 24, 16)},
            {},
            {},
            utc(2026, 12, 24, 16),
            utc(2027, 1, 1, 4, 59, 59),
            id="sec christmas eve -> new year's eve",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 12, 28, 16)},
            {},
            {},
            utc(2026, 12, 28, 16),
            utc(2027, 1, 5, 4, 59, 59),
            id="sec across new year's day into the next year",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 6, 17, 15)},
            {},
            {},
            utc(2026, 6, 17, 15),
            utc(2026, 6, 25, 3, 59, 59),
            id="sec across juneteenth on a friday",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2027, 6, 17, 15)},
            {},
            {},
            utc(2027, 6, 17, 15),
            utc(2027, 6, 25, 3, 59, 59),
            id="sec across juneteenth observed on friday",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2026, 7, 1, 15)},
            {},
            {},
            utc(2026, 7, 1, 15),
            utc(2026, 7, 9, 3, 59, 59),
            id="sec across july 4th observed on friday",
        ),
        pytest.param(
            "sec-8k/form-8k-item-1-05",
            {"materiality_determined": utc(2027, 7, 1, 15)},
            {},
            {},
            utc(2027, 7, 1, 15),
            utc(2027, 7, 9, 3, 59, 59),
            id="sec across july 4th observed on monday",
        ),
        # HIPAA
        pytest.param(
            "hipaa/individuals",
            {"detected": utc(2026, 3, 10, 15)},
            {},
            HIPAA_LARGE,
            utc(2026, 3, 10, 15),
            utc(2026, 5, 9, 15),
            id="hipaa individuals 60 calendar days",
        ),
        pytest.param(
            "hipaa/hhs-500-or-more",
            {"detected": utc(2026, 3, 10, 15)},
            {},
            HIPAA_LARGE,
            utc(2026, 3, 10, 15),
            utc(2026, 5, 9, 15),
            id="hipaa hhs 500 or more: with the individuals",
        ),
        pytest.param(
            "hipaa/media",
            {"detected": utc(2026, 3, 10, 15)},
            {},
            HIPAA_LARGE,
            utc(2026, 3, 10, 15),
            utc(2026, 5, 9, 15),
            id="hipaa media 60 calendar days",
        ),
        pytest.param(
            "hipaa/hhs-fewer-than-500",
            {"detected": utc(2026, 12, 31, 15)},
            {},
            HIPAA_SMALL,
            utc(2026, 12, 31, 15),
            utc(2027, 3, 2, 4, 59, 59),
            id="hipaa fewer than 500 discovered 2026-12-31 -> 2027-03-01",
        ),
        pytest.param(
            "hipaa/hhs-fewer-than-500",
            {"detected": utc(2027, 1, 1, 15)},
            {},
            HIPAA_SMALL,
            utc(2027, 1, 1, 15),
            utc(2028, 3, 1, 4, 59, 59),
            id="hipaa fewer than 500 discovered 2027-01-01 -> 2028-02-29 leap year",
        ),
        pytest.param(
            "hipaa/hhs-fewer-than-500",
            {"detected": utc(2027, 1, 1, 3)},
            {},
            HIPAA_SMALL,
            utc(2027, 1, 1, 3),
            utc(2027, 3, 2, 4, 59, 59),
            id="hipaa calendar year is new york's: still 2026 there",
        ),
    ],
)
def test_deadline_arithmetic(
    regimes: Regimes,
    clock: str,
    triggers: Mapping[str, datetime],
    notifications: Mapping[str, Sequence[datetime]],
    facts: Mapping[str, object],
    started: datetime,
    due: datetime,
) -> None:
    # given the triggers, notifications and facts of the case

    # when
    status = status_of(regimes, clock, triggers=triggers, notifications=notifications, facts=facts)

    # then
    assert status.started_at == started
    assert status.due_at == due
    assert status.due_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("aware", "local_hours"),
    [
        pytest.param(utc(2026, 3, 28, 23, 30), 73, id="spring forward 2026-03-29"),
        pytest.param(utc(2026, 10, 24, 12), 71, id="fall back 2026-10-25"),
    ],
)
def test_72_hours_are_72_real_hours_across_the_eu_dst_change(
    regimes: Regimes, aware: datetime, local_hours: int
) -> None:
    # given awareness just before a Brussels DST change

    # when
    status = status_of(regimes, "gdpr/supervisory-authority", triggers={"became_aware": aware})

    # then the deadline is 72 elapsed hours later, though Brussels' wall clock moves 73 or 71
    assert status.due_at is not None
    assert status.due_at - aware == timedelta(hours=72)
    wall_aware = aware.astimezone(BRUSSELS).replace(tzinfo=None)
    wall_due = status.due_at.astimezone(BRUSSELS).replace(tzinfo=None)
    assert wall_due - wall_aware == timedelta(hours=local_hours)


def test_sec_deadline_is_the_end_of_the_fourth_business_day(regimes: Regimes) -> None:
    # given a determination the day before Thanksgiving
    determined = utc(2026, 11, 25, 20)

    # when
    status = status_of(
        regimes, "sec-8k/form-8k-item-1-05", triggers={"materiality_determined": determined}
    )

    # then Wednesday 2 December 23:59:59 in New York, and the explanation shows the count
    assert status.due_at is not None
    local = status.due_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.date().isoformat(), local.hour, local.minute, local.second) == (
        "2026-12-02",
        23,
        59,
        59,
    )
    assert "day 0 is 2026-11-25 in America/New_York" in status.explanation
    assert "holidays not counted: 2026-11-26 Thanksgiving Day" in status.explanation


def test_dora_initial_not_started_still_shows_its_outer_limit(regimes: Regimes) -> None:
    # given awareness but no classification as major yet
    aware = utc(2026, 5, 4, 8)

    # when
    status = status_of(regimes, "dora/initial-notification", triggers={"became_aware": aware})

    # then
    assert status.state is ClockState.NOT_STARTED
    assert (status.started_at, status.due_at) == (None, None)
    assert "due no later than 2026-05-05T08:00Z" in status.explanation


def test_explanation_names_the_rule_start_and_local_times(regimes: Regimes) -> None:
    # given
    aware = utc(2026, 3, 28, 23, 30)

    # when
    status = status_of(
        regimes,
        "gdpr/supervisory-authority",
        triggers={"became_aware": aware},
        facts={"risk_to_individuals": "risk"},
    )

    # then
    assert status.explanation.startswith(
        "Due 2026-03-31T23:30Z (Europe/Brussels 2026-04-01 01:30 CEST): 72 h after "
        "became_aware at 2026-03-28T23:30Z (Europe/Brussels 2026-03-29 00:30 CET);"
    )
    assert "GDPR Art. 33(1)" in status.explanation


# --- which clocks apply -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(
            {"affected_individuals": 500, "max_residents_affected_in_a_state": 500},
            {"individuals": (), "hhs-500-or-more": ()},
            id="500 affected: hhs now, 500 in a state is not more than 500",
        ),
        pytest.param(
            {"affected_individuals": 501, "max_residents_affected_in_a_state": 501},
            {"individuals": (), "media": (), "hhs-500-or-more": ()},
            id="501 in one state: media too",
        ),
        pytest.param(
            {"affected_individuals": 499, "max_residents_affected_in_a_state": 499},
            {"individuals": (), "hhs-fewer-than-500": ()},
            id="499 affected: hhs after the year ends",
        ),
        pytest.param(
            {},
            {
                "individuals": (),
                "media": ("max_residents_affected_in_a_state",),
                "hhs-500-or-more": ("affected_individuals",),
                "hhs-fewer-than-500": ("affected_individuals",),
            },
            id="unknown counts: every clock shown, waiting for facts",
        ),
    ],
)
def test_hipaa_clocks_apply_by_the_number_affected(
    regimes: Regimes, facts: Mapping[str, object], expected: dict[str, tuple[str, ...]]
) -> None:
    # given
    detected = utc(2026, 3, 10, 15)

    # when
    statuses = evaluate(
        regimes["hipaa"],
        triggers={"detected": detected},
        notifications={},
        facts=facts,
        now=detected,
        due_soon=DUE_SOON,
    )

    # then
    assert {status.clock: status.pending_facts for status in statuses} == expected


def test_hipaa_500_or_more_notifies_individuals_and_hhs_at_the_same_time(
    regimes: Regimes,
) -> None:
    # given
    detected = utc(2026, 3, 10, 15)

    # when
    statuses = evaluate(
        regimes["hipaa"],
        triggers={"detected": detected},
        notifications={},
        facts=HIPAA_LARGE,
        now=detected,
        due_soon=DUE_SOON,
    )

    # then
    due = {status.clock: status.due_at for status in statuses}
    sixty_days = utc(2026, 5, 9, 15)
    assert due == {"individuals": sixty_days, "media": sixty_days, "hhs-500-or-more": sixty_days}


@pytest.mark.parametrize(
    ("risk", "clocks"),
    [
        pytest.param("unlikely", [], id="unlikely to result in a risk: no notification"),
        pytest.param("risk", ["supervisory-authority"], id="risk: the authority"),
        pytest.param("high_risk", ["supervisory-authority", "data-subjects"], id="high risk: both"),
    ],
)
def test_gdpr_clocks_apply_by_the_risk_assessment(
    regimes: Regimes, risk: str, clocks: list[str]
) -> None:
    # given
    aware = utc(2026, 3, 28, 23, 30)

    # when
    statuses = evaluate(
        regimes["gdpr"],
        triggers={"became_aware": aware},
        notifications={},
        facts={"risk_to_individuals": risk},
        now=aware,
        due_soon=DUE_SOON,
    )

    # then
    assert [status.clock for status in statuses] == clocks


# --- states -------------------------------------------------------------------------------------

AWARE = utc(2026, 6, 1, 9)
EARLY_WARNING_DUE = utc(2026, 6, 2, 9)


@pytest.mark.parametrize(
    ("triggers", "sent", "now", "state", "late_by"),
    [
        pytest.param({}, [], AWARE, ClockState.NOT_STARTED, None, id="not started"),
        pytest.param(
            {"became_aware": AWARE}, [], utc(2026, 6, 1, 10), ClockState.OPEN, None, id="open"
        ),
        pytest.param(
            {"became_aware": AWARE},
            [],
            EARLY_WARNING_DUE - DUE_SOON - timedelta(seconds=1),
            ClockState.OPEN,
            None,
            id="open just before the due-soon window",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [],
            EARLY_WARNING_DUE - DUE_SOON,
            ClockState.DUE_SOON,
            None,
            id="due soon as the window opens",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [],
            EARLY_WARNING_DUE,
            ClockState.DUE_SOON,
            None,
            id="due soon at the deadline itself",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [],
            EARLY_WARNING_DUE + timedelta(seconds=1),
            ClockState.MISSED,
            None,
            id="missed a second after the deadline",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [utc(2026, 6, 1, 15)],
            utc(2026, 7, 1),
            ClockState.MET,
            None,
            id="met",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [EARLY_WARNING_DUE],
            utc(2026, 7, 1),
            ClockState.MET,
            None,
            id="met when sent exactly at the deadline",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [EARLY_WARNING_DUE + timedelta(seconds=1), utc(2026, 6, 1, 10)],
            utc(2026, 7, 1),
            ClockState.MET,
            None,
            id="met by the first of several sent",
        ),
        pytest.param(
            {"became_aware": AWARE},
            [EARLY_WARNING_DUE + timedelta(hours=3)],
            utc(2026, 7, 1),
            ClockState.MISSED,
            timedelta(hours=3),
            id="sent late",
        ),
        pytest.param(
            {},
            [utc(2026, 6, 1, 10)],
            utc(2026, 7, 1),
            ClockState.MET,
            None,
            id="sent before its trigger was recorded",
        ),
    ],
)
def test_clock_states(
    regimes: Regimes,
    triggers: Mapping[str, datetime],
    sent: list[datetime],
    now: datetime,
    state: ClockState,
    late_by: timedelta | None,
) -> None:
    # given the NIS2 early warning (24 h after awareness)

    # when
    status = status_of(
        regimes,
        "nis2/early-warning",
        triggers=triggers,
        notifications={"nis2/early-warning": sent},
        now=now,
    )

    # then
    assert status.state is state
    assert status.sent_late_by == late_by
    assert status.sent_at == (min(sent) if sent else None)
    assert not status.reasons_required


def test_gdpr_late_notification_is_missed_but_allowed_with_reasons(regimes: Regimes) -> None:
    # given a notification to the authority 80 hours after awareness
    aware = utc(2026, 3, 28, 23, 30)
    sent = aware + timedelta(hours=80)

    # when
    status = status_of(
        regimes,
        "gdpr/supervisory-authority",
        triggers={"became_aware": aware},
        notifications={"gdpr/supervisory-authority": [sent]},
        facts={"risk_to_individuals": "high_risk"},
        now=sent,
    )

    # then
    assert status.state is ClockState.MISSED
    assert status.sent_late_by == timedelta(hours=8)
    assert status.late_allowed_with_reasons
    assert status.reasons_required
    assert status.phased
    assert "8 h late: missed; the late notification must give the reasons" in status.explanation


def test_gdpr_still_unsent_after_72_hours_may_be_made_with_reasons(regimes: Regimes) -> None:
    # given
    aware = utc(2026, 3, 28, 23, 30)

    # when
    status = status_of(
        regimes,
        "gdpr/supervisory-authority",
        triggers={"became_aware": aware},
        facts={"risk_to_individuals": "risk"},
        now=aware + timedelta(hours=73),
    )

    # then
    assert status.state is ClockState.MISSED
    assert status.sent_late_by is None
    assert status.reasons_required
    assert "giving the reasons for the delay" in status.explanation


def test_gdpr_data_subjects_clock_is_soft(regimes: Regimes) -> None:
    # given
    aware = utc(2026, 3, 28, 23, 30)

    # when
    status = status_of(
        regimes,
        "gdpr/data-subjects",
        triggers={"became_aware": aware},
        facts={"risk_to_individuals": "high_risk"},
        now=aware + timedelta(hours=80),
    )

    # then
    assert status.soft
    assert status.state is ClockState.MISSED
    assert "without undue delay, indicative target 72 h after became_aware" in (status.explanation)
    assert "the law sets no fixed limit" in status.explanation


# --- evaluate refuses bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("regime", "changes", "message"),
    [
        pytest.param(
            "nis2",
            {"now": AWARE.replace(tzinfo=None)},
            "now must be timezone-aware",
            id="naive now",
        ),
        pytest.param(
            "nis2",
            {"triggers": {"became_aware": AWARE.replace(tzinfo=None)}},
            "trigger became_aware must be timezone-aware",
            id="naive trigger",
        ),
        pytest.param(
            "nis2",
            {"triggers": {"noticed": AWARE}},
            "unknown trigger kind 'noticed'",
            id="unknown trigger kind",
        ),
        pytest.param(
            "nis2",
            {"notifications": {"nis2/early-warnings": [AWARE]}},
            "notification 'nis2/early-warnings' names no clock of nis2",
            id="unknown clock of the regime",
        ),
        pytest.param(
            "hipaa",
            {"facts": {"affected_individuals": "many"}},
            "fact 'affected_individuals' must be a number",
            id="fact not a number",
        ),
        pytest.param(
            "nis2", {"due_soon": timedelta(hours=-1)}, "due_soon must not be negative", id="neg"
        ),
    ],
)
def test_evaluate_refuses_bad_input(
    regimes: Regimes, regime: str, changes: dict[str, object], message: str
) -> None:
    # given
    arguments: dict[str, object] = {
        "triggers": {"became_aware": AWARE, "detected": AWARE},
        "notifications": {"other-regime/anything": [AWARE]},
        "facts": {},
        "now": AWARE,
        "due_soon": DUE_SOON,
    } | changes

    # when
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(regimes[regime], **arguments)  # type: ignore[arg-type]


# --- loader refusals ----------------------------------------------------------------------------

VALID = textwrap.dedent(
    """\
    version: "2026.1"
    regimes:
      - id: alpha
        name: Alpha
        citation: Alpha Act
        time_zone: Europe/Brussels
        clocks:
          - id: first
            name: Tell the authority
            audience: supervisory_authority
            citation: Art. 1
            starts_at: became_aware
            due: {hours: 72}
          - id: second
            name: Report in full
            audience: supervisory_authority
            citation: Art. 2
            starts_at: notification:alpha/first
            due: {months: 1}
    """
)
SECOND_REGIME = textwrap.indent(
    textwrap.dedent(
        """\
        - id: alpha
          name: Alpha again
          citation: Alpha Act
          time_zone: UTC
          clocks:
            - id: only
              name: Tell
              audience: csirt
              citation: Art. 1
              starts_at: detected
              due: {hours: 1}
        """
    ),
    "  ",
)
EARLIEST_OF = (
    "due: {hours: 72}\n        earliest_of:\n          - {starts_at: %s, due: {hours: 24}}"
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "regimes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_loads(tmp_path: Path) -> None:
    # given
    path = _write(tmp_path, VALID)

    # when
    regimes = load_regimes(path)

    # then
    assert list(regimes) == ["alpha"]
    assert regimes["alpha"].clock("second").notification == "alpha/first"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            VALID.replace("{hours: 72}", "{hours: 72"),
            ["line 14, column 11", "YAML error", "expected ',' or '}'"],
            id="yaml syntax",
        ),
        pytest.param(
            VALID.replace("citation: Art. 1", "citation: Art. 1\n        citation: Art. 9"),
            ["line 12, column 9", "duplicate key 'citation' (first on line 11)"],
            id="duplicate yaml key",
        ),
        pytest.param(
            VALID.replace('version: "2026.1"', "version: 2026.1"),
            ["version (line 1)", "quote it"],
            id="unquoted version",
        ),
        pytest.param(
            VALID.replace("starts_at: became_aware", "starts_at: became_awake"),
            ["regimes.0.clocks.0.starts_at (line 12)", "unknown trigger 'became_awake'"],
            id="unknown trigger kind",
        ),
        pytest.param(
            VALID.replace("notification:alpha/first", "notification:alpha"),
            ["regimes.0.clocks.1.starts_at (line 18)", "write notification:<regime id>/"],
            id="malformed notification start",
        ),
        pytest.param(
            VALID.replace("notification:alpha/first", "notification:alpha/frist"),
            ["regimes.0.clocks.1.starts_at (line 18)", "regime 'alpha' has no clock 'frist'"],
            id="notification of an unknown clock",
        ),
        pytest.param(
            VALID.replace("notification:alpha/first", "notification:beta/first"),
            ["regimes.0.clocks.1.starts_at (line 18)", "no regime 'beta' (regimes: alpha)"],
            id="notification of an unknown regime",
        ),
        pytest.param(
            VALID.replace("notification:alpha/first", "notification:alpha/second"),
            ["regimes.0.clocks.1.starts_at (line 18)", "a clock cannot count from itself"],
            id="clock counting from itself",
        ),
        pytest.param(
            VALID.replace("starts_at: became_aware", "starts_at: notification:alpha/second"),
            [
                "regimes.0.clocks.0.starts_at (line 12)",
                "never start: alpha/first -> alpha/second -> alpha/first",
            ],
            id="clocks counting from each other",
        ),
        pytest.param(
            VALID.replace("due: {hours: 72}", EARLIEST_OF % "noticed"),
            ["regimes.0.clocks.0.earliest_of.0.starts_at (line 15)", "unknown trigger 'noticed'"],
            id="earliest_of with an unknown trigger kind",
        ),
        pytest.param(
            VALID.replace("due: {hours: 72}", EARLIEST_OF % "notification:alpha/third"),
            [
                "regimes.0.clocks.0.earliest_of.0.starts_at (line 15)",
                "regime 'alpha' has no clock 'third'",
            ],
            id="earliest_of from an unknown clock",
        ),
        pytest.param(
            VALID.replace("due: {hours: 72}", "due: {hours: 72}\n        sent: latest"),
            ["regimes.0.clocks.0 (line 8)", "'sent' only applies to a notification"],
            id="sent without a notification start",
        ),
        pytest.param(
            VALID.replace("due: {months: 1}", "due: {months: 1}\n        sent: null"),
            ["regimes.0.clocks.1 (line 14)", "'sent' is null"],
            id="null sent",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", "{hours: 72, months: 1}"),
            [
                "regimes.0.clocks.0.due (line 13)",
                "give exactly one deadline form",
                "got {hours, months}",
            ],
            id="two deadline forms",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", "{}"),
            ["regimes.0.clocks.0.due (line 13)", "got {}"],
            id="no deadline form",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", "{business_days: 4}"),
            ["regimes.0.clocks.0.due (line 13)", "got {business_days}"],
            id="business days without a calendar",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", "{business_days: 4, calendar: XX}"),
            ["regimes.0.clocks.0.due.calendar (line 13)", "no holiday calendar 'XX'"],
            id="unknown holiday calendar",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", "{hours: 0}"),
            ["regimes.0.clocks.0.due.hours (line 13)", "greater than or equal to 1"],
            id="zero hours",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", '{hours: "72"}'),
            ["regimes.0.clocks.0.due.hours (line 13)", "valid integer", "'72'"],
            id="hours as text",
        ),
        pytest.param(
            VALID.replace("{hours: 72}", "{without_undue_delay: false, hours: 72}"),
            ["regimes.0.clocks.0.due.without_undue_delay (line 13)", "Input should be True"],
            id="without undue delay false",
        ),
        pytest.param(
            VALID.replace(
                "due: {hours: 72}",
                (EARLIEST_OF % "detected").replace(
                    "{hours: 72}", "{without_undue_delay: true, hours: 72}"
                ),
            ),
            ["regimes.0.clocks.0 (line 8)", "'earliest_of' cannot be combined"],
            id="earliest_of with a soft clock",
        ),
        pytest.param(
            VALID.replace("Europe/Brussels", "Europe/Brusels"),
            ["regimes.0.time_zone (line 6)", "unknown IANA time zone 'Europe/Brusels'"],
            id="unknown time zone",
        ),
        pytest.param(
            VALID.replace("id: second", "id: first"),
            ["regimes.0.clocks (line 7)", "clocks.1: duplicate clock id 'first'"],
            id="duplicate clock id",
        ),
        pytest.param(
            VALID + SECOND_REGIME,
            ["regimes (line 2)", "regimes.1: duplicate regime id 'alpha'"],
            id="duplicate regime id",
        ),
        pytest.param(
            VALID.replace("id: first", "id: First"),
            ["regimes.0.clocks.0.id (line 8)", "use lower-kebab-case"],
            id="clock id not kebab-case",
        ),
        pytest.param(
            VALID.replace(
                "audience: supervisory_authority\n        citation: Art. 1",
                "audience: Supervisory Authority\n        citation: Art. 1",
            ),
            ["regimes.0.clocks.0.audience (line 10)", "'Supervisory Authority'"],
            id="audience not snake_case",
        ),
        pytest.param(
            VALID.replace("due: {hours: 72}", "due: {hours: 72}\n        deadline: soon"),
            ["regimes.0.clocks.0.deadline (line 14)", "unknown key 'deadline'"],
            id="unknown clock key",
        ),
        pytest.param(
            VALID.replace("        due: {hours: 72}\n", ""),
            ["regimes.0.clocks.0.due (line 8)", "required key is missing"],
            id="missing due",
        ),
        pytest.param(
            VALID.replace(
                "due: {hours: 72}", "due: {hours: 72}\n        applies_when: {affected: {}}"
            ),
            ["regimes.0.clocks.0.applies_when.affected (line 14)", "no test given"],
            id="empty fact test",
        ),
        pytest.param(
            VALID.replace(
                "due: {hours: 72}",
                "due: {hours: 72}\n        applies_when: {affected: {above: 5}}",
            ),
            ["regimes.0.clocks.0.applies_when.affected.above (line 14)", "unknown key 'above'"],
            id="unknown fact test",
        ),
        pytest.param(
            VALID.replace(
                "due: {hours: 72}",
                "due: {hours: 72}\n        late_allowed_with_reasons: yes please",
            ),
            ["regimes.0.clocks.0.late_allowed_with_reasons (line 14)", "valid boolean"],
            id="flag not a boolean",
        ),
        pytest.param("- a list\n", ["(top level)", "expected a mapping"], id="not a mapping"),
        pytest.param("", ["(top level)", "got nothing"], id="empty file"),
    ],
)
def test_loader_refuses_a_broken_file_naming_file_and_line(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    # given
    path = _write(tmp_path, text)

    # when
    with pytest.raises(RegimeError) as raised:
        load_regimes(path)

    # then
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid notification regimes")
    for fragment in expected:
        assert fragment in message
    assert raised.value.path == path


def test_loader_lists_every_reference_problem(tmp_path: Path) -> None:
    # given two clocks naming clocks that do not exist
    path = _write(
        tmp_path,
        VALID.replace("became_aware", "notification:alpha/zeroth").replace(
            "alpha/first", "alpha/third"
        ),
    )

    # when
    with pytest.raises(RegimeError) as raised:
        load_regimes(path)

    # then
    assert len(raised.value.problems) == 2
    assert "(line 12)" in raised.value.problems[0]
    assert "(line 18)" in raised.value.problems[1]


def test_loader_refuses_a_missing_file(tmp_path: Path) -> None:
    # given
    path = tmp_path / "absent.yaml"

    # when
    with pytest.raises(PolicyFileError) as raised:
        load_regimes(path)

    # then
    assert isinstance(raised.value, RegimeError)
    assert str(raised.value).startswith(f"{path}: invalid notification regimes: cannot read")
