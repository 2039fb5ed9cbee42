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


# Calling regions for numbers written without a country code; numbers with "+CC" are found
# whatever this says.
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "IE", "NL", "ES", "BR", "IL")


def builtin_recognizers(
    *, ner_entities: Sequence[str] = (PERSON,), internal_domains: Iterable[str] = ()
) -> list[EntityRecognizer]:
    return [
        OfflineEmailRecognizer(internal_domains),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        CreditCardRecognizer(patterns=[CARD_PATTERN]),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SpacyRecognizer(supported_entities=list(ner_entities)),
    ]
