"""policy.csv decides who reads which audience's drafts, comms.yaml who approves them: the two
must agree, or start-up stops."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govsvc.authz.policy import AccessPolicy
from govsvc.comms.rules import CommsRulesError, load_comms_rules

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def test_the_shipped_rules_agree() -> None:
    assert load_comms_rules(POLICIES / "comms.yaml", AccessPolicy(POLICIES)).approvals


def test_an_approver_who_may_not_read_the_drafts_stops_start_up(tmp_path: Path) -> None:
    # given comms rules that make executives approve regulator drafts they may not read
    shutil.copytree(POLICIES, tmp_path / "policies")
    comms = tmp_path / "policies" / "comms.yaml"
    comms.write_text(comms.read_text().replace("roles: [legal]\n", "roles: [legal, executive]\n"))
    # when / then
    with pytest.raises(CommsRulesError) as refused:
        load_comms_rules(comms, AccessPolicy(tmp_path / "policies"))
    assert "executive approves regulator drafts" in str(refused.value)
