"""One list of facts: the regimes file may name only facts the API records, and a fact nobody
recorded is unknown (the clock waits, visible), never zero."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govsvc.compliance.clocks import ClockState, RegimeError, evaluate, load_regimes
from govsvc.compliance.facts import KNOWN_FACTS, read_fact
from govsvc.errors import Invalid
from govsvc.policies import Policies

POLICIES = Path(__file__).parents[2] / "policies"
CONTROLS = Path(__file__).parents[2] / "controls"
DETECTED = datetime(2026, 3, 10, 15, tzinfo=UTC)

REGIMES = textwrap.dedent(
    """\
    version: "2026.1"
    regimes:
      - id: alpha
        name: Alpha
        citation: Alpha Act
        time_zone: UTC
        clocks:
          - id: first
            name: First
            audience: authority
            citation: Art. 1
            starts_at: detected
            due: {hours: 72}
            applies_when: {%s}
    """
)


def test_every_fact_the_shipped_regimes_name_can_be_recorded() -> None:
    # given the shipped regimes file
    regimes = load_regimes(POLICIES / "regimes.yaml")
    # when
    named = {
        fact
        for regime in regimes.values()
        for clock in regime.clocks
        for fact in clock.applies_when
    }
    # then each is a known fact, and the API reads a value for it
    assert named <= set(KNOWN_FACTS)
    assert "max_residents_affected_in_a_state" in named
    assert read_fact("max_residents_affected_in_a_state", "800") == 800


@pytest.mark.parametrize(
    ("applies_when", "expected"),
    [
        pytest.param(
            "residents_of_mars: {gt: 500}",
            "unknown fact 'residents_of_mars'; known facts: affected_individuals,",
            id="unknown fact",
        ),
        pytest.param(
            "affected_residents_max_state: {gt: 500}",
            "unknown fact 'affected_residents_max_state'",
            id="a name the API once took but no regime tested",
        ),
        pytest.param(
            "risk_to_individuals: {gte: 2}",
            "gte needs a number; risk_to_individuals (one of unlikely, risk, high_risk)",
            id="bound on a level",
        ),
        pytest.param(
            "risk_to_individuals: {in: [risk, severe]}",
            "'severe' can never be risk_to_individuals",
            id="level that does not exist",
        ),
        pytest.param(
            "material: {eq: 1}",
            "1 can never be material (yes/no)",
            id="number for a yes/no",
        ),
    ],
)
def test_a_regimes_file_naming_an_unknown_or_ill_tested_fact_is_refused(
    tmp_path: Path, applies_when: str, expected: str
) -> None:
    # given
    path = tmp_path / "regimes.yaml"
    path.write_text(REGIMES % applies_when, encoding="utf-8")
    # when
    with pytest.raises(RegimeError) as raised:
        load_regimes(path)
    # then the message names the file, the place and the line, and what to write instead
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid notification regimes")
    assert "regimes.0.clocks.0.applies_when." in message
    assert "(line 14)" in message
    assert expected in message


def test_start_up_stops_on_a_regimes_file_naming_an_unknown_fact(tmp_path: Path) -> None:
    # given the shipped policies with one regime testing a fact nobody can record
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    shipped = (policies / "regimes.yaml").read_text(encoding="utf-8")
    (policies / "regimes.yaml").write_text(
        shipped.replace("max_residents_affected_in_a_state: {gt", "residents_in_state: {gt"),
        encoding="utf-8",
    )
    # when / then
    with pytest.raises(RegimeError, match="unknown fact 'residents_in_state'"):
        Policies.load(policies, CONTROLS)


def test_the_api_takes_exactly_the_known_facts() -> None:
    with pytest.raises(Invalid, match="unknown fact 'affected_residents_max_state'"):
        read_fact("affected_residents_max_state", "800")
    with pytest.raises(Invalid, match="whole number"):
        read_fact("affected_individuals", "５００")  # noqa: RUF001 - full-width digits


def test_a_clock_whose_facts_are_unknown_waits_visibly_and_still_alarms_when_late() -> None:
    # given HIPAA with nothing known about how many were affected
    hipaa = load_regimes(POLICIES / "regimes.yaml")["hipaa"]

    def states(now: datetime) -> dict[str, tuple[ClockState, tuple[str, ...]]]:
        return {
            s.clock: (s.state, s.pending_facts)
            for s in evaluate(
                hipaa,
                triggers={"detected": DETECTED},
                notifications={},
                facts={},
                now=now,
                due_soon=timedelta(hours=6),
            )
        }

    # when / then: both HHS clocks are shown, waiting for the count
    early = states(DETECTED + timedelta(days=1))
    assert early["hhs-500-or-more"] == (ClockState.WAITING, ("affected_individuals",))
    assert early["media"] == (ClockState.WAITING, ("max_residents_affected_in_a_state",))
    assert early["individuals"][0] is ClockState.OPEN
    # and past the 60 days, waiting does not hide that the deadline went by
    late = states(DETECTED + timedelta(days=61))
    assert late["hhs-500-or-more"] == (ClockState.MISSED, ("affected_individuals",))
