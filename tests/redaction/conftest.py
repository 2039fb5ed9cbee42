"""One redaction engine for the whole run: loading the spaCy model is the slow part."""

from __future__ import annotations

from pathlib import Path

import pytest

from govsvc.redaction import (
    RedactionEngine,
    RedactionPatterns,
    Roster,
    RosterPerson,
    load_redaction_patterns,
)
from tests.conftest import SHARED

POLICY_FILE = Path(__file__).resolve().parents[2] / "policies" / "redaction.yaml"


@pytest.fixture(scope="session")
def patterns() -> RedactionPatterns:
    return load_redaction_patterns(POLICY_FILE)


@pytest.fixture(scope="session")
def engine() -> RedactionEngine:
    """The same engine the database tests' runtimes share (over POLICY_FILE)."""
    return SHARED.engine()


@pytest.fixture
def roster() -> Roster:
    return Roster(
        people=(
            RosterPerson(
                "Maria Garcia", emails=("maria.garcia@example.com",), handles=("mgarcia",)
            ),
            RosterPerson("John O'Brien", emails=("jobrien@example.com",), handles=("@jobrien",)),
            RosterPerson("Céline Noël", handles=("cnoel",)),
            RosterPerson("Will Grant"),
        ),
        teams=("Team Phoenix", "Payments SRE"),
        customers=("Acme Widgets GmbH", "Globex"),
    )
