"""Presidio's own recognizers, chosen one by one and kept off the network.

Chosen rather than `load_predefined_recognizers()`, which would also bring in dozens of
country-specific ids (and their false positives on ticket numbers and build ids) and would
follow Presidio's defaults if they change between releases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UsSsnRecognizer,
)

from govsvc.redaction.entities import PERSON


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, validating domains without the network, and fail-closed.

    The stock one calls `tldextract.extract`, whose default extractor fetches the public
    suffix list over HTTP on first use (and caches it under $HOME). Here no URL is given and
    no cache is kept, so tldextract reads the snapshot shipped inside the package.

    The stock check also drops addresses on domains that are not public ("oncall@db.corp",
    "x@host.example"), which is where internal addresses live. Here an address passes when its
    domain has a public suffix (which covers IDN "xn--" suffixes) or ends in a label of letters;
    what fails is a package pin like "lodash@4.17.21".
    """

    def __init__(self, internal_domains: Iterable[str] = ()) -> None:
        super().__init__()
        self._extract = tldextract.TLDExtract(
            cache_dir=None,
            suffix_list_urls=(),
            fallback_to_snapshot=True,
            extra_suffixes=tuple(internal_domains),
        )

    def validate_result(self, pattern_text: str) -> bool:
        domain = pattern_text.rsplit("@", 1)[-1]
        last_label = domain.rsplit(".", 1)[-1]
        return (last_label.isalpha() and len(last_label) >= 2) or self._extract(domain).fqdn != ""


# Presidio's card pattern, with Mastercard's 2-series (2221-2720, issued since 2017) added.
# Still Luhn-checked by CreditCardRecognizer, so a build number does not pass for a card.
CARD_PATTERN = Pattern(
    "All Credit Cards (weak)",
    r"\b(?!1\d{12}(?!\d))(4\d{3}|5[0-5]\d{2}|2[2-7]\d{2}|6\d{3}|1\d{3}|3\d{3})"
    r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b",
    0.3,
)


class WindowedPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer, run only over the stretches of text that hold digits.

    libphonenumber's matcher scans the whole text once per calling region (twelve here), which
    cost as much as the spaCy pipeline on a post-mortem. A phone number is a run of digits,
    spaces and punctuation, so the matcher is given those runs (with a little margin, since it
    looks at the characters beside a number) and its offsets are shifted back.
    """

    _CANDIDATE = re.compile(r"[+(]?\d[\d\s().\-/\u2013]*\d\)?")
    _MARGIN = 3
    _MIN_DIGITS = 5  # below any region's shortest subscriber number

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        for start, end in self._windows(text):
            # Presidio annotates the artifacts as required, but never reads them here.
            window = text[start:end]
            for result in super().analyze(window, entities, nlp_artifacts):  # type: ignore[arg-type]
                result.start += start
                result.end += start
                results.append(result)
        return EntityRecognizer.remove_duplicates(results)

    def _windows(self, text: str) -> list[tuple[int, int]]:
        windows: list[tuple[int, int]] = []
        for match in self._CANDIDATE.finditer(text):
            if sum(c.isdigit() for c in match.group()) < self._MIN_DIGITS:
                continue
            start = max(0, match.start() - self._MARGIN)
            end = min(len(text), match.end() + self._MARGIN)
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], end)
            else:
                windows.append((start, end))
        return windows


# Calling regions for numbers written without a country code; numbers with "+CC" are found
# whatever this says.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "IE", "NL", "ES", "BR", "IL")


def builtin_recognizers(
    *, ner_entities: Sequence[str] = (PERSON,), internal_domains: Iterable[str] = ()
) -> list[EntityRecognizer]:
    return [
        OfflineEmailRecognizer(internal_domains),
        WindowedPhoneRecognizer(supported_regions=PHONE_REGIONS),
        CreditCardRecognizer(patterns=[CARD_PATTERN]),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SpacyRecognizer(supported_entities=list(ner_entities)),
    ]
