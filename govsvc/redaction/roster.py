"""The incident's roster: the people, teams and customers a post-mortem must never name.

Built per call (a roster belongs to one incident). Every way a roster entry is written is
matched case-insensitively on word boundaries, except everyday words ("Will", "Grant"), which
match only when capitalised. A possessive ("Maria's") matches the name and keeps the "'s".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from govsvc.redaction.entities import CUSTOMER, ROSTER_PERSON, ROSTER_TEAM
from govsvc.redaction.finding import Finding, FindingRecognizer
from govsvc.redaction.words import COMMON_WORDS, fold, is_distinctive

Kind = Literal["person", "team", "customer"]
Identity = tuple[Kind, int]  # which roster entry: ("person", 2) is the third person

_KIND_TYPES: dict[Kind, str] = {"person": ROSTER_PERSON, "team": ROSTER_TEAM, "customer": CUSTOMER}
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_POSSESSIVE = re.compile(r"['\u2019]s?$")
_LEGAL_SUFFIX = re.compile(
    r"[\s,&]+(?:inc\.?|llc|l\.l\.c\.|ltd\.?|limited|plc|gmbh|ag|kg|co\.?|corp\.?|corporation|"
    r"group|s\.?a\.?s?\.?|s\.a\.t\.|s\.l\.|sarl|e\.v\.|b\.v\.|n\.v\.|oy|ab|s\.p\.a\.|"
    r"pvt\.?|and sons|& sons)$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W\d_]+")
_TEAM_WORD = re.compile(r"^team\s+|\s+team$", re.IGNORECASE)


@dataclass(frozen=True)
class RosterPerson:
    name: str  # as people write it: "Maria Garcia"
    emails: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()  # chat or VCS handles, with or without "@"
    aliases: tuple[str, ...] = ()  # nicknames or former names, matched like the full name


@dataclass(frozen=True)
class Roster:
    people: tuple[RosterPerson, ...] = ()
    teams: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()  # the customers this incident names


@dataclass
class _Variants:
    anycase: set[str] = field(default_factory=set)
    exactcase: set[str] = field(default_factory=set)

    def add(self, variant: str) -> None:
        variant = variant.strip()
        if len(variant) < 2:
            return
        if not any(is_distinctive(word) for word in _WORDS.findall(variant)):
            # "Will Grant" is a name, "will grant" is prose: match it only as written.
            self.exactcase.update({variant, variant.upper()})
            return
        self.anycase.add(variant)
        if fold(variant) != variant.casefold():
            # "Céline" is also written "Celine": match the unaccented spelling too.
            self.anycase.add(fold(variant))

    def add_word(self, word: str) -> None:
        """A single word of a name: any case when distinctive, else only as a name is written."""
        word = word.strip(".,")
        if len(word) < 2 or not any(c.isalpha() for c in word):
            return
        if is_distinctive(word):
            self.add(word)
        elif word[0].isupper():
            self.exactcase.update({word, word.upper()})


def _name_variants(name: str, into: _Variants) -> set[str]:
    """Add the ways `name` is written; return its folded local-part forms for e-mail matching."""
    into.add(name)
    words = [w for w in name.split() if w[:1].isupper() or not w.isalpha()]
    if len(words) < 2:
        for word in words:
            into.add_word(word)
        return {fold(w) for w in words if is_distinctive(w)}
    first, last = words[0], words[-1]
    into.add(f"{first} {last}")
    into.add(f"{last}, {first}")
    into.add(f"{first[0]}. {last}")
    into.add(f"{first} {last[0]}.")
    for word in words:
        into.add_word(word)
        for part in word.split("-") if "-" in word else ():
            into.add_word(part)
    f, ln = fold(first).replace("'", ""), fold(last).replace("'", "")
    locals_ = {f"{f}.{ln}", f"{f}_{ln}", f"{f}{ln}", f"{f[0]}{ln}", f"{f}{ln[0]}", f"{ln}.{f}"}
    # Handles are usually derived like this: match them standalone too, when long enough
    # that they cannot be a word of their own.
    for local in locals_:
        if len(local) >= 5:
            into.add(local)
    locals_.update(fold(w) for w in (first, last) if is_distinctive(w))
    return locals_


def _customer_cores(name: str) -> Iterator[str]:
    core = name
    while (stripped := _LEGAL_SUFFIX.sub("", core)) != core:
        core = stripped.rstrip(" ,&")
        if core and core != name and is_distinctive(core):
            yield core


class RosterIndex:
    """Every written form of every roster entry, compiled once per call."""

    def __init__(self, roster: Roster) -> None:
        self._identities: dict[str, set[Identity]] = {}
        self._email_locals: dict[str, set[Identity]] = {}
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for kind, variants in self._variants(roster):
            self._compile(variants, _KIND_TYPES[kind])

    def _remember(self, variants: _Variants, identity: Identity) -> None:
        for variant in variants.anycase | variants.exactcase:
            self._identities.setdefault(fold(variant).lstrip("@"), set()).add(identity)

    def _variants(self, roster: Roster) -> Iterator[tuple[Kind, _Variants]]:
        people = _Variants()
        for index, person in enumerate(roster.people):
            mine = _Variants()
            locals_ = _name_variants(person.name, mine)
            for alias in person.aliases:
                locals_ |= _name_variants(alias, mine)
            for email in person.emails:
                mine.add(email)
                local = email.split("@", 1)[0]
                locals_.add(fold(local))
                mine.add(local)
            for handle in person.handles:
                bare = handle.lstrip("@")
                mine.add("@" + bare)
                locals_.add(fold(bare))
                # Bare too ("paged jdoe"), unless the handle is an everyday word ("will").
                if len(bare) >= 3 and fold(bare) not in COMMON_WORDS:
                    mine.add(bare)
            self._remember(mine, ("person", index))
            for local in locals_:
                self._email_locals.setdefault(local, set()).add(("person", index))
            people.anycase |= mine.anycase
            people.exactcase |= mine.exactcase
        yield "person", people
        teams = _Variants()
        for index, team in enumerate(roster.teams):
            mine = _Variants()
            mine.add(team)
            words = team.split()
            if len(words) > 1:
                for joiner in ("-", "_", ""):
                    mine.add(joiner.join(words).lower())
            if (short := _TEAM_WORD.sub("", team)) != team and is_distinctive(short):
                mine.add(short)
            self._remember(mine, ("team", index))
            teams.anycase |= mine.anycase
        yield "team", teams
        customers = _Variants()
        for index, customer in enumerate(roster.customers):
            mine = _Variants()
            mine.add(customer)
            for core in _customer_cores(customer):
                mine.add(core)
            self._remember(mine, ("customer", index))
            customers.anycase |= mine.anycase
        yield "customer", customers

    def _compile(self, variants: _Variants, entity_type: str) -> None:
        for forms, flags in ((variants.anycase, re.IGNORECASE), (variants.exactcase, 0)):
            if forms:
                # Longest first, so "Maria Garcia" wins over "Maria" at the same position.
                alternatives = "|".join(re.escape(v) for v in sorted(forms, key=len, reverse=True))
                self._patterns.append(
                    (re.compile(rf"(?<![\w@])(?:{alternatives})(?![\w]|@\w)", flags), entity_type)
                )

    def find(self, text: str) -> Iterator[Finding]:
        for pattern, entity_type in self._patterns:
            for match in pattern.finditer(text):
                yield Finding(match.start(), match.end(), entity_type, 1.0)
        # Any address whose local part is a roster person's ("maria.garcia@anywhere").
        for match in _EMAIL.finditer(text):
            if self._person_by_email(match.group()):
                yield Finding(match.start(), match.end(), ROSTER_PERSON, 1.0)

    def _person_by_email(self, email: str) -> set[Identity]:
        local = fold(email.split("@", 1)[0]).split("+", 1)[0]
        return self._email_locals.get(local, set())

    def identify(self, text: str, kind: Kind) -> list[int]:
        """Indexes of the roster entries of `kind` that `text` may name (empty if none)."""
        key = _POSSESSIVE.sub("", fold(text.strip())).lstrip("@")
        found = self._identities.get(key, set())
        if not found and kind == "person" and "@" in key:
            found = self._person_by_email(key)
        return sorted(index for k, index in found if k == kind)


class RosterRecognizer(FindingRecognizer):
    """Presidio recognizer for one roster: ROSTER_PERSON, ROSTER_TEAM and CUSTOMER."""

    def __init__(self, roster: Roster | RosterIndex) -> None:
        self.index = roster if isinstance(roster, RosterIndex) else RosterIndex(roster)
        super().__init__(name="roster", entities=_KIND_TYPES.values())

    def find(self, text: str) -> Iterable[Finding]:
        return self.index.find(text)
