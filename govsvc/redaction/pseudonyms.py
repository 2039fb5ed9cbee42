"""What each redacted span becomes: a typed placeholder, or a pseudonym that stays the same for
the same person or customer throughout one document.

Roster people become "Engineer A", "Engineer B" in order of first appearance, however they were
written (full name, first name, handle, e-mail). People the roster does not know become
"Person A": calling a customer's contact an engineer would mislead a public reader. Customers
become "Customer A".
"""

from __future__ import annotations

import re
from typing import Final

from govsvc.redaction.allow import bare
from govsvc.redaction.entities import (
    ACCOUNT_ID,
    CHAT_HANDLE,
    CREDIT_CARD,
    CUSTOMER,
    EMAIL_ADDRESS,
    IBAN_CODE,
    INTERNAL_HOST,
    IP_ADDRESS,
    LOCATION,
    PERSON,
    PHONE_NUMBER,
    ROSTER_PERSON,
    ROSTER_TEAM,
    SECRET,
    TICKET_ID,
    URL,
    US_SSN,
)
from govsvc.redaction.roster import RosterIndex
from govsvc.redaction.spans import Span
from govsvc.redaction.words import fold

PLACEHOLDERS: Final = {
    EMAIL_ADDRESS: "[EMAIL]",
    PHONE_NUMBER: "[PHONE]",
    CREDIT_CARD: "[CARD]",
    IBAN_CODE: "[IBAN]",
    IP_ADDRESS: "[IP]",
    US_SSN: "[SSN]",
    URL: "[URL]",
    INTERNAL_HOST: "[INTERNAL_HOST]",
    SECRET: "[SECRET]",
    ACCOUNT_ID: "[ACCOUNT_ID]",
    TICKET_ID: "[TICKET]",
    ROSTER_TEAM: "[TEAM]",
    LOCATION: "[LOCATION]",
}
PSEUDONYM_LABELS: Final = ("Engineer", "Person", "Customer")

# What this module writes, so a re-scan can tell a replacement from a leak.
MARKERS: Final = re.compile(
    r"\[[A-Z][A-Z_]*\]|\b(?:" + "|".join(PSEUDONYM_LABELS) + r") [A-Z]{1,3}\b"
)


def label_of(replacement: str) -> str | None:
    """The label word of a pseudonym ("Customer" of "Customer A"), None for a placeholder."""
    label = replacement.split(" ", 1)[0]
    return label if label in PSEUDONYM_LABELS and " " in replacement else None


def placeholder(entity_type: str) -> str:
    return PLACEHOLDERS.get(entity_type, f"[{entity_type}]")


def letters(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: enough for any incident."""
    out = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


class Pseudonyms:
    """Replacement text for the spans of one document, asked for in document order."""

    def __init__(self, index: RosterIndex) -> None:
        self._index = index
        self._names: dict[tuple[str, object], str] = {}
        self._counts = dict.fromkeys(PSEUDONYM_LABELS, 0)
        self._last_use: dict[tuple[str, object], int] = {}
        self._uses = 0
        self._guessed_words: dict[str, tuple[str, object]] = {}

    def _name(self, label: str, key: tuple[str, object]) -> str:
        if key not in self._names:
            self._names[key] = f"{label} {letters(self._counts[label])}"
            self._counts[label] += 1
        self._uses += 1
        self._last_use[key] = self._uses
        return self._names[key]

    def _pick(self, kind: str, candidates: list[int]) -> tuple[str, object]:
        # One candidate, or a name shared by several roster entries ("Maria" with two Marias):
        # then the one mentioned most recently, else the first on the roster.
        best = max(
            range(len(candidates)),
            key=lambda i: (self._last_use.get((kind, candidates[i]), 0), -i),
        )
        return (kind, candidates[best])

    def _person(self, span: Span) -> str:
        if found := self._index.identify(span.text, "person"):
            return self._name("Engineer", self._pick("person", found))
        name = fold(bare(span.text)).lstrip("@")
        if span.entity_type == ROSTER_PERSON:
            return self._name("Engineer", ("unlisted", name))
        # A guessed name seen before in full is the same person when written by a part of it
        # ("Linda Zhao" ... "Zhao").
        key = self._guessed_words.get(name, ("guessed", name))
        for word in name.split():
            self._guessed_words.setdefault(word, key)
        return self._name("Person", key)

    def replacement(self, span: Span) -> str:
        if span.entity_type in (ROSTER_PERSON, PERSON, CHAT_HANDLE):
            return self._person(span)
        if span.entity_type == CUSTOMER:
            found = self._index.identify(span.text, "customer")
            key = self._pick("customer", found) if found else ("unlisted", fold(bare(span.text)))
            return self._name("Customer", key)
        return placeholder(span.entity_type)
