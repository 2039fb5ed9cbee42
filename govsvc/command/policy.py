"""The command rules kept as data (policies/command.yaml): which command model applies to an
incident and why, and which roles a person may hold at once across active incidents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from govsvc.command.models import IncidentRoleKind
from govsvc.incidents.classification import Severity
from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
_Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CommandPolicyError(PolicyFileError):
    what = "command policy"


class CommandModelKind(StrEnum):
    CENTRALISED = "centralised"
    DISTRIBUTED = "distributed"


class RuleSource(StrEnum):
    SERVICE = "service"
    UNIT = "unit"
    DEFAULT = "default"


class _Default(BaseModel):
    model_config = _STRICT
    model: CommandModelKind
    reason: _Text


class _UnitRule(BaseModel):
    model_config = _STRICT
    unit: _Code
    model: CommandModelKind
    reason: _Text


class _ServiceRule(BaseModel):
    model_config = _STRICT
    service: _Code
    model: CommandModelKind
    reason: _Text


class ConflictRule(BaseModel):
    model_config = _STRICT
    id: Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
    description: _Text
    roles: tuple[IncidentRoleKind, ...] = tuple(IncidentRoleKind)
    max: Annotated[int, Field(ge=1, le=100)]
    precedence: tuple[Severity, ...] = ()

    @model_validator(mode="after")
    def _roles_given(self) -> ConflictRule:
        if not self.roles:
            raise ValueError("a rule counts at least one role (omit `roles` for all)")
        return self

    def counts(self, role: IncidentRoleKind) -> bool:
        return role in self.roles


class _File(BaseModel):
    model_config = _STRICT
    version: _Code
    default: _Default
    units: tuple[_UnitRule, ...] = ()
    services: tuple[_ServiceRule, ...] = ()
    conflicts: tuple[ConflictRule, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> _File:
        for what, keys in (
            ("unit", [u.unit for u in self.units]),
            ("service", [s.service for s in self.services]),
            ("conflict rule", [c.id for c in self.conflicts]),
        ):
            seen: set[str] = set()
            for key in keys:
                if key in seen:
                    raise ValueError(f"{what} {key!r} has two rules")
                seen.add(key)
        return self


@dataclass(frozen=True)
class CommandModel:
    """The command model of one incident and the rule that chose it."""

    model: CommandModelKind
    source: RuleSource
    rule: str | None  # the service or unit code the rule names; None for the default
    reason: str


class CommandBook:
    def __init__(self, file: _File):
        self.version = file.version
        self._default = CommandModel(
            file.default.model, RuleSource.DEFAULT, None, file.default.reason
        )
        self._units = {u.unit: u for u in file.units}
        self._services = {s.service: s for s in file.services}
        self.conflicts: tuple[ConflictRule, ...] = file.conflicts

    def model_for(self, *, service_code: str | None, unit_lineage: Sequence[str]) -> CommandModel:
        """A service's rule first, then the nearest unit's (the incident's unit, its parent,
        ...), then the default."""
        if service_code is not None and (by_service := self._services.get(service_code)):
            return CommandModel(
                by_service.model, RuleSource.SERVICE, service_code, by_service.reason
            )
        for code in unit_lineage:
            if by_unit := self._units.get(code):
                return CommandModel(by_unit.model, RuleSource.UNIT, code, by_unit.reason)
        return self._default


def load_command_policy(path: Path) -> CommandBook:
    return CommandBook(load_yaml_model(path, _File, error=CommandPolicyError))
