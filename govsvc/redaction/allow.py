"""Words that are never redacted: technical vocabulary, per-call service names, time zones."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from govsvc.redaction.words import fold

_EDGES = re.compile(r"^[\s\"'(\[{<]+|(?:['\u2019]s?)?[\s\"'.,;:!?)\]}>]*$")


def bare(text: str) -> str:
    """`text` without surrounding quotes, brackets, sentence punctuation or a possessive."""
    return _EDGES.sub("", text)


class AllowList:
    def __init__(self, terms: Iterable[str], patterns: Sequence[re.Pattern[str]] = ()) -> None:
        self._terms = frozenset(fold(bare(t)) for t in terms if bare(t))
        self._patterns = tuple(patterns)

    def extended(self, terms: Iterable[str]) -> AllowList:
        extra = list(terms)
        if not extra:
            return self
        merged = AllowList(extra, self._patterns)
        merged._terms |= self._terms
        return merged

    def allows(self, text: str) -> bool:
        core = bare(text)
        return fold(core) in self._terms or any(p.fullmatch(core) for p in self._patterns)
