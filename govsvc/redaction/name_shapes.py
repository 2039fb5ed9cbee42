"""People the small model misses: two or three proper nouns in a row, near a word about people.

The small English model misses many names on technical prose, most of all names that are not
English ("Véronique Letellier" comes back as an organisation). This recognizer proposes every
run of two or three capitalised proper nouns at a score under the engine's threshold; Presidio's
context enhancer lifts it over the threshold only when a word about people stands within the
five words before it ("thanks to", "their engineer", "our account manager", "cc:"). The
allow-list and the guess filter still apply afterwards.
"""

from __future__ import annotations

from typing import Final

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from govsvc.redaction.entities import PERSON
from govsvc.redaction.words import looks_like_name_token

NAME: Final = "name-shape"

# Under the engine's default threshold (0.35); a context word lifts it to 0.4 at least.
SHAPE_SCORE: Final = 0.3

PEOPLE_WORDS: Final = [
    # roles
    "engineer",
    "manager",
    "contact",
    "lead",
    "director",
    "analyst",
    "administrator",
    "admin",
    "agent",
    "representative",
    "rep",
    "owner",
    "colleague",
    "developer",
    "architect",
    "consultant",
    "specialist",
    "technician",
    "officer",
    "ceo",
    "cto",
    "cio",
    "ciso",
    "vp",
    "founder",
    "president",
    "customer",
    "vendor",
    "partner",
    "reporter",
    "researcher",
    "user",
    "caller",
    "mr",
    "ms",
    "mrs",
    "dr",
    "person",
    "name",
    "per",
    "according",
    # words that only go with people ("her colleague", "his manager")
    "who",
    "whom",
    "whose",
    "he",
    "she",
    "him",
    "his",
    "her",
    # what people do in a post-mortem
    "thank",
    "thanks",
    "report",
    "confirm",
    "join",
    "say",
    "tell",
    "ask",
    "write",
    "email",
    "call",
    "page",
    "escalate",
    "notify",
    "acknowledge",
    "approve",
    "review",
    "cc",
]


class NameShapeRecognizer(LocalRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=[PERSON], name=NAME, context=list(PEOPLE_WORDS))

    def load(self) -> None:
        """Nothing to load: it reads the tokens the spaCy pipeline already produced."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or nlp_artifacts.tokens is None:
            return []
        metadata = {
            RecognizerResult.RECOGNIZER_NAME_KEY: NAME,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
        }
        results: list[RecognizerResult] = []
        run: list[tuple[int, int]] = []
        for token in [*nlp_artifacts.tokens, None]:
            if token is not None and token.pos_ == "PROPN" and looks_like_name_token(token.text):
                run.append((token.idx, token.idx + len(token.text)))
                continue
            if 2 <= len(run) <= 3:
                results.append(
                    RecognizerResult(
                        PERSON,
                        run[0][0],
                        run[-1][1],
                        SHAPE_SCORE,
                        # The context enhancer records the supporting word here.
                        analysis_explanation=AnalysisExplanation(
                            NAME, SHAPE_SCORE, textual_explanation="proper nouns in a row"
                        ),
                        recognition_metadata=metadata,
                    )
                )
            run = []
        return results
