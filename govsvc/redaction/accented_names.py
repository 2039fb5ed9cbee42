"""Names written with letters outside ASCII, which the small English model often misses.

"Zoë Ångström", "Łukasz Wójcik", "Søren Kierkegaard-Ørsted": in English technical prose, a run
of two or three capitalised words of which one carries a letter outside ASCII is almost always
a person (place names that look so, like "São Paulo", belong on the allow-list). Proposed as a
PERSON guess, so the allow-list and the guess filter still apply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from govsvc.redaction.entities import PERSON
from govsvc.redaction.finding import Finding, FindingRecognizer
from govsvc.redaction.words import looks_like_name_token

# A word of letters with inner apostrophes or hyphens: "Kierkegaard-Ørsted", "O'Brien".
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_PARTICLES: Final = frozenset(
    {"van", "von", "de", "der", "den", "da", "di", "du", "del", "la", "le"}
)
SCORE: Final = 0.6


def _capitalised(word: str) -> bool:
    return looks_like_name_token(word) and not word.isupper()


def find_accented_names(text: str) -> Iterator[Finding]:
    run: list[re.Match[str]] = []
    for match in [*_WORD.finditer(text), None]:
        if match is not None:
            word = match.group()
            gap = text[run[-1].end() : match.start()] if run else " "
            joined = gap in (" ", "\u00a0")
            if joined and (_capitalised(word) or (run and word in _PARTICLES)):
                run.append(match)
                continue
        while run and run[-1].group() in _PARTICLES:
            run.pop()
        if 2 <= len(run) <= 4 and any(not m.group().isascii() for m in run):
            yield Finding(run[0].start(), run[-1].end(), PERSON, SCORE)
        run = []
        if match is not None and _capitalised(match.group()):
            run.append(match)


class AccentedNameRecognizer(FindingRecognizer):
    def __init__(self) -> None:
        super().__init__(name="accented-name", entities=[PERSON])

    def find(self, text: str) -> Iterator[Finding]:
        return find_accented_names(text)
