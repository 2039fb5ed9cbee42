"""The Casbin enforcer over policies/, loaded once per application."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import casbin

from govsvc.authz.sensitivity import Sensitivity, sensitivity_within

ANY_UNIT = "*"


class AccessPolicy:
    """What each role may do to each resource type, where, up to which sensitivity."""

    def __init__(self, policies_dir: Path):
        self._enforcer = casbin.Enforcer(
            str(policies_dir / "model.conf"), str(policies_dir / "policy.csv")
        )
        self._enforcer.add_function("sensitivity_within", sensitivity_within)
        subjects = {rule[0] for rule in self._enforcer.get_policy()}
        inherited = {name for rule in self._enforcer.get_grouping_policy() for name in rule[:2]}
        self.roles: frozenset[str] = frozenset(subjects | inherited)
        # Policies are static while the process runs, so decisions can be memoized.
        self.allows = lru_cache(maxsize=65536)(self._allows)

    def _allows(self, role: str, unit: str, resource_type: str, action: str, sens: str) -> bool:
        return bool(self._enforcer.enforce(role, unit, resource_type, action, sens))

    def highest_sensitivity(
        self, role: str, unit: str, resource_type: str, action: str
    ) -> Sensitivity | None:
        """The most sensitive level this role may act on here, or None when it may not at all."""
        for level in reversed(list(Sensitivity)):
            if self.allows(role, unit, resource_type, action, level.value):
                return level
        return None
