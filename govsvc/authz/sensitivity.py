from __future__ import annotations

from enum import StrEnum


class Sensitivity(StrEnum):
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_most(self) -> list[Sensitivity]:
        """This level and every lower one: the values a WHERE clause may admit."""
        return [s for s in Sensitivity if s.rank <= self.rank]


_RANK = {Sensitivity.INTERNAL: 1, Sensitivity.CONFIDENTIAL: 2, Sensitivity.RESTRICTED: 3}


def sensitivity_within(requested: str, allowed: str) -> bool:
    """Casbin function: is the object's sensitivity at or below what the policy line allows?"""
    try:
        return Sensitivity(requested).rank <= Sensitivity(allowed).rank
    except ValueError:
        return False  # an unknown level is never allowed: deny by default
