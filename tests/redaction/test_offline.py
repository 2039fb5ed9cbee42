"""Nothing phones home: not the model, not the suffix list behind e-mail validation."""

from __future__ import annotations

import socket
from typing import Any, NoReturn

import pytest
import spacy.cli

from govsvc.redaction import (
    ModelNotInstalledError,
    RedactionEngine,
    RedactionPatterns,
    Roster,
    RosterPerson,
)
from govsvc.redaction.nlp import load_pipeline


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every attempt to resolve or connect fails, and is recorded."""
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def refused(*args: object, **kwargs: object) -> NoReturn:
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise OSError(f"network disabled in this test: {what}")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


@pytest.mark.slow  # builds an engine of its own
def test_building_and_using_an_engine_needs_no_network(
    no_network: list[str], patterns: RedactionPatterns
) -> None:
    engine = RedactionEngine(patterns=patterns)  # loads the model and every recognizer
    roster = Roster(people=(RosterPerson("Maria Garcia", handles=("mgarcia",)),))
    text = (
        "Maria Garcia mailed ops@contoso.org, оператор@xn--80ak6aa92e.xn--p1ai and "
        "oncall@payments.internal about https://status.cloud.google.com/incidents/x and "
        "https://pastebin.com/raw/abc; lodash@4.17.21 stays."
    )
    spans = engine.preview(text, roster)
    assert [s.entity_type for s in spans] == [
        "ROSTER_PERSON",
        "EMAIL_ADDRESS",
        "EMAIL_ADDRESS",
        "EMAIL_ADDRESS",
        "URL",
    ]
    redacted = engine.apply(text, spans, roster)
    assert engine.leaks(redacted.text, roster) == []
    assert no_network == []


def test_a_missing_model_is_an_error_not_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def download(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("spacy.cli.download must never run")

    monkeypatch.setattr(spacy.cli, "download", download)
    with pytest.raises(ModelNotInstalledError, match="never downloaded at run time"):
        load_pipeline("en_core_web_nonexistent")


def test_the_default_model_name_loads_the_installed_package() -> None:
    pipeline = load_pipeline()
    assert pipeline.meta["name"].startswith("core_web_sm")
    assert "ner" in pipeline.pipe_names
