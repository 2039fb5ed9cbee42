"""Second thoughts on the statistical model's PERSON and LOCATION guesses.

The small English model reads technical prose badly: it tags "Kubernetes", "Jenkins" and
"UTC db-prod-7" as people. A guess is cut down to its name-like words (capitalised words of
letters, not on the allow-list, not all-caps acronyms, not camel-cased product names); if none
are left, or they are not contiguous, only the longest run of them is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from govsvc.redaction.allow import AllowList, bare
from govsvc.redaction.entities import PERSON
from govsvc.redaction.spans import Span, span_at
from govsvc.redaction.words import is_distinctive, looks_like_name_token

_TOKEN = re.compile(r"\S+")
_NEXT_WORD = re.compile(r"\s+(\S+)")
_CAMEL = re.compile(r"[a-z]{3,}[A-Z]")  # PostgreSQL, PagerDuty, OrderService; not McDonald
_PARTICLES = frozenset(
    {
        "van",
        "von",
        "de",
        "der",
        "den",
        "da",
        "di",
        "du",
        "del",
        "della",
        "la",
        "le",
        "bin",
        "al",
        "dos",
        "das",
        "ter",
        "y",
    }
)


def _is_acronym(word: str) -> bool:
    letters = word.replace("-", "").replace("'", "").replace("\u2019", "").rstrip(".")
    return len(letters) > 1 and letters.isupper()


def _is_name_word(word: str, allow: AllowList) -> bool:
    if not looks_like_name_token(word) or allow.allows(word):
        return False
    # UTC, SEV, API are acronyms; PostgreSQL and PagerDuty are products.
    return not _is_acronym(word) and not _CAMEL.search(word)


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
    following = _NEXT_WORD.match(text, end, guess.end)
    if following and " " not in text[start:end] and _is_acronym(bare(following.group(1))):
        return None  # "Cloud SQL", "Azure AD": one word before an acronym names a product
    return span_at(text, start, end, guess.entity_type, guess.score, guess.recognizer)


# A name is rarely written after an article ("the Rollbar migration") or right before a word
# for a piece of software ("Keycloak alert", "Bugsnag support"); a product name often is. One
# such use anywhere in the document clears every guess of that word in it.
_DETERMINERS = frozenset({"the", "a", "an", "our", "their", "its", "this", "that", "your", "my"})
_PRODUCT_NOUNS = frozenset(
    """
    account agent agents alert alerts api app bucket bug cache cert certificate cli client
    cluster clusters config configuration connector console controller dashboard dashboards
    database deployment docs documentation driver endpoint gateway incident instance instances
    integration issue job jobs key library license limit limits log logs metrics migration
    node nodes operator outage page patch pipeline plugin pod pods proxy queue quota region
    release rollout runner sdk server servers service services status subscription support
    token ui upgrade vendor version webhook worker workers
    """.split()  # noqa: SIM905 - a word list reads better as prose
)
_WORD_BEFORE = re.compile(r"([\w'\u2019-]+)\s+$")
_WORD_AFTER = re.compile(r"^\s+([\w-]+)")


def used_as_product(text: str, guess: str) -> bool:
    """Whether `guess` is written somewhere in `text` the way a product name is."""
    for match in re.finditer(rf"(?<!\w){re.escape(guess)}(?!\w)", text):
        before = _WORD_BEFORE.search(text, 0, match.start())
        after = _WORD_AFTER.match(text[match.end() : match.end() + 40])
        if before and before.group(1).lower() in _DETERMINERS:
            return True
        if after and after.group(1).lower().split("-")[0] in _PRODUCT_NOUNS:
            return True
    return False


_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def name_echoes(text: str, spans: Iterable[Span], allow: AllowList) -> list[Span]:
    """Later mentions of a word of a guessed name ("Mitterrand-Dupont then verified").

    The model often finds a full name once and misses the surname written alone further on;
    the pseudonyms already give both the same "Person A".
    """
    words = {
        word
        for span in spans
        if span.entity_type == PERSON and " " in span.text
        for word in _NAME_WORD.findall(span.text)
        if is_distinctive(word) and _is_name_word(word, allow)
    }
    found: list[Span] = []
    for word in words:
        for match in re.finditer(rf"(?<![\w@.-]){re.escape(word)}(?![\w-]|@)", text):
            found.append(span_at(text, match.start(), match.end(), PERSON, 0.5, "name-echo"))
    return found
