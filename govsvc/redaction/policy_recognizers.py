"""Recognizers built from the redaction policy: secrets, account and ticket ids, internal hosts,
and URLs (kept when on a public status page, internal when on an internal domain)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

from govsvc.redaction.entities import ACCOUNT_ID, INTERNAL_HOST, SECRET, TICKET_ID, URL
from govsvc.redaction.finding import Finding, FindingRecognizer
from govsvc.redaction.patterns import PatternSpec, RedactionPatterns

_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}'\""  # punctuation that ends a sentence, not the URL


class PolicyPatternRecognizer(FindingRecognizer):
    """Regexes from the policy for one entity type; a `value` group narrows the span."""

    def __init__(self, entity_type: str, specs: Sequence[PatternSpec]) -> None:
        self.entity_type = entity_type
        self.specs = tuple(specs)
        super().__init__(name=f"policy:{entity_type.lower()}", entities=[entity_type])

    def find(self, text: str) -> Iterator[Finding]:
        for spec in self.specs:
            pattern = spec.compiled
            narrowed = "value" in pattern.groupindex
            for match in pattern.finditer(text):
                start, end = match.span("value") if narrowed else match.span()
                if start >= 0:
                    yield Finding(start, end, self.entity_type, spec.score)


def _domain_regex(domains: Iterable[str]) -> re.Pattern[str]:
    # At least one label before the domain: the word "internal" alone is prose, not a host.
    tails = "|".join(re.escape(d) for d in sorted(domains, key=len, reverse=True))
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    return re.compile(rf"(?<![\w.-])(?:{label}\.)+(?:{tails})\.?(?![\w-]|\.\w)", re.IGNORECASE)


def _under(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


class HostAndUrlRecognizer(FindingRecognizer):
    """INTERNAL_HOST for internal names (bare or in a URL); URL for other URLs not allowed."""

    def __init__(self, patterns: RedactionPatterns) -> None:
        self.internal_domains = tuple(patterns.internal_hosts.domains)
        self.host_patterns = tuple(patterns.internal_hosts.patterns)
        self.public_domains = tuple(patterns.public_url_domains)
        self._bare = _domain_regex(self.internal_domains)
        super().__init__(name="policy:hosts-and-urls", entities=[INTERNAL_HOST, URL])

    def _is_internal(self, host: str) -> bool:
        return _under(host, self.internal_domains) or any(
            spec.compiled.search(host) for spec in self.host_patterns
        )

    def find(self, text: str) -> Iterator[Finding]:
        for match in _URL.finditer(text):
            url = match.group().rstrip(_URL_TAIL)
            start, end = match.start(), match.start() + len(url)
            host = (urlsplit(url if "://" in url else "//" + url).hostname or "").rstrip(".")
            if self._is_internal(host):
                yield Finding(start, end, INTERNAL_HOST, 0.9)
            elif not _under(host, self.public_domains):
                yield Finding(start, end, URL, 0.6)
        for match in self._bare.finditer(text):
            yield Finding(match.start(), match.end(), INTERNAL_HOST, 0.9)
        for spec in self.host_patterns:
            for match in spec.compiled.finditer(text):
                yield Finding(match.start(), match.end(), INTERNAL_HOST, spec.score)


def policy_recognizers(patterns: RedactionPatterns) -> list[FindingRecognizer]:
    recognizers: list[FindingRecognizer] = [
        PolicyPatternRecognizer(SECRET, patterns.secrets),
        HostAndUrlRecognizer(patterns),
    ]
    if patterns.account_ids:
        recognizers.append(PolicyPatternRecognizer(ACCOUNT_ID, patterns.account_ids))
    if patterns.ticket_ids:
        recognizers.append(PolicyPatternRecognizer(TICKET_ID, patterns.ticket_ids))
    return recognizers
