"""Incident severity classification: a pure function of facts, the service's SLA and a policy.

The policy is versioned data (policies/classification.yaml). Nothing here touches a database or
the clock, so an incident can be re-classified, and its severity explained, under exactly the
policy version that judged it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

__all__ = [
    "ClassificationPolicy",
    "ClassificationPolicyError",
    "ClassificationResult",
    "DataExposure",
    "ImpactFacts",
    "ImpactKind",
    "PolicyBook",
    "ServiceLevel",
    "Severity",
    "UnknownPolicyVersion",
    "judge_impact",
    "load_policy_book",
]


# --- vocabulary ---------------------------------------------------------------------------------


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 up to 4 for SEV4: a lower rank is more severe."""
        return int(self.value.removeprefix("SEV"))

    def is_more_severe_than(self, other: Severity) -> bool:
        # Comparing the str values would happen to work today; the rank says what we mean.
        return self.rank < other.rank


class ImpactKind(StrEnum):
    OUTAGE = "outage"
    DEGRADATION = "degradation"
    NONE = "none"


class DataExposure(StrEnum):
    NONE = "none"
    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"


# --- facts and SLA ------------------------------------------------------------------------------


def _require_at_least(name: str, value: float | None, minimum: float) -> None:
    if value is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value:g}")


def _require_percentage(name: str, value: float | None) -> None:
    if value is not None and not 0 <= value <= 100:
        raise ValueError(f"{name} must be between 0 and 100, got {value:g}")


@dataclass(frozen=True, kw_only=True)
class ImpactFacts:
    """What is known about an incident's impact; unknown measurements stay None."""

    customers_affected: int = 0
    data_exposure: DataExposure = DataExposure.NONE
    regulatory_exposure: bool = False
    duration_minutes: int | None = None
    unavailable: bool = False
    availability_pct: float | None = None
    latency_p99_ms: int | None = None

    def __post_init__(self) -> None:
        # Callers often hold the plain string ("confirmed"); store the enum so every later
        # comparison and explanation sees one type. An unknown value fails here, loudly.
        try:
            exposure = DataExposure(self.data_exposure)
        except ValueError:
            allowed = ", ".join(DataExposure)
            raise ValueError(
                f"data_exposure must be one of {allowed}, got {self.data_exposure!r}"
            ) from None
        object.__setattr__(self, "data_exposure", exposure)
        _require_at_least("customers_affected", self.customers_affected, 0)
        _require_at_least("duration_minutes", self.duration_minutes, 0)
        _require_at_least("latency_p99_ms", self.latency_p99_ms, 0)
        _require_percentage("availability_pct", self.availability_pct)


@dataclass(frozen=True, kw_only=True)
class ServiceLevel:
    """A service's SLA: where a performance degradation starts and where it becomes an outage."""

    tier: int
    availability_target_pct: float
    latency_threshold_ms: int | None = None
    latency_outage_ms: int | None = None

    def __post_init__(self) -> None:
        _require_at_least("tier", self.tier, 1)
        _require_percentage("availability_target_pct", self.availability_target_pct)
        _require_at_least("latency_threshold_ms", self.latency_threshold_ms, 1)
        _require_at_least("latency_outage_ms", self.latency_outage_ms, 1)
        threshold, outage = self.latency_threshold_ms, self.latency_outage_ms
        # Equal or inverted thresholds would make "degraded" unreachable or meaningless.
        if threshold is not None and outage is not None and threshold >= outage:
            raise ValueError(
                f"latency_threshold_ms ({threshold}) must be below latency_outage_ms ({outage})"
            )


@dataclass(frozen=True)
class _Judgement:
    kind: ImpactKind
    because: str | None = None


