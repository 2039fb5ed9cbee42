"""One fixed sample per kind of sensitive value: found, typed, and exactly delimited."""

from __future__ import annotations

import itertools

import pytest

from govsvc.redaction import RedactionEngine, Roster

# The sensitive value in each sample is between « and ».
SAMPLES = [
    ("EMAIL_ADDRESS", "E-mail the reporter at «dana.jones@contoso.org» today."),
    ("PHONE_NUMBER", "Call the customer back on «+1 415 555 0132» after the fix."),
    ("PHONE_NUMBER", "A UK caller left «+44 20 7946 0958» in the ticket."),
    ("CREDIT_CARD", "The log line held card «4111 1111 1111 1111» in clear."),
    ("CREDIT_CARD", "A Mastercard 2-series number «2223000048400011» was logged."),
    ("IBAN_CODE", "Refund to IBAN «DE89 3704 0044 0532 0130 00» failed."),
    ("IP_ADDRESS", "Traffic from «203.0.113.77» hit the limiter."),
    ("IP_ADDRESS", "The pod at «2001:db8::8a2e:370:7334» answered."),
    ("US_SSN", "The export included SSN «219-09-9999» by mistake."),
    ("URL", "A screenshot was shared at «https://pastebin.com/raw/x8Hk2» by a customer."),
    ("INTERNAL_HOST", "We paged via «https://grafana.corp.example.com/d/abc?orgId=1» first."),
    ("INTERNAL_HOST", "Writes to «db-prod-7.corp.example.com» timed out."),
    ("INTERNAL_HOST", "The node «ip-10-0-3-17» was drained."),
    ("INTERNAL_HOST", "The resolver asked «payments.prod.svc.cluster.local» twice."),
    ("ACCOUNT_ID", "Stripe account «acct_1A2b3C4d5E6f» was affected."),
    ("ACCOUNT_ID", "Billing account number «4410-2291-0037» was double-charged."),
    ("TICKET_ID", "Follow-up is tracked in «OPS-1234»."),
    ("PERSON", "We thank «Linda Zhao» for reporting the issue."),
]


@pytest.mark.parametrize(("entity_type", "marked"), SAMPLES)
def test_each_kind_is_found_exactly(engine: RedactionEngine, entity_type: str, marked: str) -> None:
    start, end = marked.index("«"), marked.index("»") - 1
    text = marked.replace("«", "").replace("»", "")
    spans = engine.preview(text, Roster())
    assert [(s.start, s.end, s.entity_type) for s in spans] == [(start, end, entity_type)]


def test_public_status_pages_stay(engine: RedactionEngine) -> None:
    text = (
        "We followed https://www.githubstatus.com/ and https://health.aws.amazon.com/health/status."
    )
    assert engine.preview(text, Roster()) == []


def test_lookalikes_are_not_flagged(engine: RedactionEngine) -> None:
    text = (
        "Commit 3f9c2e1d0b8a7c6e5f4d3c2b1a0f9e8d7c6b5a4f, "
        "request 6f1c2a9e-4b7d-4e2a-9c1f-2d3e4f5a6b7c, "
        "CVE-2024-3094, ERR-5021, SEV-2, UTF-8 and SHA-256 are not secrets, tickets or phones; "
        "p99 rose to 4200 ms on port 5432 at 14:32 UTC, and lodash@4.17.21 is a package."
    )
    assert engine.preview(text, Roster()) == []


def test_spans_are_sorted_and_disjoint(engine: RedactionEngine) -> None:
    text = "Mail ops@contoso.org from 203.0.113.77, then call +1 415 555 0132."
    spans = engine.preview(text, Roster())
    assert [s.entity_type for s in spans] == ["EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
