"""Spans of text to redact, and how overlapping findings collapse into one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from govsvc.redaction.entities import GUESSED, SECRET, rank


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
