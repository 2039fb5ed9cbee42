"""Roster entries never leak, however they are written."""

from __future__ import annotations

import pytest

from govsvc.redaction import RedactionEngine, Roster, RosterPerson, RosterRecognizer

LEAKY = [
    ("Maria Garcia paged the on-call.", "Maria Garcia"),
    ("maria garcia paged the on-call.", "maria garcia"),
    ("MARIA GARCIA paged the on-call.", "MARIA GARCIA"),
    ("Maria rolled back.", "Maria"),
    ("Garcia rolled back.", "Garcia"),
    ("Maria's change broke it.", "Maria"),
    ("Maria\u2019s change broke it.", "Maria"),
    ("Garcia, Maria approved it.", "Garcia, Maria"),
    ("M. Garcia approved it.", "M. Garcia"),
    ("Mail maria.garcia@example.com for details.", "maria.garcia@example.com"),
    ("Mail Maria.Garcia@other-corp.net for details.", "Maria.Garcia@other-corp.net"),
    ("Mail mgarcia+alerts@example.com for details.", "mgarcia+alerts@example.com"),
    ("user=maria.garcia was locked out.", "maria.garcia"),
    ("@mgarcia acked the page.", "@mgarcia"),
    ("Paged mgarcia at 14:32 UTC.", "mgarcia"),
    ("[14:32 UTC] mgarcia: restarting pgbouncer", "mgarcia"),
    ("John O'Brien's fix landed.", "John O'Brien"),
    ("O'Brien reviewed it.", "O'Brien"),
    ("@jobrien reviewed it.", "@jobrien"),
    ("Celine Noel joined the bridge.", "Celine Noel"),
    ("Céline joined the bridge.", "Céline"),
    ("Will Grant joined the bridge.", "Will Grant"),
    ("Then Grant restarted it.", "Grant"),
    ("Team Phoenix owned the response.", "Team Phoenix"),
    ("Phoenix owned the response.", "Phoenix"),
    ("Escalated to payments-sre in Slack.", "payments-sre"),
    ("Acme Widgets GmbH reported errors.", "Acme Widgets GmbH"),
    ("Acme Widgets reported errors.", "Acme Widgets"),
    ("globex reported errors.", "globex"),
]


@pytest.mark.parametrize(("text", "name"), LEAKY)
def test_roster_entry_is_found(
    engine: RedactionEngine, roster: Roster, text: str, name: str
) -> None:
    spans = engine.preview(text, roster)
    start = text.index(name)
    assert (start, start + len(name)) in [(s.start, s.end) for s in spans]
    redacted = engine.apply(text, spans, roster)
    assert name.lower() not in redacted.text.lower()
    assert engine.leaks(redacted.text, roster) == []


@pytest.mark.parametrize(
    "text",
    [
        "We will grant access tomorrow.",  # everyday words that are also roster names
        "Garcias and Marias are not on the roster.",  # no partial words
        "The mgarcia2 account is a different one.",
    ],
)
def test_words_that_only_look_like_roster_entries_stay(
    engine: RedactionEngine, roster: Roster, text: str
) -> None:
    assert [s for s in engine.preview(text, roster) if s.entity_type.startswith("ROSTER")] == []


def test_short_handles_match_bare_and_common_word_handles_only_with_at(
    engine: RedactionEngine,
) -> None:
    roster = Roster(people=(RosterPerson("Robert Li", handles=("rli", "will")),))
    found = [s.text for s in engine.preview("rli paged @will; we will retry.", roster)]
    assert found == ["rli", "@will"]


def test_roster_types(engine: RedactionEngine, roster: Roster) -> None:
    text = "Maria from Team Phoenix told Globex."
    assert [s.entity_type for s in engine.preview(text, roster)] == [
        "ROSTER_PERSON",
        "ROSTER_TEAM",
        "CUSTOMER",
    ]


def test_roster_beats_the_allow_list(roster: Roster, engine: RedactionEngine) -> None:
    # A person called Jenkins is still a person, whatever the allow-list says about Jenkins.
    jenkins = Roster(people=(RosterPerson("Sam Jenkins"),))
    spans = engine.preview("Jenkins restarted Jenkins.", jenkins, extra_allow=["Jenkins"])
    assert [s.text for s in spans] == ["Jenkins", "Jenkins"]


def test_roster_recognizer_is_a_presidio_recognizer(roster: Roster) -> None:
    recognizer = RosterRecognizer(roster)
    results = recognizer.analyze("Ping @mgarcia and Globex.", entities=[])
    assert [(r.entity_type, r.start, r.end) for r in results] == [
        ("ROSTER_PERSON", 5, 13),
        ("CUSTOMER", 18, 24),
    ]
