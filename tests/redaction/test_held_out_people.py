"""Held-out texts: chat mentions, names with accents and hyphens, phone numbers of several
countries written a digit short, and customers named after the word "customer"."""

from __future__ import annotations

import pytest

from govsvc.redaction import RedactionEngine, Roster, RosterPerson

HANDOVER = (
    "14:02 UTC @kofi.mensah declared SEV2 in #inc-checkout; @priya_r took comms. "
    "14:09 @mgarcia (on the roster) rolled back build 8841. @here: next update at 14:30 UTC."
)


def _redact(engine: RedactionEngine, text: str, roster: Roster) -> str:
    return engine.apply(text, engine.preview(text, roster), roster).text


def test_chat_mentions_are_people_on_the_roster_or_not(
    engine: RedactionEngine, roster: Roster
) -> None:
    # given a chat handover with mentions of people the roster knows and does not know
    # when it is redacted
    public = _redact(engine, HANDOVER, roster)
    # then every mention is a pseudonym, the roster person an engineer, the broadcast kept
    for handle in ("kofi", "priya", "mgarcia"):
        assert handle not in public
    assert public == (
        "14:02 UTC Person A declared SEV2 in #inc-checkout; Person B took comms. "
        "14:09 Engineer A (on the roster) rolled back build 8841. @here: next update at 14:30 UTC."
    )
    # and an unredacted mention is a leak the fail-closed re-scan refuses
    assert [s.text for s in engine.leaks("Thanks @kofi.mensah for the fix.", Roster())] == [
        "@kofi.mensah"
    ]


def test_a_roster_address_written_as_a_mention_is_that_engineer(
    engine: RedactionEngine, roster: Roster
) -> None:
    text = "Maria Garcia joined; @maria.garcia then paged @jobrien."
    assert _redact(engine, text, roster) == "Engineer A joined; Engineer A then paged Engineer B."


@pytest.mark.parametrize(
    "number",
    [
        "+44 20 7946 095",  # London, a digit short
        "+44 7700 90012",  # UK mobile, a digit short
        "+1 (415) 555-013",  # US, a digit short
        "+33 1 42 68 53 0",  # Paris, a digit short
        "+91 98765 4321",  # India, a digit short
        "+61 2 9374 423",  # Sydney, a digit short
        "0044 20 7946 095",  # international prefix written as 00, a digit short
    ],
)
def test_international_numbers_leak_whatever_their_length(
    engine: RedactionEngine, number: str
) -> None:
    text = f"The customer's contact left {number} on the bridge call at 14:20 UTC."
    public = _redact(engine, text, Roster())
    assert public == "The customer's contact left [PHONE] on the bridge call at 14:20 UTC."
    assert [s.entity_type for s in engine.leaks(text, Roster())] == ["PHONE_NUMBER"]


def test_short_national_numbers_go_when_called_a_phone_and_build_numbers_stay(
    engine: RedactionEngine,
) -> None:
    text = (
        "Her mobile is (415) 555-013 and the desk phone 020 7946 095. "
        "Build 2026 12 01 shipped at 2026-12-01 14:05; p99 rose to 1200 ms on port 8443."
    )
    assert _redact(engine, text, Roster()) == (
        "Her mobile is [PHONE] and the desk phone [PHONE]. "
        "Build 2026 12 01 shipped at 2026-12-01 14:05; p99 rose to 1200 ms on port 8443."
    )


def test_names_with_accents_are_found_without_a_roster(engine: RedactionEngine) -> None:
    # given names the small English model reads as organisations or misses altogether
    text = (
        "Çağlar Söyüncü restarted the consumer group at 14:10. Björn Ulvaeus noticed the lag "
        "in Grafana first, and Søren Kierkegaard-Ørsted reverted the schema change. "
        "Thanks to Zoë Ångström, José Núñez and Łukasz Wójcik for the quick review. "
        "The São Paulo region was not affected."
    )
    public = _redact(engine, text, Roster())
    # then none of them is left, in whole or in part, and the place stays
    for part in (
        "Çağlar",
        "Söyüncü",
        "Björn",
        "Ulvaeus",
        "Søren",
        "Kierkegaard",
        "Ørsted",
        "Zoë",
        "Ångström",
        "José",
        "Núñez",
        "Łukasz",
        "Wójcik",
    ):
        assert part not in public
    assert public == (
        "Person A restarted the consumer group at 14:10. Person B noticed the lag "
        "in Grafana first, and Person C reverted the schema change. "
        "Thanks to Person D, Person E and Person F for the quick review. "
        "The São Paulo region was not affected."
    )


def test_hyphenated_names_are_replaced_whole(engine: RedactionEngine) -> None:
    # given hyphenated names, on the roster and not, written in full and in part
    roster = Roster(people=(RosterPerson("Anne-Marie Dubois-Laurent"),))
    text = (
        "Escalated to Jean-Luc Picard at 03:10. Anne-Marie Dubois took over; "
        "François Mitterrand-Dupont deployed the patch and Mitterrand-Dupont verified it."
    )
    public = _redact(engine, text, roster)
    # then no part of a name stays beside its pseudonym, one person one pseudonym
    for part in ("Jean", "Luc", "Anne", "Marie", "Dubois", "Mitterrand", "Dupont"):
        assert part not in public
    assert public == (
        "Escalated to Person A at 03:10. Engineer A took over; "
        "Person B deployed the patch and Person B verified it."
    )


def test_a_placeholder_does_not_repeat_the_word_before_it(
    engine: RedactionEngine, roster: Roster
) -> None:
    text = "Our customer Globex saw errors; the engineer Maria Garcia paged customer Acme Widgets."
    assert _redact(engine, text, roster) == (
        "Our Customer A saw errors; the Engineer A paged Customer B."
    )
