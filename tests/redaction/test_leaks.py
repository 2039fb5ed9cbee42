"""leaks(): the fail-closed re-scan before publishing."""

from __future__ import annotations

from govsvc.redaction import RedactionEngine, Roster

POST_MORTEM = (
    "At 14:32 UTC db-prod-7 stopped accepting writes. Maria Garcia (@mgarcia) paged "
    "Team Phoenix; John O'Brien's rollback of checkout-api fixed it at 15:10 UTC. Globex "
    "reported failures from 203.0.113.77; their contact Linda Zhao <linda.zhao@globex.example> "
    "left +1 415 555 0132. A config dump in OPS-1234 held password=hunter2x! and "
    "ghp_1234567890abcdefghijABCDEFGHIJ123456 for https://jenkins.corp.example.com/job/deploy."
)


def test_nothing_leaks_after_applying_the_preview(engine: RedactionEngine, roster: Roster) -> None:
    spans = engine.preview(POST_MORTEM, roster, extra_allow=["checkout-api"])
    redacted = engine.apply(POST_MORTEM, spans, roster)
    assert engine.leaks(redacted.text, roster) == []
    for kept in ("db-prod-7", "14:32 UTC", "checkout-api", "Engineer A", "Customer A"):
        assert kept in redacted.text


def test_a_rejected_span_leaks(engine: RedactionEngine, roster: Roster) -> None:
    spans = engine.preview(POST_MORTEM, roster)
    for rejected in ("Maria Garcia", "linda.zhao@globex.example", "203.0.113.77", "hunter2x!"):
        reviewed = [s for s in spans if s.text != rejected]
        redacted = engine.apply(POST_MORTEM, reviewed, roster)
        assert [s.text for s in engine.leaks(redacted.text, roster)] == [rejected]


def test_the_original_leaks_everything_that_matters(
    engine: RedactionEngine, roster: Roster
) -> None:
    types = {s.entity_type for s in engine.leaks(POST_MORTEM, roster)}
    assert types == {
        "ROSTER_PERSON",
        "ROSTER_TEAM",
        "CUSTOMER",
        "IP_ADDRESS",
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "SECRET",
        "INTERNAL_HOST",
    }


def test_placeholders_and_pseudonyms_are_not_leaks(engine: RedactionEngine) -> None:
    # Even against a roster whose entries look like what redaction writes.
    roster = Roster(teams=("Engineer",), customers=("Customer",))
    text = "Engineer A told Customer B; [EMAIL] and [SECRET] and [INTERNAL_HOST] stay."
    assert engine.leaks(text, roster) == []


def test_guessed_names_do_not_block_publishing(engine: RedactionEngine) -> None:
    # The model's guesses are for review; only certain findings fail closed.
    assert engine.leaks("We thank Linda Zhao for the report.", Roster()) == []
