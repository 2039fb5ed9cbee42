"""Control catalogs (controls/*.yaml): each framework's incident-relevant control objectives,
validated at load so a broken catalog stops start-up with the file and the line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# The evidence model's own enum, so a catalog can only name kinds evidence can actually have.
from govsvc.evidence.models import EvidenceKind
from govsvc.incidents.taxonomy import normalize_tag
from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

__all__ = [
    "ArtifactType",
    "Catalog",
    "Control",
    "ControlCatalogError",
    "Framework",
    "Retention",
    "UnknownControl",
    "load_catalog",
]

Name = Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
# One line, because ids and titles are shown in pick lists and report tables.
OneLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[^\n]*$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_STRICT = ConfigDict(extra="forbid", frozen=True)


class ControlCatalogError(PolicyFileError):
    what = "control catalog"


class UnknownControl(LookupError):
    def __init__(self, key: str, *, suggestions: Iterable[str] = ()) -> None:
        self.key = key
        self.suggestions = tuple(suggestions)
        hint = (
            f" (did you mean {' or '.join(map(repr, self.suggestions))}?)"
            if self.suggestions
            else ""
        )
        super().__init__(f"unknown control {key!r}{hint}")


class ArtifactType(StrEnum):
    """What a control is evidenced on: the records govsvc keeps about an incident."""

    INCIDENT = "incident"
    EVIDENCE = "evidence"
    ACTION_ITEM = "action_item"
    REVIEW = "review"
    NOTIFICATION = "notification"
    AUDIT_LOG = "audit_log"


class Retention(BaseModel):
    """What a control implies for how long its records are kept, and why.

    Informational: the periods enforced on evidence are in policies/retention.yaml. A retention
    with no period is a limit or a judgement (GDPR storage limitation), explained by the note.
    """

    model_config = _STRICT
    years: int | None = Field(default=None, ge=1, le=100)
    months: int | None = Field(default=None, ge=1, le=1200)
    days: int | None = Field(default=None, ge=1, le=36500)
    note: Text

    def describe(self) -> str:
        parts = [
            f"{n} {unit}{'s' if n != 1 else ''}"
            for n, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day"))
            if n
        ]
        return " ".join(parts) or "no fixed period"


class Framework(BaseModel):
    model_config = _STRICT
    id: str
    name: str
    version: str
    source: str


class Control(BaseModel):
    """One control objective of one framework, as the rest of govsvc sees it."""

    model_config = _STRICT
    framework: str
    id: str
    title: str
    objective: str
    evidence_kinds: tuple[EvidenceKind, ...] = ()
    applies_to: tuple[ArtifactType, ...] = ()
    retention: Retention | None = None
    suggested_by_tags: tuple[str, ...] = ()
    urn: str | None = None  # set for controls imported from a CISO Assistant library
    path: str | None = None  # the requirement's ancestors, where the source has a hierarchy

    @property
    def key(self) -> str:
        """The control's catalog-wide identity: the URN when it has one, else framework:id."""
        return self.urn or f"{self.framework}:{self.id}"


