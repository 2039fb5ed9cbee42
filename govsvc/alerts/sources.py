"""Alert sources as data (policies/alert_sources.yaml): who may send, from which perspective,
and how a generic tool's JSON maps onto an alert (JMESPath expressions)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from govsvc.alerts.models import Perspective
from govsvc.policy_files import PolicyFileError, load_yaml_model

SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
_STRICT = ConfigDict(extra="forbid", frozen=True)
SEVERITIES = ("critical", "warning", "info")


class AlertSourcesError(PolicyFileError):
    what = "alert sources"


def compile_expression(text: str) -> ParsedResult:
    try:
        return jmespath.compile(text)
    except JMESPathError as error:
        raise ValueError(f"not a JMESPath expression ({error}): {text!r}") from None


class Heartbeat(BaseModel):
    model_config = _STRICT
    # Alertmanager: the always-firing alert that proves the pipeline is alive (e.g. Watchdog).
    # Omitted (generic sources): any accepted payload is a heartbeat.
    alertname: str | None = None
    window_seconds: int = Field(ge=1, le=7 * 86400)


class Mapping(BaseModel):
    """JMESPath expressions; `alerts` over the payload, the others over each alert object."""

    model_config = _STRICT
    alerts: str | None = None
    dedup_key: str
    summary: str
    status: str
    firing_values: tuple[str, ...] = ("firing",)
    resolved_values: tuple[str, ...] = ("resolved",)
    service: str | None = None
    severity: str | None = None
    severity_values: dict[str, Literal["critical", "warning", "info"]] = {}
    time: str | None = None
    location: str | None = None
    labels: str | None = None
    perspective: str | None = None
    rule: str | None = None

    @field_validator(
        "alerts",
        "dedup_key",
        "summary",
        "status",
        "service",
        "severity",
        "time",
        "location",
        "labels",
        "perspective",
        "rule",
    )
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None:
            compile_expression(value)
        return value


_CACHE: dict[str, ParsedResult] = {}


def _compiled(text: str) -> ParsedResult:
    found = _CACHE.get(text)
    if found is None:
        found = _CACHE[text] = compile_expression(text)
    return found


def search(expression: str | None, document: Any) -> Any:
    """Evaluate a (validated) expression; None when it is not configured."""
    return None if expression is None else _compiled(expression).search(document)


class AlertSource(BaseModel):
    model_config = _STRICT
    name: SourceName
    kind: Literal["alertmanager", "generic"]
    perspective: Perspective
    machines: tuple[str, ...] = ()
    hmac_secret_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    heartbeat: Heartbeat | None = None
    covers: tuple[str, ...] = ()
    mapping: Mapping | None = None

    @model_validator(mode="after")
    def _mapping_for_generic(self) -> AlertSource:
        if self.kind == "generic" and self.mapping is None:
            raise ValueError("a generic source needs a mapping")
        if self.kind == "alertmanager" and self.mapping is not None:
            raise ValueError("an alertmanager source has no mapping: its payload is fixed")
        return self

    def accepts_machine(self, actor: str) -> bool:
        return actor.removeprefix("machine:") in self.machines


class _File(BaseModel):
    model_config = _STRICT
    sources: tuple[AlertSource, ...]

    @model_validator(mode="after")
    def _unique(self) -> _File:
        names = [s.name for s in self.sources]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"source {duplicate!r} is named twice")
        return self


class AlertSources:
    def __init__(self, sources: tuple[AlertSource, ...]):
        self.by_name = {s.name: s for s in sources}

    def get(self, name: str) -> AlertSource | None:
        return self.by_name.get(name)

    def for_machine(self, actor: str, kind: str) -> AlertSource | None:
        """The one source of this kind the machine posts as, when the URL names none."""
        found = [s for s in self.by_name.values() if s.kind == kind and s.accepts_machine(actor)]
        return found[0] if len(found) == 1 else None

    def __iter__(self) -> Any:
        return iter(self.by_name.values())


def load_alert_sources(path: Path) -> AlertSources:
    return AlertSources(load_yaml_model(path, _File, error=AlertSourcesError).sources)
