"""Redaction of post-mortems and status updates before they go public.

    engine = RedactionEngine(patterns=load_redaction_patterns(Path("policies/redaction.yaml")))
    spans = engine.preview(text, roster, extra_allow=service_names)   # shown to a reviewer
    redacted = engine.apply(text, reviewed_spans, roster)               # exactly those spans
    assert not engine.leaks(redacted.text, roster)                       # fail closed

Build the engine once (loading the spaCy model takes about a second and ~100 MB) and share it.
It keeps no per-call state (the pseudonyms are made per call) and its caches (NLP artifacts and
scans keyed by the text's SHA-256, compiled rosters) are thread-safe, so calls may run
concurrently on worker threads. The calls are CPU-bound and blocking; from
asyncio run them off the event loop, e.g. `await anyio.to_thread.run_sync(engine.preview,
text, roster)`, which is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerInput

from govsvc.redaction.accented_names import AccentedNameRecognizer
from govsvc.redaction.allow import AllowList
from govsvc.redaction.builtin_recognizers import builtin_recognizers
from govsvc.redaction.cache import Lru, digest
from govsvc.redaction.entities import (
    CUSTOMER,
    GUESSED,
    LEAK_TYPES,
    PERSON,
    ROSTER_PERSON,
    ROSTER_TEAM,
    SECRET,
)
from govsvc.redaction.guesses import name_echoes, refine_guess, used_as_product
from govsvc.redaction.mentions import MentionRecognizer
from govsvc.redaction.name_shapes import NameShapeRecognizer
from govsvc.redaction.nlp import (
    DEFAULT_MODEL,
    InstalledSpacyEngine,
    load_pipeline,
    tokenizer_pipeline,
)
from govsvc.redaction.patterns import RedactionPatterns
from govsvc.redaction.phones import LenientPhoneRecognizer
from govsvc.redaction.policy_recognizers import policy_recognizers
from govsvc.redaction.pseudonyms import MARKERS, Pseudonyms, label_of
from govsvc.redaction.roster import Roster, RosterIndex, RosterRecognizer
from govsvc.redaction.spans import Span, merge_overlaps, span_at, whole_names
from govsvc.redaction.words import fold

# Never kept because of the allow-list: the roster says these are sensitive, and a secret is
# a secret even if it happens to spell "Kafka".
_NOT_ALLOWABLE = frozenset({ROSTER_PERSON, ROSTER_TEAM, CUSTOMER, SECRET})


@dataclass(frozen=True)
class Replacement:
    """One replacement made by `apply`. `original` is the sensitive text: keep it private."""

    start: int  # in the redacted text
    end: int
    entity_type: str
    original: str
    replacement: str


@dataclass(frozen=True)
class Redacted:
    text: str
    replacements: tuple[Replacement, ...]


class RedactionEngine:
    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        patterns: RedactionPatterns,
        allow_list: Iterable[str] = (),
        score_threshold: float = 0.35,
    ) -> None:
        self.patterns = patterns
        self.score_threshold = score_threshold
        self._allow = AllowList([*patterns.allow.terms, *allow_list], patterns.allow.compiled)
        nlp_engine = InstalledSpacyEngine(load_pipeline(model), model)
        # The fail-closed re-scan looks only for what patterns and the roster find (model
        # guesses are not leaks), so it needs tokens and context words, not the model's tagger
        # and NER: a tokenizer-only pipeline makes it several times cheaper.
        self._tokens_only = InstalledSpacyEngine(tokenizer_pipeline(), "tokens")
        self._full_nlp = nlp_engine
        # Repeated previews of an unchanged text (a reviewer reloading, then publishing) cost
        # nothing; rosters are compiled once per distinct roster, not once per call.
        self._artifacts: Lru[tuple[str, bool], NlpArtifacts] = Lru(32)
        self._scans: Lru[tuple[str, Roster, frozenset[str], bool], list[Span]] = Lru(64)
        self._rosters: Lru[Roster, RosterIndex] = Lru(16)
        registry = RecognizerRegistry(
            recognizers=[
                *builtin_recognizers(
                    ner_entities=patterns.ner_entities,
                    internal_domains=patterns.internal_hosts.domains,
                ),
                *policy_recognizers(patterns),
                LenientPhoneRecognizer(),
                MentionRecognizer(),
                *(
                    [NameShapeRecognizer(), AccentedNameRecognizer()]
                    if PERSON in patterns.ner_entities
                    else []
                ),
            ],
            supported_languages=["en"],
        )
        self._analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            supported_languages=["en"],
            default_score_threshold=score_threshold,
            # Whole words only: Presidio's default substring match would let the context word
            # "cc" support anything next to "account". Only words before count: words after
            # a name are often the next sentence ("... Bad Gateway. We thank ...").
            context_aware_enhancer=LemmaContextAwareEnhancer(
                context_prefix_count=5, context_suffix_count=0, context_matching_mode="whole_word"
            ),
        )
        self._anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]  # untyped __init__

    def preview(self, text: str, roster: Roster, *, extra_allow: Iterable[str] = ()) -> list[Span]:
        """What should be redacted, as non-overlapping spans in text order, for review.

        `extra_allow` keeps words for this call only (the incident's service names, say); it
        never keeps a roster entry or a secret.
        """
        extra = frozenset(extra_allow)
        return list(
            self._scans.get_or_make(
                (digest(text), roster, extra, True),
                lambda: self._scan(
                    text, self._index(roster), self._allow.extended(extra), full=True
                ),
            )
        )

    def _index(self, roster: Roster) -> RosterIndex:
        return self._rosters.get_or_make(roster, lambda: RosterIndex(roster))

    def apply(self, text: str, spans: Sequence[Span], roster: Roster) -> Redacted:
        """Redact exactly `spans` (as reviewed: some accepted, some rejected, some added).

        Overlapping spans are redacted as their union. Each span must describe `text`.
        """
        for span in spans:
            if text[span.start : span.end] != span.text:
                raise ValueError(
                    f"span {span.start}..{span.end} says {span.text!r} but the text there is "
                    f"{text[span.start : span.end]!r}: it belongs to another version of the text"
                )
        merged = merge_overlaps(text, spans)
        pseudonyms = Pseudonyms(self._index(roster))
        values = [pseudonyms.replacement(span) for span in merged]  # document order matters
        ends = [0, *(span.end for span in merged)]
        starts = [
            # Never reach back into the previous replacement.
            max(_swallow_label(text, span, value), previous_end)
            for span, value, previous_end in zip(merged, values, ends, strict=False)
        ]
        # One operator per span: Presidio's operators are per entity type, and two spans of
        # one type may need different pseudonyms.
        keys = [f"SPAN_{i}" for i in range(len(merged))]
        result = self._anonymizer.anonymize(
            text=text,
            analyzer_results=[
                AnonymizerInput(key, start, span.end, span.score)
                for key, start, span in zip(keys, starts, merged, strict=True)
            ],
            operators={
                key: OperatorConfig("replace", {"new_value": value})
                for key, value in zip(keys, values, strict=True)
            },
        )
        by_key = dict(zip(keys, merged, strict=True))
        replacements = sorted(
            (
                Replacement(
                    item.start,
                    item.end,
                    by_key[item.entity_type].entity_type,
                    by_key[item.entity_type].text,
                    item.text,
                )
                for item in result.items
            ),
            key=lambda r: r.start,
        )
        return Redacted(result.text, tuple(replacements))

    def leaks(self, text: str, roster: Roster) -> list[Span]:
        """Fail-closed re-scan before publishing: anything on the roster, any secret or internal
        host, any e-mail, phone, card, IBAN, SSN or IP address still in `text`.

        Placeholders ("[EMAIL]") and pseudonyms ("Engineer A") are not leaks.
        """
        markers = [m.span() for m in MARKERS.finditer(text)]
        found = self._scans.get_or_make(
            (digest(text), roster, frozenset(), False),
            lambda: self._scan(text, self._index(roster), self._allow, full=False),
        )
        return [
            span
            for span in found
            if span.entity_type in LEAK_TYPES
            and not any(start <= span.start and span.end <= end for start, end in markers)
        ]

    def _nlp(self, text: str, *, full: bool) -> NlpArtifacts:
        engine = self._full_nlp if full else self._tokens_only
        return self._artifacts.get_or_make(
            (digest(text), full), lambda: engine.process_text(text, "en")
        )

    def _scan(self, text: str, index: RosterIndex, allow: AllowList, *, full: bool) -> list[Span]:
        results = self._analyzer.analyze(
            text=text,
            language="en",
            ad_hoc_recognizers=[RosterRecognizer(index)],
            score_threshold=self.score_threshold,
            nlp_artifacts=self._nlp(text, full=full),
        )
        spans: list[Span] = []
        for result in results:
            by = str((result.recognition_metadata or {}).get(RecognizerResult.RECOGNIZER_NAME_KEY))
            span: Span | None = span_at(
                text, result.start, result.end, result.entity_type, result.score, by
            )
            if span is None or not span.text.strip():
                continue
            if span.entity_type in GUESSED:
                span = refine_guess(text, span, allow)
            elif span.entity_type not in _NOT_ALLOWABLE and allow.allows(span.text):
                span = None
            if span is not None:
                spans.append(span)
        products = {
            s.text for s in spans if s.entity_type in GUESSED and used_as_product(text, s.text)
        }
        kept = [s for s in spans if s.text not in products]
        return whole_names(text, [*kept, *name_echoes(text, kept, allow)])


_WORD_BEFORE = re.compile(r"([^\W\d_]+)[ \u00a0]+$")


def _swallow_label(text: str, span: Span, value: str) -> int:
    """Where the replacement starts: before the span's own label word if the text has one.

    "our customer Globex" becomes "our Customer A", not "our customer Customer A".
    """
    label = label_of(value)
    if label is None:
        return span.start
    before = _WORD_BEFORE.search(text, max(0, span.start - 40), span.start)
    if before and fold(before.group(1)) == fold(label):
        return before.start(1)
    return span.start
