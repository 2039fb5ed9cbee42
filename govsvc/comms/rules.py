"""Communication rules as data (policies/comms.yaml): who approves what, when a comms lead is
required, which audiences need an ETA confidence and redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from govsvc.authz.policy import ANY_UNIT, AccessPolicy
from govsvc.comms.models import Audience
from govsvc.incidents.classification import Severity
from govsvc.policy_files import PolicyFileError, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
Role = Annotated[str, StringConstraints(pattern=r"^[a-z_]+$")]


class CommsRulesError(PolicyFileError):
    what = "communication rules"


class ApprovalRule(BaseModel):
    model_config = _STRICT
    audiences: tuple[Audience, ...]
    severities: tuple[Severity, ...]
    roles: tuple[Role, ...]


class CommsLeadRule(BaseModel):
    model_config = _STRICT
    severities: tuple[Severity, ...]
    audiences: tuple[Audience, ...]


class CommsRules(BaseModel):
    model_config = _STRICT
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
    approvals: tuple[ApprovalRule, ...] = ()
    comms_lead_required: CommsLeadRule
    eta_confidence_required_for: tuple[Audience, ...] = ()
    redacted_audiences: tuple[Audience, ...] = ()

    def approver_roles(self, audience: Audience, severity: Severity) -> list[str]:
        """Every role that must approve a draft for this audience at this severity."""
        roles: list[str] = []
        for rule in self.approvals:
            if audience in rule.audiences and severity in rule.severities:
                roles += [r for r in rule.roles if r not in roles]
        return roles

    def needs_comms_lead(self, audience: Audience, severity: Severity) -> bool:
        rule = self.comms_lead_required
        return audience in rule.audiences and severity in rule.severities


def load_comms_rules(path: Path, access: AccessPolicy | None = None) -> CommsRules:
    """Load the rules; with the access policy, also check that every approver may read the
    drafts they approve (policy.csv decides reading, this file decides approving)."""
    rules = load_yaml_model(path, CommsRules, error=CommsRulesError)
    if access is not None:
        problems = [
            f"approvals: {role} approves {audience.value} drafts, but policy.csv does not let "
            f"it read them (p, {role}, *, status_update.{audience.value}, read_draft, restricted)"
            for rule in rules.approvals
            for audience in rule.audiences
            for role in rule.roles
            if not access.allows(
                role, ANY_UNIT, f"status_update.{audience.value}", "read_draft", "restricted"
            )
        ]
        if problems:
            raise CommsRulesError(path, problems)
    return rules