def _judge(facts: ImpactFacts, sla: ServiceLevel) -> _Judgement:
    if facts.unavailable:
        return _Judgement(ImpactKind.OUTAGE, "service unavailable")
    availability, target = facts.availability_pct, sla.availability_target_pct
    if availability is not None and availability < target:
        return _Judgement(ImpactKind.OUTAGE, f"availability {availability:g}% < target {target:g}%")
    latency = facts.latency_p99_ms
    if latency is None:
        return _Judgement(ImpactKind.NONE)
    if sla.latency_outage_ms is not None and latency >= sla.latency_outage_ms:
        return _Judgement(
            ImpactKind.OUTAGE,
            f"p99 latency {latency} ms >= outage threshold {sla.latency_outage_ms} ms",
        )
    if sla.latency_threshold_ms is not None and latency > sla.latency_threshold_ms:
        return _Judgement(
            ImpactKind.DEGRADATION,
            f"p99 latency {latency} ms > degradation threshold {sla.latency_threshold_ms} ms",
        )
    return _Judgement(ImpactKind.NONE)


def judge_impact(facts: ImpactFacts, sla: ServiceLevel) -> ImpactKind:
    """Outage, performance degradation or neither: the one place that draws that line.

    OUTAGE when the service is unavailable, its availability is below the SLA target, or p99
    latency reached the SLA's outage level; DEGRADATION when p99 latency is above the SLA's
    threshold but not an outage; NONE otherwise. Values exactly at the target or threshold are
    within SLA; values exactly at the outage level are not.
    """
    return _judge(facts, sla).kind


@dataclass(frozen=True)
class _Subject:
    """Everything a rule may look at, with impact already judged once."""

    facts: ImpactFacts
    sla: ServiceLevel
    impact: _Judgement


@dataclass(frozen=True)
class ClassificationResult:
    severity: Severity
    impact_kind: ImpactKind
    policy_version: str
    rule_id: str | None  # None when no rule matched and the policy default applied
    reasons: tuple[str, ...]


# --- policy schema ------------------------------------------------------------------------------

# Identifiers in policy files (rule ids, tags): lower-case words joined by single hyphens.
_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True)

RuleId = Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
# Quoted in YAML on purpose: unquoted, 2026.10 would be read as the number 2026.1.
PolicyVersion = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
# Strict so that YAML `true` or "5" is refused rather than silently read as a number.
Count = Annotated[StrictInt, Field(ge=0)]

# A condition check: None when it fails, else the reasons it holds (empty when not set).
_Outcome = tuple[str, ...] | None


class Bounds(BaseModel):
    """An inclusive numeric range; an unknown (None) value satisfies no bound."""

    model_config = _MODEL_CONFIG

    gte: Count | None = None
    lte: Count | None = None

    @model_validator(mode="after")
    def _is_a_range(self) -> Self:
        if self.gte is None and self.lte is None:
            raise ValueError("give at least one of 'gte' or 'lte'")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise ValueError(f"empty range: gte {self.gte} > lte {self.lte}")
        return self

    def check(self, value: int | None, *, label: str, unit: str = "") -> _Outcome:
        if value is None:
            return None
        reasons: list[str] = []
        if self.gte is not None:
            if value < self.gte:
                return None
            reasons.append(f"{label} {value}{unit} >= {self.gte}")
        if self.lte is not None:
            if value > self.lte:
                return None
            reasons.append(f"{label} {value}{unit} <= {self.lte}")
        return tuple(reasons)


def _tier_shape(value: Any) -> str:
    return "list" if isinstance(value, list | tuple) else "range"


TierMatch = Annotated[
    Annotated[Bounds, Tag("range")]
    | Annotated[tuple[Annotated[StrictInt, Field(ge=1)], ...], Field(min_length=1), Tag("list")],
    Discriminator(_tier_shape),
]


def _refuse_explicit_nulls(model: BaseModel) -> None:
    # `impact: null` reads like "impact is none" but would mean "impact not checked", turning
    # the condition into match-all; leaving the key out is the one way to say "not checked".
    for name in sorted(model.model_fields_set):
        if getattr(model, name) is None:
            key = type(model).model_fields[name].alias or name
            raise ValueError(f"{key!r} is null; give a value or leave the key out")


_E = TypeVar("_E", bound=StrEnum)


