"""Phone numbers whose length does not fit their country's plan, which libphonenumber refuses.

Presidio's PhoneRecognizer keeps only numbers libphonenumber calls valid, so a London number
written a digit short ("+44 20 7946 095") or a US number missing one ("(415) 555-013") stays
in the text whole. A number written with a "+" and a country code is a phone number whatever
its length; a national one is taken only in a phone's shape and with a word about phones
near it (the context enhancer lifts it), so build ids, ports and dates stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from govsvc.redaction.entities import PHONE_NUMBER
from govsvc.redaction.finding import Finding, FindingRecognizer

# "+44 20 7946 095", "+1 (415) 555-013", "+33.1.42.68.53.0", "0044 20 7946 095"
_INTERNATIONAL = re.compile(
    # After "00" a separator must follow the country code: "0010149" is a commit, not a phone.
    r"(?<![\w+.])(?:\+[1-9]\d{0,2}|00[1-9]\d{0,2}(?=[\s.(-]))(?:[\s.-]?\(?\d{1,5}\)?){1,6}"
    r"(?![\w.]\d)"
)
# "(415) 555-013", "020 7946 095", "030-123 4567": grouped digits, as people write phones.
_NATIONAL = re.compile(
    r"(?<![\w.+-])(?!(?:19|20)\d\d[-./ ]\d\d[-./ ]\d\d)"  # not a date
    r"(?:\(\d{2,5}\)\s?|\d{2,5}[\s.-])\d{2,4}(?:[\s.-]\d{2,5}){0,2}(?![\w.]?\d)"
)
_DIGITS_INTERNATIONAL = range(7, 16)  # E.164 allows at most 15 digits
_DIGITS_NATIONAL = range(7, 13)

NATIONAL_SCORE: Final = 0.2  # under the threshold unless a word about phones stands near it
INTERNATIONAL_SCORE: Final = 0.7

PHONE_WORDS: Final = [
    "phone",
    "call",
    "called",
    "tel",
    "telephone",
    "mobile",
    "cell",
    "number",
    "dial",
    "reach",
    "ring",
    "sms",
    "text",
    "whatsapp",
    "signal",
    "landline",
    "fax",
    "hotline",
    "extension",
    "ext",
]


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def find_phones(text: str) -> Iterator[Finding]:
    for match in _INTERNATIONAL.finditer(text):
        raw = match.group().rstrip(" .-(")
        if raw.endswith(")") and raw.count(")") > raw.count("("):
            raw = raw[:-1]  # "(call +44 20 7946 095)": the bracket closes the sentence's
        if _digits(raw) in _DIGITS_INTERNATIONAL:
            yield Finding(
                match.start(), match.start() + len(raw), PHONE_NUMBER, INTERNATIONAL_SCORE
            )
    for match in _NATIONAL.finditer(text):
        if _digits(match.group()) in _DIGITS_NATIONAL:
            yield Finding(match.start(), match.end(), PHONE_NUMBER, NATIONAL_SCORE)


class LenientPhoneRecognizer(FindingRecognizer):
    """Phone numbers of any length: international ones outright, national ones in context."""

    NAME: Final = "lenient-phone"

    def __init__(self) -> None:
        super().__init__(name=self.NAME, entities=[PHONE_NUMBER], context=PHONE_WORDS)

    def find(self, text: str) -> Iterator[Finding]:
        return find_phones(text)
