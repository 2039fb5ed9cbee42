"""Presidio's own recognizers, chosen one by one and kept off the network.

Chosen rather than `load_predefined_recognizers()`, which would also bring in dozens of
country-specific ids (and their false positives on ticket numbers and build ids) and would
follow Presidio's defaults if they change between releases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import tldextract
from presidio_analyzer import EntityRecognizer, Pattern
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
    """Presidio's e-mail recognizer, validating domains against the bundled suffix list.

    The stock one calls `tldextract.extract`, whose default extractor fetches the public
    suffix list over HTTP on first use (and caches it under $HOME). Here no URL is given and
    no cache is kept, so tldextract reads the snapshot shipped inside the package. Internal
    domains count as suffixes, so "oncall@payments.internal" is still an address, while
    "lodash@4.17.21" is not.
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
        return self._extract(pattern_text.rsplit("@", 1)[-1]).fqdn != ""


class CardRecognizer(CreditCardRecognizer):
    """Presidio's card recognizer, also knowing Mastercard's 2-series (2221-2720, since 2017).

    Still Luhn-checked by the parent class, so a build number does not pass for a card.
    """

    PATTERNS = [
        Pattern(
            "All Credit Cards (weak)",
            r"\b(?!1\d{12}(?!\d))(4\d{3}|5[0-5]\d{2}|2[2-7]\d{2}|6\d{3}|1\d{3}|3\d{3})"
            r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b",
            0.3,
        ),
    ]


# Calling regions for numbers written without a country code; numbers with "+CC" are found
# whatever this says.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "IE", "NL", "ES", "BR", "IL")


def builtin_recognizers(
    *, ner_entities: Sequence[str] = (PERSON,), internal_domains: Iterable[str] = ()
) -> list[EntityRecognizer]:
    return [
        OfflineEmailRecognizer(internal_domains),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        CardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SpacyRecognizer(supported_entities=list(ner_entities)),
    ]
