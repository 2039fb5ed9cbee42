"""apply(): exactly the reviewed spans, typed placeholders, consistent pseudonyms."""

from __future__ import annotations

import pytest

from govsvc.redaction import RedactionEngine, Roster, Span


def _span(text: str, value: str, entity_type: str, occurrence: int = 0) -> Span:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(value, start + 1)
    return Span(start, start + len(value), entity_type, value, 1.0, "reviewer")


def test_one_person_one_pseudonym_however_written(engine: RedactionEngine, roster: Roster) -> None:
    text = (
        "John O'Brien declared the incident. Maria Garcia (maria.garcia@example.com) took it; "
        "Maria's rollback and @mgarcia's follow-up were reviewed by O'Brien. mgarcia closed it."
    )
    redacted = engine.apply(text, engine.preview(text, roster), roster)
    assert redacted.text == (
        "Engineer A declared the incident. Engineer B (Engineer B) took it; "
        "Engineer B's rollback and Engineer B's follow-up were reviewed by Engineer A. "
        "Engineer B closed it."
    )


def test_people_off_the_roster_are_persons(engine: RedactionEngine, roster: Roster) -> None:
    text = "Maria Garcia called Linda Zhao at Globex; later Zhao and Maria agreed on a fix."
    redacted = engine.apply(text, engine.preview(text, roster), roster)
    assert redacted.text == (
        "Engineer A called Person A at Customer A; later Person A and Engineer A agreed on a fix."
    )


def test_customers_and_teams(engine: RedactionEngine, roster: Roster) -> None:
    text = "Globex and Acme Widgets GmbH were hit; Team Phoenix told Acme Widgets and globex."
    redacted = engine.apply(text, engine.preview(text, roster), roster)
    assert redacted.text == (
        "Customer A and Customer B were hit; [TEAM] told Customer B and Customer A."
    )


def test_placeholders_per_type(engine: RedactionEngine) -> None:
    text = (
        "Mail ops@contoso.org or call +1 415 555 0132 from 203.0.113.77 about "
        "https://grafana.corp.example.com/d/x and OPS-77; key AKIAIOSFODNN7EXAMPLE."
    )
    redacted = engine.apply(text, engine.preview(text, Roster()), Roster())
    assert redacted.text == (
        "Mail [EMAIL] or call [PHONE] from [IP] about [INTERNAL_HOST] and [TICKET]; key [SECRET]."
    )
    assert [(r.entity_type, r.replacement) for r in redacted.replacements][:2] == [
        ("EMAIL_ADDRESS", "[EMAIL]"),
        ("PHONE_NUMBER", "[PHONE]"),
    ]
    first = redacted.replacements[0]
    assert redacted.text[first.start : first.end] == "[EMAIL]"
    assert first.original == "ops@contoso.org"


def test_applies_exactly_the_reviewed_spans(engine: RedactionEngine, roster: Roster) -> None:
    text = "Maria paged Kubernetes on-call about OPS-12 and the Zeta cluster."
    proposed = engine.preview(text, roster)
    kept = [s for s in proposed if s.entity_type != "TICKET_ID"]  # reviewer rejected the ticket
    added = _span(text, "Zeta", "INTERNAL_HOST")  # and added a code name
    redacted = engine.apply(text, [*kept, added], roster)
    assert (
        redacted.text
        == "Engineer A paged Kubernetes on-call about OPS-12 and the [INTERNAL_HOST] cluster."
    )


def test_overlapping_spans_are_redacted_as_their_union(engine: RedactionEngine) -> None:
    text = "See https://acme.example/orders?user=Maria now."
    url = _span(text, "https://acme.example/orders?user=Maria", "URL")
    name = _span(text, "Maria", "PERSON")
    assert engine.apply(text, [name, url], Roster()).text == "See [URL] now."


def test_refuses_spans_of_another_text(engine: RedactionEngine) -> None:
    with pytest.raises(ValueError, match="another version of the text"):
        engine.apply("Mario paged", [Span(0, 5, "PERSON", "Maria", 1.0, "x")], Roster())


def test_a_span_must_fit_its_text() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        Span(0, 3, "PERSON", "Maria", 1.0, "x")
