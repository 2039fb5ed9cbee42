"""Spans of text to redact, and how overlapping findings collapse into one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from govsvc.redaction.entities import (
    CHAT_HANDLE,
    CUSTOMER,
    GUESSED,
    PERSON,
    ROSTER_PERSON,
    SECRET,
    rank,
)


@dataclass(frozen=True)
class Span:
    """One finding: `text` is exactly `document[start:end]`."""

    start: int
    end: int
    entity_type: str
    text: str
    score: float
    recognizer: str

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"a span needs 0 <= start < end, got {self.start}..{self.end}")
        if len(self.text) != self.end - self.start:
            raise ValueError(f"span text {self.text!r} does not fit {self.start}..{self.end}")


def span_at(text: str, start: int, end: int, entity_type: str, score: float, by: str) -> Span:
    return Span(start, end, entity_type, text[start:end], score, by)


def _strength(span: Span) -> tuple[bool, bool, int, int, float]:
    # A pattern or the roster beats a model guess; a secret names anything it touches (a URL
    # with a password in it is a secret); then the widest finding names the whole (a URL that
    # contains a handle is still a URL); then the type's priority; then the score.
    return (
        span.entity_type not in GUESSED,
        span.entity_type == SECRET,
        span.end - span.start,
        -rank(span.entity_type),
        span.score,
    )


def merge_overlaps(text: str, spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans covering everything the given spans cover.

    Overlapping spans merge into one over their union, named after the strongest of them:
    redacting the union can only hide more, never less, than the spans asked for.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    group: list[Span] = []
    group_end = -1
    for span in [*ordered, None]:
        if span is not None and span.start < group_end:
            group.append(span)
            group_end = max(group_end, span.end)
            continue
        if group:
            best = max(group, key=_strength)
            start = group[0].start
            merged.append(
                span_at(text, start, group_end, best.entity_type, best.score, best.recognizer)
            )
        if span is not None:
            group, group_end = [span], span.end
    return merged


# Types that name someone or something by its words: a hyphenated word is named whole.
_NAMING = frozenset({PERSON, ROSTER_PERSON, CHAT_HANDLE, CUSTOMER})
_JOINERS = "-'\u2019"


def _word_start(text: str, start: int) -> int:
    while start >= 2 and text[start - 1] in _JOINERS and text[start - 2].isalpha():
        start -= 1
        while start > 0 and text[start - 1].isalpha():
            start -= 1
    return start


def _word_end(text: str, end: int) -> int:
    while end + 1 < len(text) and text[end] in "-" and text[end + 1].isalpha():
        end += 1
        while end < len(text) and text[end].isalpha():
            end += 1
    return end


def whole_names(text: str, spans: Iterable[Span]) -> list[Span]:
    """Spans over names widened to whole hyphenated words, and next-door name spans joined.

    A model or a roster that finds "Luc Picard" in "Jean-Luc Picard", or "Anne-Marie" and
    "Dubois" side by side, would otherwise leave "Jean-" or a second pseudonym next to the
    first ("Engineer A Engineer A").
    """
    widened = [
        span_at(
            text,
            _word_start(text, s.start),
            _word_end(text, s.end),
            s.entity_type,
            s.score,
            s.recognizer,
        )
        if s.entity_type in _NAMING
        else s
        for s in spans
    ]
    merged = merge_overlaps(text, widened)
    joined: list[Span] = []
    for span in merged:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.entity_type in _PEOPLE
            and span.entity_type in _PEOPLE
            and text[previous.end : span.start] in (" ", "-", "\u00a0")
        ):
            best = max((previous, span), key=_strength)
            joined[-1] = span_at(
                text, previous.start, span.end, best.entity_type, best.score, best.recognizer
            )
        else:
            joined.append(span)
    return joined


_PEOPLE = frozenset({PERSON, ROSTER_PERSON})
