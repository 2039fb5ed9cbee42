"""One engine, many threads: the way anyio.to_thread.run_sync would use it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from govsvc.redaction import RedactionEngine, Roster, RosterPerson

TEXTS = [
    f"{name} paged {other} at 14:{i:02d} UTC; mail {name.split()[0].lower()}@contoso.org."
    for i, (name, other) in enumerate(
        [("Maria Garcia", "Team Phoenix"), ("Linda Zhao", "Globex"), ("Omar Haddad", "Initech")] * 4
    )
]


def test_concurrent_calls_match_sequential_ones(engine: RedactionEngine) -> None:
    roster = Roster(people=(RosterPerson("Maria Garcia"),), teams=("Team Phoenix",))
    expected = [engine.apply(t, engine.preview(t, roster), roster).text for t in TEXTS]

    def redact(text: str) -> str:
        return engine.apply(text, engine.preview(text, roster), roster).text

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(redact, TEXTS)) == expected