def _check_member(allowed: tuple[_E, ...] | None, value: _E, *, label: str) -> _Outcome:
    if allowed is None:
        return ()
    return (f"{label} is {value.value}",) if value in allowed else None


class Conditions(BaseModel):
    """Conditions that must all hold (AND). Unset ones are not checked."""

    model_config = _MODEL_CONFIG

    impact: Annotated[tuple[ImpactKind, ...], Field(min_length=1)] | None = None
    tier: TierMatch | None = None
    customers_affected: Bounds | None = None
    data_exposure: Annotated[tuple[DataExposure, ...], Field(min_length=1)] | None = None
    regulatory_exposure: StrictBool | None = None
    duration_minutes: Bounds | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        _refuse_explicit_nulls(self)
        # An empty `when` would match everything: that is what the policy `default` is for.
        if not self.model_fields_set:
            raise ValueError("no conditions given; use the policy 'default' for a catch-all")
        return self

    def match(self, subject: _Subject) -> _Outcome:
        facts = subject.facts
        checks = (
            self._check_impact(subject.impact),
            self._check_tier(subject.sla.tier),
            _check_bounds(self.customers_affected, facts.customers_affected, "customers affected"),
            _check_member(self.data_exposure, facts.data_exposure, label="data exposure"),
            self._check_regulatory(facts.regulatory_exposure),
            _check_bounds(self.duration_minutes, facts.duration_minutes, "duration", " min"),
        )
        if any(outcome is None for outcome in checks):
            return None
        return tuple(reason for outcome in checks if outcome is not None for reason in outcome)

    def _check_impact(self, impact: _Judgement) -> _Outcome:
        outcome = _check_member(self.impact, impact.kind, label="impact")
        if outcome and impact.because:
            return (f"{outcome[0]} ({impact.because})",)
        return outcome

    def _check_tier(self, tier: int) -> _Outcome:
        if self.tier is None:
            return ()
        if isinstance(self.tier, Bounds):
            return self.tier.check(tier, label="service tier")
        return (f"service tier is {tier}",) if tier in self.tier else None

    def _check_regulatory(self, exposed: bool) -> _Outcome:
        if self.regulatory_exposure is None:
            return ()
        if exposed != self.regulatory_exposure:
            return None
        return ("regulatory exposure" if exposed else "no regulatory exposure",)


def _check_bounds(bounds: Bounds | None, value: int | None, label: str, unit: str = "") -> _Outcome:
    return () if bounds is None else bounds.check(value, label=label, unit=unit)


class Rule(BaseModel):
    """A severity that applies when all of `when` and at least one of `any` hold."""

    model_config = _MODEL_CONFIG

    id: RuleId
    severity: Severity
    description: str | None = None
    when: Conditions | None = None
    any_of: Annotated[tuple[Conditions, ...], Field(min_length=1)] | None = Field(
        default=None, alias="any"
    )

    @model_validator(mode="after")
    def _has_conditions(self) -> Self:
        _refuse_explicit_nulls(self)
        if self.when is None and self.any_of is None:
            raise ValueError("a rule needs 'when' and/or 'any'; use the policy 'default' instead")
        return self

    def match(self, subject: _Subject) -> _Outcome:
        reasons = self.when.match(subject) if self.when is not None else ()
        if reasons is None or self.any_of is None:
            return reasons
        for alternative in self.any_of:
            more = alternative.match(subject)
            if more is not None:
                return reasons + more
        return None


def _first_duplicate(values: Iterable[str]) -> tuple[str, int, int] | None:
    """(value, index of its first use, index of its repeat) for the first repeat, if any."""
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            return value, first[value], index
        first[value] = index
    return None


