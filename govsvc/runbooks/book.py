"""Runbooks as versioned data: policies/runbooks/*.yaml (one runbook per file) and the rules
that apply to all of them (policies/runbooks.yaml).

A runbook file names its `id`, its `versions` (each with the date it took effect, what it
matches and its steps) and which version is `current`. A version is immutable once it has
taken effect: a change is a new version. The files cannot enforce that by themselves, so the
first execution of a version records its digest (see `Version.digest`) and a later start of
the same version with a different digest is refused.

Everything is checked at start-up (govsvc/policies.py); a bad file stops the service with the
file and the line."""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from govsvc.incidents.classification import Severity
from govsvc.policy_files import KEBAB_CASE, PolicyFileError, _line_of, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, StringConstraints(pattern=KEBAB_CASE, max_length=64)]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{1,63}$")]
OneLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\n]*$")
]
MAX_STEPS = 50
MAX_BODY_BYTES = 64 * 1024

# What a request body template may name, as ${name}.
VARIABLES = (
    "incident.id",
    "incident.reference",
    "incident.title",
    "incident.severity",
    "incident.status",
    "service.code",
    "unit.code",
    "runbook.id",
    "runbook.version",
    "execution.id",
    "step.key",
)


class RunbookFileError(PolicyFileError):
    what = "runbook"


class RunbookRulesError(PolicyFileError):
    what = "runbook rules"


# The taxonomy's tags and the access policy's roles while a file is validated.
_KNOWN_TAGS: ContextVar[frozenset[str] | None] = ContextVar("runbook_known_tags", default=None)
_KNOWN_ROLES: ContextVar[frozenset[str] | None] = ContextVar("runbook_known_roles", default=None)


def _check_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    known = _KNOWN_ROLES.get()
    if known is not None:
        unknown = [role for role in roles if role not in known]
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r}: roles come from policies/policy.csv")
    return roles


class _Template(string.Template):
    idpattern = r"[a-z]+(?:\.[a-z_]+)*"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield str(key)
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)


def render(template: Any, values: Mapping[str, str]) -> Any:
    """The JSON body template with every ${name} replaced (string values only)."""
    if isinstance(template, str):
        return _Template(template).substitute(values)
    if isinstance(template, Mapping):
        return {key: render(inner, values) for key, inner in template.items()}
    if isinstance(template, list | tuple):
        return [render(inner, values) for inner in template]
    return template


class Request(BaseModel):
    """The HTTP call an automated step makes, signed with the secret in `secret_env`."""

    model_config = _STRICT
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2000)]
    method: Literal["POST", "PUT", "PATCH", "DELETE"] = "POST"
    body: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # The environment variable holding the signing secret (never the secret itself).
    secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{2,99}$")]

    @field_validator("body")
    @classmethod
    def _known_variables(cls, body: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(body)) > MAX_BODY_BYTES:
            raise ValueError(f"the body template is larger than {MAX_BODY_BYTES} bytes")
        for text in _strings(body):
            template = _Template(text)
            if not template.is_valid():
                raise ValueError(f"bad placeholder in {text!r}: write ${{name}} (or $$ for $)")
            for name in template.get_identifiers():
                if name not in VARIABLES:
                    raise ValueError(f"unknown variable ${{{name}}}; known: {', '.join(VARIABLES)}")
        return body


class Step(BaseModel):
    model_config = _STRICT
    key: Name
    kind: Literal["manual", "automated", "approval"]
    title: OneLine
    instructions: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] = ""
    request: Request | None = None
    # automated: always wait for an approval first, whatever the incident's severity.
    requires_approval: bool = False
    # approval: the roles (in the incident's unit) that may approve; any of them.
    roles: tuple[RoleName, ...] = ()

    _known_roles = field_validator("roles")(_check_roles)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Step:
        if self.kind == "automated" and self.request is None:
            raise ValueError(f"step {self.key!r}: an automated step needs a request")
        if self.kind != "automated" and self.request is not None:
            raise ValueError(f"step {self.key!r}: only an automated step makes a request")
        if self.kind != "automated" and self.requires_approval:
            raise ValueError(f"step {self.key!r}: requires_approval is for automated steps")
        if self.kind == "approval" and not self.roles:
            raise ValueError(f"step {self.key!r}: an approval names the roles that may approve")
        if self.kind != "approval" and self.roles:
            raise ValueError(f"step {self.key!r}: roles are for approval steps")
        if self.kind == "manual" and not self.instructions:
            raise ValueError(f"step {self.key!r}: a manual step needs instructions")
        return self


class Match(BaseModel):
    """Which incidents the runbook is for: every given criterion must hold (services by code,
    any one of the tags, one of the severities)."""

    model_config = _STRICT
    services: tuple[Name, ...] = ()
    tags: tuple[Name, ...] = ()
    severities: tuple[Severity, ...] = ()

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        known = _KNOWN_TAGS.get()
        if known is not None:
            unknown = [tag for tag in tags if tag not in known]
            if unknown:
                raise ValueError(
                    f"unknown tag {unknown[0]!r}: tags come from policies/taxonomy.yaml"
                )
        return tags

    @model_validator(mode="after")
    def _says_something(self) -> Match:
        if not (self.services or self.tags or self.severities):
            raise ValueError("a match names services, tags or severities (or several)")
        return self


