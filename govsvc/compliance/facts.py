"""The facts regulator clocks may depend on: one list, read by the API that records them and by
the loader of policies/regimes.yaml, which refuses a regime naming a fact not listed here (a
clock waiting for a fact nobody can record would never settle).

A fact is given as text and read as its kind, so a count is a count and a yes is a yes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from govsvc.errors import Invalid


class FactKind(StrEnum):
    COUNT = "count"  # a whole number of people
    YES_NO = "yes/no"
    LEVEL = "level"  # one of a fixed list of words


@dataclass(frozen=True)
class Fact:
    name: str
    kind: FactKind
    meaning: str
    levels: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind is FactKind.LEVEL:
            return f"{self.name} (one of {', '.join(self.levels)}): {self.meaning}"
        return f"{self.name} ({self.kind}): {self.meaning}"

    def admits(self, value: object) -> bool:
        """Can a recorded value of this fact ever equal `value` (as written in a regime)?"""
        if self.kind is FactKind.COUNT:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0
        if self.kind is FactKind.YES_NO:
            return isinstance(value, bool)
        return value in self.levels


KNOWN_FACTS: Mapping[str, Fact] = {
    fact.name: fact
    for fact in (
        Fact("affected_individuals", FactKind.COUNT, "individuals whose data was affected"),
        Fact(
            "max_residents_affected_in_a_state",
            FactKind.COUNT,
            "most residents of any one State affected (HIPAA media notice)",
        ),
        Fact(
            "risk_to_individuals",
            FactKind.LEVEL,
            "the risk assessment of a personal data breach (GDPR)",
            ("unlikely", "risk", "high_risk"),
        ),
        Fact("personal_data_breach", FactKind.YES_NO, "personal data was breached"),
        Fact("major_incident", FactKind.YES_NO, "classified as a major incident"),
        Fact("material", FactKind.YES_NO, "determined to be material"),
    )
}
_YES_NO = {"true": True, "yes": True, "false": False, "no": False}


def known() -> str:
    return ", ".join(KNOWN_FACTS)


def read_fact(name: str, text: str) -> int | bool | str:
    """The fact's value read as its kind, or a typed error saying what was expected."""
    fact = KNOWN_FACTS.get(name)
    if fact is None:
        raise Invalid(f"unknown fact {name!r}; known: {known()}", field="name")
    value = text.strip().lower()
    if fact.kind is FactKind.COUNT:
        if not value.isascii() or not value.isdigit() or len(value) > 12:
            raise Invalid(f"{name} is a whole number of people", field="value")
        return int(value)
    if fact.kind is FactKind.YES_NO:
        if value not in _YES_NO:
            raise Invalid(f"{name} is yes or no", field="value")
        return _YES_NO[value]
    if value not in fact.levels:
        raise Invalid(f"{name} is one of {', '.join(fact.levels)}", field="value")
    return value
