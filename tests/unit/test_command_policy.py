"""policies/command.yaml: loading refuses malformed rules naming the file; the command model
and the conflict rules decide as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from govsvc.authz.sensitivity import Sensitivity
from govsvc.command.conflicts import Holding, judge
from govsvc.command.models import IncidentRoleKind
from govsvc.command.policy import (
    CommandBook,
    CommandModelKind,
    CommandPolicyError,
    RuleSource,
    load_command_policy,
)
from govsvc.incidents.classification import Severity

REPO = Path(__file__).parents[2] / "policies" / "command.yaml"

GOOD = """
version: "t1"
default: {model: centralised, reason: one commander}
units:
  - {unit: platform, model: distributed, reason: owners lead}
services:
  - {service: ledger, model: centralised, reason: regulated}
conflicts:
  - id: one-command-role
    description: one command role
    roles: [incident_commander, deputy_commander]
    max: 1
    precedence: [SEV1]
"""


def _book(tmp_path: Path, text: str = GOOD) -> CommandBook:
    path = tmp_path / "command.yaml"
    path.write_text(text)
    return load_command_policy(path)


def test_the_repository_file_loads() -> None:
    book = load_command_policy(REPO)
    assert {rule.id for rule in book.conflicts} == {"one-command-role", "role-load"}


def test_a_service_rule_wins_then_the_nearest_unit_then_the_default(tmp_path: Path) -> None:
    book = _book(tmp_path)
    by_service = book.model_for(service_code="ledger", unit_lineage=["platform"])
    assert (by_service.model, by_service.source, by_service.rule) == (
        CommandModelKind.CENTRALISED,
        RuleSource.SERVICE,
        "ledger",
    )
    by_unit = book.model_for(service_code="blob", unit_lineage=["storage", "platform"])
    assert (by_unit.model, by_unit.source, by_unit.rule) == (
        CommandModelKind.DISTRIBUTED,
        RuleSource.UNIT,
        "platform",
    )
    default = book.model_for(service_code="x", unit_lineage=["payments"])
    assert (default.source, default.rule, default.reason) == (
        RuleSource.DEFAULT,
        None,
        "one commander",
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (GOOD.replace("distributed", "federated"), "units.0.model"),
        (GOOD.replace("max: 1", "max: 0"), "conflicts.0.max"),
        (GOOD.replace("deputy_commander]", "janitor]"), "conflicts.0.roles"),
        (GOOD.replace("[SEV1]", "[SEV9]"), "conflicts.0.precedence"),
        (
            GOOD.replace("roles: [incident_commander, deputy_commander]", "roles: []"),
            "at least one",
        ),
        (GOOD + "  - {id: one-command-role, description: again, max: 2}\n", "two rules"),
        (GOOD.replace("reason: owners lead", "reason: owners lead, colour: red"), "colour"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(CommandPolicyError) as refused:
        _book(tmp_path, text)
    assert "command.yaml" in str(refused.value)
    assert says in str(refused.value)


def _held(role: IncidentRoleKind, severity: Severity, incident_id: int = 1) -> Holding:
    return Holding(1, role, incident_id, f"INC-{incident_id}", severity, 1, Sensitivity.INTERNAL)


def test_precedence_lets_a_sev1_take_someone_from_lower_severities_only(tmp_path: Path) -> None:
    rules = _book(tmp_path).conflicts
    commander = IncidentRoleKind.INCIDENT_COMMANDER
    on_sev3 = [_held(commander, Severity.SEV3)]
    violations, skipped = judge(rules, on_sev3, role=commander, severity=Severity.SEV1)
    assert violations == []
    assert [s.holding.reference for s in skipped] == ["INC-1"]
    violations, _ = judge(rules, on_sev3, role=commander, severity=Severity.SEV2)
    assert [v.rule.id for v in violations] == ["one-command-role"]
    on_sev1 = [_held(commander, Severity.SEV1)]
    violations, _ = judge(
        rules, on_sev1, role=IncidentRoleKind.DEPUTY_COMMANDER, severity=Severity.SEV1
    )
    assert [v.others for v in violations] == [tuple(on_sev1)]
    # a role the rule does not count is never held back by it
    assert judge(rules, on_sev1, role=IncidentRoleKind.SCRIBE, severity=Severity.SEV4) == ([], [])
