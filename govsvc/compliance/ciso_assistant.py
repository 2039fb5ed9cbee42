"""Import of CISO Assistant framework libraries (the open-source GRC tool's YAML format).

A library holds one framework as a flat list of requirement nodes linked by `parent_urn`; the
assessable nodes are the requirements, the others are headings. Each assessable node becomes a
Control keyed by its URN, so a control keeps the identity CISO Assistant and its mappings use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from govsvc.compliance.catalog import Control, ControlCatalogError, Framework, problem_at
from govsvc.policy_files import load_yaml_model

__all__ = ["CisoLibraryError", "ImportedFramework", "import_ciso_framework"]

Urn = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^urn:\S+$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Libraries carry much we do not use (annotations, threats, reference controls, translations,
# scores); ignoring unknown keys keeps newer libraries importable.
_LENIENT = ConfigDict(extra="ignore", frozen=True)

_NODES = ("objects", "framework", "requirement_nodes")


class CisoLibraryError(ControlCatalogError):
    what = "CISO Assistant library"


class _RequirementNode(BaseModel):
    model_config = _LENIENT
    urn: Urn
    assessable: bool
    depth: int = Field(ge=1)
    parent_urn: Urn | None = None
    ref_id: Text | None = None
    name: Text | None = None
    description: Text | None = None

    @property
    def label(self) -> str:
        """How the node reads in a path: its reference and name, or its URN's last part."""
        return " ".join(part for part in (self.ref_id, self.name) if part) or _tail(self.urn)


class _FrameworkObject(BaseModel):
    model_config = _LENIENT
    urn: Urn
    ref_id: Text | None = None
    name: Text
    requirement_nodes: Annotated[list[_RequirementNode], Field(min_length=1)]


class _Objects(BaseModel):
    model_config = _LENIENT
    framework: _FrameworkObject


class _Library(BaseModel):
    model_config = _LENIENT
    urn: Urn
    ref_id: Text | None = None
    name: Text
    version: int | Text | None = None
    provider: Text | None = None
    copyright: Text | None = None
    objects: _Objects


@dataclass(frozen=True)
class ImportedFramework:
    framework: Framework
    controls: tuple[Control, ...]


def import_ciso_framework(path: Path) -> ImportedFramework:
    """The framework in the CISO Assistant library at `path`, and its assessable requirements.

    Refuses (CisoLibraryError, naming file and line) a library without a framework, a node URN
    used twice, and a `parent_urn` that names no node.
    """
    library = load_yaml_model(path, _Library, error=CisoLibraryError)
    nodes = library.objects.framework.requirement_nodes
    problems = _node_problems(path, nodes)
    if problems:
        raise CisoLibraryError(path, problems)
    framework = _framework(library)
    by_urn = {node.urn: node for node in nodes}
    controls = tuple(
        Control(
            framework=framework.id,
            id=node.ref_id or _tail(node.urn),
            title=node.name or _headline(node.description) or node.ref_id or _tail(node.urn),
            # Some requirements are only a name; the objective then repeats it.
            objective=node.description or node.name or node.ref_id or _tail(node.urn),
            urn=node.urn,
            path=_path(node, by_urn),
        )
        for node in nodes
        if node.assessable
    )
    return ImportedFramework(framework, controls)


def _framework(library: _Library) -> Framework:
    framework = library.objects.framework
    parts = [f"CISO Assistant library {library.urn}"]
    parts += [f"provided by {library.provider}"] if library.provider else []
    parts += [library.copyright] if library.copyright else []
    return Framework(
        id=framework.urn,
        name=framework.name,
        version="" if library.version is None else str(library.version),
        source="; ".join(parts),
    )


def _node_problems(path: Path, nodes: Sequence[_RequirementNode]) -> list[str]:
    known = {node.urn for node in nodes}
    first_at: dict[str, int] = {}
    problems = []
    for index, node in enumerate(nodes):
        if node.urn in first_at:
            message = f"URN {node.urn!r} is already used by requirement_nodes.{first_at[node.urn]}"
            problems.append(problem_at(path, (*_NODES, index, "urn"), message))
        first_at.setdefault(node.urn, index)
        if node.parent_urn is not None and node.parent_urn not in known:
            message = f"parent {node.parent_urn!r} is not a requirement node of this framework"
            problems.append(problem_at(path, (*_NODES, index, "parent_urn"), message))
    return problems


def _path(node: _RequirementNode, by_urn: Mapping[str, _RequirementNode]) -> str | None:
    """The node's ancestors, outermost first, e.g. "5 Organizational controls > 5.2 ..."."""
    labels: list[str] = []
    seen = {node.urn}
    parent = by_urn.get(node.parent_urn) if node.parent_urn else None
    while parent is not None and parent.urn not in seen:  # `seen` stops a malformed cycle
        labels.append(parent.label)
        seen.add(parent.urn)
        parent = by_urn.get(parent.parent_urn) if parent.parent_urn else None
    return " > ".join(reversed(labels)) or None


def _headline(text: str | None, width: int = 80) -> str | None:
    """A one-line title from a description, for requirements that have no name."""
    if text is None:
        return None
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _tail(urn: str) -> str:
    return urn.rsplit(":", 1)[-1]