class _ControlEntry(BaseModel):
    model_config = _STRICT
    id: OneLine
    title: OneLine
    objective: Text
    evidence_kinds: Annotated[tuple[EvidenceKind, ...], Field(min_length=1)]
    applies_to: Annotated[tuple[ArtifactType, ...], Field(min_length=1)]
    retention: Retention | None = None
    suggested_by_tags: tuple[Name, ...] = ()

    @field_validator("evidence_kinds", "applies_to", "suggested_by_tags")
    @classmethod
    def _no_repeats(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        # A repeat is harmless to load but is usually a slip for another value.
        repeated = sorted({str(item) for item in items if items.count(item) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return items

    def to_control(self, framework: str) -> Control:
        return Control(
            framework=framework,
            id=self.id,
            title=self.title,
            objective=self.objective,
            evidence_kinds=self.evidence_kinds,
            applies_to=self.applies_to,
            retention=self.retention,
            suggested_by_tags=self.suggested_by_tags,
        )


class _CatalogDocument(BaseModel):
    model_config = _STRICT
    framework: Name
    name: OneLine
    version: OneLine
    source: Text
    controls: Annotated[list[_ControlEntry], Field(min_length=1)]


class Catalog:
    """Frameworks and their controls, in the order the files list them."""

    def __init__(self, frameworks: Iterable[Framework], controls: Iterable[Control]) -> None:
        self.frameworks: Mapping[str, Framework] = MappingProxyType(
            {framework.id: framework for framework in frameworks}
        )
        self._controls = tuple(controls)
        self._by_key: dict[str, Control] = {}
        for control in self._controls:
            if control.framework not in self.frameworks:
                raise ValueError(f"control {control.key!r} names unknown framework")
            if control.key in self._by_key:
                raise ValueError(f"control {control.key!r} is listed more than once")
            self._by_key[control.key] = control

    def controls(self, framework: str | None = None) -> list[Control]:
        if framework is None:
            return list(self._controls)
        if framework not in self.frameworks:
            raise LookupError(f"unknown framework {framework!r}")
        return [control for control in self._controls if control.framework == framework]

    def get(self, key: str) -> Control:
        try:
            return self._by_key[key]
        except KeyError:
            close = difflib.get_close_matches(key, self._by_key, n=2)
            raise UnknownControl(key, suggestions=close) from None

    def suggest(self, tags: Iterable[str]) -> list[Control]:
        """Controls that incidents carrying any of `tags` are likely to engage."""
        if isinstance(tags, str):
            # A lone string is iterable too, and would be matched letter by letter.
            raise TypeError("suggest() takes an iterable of tags, not a single string")
        wanted = {normalize_tag(tag) for tag in tags}
        return [
            control for control in self._controls if wanted.intersection(control.suggested_by_tags)
        ]

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __len__(self) -> int:
        return len(self._controls)

    def __repr__(self) -> str:
        return f"Catalog(frameworks={len(self.frameworks)}, controls={len(self._controls)})"


# --- loading ------------------------------------------------------------------------------------


def load_catalog(directory: Path, *, taxonomy_tags: frozenset[str] | None = None) -> Catalog:
    """Load every *.yaml in `directory`, in name order, into one catalog.

    Each file is a native catalog or a CISO Assistant framework library. With `taxonomy_tags`,
    a `suggested_by_tags` entry outside the taxonomy is refused. Any problem raises
    ControlCatalogError naming the file and, where there is one, the line.
    """
    frameworks: list[Framework] = []
    controls: list[Control] = []
    framework_file: dict[str, Path] = {}
    control_file: dict[str, Path] = {}
    for path in _catalog_files(directory):
        framework, file_controls, framework_at = _load_file(path, taxonomy_tags)
        if framework.id in framework_file:
            first = framework_file[framework.id].name
            message = f"framework {framework.id!r} is already defined in {first}"
            raise ControlCatalogError(path, [problem_at(path, framework_at, message)])
        framework_file[framework.id] = path
        for control in file_controls:
            if control.key in control_file:
                first = control_file[control.key].name
                message = f"control {control.key!r} is already defined in {first}"
                raise ControlCatalogError(path, [message])
            control_file[control.key] = path
        frameworks.append(framework)
        controls.extend(file_controls)
    return Catalog(frameworks, controls)


def _catalog_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise ControlCatalogError(directory, ["not a directory"])
    # Only *.yaml is loaded; a *.yml file would be skipped without a word, so refuse it.
    misnamed = sorted(directory.glob("*.yml"))
    if misnamed:
        raise ControlCatalogError(misnamed[0], ["rename to *.yaml: only *.yaml files are loaded"])
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ControlCatalogError(directory, ["no *.yaml control catalogs in this directory"])
    return files


def _load_file(
    path: Path, taxonomy_tags: frozenset[str] | None
) -> tuple[Framework, list[Control], tuple[str, ...]]:
    """The file's framework, its controls, and where in the file the framework id is."""
    if _is_ciso_library(path):
        # Imported here: ciso_assistant builds on this module's models.
        from govsvc.compliance.ciso_assistant import import_ciso_framework

        imported = import_ciso_framework(path)
        return imported.framework, list(imported.controls), ("objects", "framework", "urn")
    document = load_yaml_model(path, _CatalogDocument, error=ControlCatalogError)
    problems = _repeated_ids(path, document) + _unknown_tags(path, document, taxonomy_tags)
    if problems:
        raise ControlCatalogError(path, problems)
    framework = Framework(
        id=document.framework, name=document.name, version=document.version, source=document.source
    )
    return (
        framework,
        [entry.to_control(framework.id) for entry in document.controls],
        ("framework",),
    )


_CISO_OBJECTS = re.compile(r"^objects[ \t]*:", re.MULTILINE)


def _is_ciso_library(path: Path) -> bool:
    # A native catalog has no top-level `objects`; a CISO Assistant library keeps its framework
    # under it. A text check, because libraries run to megabytes and would be parsed twice;
    # the library model then insists on objects.framework, with the line if it is missing.
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return False  # the native loader reports the unreadable file
    return _CISO_OBJECTS.search(text) is not None


def _repeated_ids(path: Path, document: _CatalogDocument) -> list[str]:
    first_at: dict[str, int] = {}
    problems = []
    for index, entry in enumerate(document.controls):
        if entry.id in first_at:
            message = f"control id {entry.id!r} is already used by controls.{first_at[entry.id]}"
            problems.append(problem_at(path, ("controls", index, "id"), message))
        else:
            first_at[entry.id] = index
    return problems


def _unknown_tags(
    path: Path, document: _CatalogDocument, taxonomy_tags: frozenset[str] | None
) -> list[str]:
    if taxonomy_tags is None:
        return []
    problems = []
    for index, entry in enumerate(document.controls):
        for position, tag in enumerate(entry.suggested_by_tags):
            if tag in taxonomy_tags:
                continue
            close = difflib.get_close_matches(tag, taxonomy_tags, n=2)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            location = ("controls", index, "suggested_by_tags", position)
            problems.append(problem_at(path, location, f"tag {tag!r} is not in the taxonomy{hint}"))
    return problems


def problem_at(path: Path, location: Sequence[str | int], message: str) -> str:
    """`message` prefixed with where in the YAML file it applies, as load_yaml_model words it.

    For checks that need more than one entry (repeats, cross-file), which pydantic cannot
    place on a line itself.
    """
    where = ".".join(map(str, location)) or "(top level)"
    line = _line_at(path, location)
    return f"{where} (line {line}): {message}" if line else f"{where}: {message}"


def _line_at(path: Path, location: Sequence[str | int]) -> int | None:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeError, yaml.YAMLError):
        return None  # changed since it loaded: the problem still names the file
    line = None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            entry = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return None if line is None else line + 1
