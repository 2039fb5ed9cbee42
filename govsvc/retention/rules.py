"""How long evidence must be kept: rules as data (policies/retention.yaml), longest one wins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

Name = Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class RetentionRulesError(PolicyFileError):
    what = "retention rules"


class Period(BaseModel):
    """A calendar period; seconds exist so tests (and drills) can expire things quickly."""

    model_config = _STRICT
    years: int = Field(default=0, ge=0, le=100)
    months: int = Field(default=0, ge=0, le=1200)
    days: int = Field(default=0, ge=0, le=36500)
    seconds: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _not_zero(self) -> Period:
        if not (self.years or self.months or self.days or self.seconds):
            raise ValueError("a retention period must be longer than zero")
        return self

    def after(self, start: datetime) -> datetime:
        return start + relativedelta(
            years=self.years, months=self.months, days=self.days, seconds=self.seconds
        )

    def describe(self) -> str:
        parts = [
            f"{n} {unit}{'s' if n != 1 else ''}"
            for n, unit in (
                (self.years, "year"),
                (self.months, "month"),
                (self.days, "day"),
                (self.seconds, "second"),
            )
            if n
        ]
        return " ".join(parts)


class Rule(BaseModel):
    model_config = _STRICT
    id: Name
    framework: Name
    kinds: Literal["all"] | list[Kind]
    period: Period
    citation: str

    def applies_to(self, kind: str) -> bool:
        return self.kinds == "all" or kind in self.kinds


class DefaultRule(BaseModel):
    model_config = _STRICT
    id: Name
    period: Period
    citation: str


class _RulesDocument(BaseModel):
    model_config = _STRICT
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
    always: list[Name] = []
    default: DefaultRule
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> _RulesDocument:
        ids = [rule.id for rule in self.rules] + [self.default.id]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True)
class RetentionDecision:
    rule_id: str
    retain_until: datetime
    reason: str  # which rules applied and why this one won


class RetentionRules:
    def __init__(self, document: _RulesDocument):
        self.version = document.version
        self.always = tuple(document.always)
        self.default = document.default
        self.rules = tuple(document.rules)
        self.frameworks = frozenset(rule.framework for rule in self.rules)

    def decide(self, *, kind: str, frameworks: Iterable[str], start: datetime) -> RetentionDecision:
        """The longest applicable retention for evidence of `kind` under `frameworks`."""
        wanted = set(frameworks) | set(self.always)
        candidates = [
            (r.id, r.period, r.citation)
            for r in self.rules
            if r.framework in wanted and r.applies_to(kind)
        ]
        if not candidates:
            candidates = [(self.default.id, self.default.period, self.default.citation)]
        ranked = sorted(
            (
                (period.after(start), rule_id, period, citation)
                for rule_id, period, citation in candidates
            ),
            reverse=True,
        )
        until, rule_id, period, citation = ranked[0]
        considered = "; ".join(f"{rid} ({p.describe()})" for _, rid, p, _ in ranked)
        reason = (
            f"longest applicable of [{considered}] under retention rules {self.version}: "
            f"{rule_id}, {period.describe()} ({citation})"
        )
        return RetentionDecision(rule_id, until, reason)


def load_retention_rules(path: Path) -> RetentionRules:
    """Load and validate retention rules; a broken file names itself and the line."""
    return RetentionRules(load_yaml_model(path, _RulesDocument, error=RetentionRulesError))
