"""The controlled tag taxonomy (policies/taxonomy.yaml): the only tags an incident may carry."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

__all__ = ["Taxonomy", "TaxonomyError", "UnknownTag", "load_taxonomy", "normalize_tag"]

Name = Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
# One line, because descriptions are shown in pick lists and report legends.
OneLine = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[^\n]*$")
]
Group = Annotated[dict[Name, OneLine], Field(min_length=1)]


class TaxonomyError(PolicyFileError):
    what = "tag taxonomy"


class UnknownTag(ValueError):
    def __init__(self, tag: str, *, suggestions: Iterable[str] = ()) -> None:
        self.tag = tag
        self.suggestions = tuple(suggestions)
        hint = (
            f" (did you mean {' or '.join(map(repr, self.suggestions))}?)"
            if self.suggestions
            else ""
        )
        super().__init__(f"unknown tag {tag!r}{hint}")


def normalize_tag(tag: str) -> str:
    """The canonical spelling a user-typed tag is looked up under."""
    return tag.strip().lower()


class _TaxonomyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
    groups: Annotated[dict[Name, Group], Field(min_length=1)]

    @field_validator("groups")
    @classmethod
    def _tags_globally_unique(cls, groups: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        _group_by_tag(groups)
        return groups


def _group_by_tag(groups: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    # A tag in two groups would make group_of() ambiguous and per-group reports double count.
    group_of: dict[str, str] = {}
    for group, tags in groups.items():
        for tag in tags:
            if tag in group_of:
                raise ValueError(f"tag {tag!r} is in both group {group_of[tag]!r} and {group!r}")
            group_of[tag] = group
    return group_of


class Taxonomy:
    """Tags by group, each with a one-line description."""

    def __init__(self, *, version: str, groups: Mapping[str, Mapping[str, str]]) -> None:
        self.version = version
        self._group_of = _group_by_tag(groups)
        self._descriptions = {tag: text for tags in groups.values() for tag, text in tags.items()}
        self._tags_by_group = {group: tuple(tags) for group, tags in groups.items()}
        self.tags: frozenset[str] = frozenset(self._group_of)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self._tags_by_group)

    def tags_in(self, group: str) -> tuple[str, ...]:
        try:
            return self._tags_by_group[group]
        except KeyError:
            raise LookupError(f"unknown tag group {group!r}") from None

    def group_of(self, tag: str) -> str:
        return self._group_of[self._known(tag)]

    def describe(self, tag: str) -> str:
        return self._descriptions[self._known(tag)]

    def check(self, tags: Iterable[str]) -> list[str]:
        """The tags normalized, de-duplicated and sorted; UnknownTag for the first unknown one."""
        if isinstance(tags, str):
            # A lone string is iterable too, and would be checked letter by letter.
            raise TypeError("check() takes an iterable of tags, not a single string")
        return sorted({self._known(tag) for tag in tags})

    def __contains__(self, tag: object) -> bool:
        return isinstance(tag, str) and normalize_tag(tag) in self._group_of

    def __repr__(self) -> str:
        return f"Taxonomy(version={self.version!r}, tags={len(self.tags)})"

    def _known(self, tag: str) -> str:
        normalized = normalize_tag(tag)
        if normalized not in self._group_of:
            close = difflib.get_close_matches(normalized, self._group_of, n=2)
            raise UnknownTag(normalized, suggestions=close)
        return normalized


def load_taxonomy(path: Path) -> Taxonomy:
    """Load the taxonomy from `path`; any problem raises TaxonomyError naming file and location."""
    document = load_yaml_model(path, _TaxonomyDocument, error=TaxonomyError)
    return Taxonomy(version=document.version, groups=document.groups)