class ClassificationPolicy(BaseModel):
    """One version of the classification policy: ordered rules, first match wins."""

    model_config = _MODEL_CONFIG

    version: PolicyVersion
    effective_from: date
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    default: Severity
    rules: Annotated[tuple[Rule, ...], Field(min_length=1)]

    @field_validator("rules")
    @classmethod
    def _rules_are_sound(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        duplicate = _first_duplicate(rule.id for rule in rules)
        if duplicate is not None:
            rule_id, first, again = duplicate
            raise ValueError(f"rules.{again}: duplicate rule id {rule_id!r} (see rules.{first})")
        # First match wins, so a less severe rule above a more severe one could shadow it and
        # under-classify an incident. Requiring most-severe-first makes the first match the worst.
        for index, (above, rule) in enumerate(pairwise(rules), start=1):
            if rule.severity.is_more_severe_than(above.severity):
                raise ValueError(
                    f"rules.{index}: rule {rule.id!r} ({rule.severity}) comes after the less "
                    f"severe rule {above.id!r} ({above.severity}); order rules most severe first"
                )
        return rules

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    def classify(self, facts: ImpactFacts, sla: ServiceLevel) -> ClassificationResult:
        subject = _Subject(facts=facts, sla=sla, impact=_judge(facts, sla))
        for rule in self.rules:
            reasons = rule.match(subject)
            if reasons is not None:
                return ClassificationResult(
                    severity=rule.severity,
                    impact_kind=subject.impact.kind,
                    policy_version=self.version,
                    rule_id=rule.id,
                    reasons=reasons,
                )
        return ClassificationResult(
            severity=self.default,
            impact_kind=subject.impact.kind,
            policy_version=self.version,
            rule_id=None,
            reasons=(f"no rule matched; default {self.default} of policy {self.version}",),
        )


class _PolicyDocument(BaseModel):
    model_config = _MODEL_CONFIG

    # Declared before `current` so that its validator can see the validated versions.
    versions: Annotated[tuple[ClassificationPolicy, ...], Field(min_length=1)]
    current: PolicyVersion

    @field_validator("versions")
    @classmethod
    def _versions_unique(
        cls, versions: tuple[ClassificationPolicy, ...]
    ) -> tuple[ClassificationPolicy, ...]:
        duplicate = _first_duplicate(policy.version for policy in versions)
        if duplicate is not None:
            version, first, again = duplicate
            raise ValueError(
                f"versions.{again}: duplicate version {version!r} (see versions.{first})"
            )
        return versions

    @field_validator("current")
    @classmethod
    def _current_is_a_version(cls, current: str, info: ValidationInfo) -> str:
        versions: tuple[ClassificationPolicy, ...] | None = info.data.get("versions")
        known = [policy.version for policy in versions or ()]
        if versions is not None and current not in known:
            raise ValueError(f"{current!r} is not among the versions ({', '.join(known)})")
        return current


# --- the book of versions -----------------------------------------------------------------------


class UnknownPolicyVersion(LookupError):
    def __init__(self, version: str) -> None:
        super().__init__(f"unknown classification policy version {version!r}")
        self.version = version


class PolicyBook:
    """Every version of the classification policy, and which one is current."""

    def __init__(self, policies: Iterable[ClassificationPolicy], *, current: str) -> None:
        by_version: dict[str, ClassificationPolicy] = {}
        for policy in policies:
            if policy.version in by_version:
                raise ValueError(f"duplicate classification policy version {policy.version!r}")
            by_version[policy.version] = policy
        if current not in by_version:
            raise UnknownPolicyVersion(current)
        self._by_version = by_version
        self._current = by_version[current]

    @property
    def current(self) -> ClassificationPolicy:
        return self._current

    @property
    def versions(self) -> tuple[str, ...]:
        """In the order the file lists them."""
        return tuple(self._by_version)

    def get(self, version: str) -> ClassificationPolicy:
        try:
            return self._by_version[version]
        except KeyError:
            raise UnknownPolicyVersion(version) from None

    def __repr__(self) -> str:
        return f"PolicyBook(versions={self.versions!r}, current={self._current.version!r})"


class ClassificationPolicyError(PolicyFileError):
    what = "classification policy"


def load_policy_book(path: Path) -> PolicyBook:
    """Load every policy version from `path`; any problem raises ClassificationPolicyError."""
    document = load_yaml_model(path, _PolicyDocument, error=ClassificationPolicyError)
    return PolicyBook(document.versions, current=document.current)