class VersionDocument(BaseModel):
    model_config = _STRICT
    version: int = Field(ge=1)
    effective: date
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    match: Match
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("steps")
    @classmethod
    def _unique_keys(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        seen: set[str] = set()
        for step in steps:
            if step.key in seen:
                raise ValueError(f"two steps are keyed {step.key!r}")
            seen.add(step.key)
        return steps


class RunbookDocument(BaseModel):
    model_config = _STRICT
    id: Name
    title: OneLine
    current: int = Field(ge=1)
    versions: tuple[VersionDocument, ...] = Field(min_length=1)


def _order_problems(document: RunbookDocument, path: Path) -> list[str]:
    """What the versions' numbering, dates and `current` get wrong, each with its line."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)

    def at(*location: int | str) -> str:
        where = ".".join(str(part) for part in location)
        line = _line_of(root, location)
        return f"{where} (line {line})" if line is not None else where

    problems = []
    for n, (older, newer) in enumerate(zip(document.versions, document.versions[1:], strict=False)):
        if newer.version <= older.version:
            problems.append(
                f"{at('versions', n + 1, 'version')}: versions are listed once each, oldest "
                f"first: {newer.version} comes after {older.version}"
            )
        elif newer.effective < older.effective:
            problems.append(
                f"{at('versions', n + 1, 'effective')}: version {newer.version} takes effect "
                f"before version {older.version}"
            )
    if document.current not in {v.version for v in document.versions}:
        problems.append(
            f"{at('current')}: current names version {document.current}, which is not listed"
        )
    return problems


@dataclass(frozen=True)
class Version:
    """One version of one runbook, as an execution pins it."""

    runbook_id: str
    title: str
    number: int
    effective: date
    summary: str
    match: Match
    steps: tuple[Step, ...]
    source: Path

    def definition(self) -> dict[str, Any]:
        """What an execution keeps of the version it runs (canonical, JSON-ready)."""
        return {
            "runbook": self.runbook_id,
            "title": self.title,
            "version": self.number,
            "effective": self.effective.isoformat(),
            "summary": self.summary,
            "match": self.match.model_dump(mode="json"),
            "steps": [step.model_dump(mode="json") for step in self.steps],
        }

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def matches(self, *, service: str, tags: Sequence[str], severity: str) -> list[str] | None:
        """Why this version applies to such an incident, or None if it does not."""
        why = []
        if self.match.services:
            if service not in self.match.services:
                return None
            why.append(f"service {service}")
        if self.match.tags:
            shared = sorted(set(tags) & set(self.match.tags))
            if not shared:
                return None
            why.append("tag " + ", ".join(shared))
        if self.match.severities:
            if severity not in {s.value for s in self.match.severities}:
                return None
            why.append(f"severity {severity}")
        return why


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    current: int
    versions: tuple[Version, ...]
    source: Path

    def version(self, number: int) -> Version:
        return next(v for v in self.versions if v.number == number)

    @property
    def current_version(self) -> Version:
        return self.version(self.current)


class ApprovalRule(BaseModel):
    model_config = _STRICT
    severities: tuple[Severity, ...] = ()
    roles: tuple[RoleName, ...] = Field(min_length=1)

    _known_roles = field_validator("roles")(_check_roles)


class RulesDocument(BaseModel):
    model_config = _STRICT
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
    # Before any automated step of an incident of these severities, someone holding one of
    # these roles in the incident's unit approves it.
    approval_before_automated: ApprovalRule
    output_max_bytes: int = Field(default=4096, ge=256, le=65536)


@dataclass(frozen=True)
class RunbookBook:
    rules: RulesDocument
    runbooks: tuple[Runbook, ...]

    def get(self, runbook_id: str) -> Runbook | None:
        return next((r for r in self.runbooks if r.id == runbook_id), None)

    def approval_needed(self, severity: str) -> bool:
        return severity in {s.value for s in self.rules.approval_before_automated.severities}

    @property
    def approver_roles(self) -> tuple[str, ...]:
        return self.rules.approval_before_automated.roles


_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.yaml$")


def load_runbook(
    path: Path,
    *,
    known_tags: frozenset[str] | None = None,
    known_roles: frozenset[str] | None = None,
) -> Runbook:
    """One runbook file; RunbookFileError names the file and the line of any problem."""
    tags, roles = _KNOWN_TAGS.set(known_tags), _KNOWN_ROLES.set(known_roles)
    try:
        document = load_yaml_model(path, RunbookDocument, error=RunbookFileError)
    finally:
        _KNOWN_TAGS.reset(tags)
        _KNOWN_ROLES.reset(roles)
    problems = _order_problems(document, path)
    if problems:
        raise RunbookFileError(path, problems)
    if path.stem != document.id:
        line = _line_of(
            yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), ("id",)
        )
        raise RunbookFileError(
            path,
            [f"id (line {line}): runbook {document.id!r} lives in {document.id}.yaml"],
        )
    versions = tuple(
        Version(
            runbook_id=document.id,
            title=document.title,
            number=v.version,
            effective=v.effective,
            summary=v.summary,
            match=v.match,
            steps=v.steps,
            source=path,
        )
        for v in document.versions
    )
    return Runbook(document.id, document.title, document.current, versions, path)


def load_runbooks(
    rules_path: Path,
    directory: Path,
    *,
    known_tags: frozenset[str] | None = None,
    known_roles: frozenset[str] | None = None,
) -> RunbookBook:
    """The rules file and every runbook file of `directory` (which may be missing: none)."""
    token = _KNOWN_ROLES.set(known_roles)
    try:
        rules = load_yaml_model(rules_path, RulesDocument, error=RunbookRulesError)
    finally:
        _KNOWN_ROLES.reset(token)
    runbooks: list[Runbook] = []
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or path.is_dir():
                continue
            if not _FILE_NAME.match(path.name):
                raise RunbookFileError(path, ["a runbook file is named <lower-kebab-case id>.yaml"])
            runbooks.append(load_runbook(path, known_tags=known_tags, known_roles=known_roles))
    return RunbookBook(rules, tuple(runbooks))
