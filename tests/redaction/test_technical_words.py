"""Technical words survive: host names, products, time zones, severities, service names."""

from __future__ import annotations

import pytest

from govsvc.redaction import RedactionEngine, RedactionPatterns, Roster

TECHNICAL = [
    "At 14:32 UTC db-prod-7 started refusing connections.",
    "UTC db-prod-7 was drained.",
    "Kubernetes evicted the pods and Jenkins retried the deploy.",
    "Kafka consumer lag rose while Grafana showed 502s.",
    "SEV1 declared; later downgraded to SEV-2 and P3.",
    "Traffic moved from us-east-1 to eu-west-1.",
    "The Rollbar alert fired; Rollbar kept paging.",
    "Cloud SQL failed over.",
    "HTTP 502 Bad Gateway and 504 Gateway Timeout from the edge.",
    "Runbook: restart the OrderService pods.",
]


@pytest.mark.parametrize("text", TECHNICAL)
def test_technical_words_survive(engine: RedactionEngine, text: str) -> None:
    assert engine.preview(text, Roster()) == []


def test_service_names_are_allowed_per_call(engine: RedactionEngine) -> None:
    text = "We thank Falcon Nimbus for the fast rollback."
    assert engine.preview(text, Roster()) != []  # reads like a name
    assert engine.preview(text, Roster(), extra_allow=["Falcon", "Nimbus"]) == []


def test_constructor_allow_list(patterns: RedactionPatterns) -> None:
    engine = RedactionEngine(patterns=patterns, allow_list=["Zorblax"])
    assert engine.preview("Zorblax restarted the pods.", Roster()) == []


def test_a_host_naming_scheme_is_redacted_when_the_policy_says_so(
    patterns: RedactionPatterns,
) -> None:
    data = patterns.model_dump()
    data["internal_hosts"]["patterns"].append({"name": "db-hosts", "regex": r"\bdb-prod-\d+\b"})
    strict = RedactionPatterns.model_validate(data)
    engine = RedactionEngine(patterns=strict)
    spans = engine.preview("At 14:32 UTC db-prod-7 failed.", Roster())
    assert [(s.text, s.entity_type) for s in spans] == [("db-prod-7", "INTERNAL_HOST")]
