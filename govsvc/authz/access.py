"""A caller's effective access: their grants, the unit tree, and the policy, combined.

Single objects are checked with `require`; lists are filtered with `scope(...).where(...)` so
the database returns only what the caller may see and a forbidden row looks like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from govsvc.authz.policy import ANY_UNIT, AccessPolicy
from govsvc.authz.sensitivity import Sensitivity
from govsvc.errors import Forbidden


@dataclass(frozen=True)
class GrantView:
    role: str
    unit_id: int | None  # None: every unit


@dataclass
class UnitTree:
    """Business units as parent links; answers ancestry questions without queries."""

    parent_of: dict[int, int | None]
    code_of: dict[int, str]
    _children: dict[int, list[int]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for unit, parent in self.parent_of.items():
            if parent is not None:
                self._children.setdefault(parent, []).append(unit)

    def ancestors_or_self(self, unit_id: int) -> list[int]:
        chain: list[int] = []
        seen: set[int] = set()
        current: int | None = unit_id
        while current is not None and current not in seen:  # a cycle is refused on write
            chain.append(current)
            seen.add(current)
            current = self.parent_of.get(current)
        return chain

    def descendants_or_self(self, unit_id: int) -> set[int]:
        found, stack = set(), [unit_id]
        while stack:
            unit = stack.pop()
            if unit not in found:
                found.add(unit)
                stack.extend(self._children.get(unit, ()))
        return found


@dataclass(frozen=True)
class Scope:
    """Where a caller may act on a resource type: everywhere up to some level, or per unit."""

    everywhere: Sensitivity | None
    per_unit: dict[int, Sensitivity]

    @property
    def is_empty(self) -> bool:
        return self.everywhere is None and not self.per_unit

    def where(self, unit_column: Any, sensitivity_column: Any | None = None) -> ColumnElement[bool]:
        """A WHERE clause admitting exactly the rows this scope allows."""
        clauses: list[ColumnElement[bool]] = []
        by_level: dict[Sensitivity, list[int]] = {}
        for unit, level in self.per_unit.items():
            if self.everywhere is None or level.rank > self.everywhere.rank:
                by_level.setdefault(level, []).append(unit)
        if self.everywhere is not None:
            clauses.append(_level_clause(sensitivity_column, self.everywhere))
        for level, units in by_level.items():
            clauses.append(
                and_(unit_column.in_(sorted(units)), _level_clause(sensitivity_column, level))
            )
        return or_(*clauses) if clauses else false()


def _level_clause(column: Any | None, level: Sensitivity) -> ColumnElement[bool]:
    if column is None:
        return true()
    return column.in_([s.value for s in level.at_most()])  # type: ignore[no-any-return]


class Access:
    """Everything needed to decide what one caller may do, for the length of one request."""

    def __init__(self, policy: AccessPolicy, grants: Sequence[GrantView], units: UnitTree):
        self.policy = policy
        self.grants = tuple(grants)
        self.units = units

    def roles(self) -> set[str]:
        return {grant.role for grant in self.grants}

    def holds(self, role: str, *, unit_id: int | None) -> bool:
        """Does the caller hold exactly `role` through a grant covering this unit?"""
        return any(g.role == role for g in self._grants_covering(unit_id))

    def _grant_unit_code(self, grant: GrantView) -> str:
        if grant.unit_id is None:
            return ANY_UNIT
        return self.units.code_of.get(grant.unit_id, f"#{grant.unit_id}")

    def _grants_covering(self, unit_id: int | None) -> Iterable[GrantView]:
        if unit_id is None:
            return self.grants  # a resource outside any unit: every grant speaks for it
        lineage = set(self.units.ancestors_or_self(unit_id))
        return (g for g in self.grants if g.unit_id is None or g.unit_id in lineage)

    def allows(
        self,
        action: str,
        resource_type: str,
        *,
        unit_id: int | None = None,
        sensitivity: Sensitivity = Sensitivity.INTERNAL,
    ) -> bool:
        return any(
            self.policy.allows(
                grant.role, self._grant_unit_code(grant), resource_type, action, sensitivity.value
            )
            for grant in self._grants_covering(unit_id)
        )

    def require(
        self,
        action: str,
        resource_type: str,
        *,
        unit_id: int | None = None,
        sensitivity: Sensitivity = Sensitivity.INTERNAL,
    ) -> None:
        if not self.allows(action, resource_type, unit_id=unit_id, sensitivity=sensitivity):
            raise Forbidden(f"not allowed to {action} {resource_type}")

    def require_everywhere(self, action: str, resource_type: str) -> None:
        """For acts outside any unit's subtree, such as creating a top-level unit."""
        if not any(
            self.policy.allows(g.role, ANY_UNIT, resource_type, action, Sensitivity.INTERNAL.value)
            for g in self.grants
            if g.unit_id is None
        ):
            raise Forbidden(f"not allowed to {action} {resource_type} outside a business unit")

    def scope(self, action: str, resource_type: str) -> Scope:
        everywhere: Sensitivity | None = None
        per_unit: dict[int, Sensitivity] = {}
        for grant in self.grants:
            level = self.policy.highest_sensitivity(
                grant.role, self._grant_unit_code(grant), resource_type, action
            )
            if level is None:
                continue
            if grant.unit_id is None:
                if everywhere is None or level.rank > everywhere.rank:
                    everywhere = level
                continue
            for unit in self.units.descendants_or_self(grant.unit_id):
                current = per_unit.get(unit)
                if current is None or level.rank > current.rank:
                    per_unit[unit] = level
        return Scope(everywhere, per_unit)


def readable(
    access: Access,
    resource_type: str,
    unit_column: Any | None,
    sensitivity_column: Any | None = None,
) -> ColumnElement[bool]:
    """The WHERE clause of everything of this type the caller may read."""
    if unit_column is None:  # a resource outside any unit: any grant that reads it will do
        return true() if access.allows("read", resource_type) else false()
    return access.scope("read", resource_type).where(unit_column, sensitivity_column)
