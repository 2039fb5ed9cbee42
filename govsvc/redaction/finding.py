"""A Presidio recognizer whose findings come from a plain function of the text.

Presidio's PatternRecognizer reports whole regex matches and runs patterns through its own
flags (IGNORECASE for every pattern); govsvc's recognizers need a capture group to narrow a
span (`password=<value>`) and per-pattern case rules, so they implement `find` instead.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import NamedTuple

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


class Finding(NamedTuple):
    start: int
    end: int
    entity_type: str
    score: float


class FindingRecognizer(LocalRecognizer):
    def __init__(self, *, name: str, entities: Iterable[str], context: Iterable[str] = ()) -> None:
        self.label = name  # Presidio's own `name` attribute is untyped
        # `context`: words near a finding that raise its score (Presidio's context enhancer).
        super().__init__(
            supported_entities=list(entities),
            name=name,
            supported_language="en",
            context=list(context) or None,
        )

    def load(self) -> None:
        """Nothing to load: everything is compiled in the constructor."""

    @abstractmethod
    def find(self, text: str) -> Iterable[Finding]: ...

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: self.label,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        return [
            RecognizerResult(
                f.entity_type,
                f.start,
                f.end,
                f.score,
                analysis_explanation=AnalysisExplanation(self.label, f.score),
                recognition_metadata=metadata,
            )
            for f in self.find(text)
            if f.end > f.start
        ]
