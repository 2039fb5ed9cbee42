"""Second thoughts on the statistical model's PERSON and LOCATION guesses.

The small English model reads technical prose badly: it tags "Kubernetes", "Jenkins" and
"UTC db-prod-7" as people. A guess is cut down to its name-like words (capitalised words of
letters, not on the allow-list, not all-caps acronyms, not camel-cased product names); if none
are left, or they are not contiguous, only the longest run of them is kept.
"""

from __future__ import annotations

import re

from govsvc.redaction.allow import AllowList, bare
from govsvc.redaction.spans import Span, span_at
from govsvc.redaction.words import looks_like_name_token

_TOKEN = re.compile(r"\S+")
_CAMEL = re.compile(r"[a-z]{3,}[A-Z]")  # PostgreSQL, PagerDuty, OrderService; not McDonald
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "la",
                        "le", "bin", "al", "dos", "das", "ter", "y"})


def _is_name_word(word: str, allow: AllowList) -> bool:
    if not looks_like_name_token(word) or allow.allows(word):
        return False
    letters = word.replace("-", "").replace("'", "").replace("’", "").rstrip(".")
    if len(letters) > 1 and letters.isupper():
        return False  # UTC, SEV, API: acronyms, not names
    return not _CAMEL.search(word)


def refine_guess(text: str, guess: Span, allow: AllowList) -> Span | None:
    """The longest run of name-like words in `guess`, or None when it names no one."""
    if allow.allows(guess.text):
        return None
    runs: list[tuple[int, int]] = []
    run: tuple[int, int] | None = None
    pending_particle = False
    for match in _TOKEN.finditer(guess.text):
        raw = match.group()
        word = bare(raw)
        start = guess.start + match.start() + raw.find(word) if word else 0
        end = start + len(word)
        if word and _is_name_word(word, allow):
            run = (start, end) if run is None else (run[0], end)
            pending_particle = False
        elif run is not None and word.lower() in _PARTICLES and not pending_particle:
            pending_particle = True  # "Ludwig van Beethoven": the next word decides
        else:
            if run is not None:
                runs.append(run)
            run, pending_particle = None, False
        if run is not None and raw[-1] in ",;:()":
            runs.append(run)  # "Maria, Kafka ...": punctuation ends a name
            run = None
    if run is not None:
        runs.append(run)
    if not runs:
        return None
    start, end = max(runs, key=lambda r: r[1] - r[0])
    return span_at(text, start, end, guess.entity_type, guess.score, guess.recognizer)
