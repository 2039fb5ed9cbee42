"""Detection rules as versioned data (policies/detection.yaml): which signals open an incident,
after how long, corroborated by what, with which impact facts; plus the correlation window,
flapping and storm limits that belong to the same version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from govsvc.alerts.models import Perspective
from govsvc.alerts.sources import compile_expression, search
from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
SignalSeverity = Literal["critical", "warning", "info"]
FACTS = (
    "customers_affected",
    "data_exposure",
    "regulatory_exposure",
    "unavailable",
    "availability_pct",
    "latency_p99_ms",
)


class DetectionRulesError(PolicyFileError):
    what = "detection rules"


class FromSignal(BaseModel):
    """A fact read from the signal: a JMESPath over {labels, annotations, severity, perspective}."""

    model_config = _STRICT
    path: str

    @model_validator(mode="after")
    def _compiles(self) -> FromSignal:
        compile_expression(self.path)
        return self


class Condition(BaseModel):
    model_config = _STRICT
    perspective: Perspective | None = None
    min_locations: int | None = Field(default=None, ge=2, le=100)
    perspectives: tuple[Perspective, ...] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        by_locations = self.perspective is not None and self.min_locations is not None
        if by_locations == (self.perspectives is not None):
            raise ValueError(
                "a condition is either {perspective, min_locations} or {perspectives: [...]}"
            )
        return self

    def holds(self, firing: Sequence[FiringSignal]) -> bool:
        if self.perspectives is not None:
            seen = {f.perspective for f in firing}
            return all(p.value in seen for p in self.perspectives)
        wanted = self.perspective.value if self.perspective else None
        locations = {f.location for f in firing if f.perspective == wanted and f.location}
        return len(locations) >= (self.min_locations or 0)

    def describe(self) -> str:
        if self.perspectives is not None:
            return " and ".join(p.value for p in self.perspectives) + " agreeing"
        wanted = self.perspective.value if self.perspective else ""
        return f"{wanted} from {self.min_locations} locations"


class Corroboration(BaseModel):
    model_config = _STRICT
    any: tuple[Condition, ...] = Field(min_length=1)


class Rule(BaseModel):
    model_config = _STRICT
    id: Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
    description: str
    tiers: tuple[Annotated[int, Field(ge=1, le=4)], ...] = Field(min_length=1)
    severities: tuple[SignalSeverity, ...] = Field(min_length=1)
    perspectives: tuple[Perspective, ...] | None = None
    min_duration_seconds: int = Field(default=0, ge=0, le=86400)
    corroboration: Corroboration | None = None
    impact: dict[str, bool | int | float | str | FromSignal] = {}

    @model_validator(mode="after")
    def _known_facts(self) -> Rule:
        unknown = sorted(set(self.impact) - set(FACTS))
        if unknown:
            raise ValueError(f"unknown impact fact(s) {unknown}; known: {', '.join(FACTS)}")
        return self

    def applies(self, tier: int, severity: str, perspective: str) -> bool:
        return (
            tier in self.tiers
            and severity in self.severities
            and (self.perspectives is None or perspective in {p.value for p in self.perspectives})
        )


class Correlation(BaseModel):
    model_config = _STRICT
    window_minutes: int = Field(ge=1, le=7 * 24 * 60)
    max_hops: int = Field(default=3, ge=0, le=10)


class Flapping(BaseModel):
    model_config = _STRICT
    changes: int = Field(ge=2, le=1000)
    window_seconds: int = Field(ge=1, le=86400)


class Storm(BaseModel):
    model_config = _STRICT
    window_seconds: int = Field(ge=1, le=3600)
    per_source: int = Field(ge=1)
    per_unit: int = Field(ge=1)
    overall: int = Field(ge=1)


class Version(BaseModel):
    model_config = _STRICT
    version: str = Field(min_length=1, max_length=32)
    effective_from: date
    description: str = ""
    rules: tuple[Rule, ...] = Field(min_length=1)
    correlation: Correlation
    flapping: Flapping
    storm: Storm

    @model_validator(mode="after")
    def _unique_rules(self) -> Version:
        ids = [r.id for r in self.rules]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise ValueError(f"rule {duplicate!r} appears twice")
        return self


class _File(BaseModel):
    model_config = _STRICT
    current: str
    versions: tuple[Version, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _current_exists(self) -> _File:
        if self.current not in {v.version for v in self.versions}:
            raise ValueError(f"current version {self.current!r} is not among the versions")
        return self


@dataclass(frozen=True)
class FiringSignal:
    """What corroboration looks at: the firing alerts of one service."""

    perspective: str
    location: str | None


@dataclass(frozen=True)
class SignalView:
    tier: int
    severity: str
    perspective: str
    labels: dict[str, str]
    annotations: dict[str, str]
    fired_at: datetime


@dataclass(frozen=True)
class Decision:
    state: Literal["open", "pending", "ignored"]
    version: str
    rule: Rule | None
    reason: str

    @property
    def rule_id(self) -> str | None:
        return self.rule.id if self.rule else None


class DetectionPolicy:
    def __init__(self, version: Version):
        self.version = version

    @property
    def name(self) -> str:
        return self.version.version

    def rule_for(self, signal: SignalView) -> Rule | None:
        return next(
            (
                r
                for r in self.version.rules
                if r.applies(signal.tier, signal.severity, signal.perspective)
            ),
            None,
        )

    def decide(
        self, signal: SignalView, firing: Sequence[FiringSignal], *, now: datetime
    ) -> Decision:
        """Open now, wait (duration or corroboration unmet), or never page for this signal."""
        rule = self.rule_for(signal)
        if rule is None:
            return Decision(
                "ignored",
                self.name,
                None,
                f"no rule opens an incident for a {signal.severity} {signal.perspective} "
                f"signal on a tier-{signal.tier} service",
            )
        age = (now - signal.fired_at).total_seconds()
        if age < rule.min_duration_seconds:
            return Decision(
                "pending",
                self.name,
                rule,
                f"firing {int(age)} s of the {rule.min_duration_seconds} s rule {rule.id} needs",
            )
        if rule.corroboration is not None:
            held = next((c for c in rule.corroboration.any if c.holds(firing)), None)
            if held is None:
                wanted = " or ".join(c.describe() for c in rule.corroboration.any)
                return Decision(
                    "pending", self.name, rule, f"rule {rule.id} waits for corroboration: {wanted}"
                )
            return Decision(
                "open", self.name, rule, f"rule {rule.id}: corroborated by {held.describe()}"
            )
        return Decision("open", self.name, rule, f"rule {rule.id}: {rule.description}")

    def facts(self, rule: Rule, signal: SignalView, *, now: datetime) -> dict[str, Any]:
        """The impact facts for classification, filled as the rule says from the signal."""
        document = {
            "labels": signal.labels,
            "annotations": signal.annotations,
            "severity": signal.severity,
            "perspective": signal.perspective,
        }
        values: dict[str, Any] = {
            "duration_minutes": max(0, int((now - signal.fired_at).total_seconds() // 60))
        }
        for name, spec in rule.impact.items():
            value = search(spec.path, document) if isinstance(spec, FromSignal) else spec
            if value is not None:
                values[name] = _coerce(name, value)
        return {k: v for k, v in values.items() if v is not None}


def _coerce(name: str, value: Any) -> Any:
    """Annotations are strings: "1200" is a number of customers, "true" a yes."""
    try:
        if name in ("customers_affected", "latency_p99_ms"):
            return int(float(value))
        if name == "availability_pct":
            return float(value)
        if name in ("unavailable", "regulatory_exposure"):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    except (TypeError, ValueError):
        return None  # a fact the signal states badly is unknown, not a guess
    return str(value)


class DetectionBook:
    def __init__(self, current: str, versions: tuple[Version, ...]):
        self.versions = {v.version: DetectionPolicy(v) for v in versions}
        self.current = self.versions[current]


def load_detection_rules(path: Path) -> DetectionBook:
    data = load_yaml_model(path, _File, error=DetectionRulesError)
    return DetectionBook(data.current, data.versions)
