"""policies/redaction.yaml: the shipped file loads; a broken one names the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from govsvc.policy_files import PolicyFileError
from govsvc.redaction import RedactionPatternsError, load_redaction_patterns
from tests.redaction.conftest import POLICY_FILE

VALID = """\
version: "2026.1"
internal_hosts:
  domains: ["*.corp.example.com"]
secrets:
  - name: aws-access-key-id
    regex: '\\bAKIA[A-Z0-9]{16}\\b'
"""


def _load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "redaction.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RedactionPatternsError) as raised:
        load_redaction_patterns(path)
    assert isinstance(raised.value, PolicyFileError)
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid redaction patterns")
    return message


def test_the_shipped_policy_loads() -> None:
    patterns = load_redaction_patterns(POLICY_FILE)
    assert patterns.ner_entities == ["PERSON"]
    assert "corp.example.com" in patterns.internal_hosts.domains
    assert {s.name for s in patterns.secrets} >= {"aws-access-key-id", "pem-private-key"}


def test_a_minimal_policy_loads(tmp_path: Path) -> None:
    path = tmp_path / "redaction.yaml"
    path.write_text(VALID, encoding="utf-8")
    patterns = load_redaction_patterns(path)
    assert patterns.internal_hosts.domains == ["corp.example.com"]
    assert patterns.account_ids == []


def test_a_broken_regex_names_its_line(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID.replace("[A-Z0-9]{16}", "[A-Z0-9{16}"))
    assert "secrets.0.regex (line 6)" in message
    assert "not a valid regular expression" in message


def test_a_regex_matching_nothing_at_all_is_refused(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID.replace("'\\bAKIA[A-Z0-9]{16}\\b'", "'(?:x)*'"))
    assert "secrets.0.regex (line 6)" in message
    assert "matches empty text" in message


def test_an_unknown_key_names_its_line(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID + "    severity: high\n")
    assert "secrets.0.severity (line 7): unknown key 'severity'" in message


def test_a_bad_domain_names_its_line(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID.replace('"*.corp.example.com"', '"corp example com"'))
    assert "internal_hosts.domains.0 (line 3)" in message
    assert "not a domain name" in message


def test_a_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID + 'version: "2026.2"\n')
    assert "line 7" in message
    assert "first on line 1" in message


def test_repeated_pattern_names_are_refused(tmp_path: Path) -> None:
    repeated = VALID + "  - name: aws-access-key-id\n    regex: 'ASIA[A-Z0-9]{16}'\n"
    assert "repeated: aws-access-key-id" in _load(tmp_path, repeated)


def test_a_score_out_of_range_names_its_line(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID + "    score: 1.5\n")
    assert "secrets.0.score (line 7)" in message


def test_an_unknown_ner_entity_is_refused(tmp_path: Path) -> None:
    message = _load(tmp_path, VALID + "ner_entities: [PERSON, ORGANIZATION]\n")
    assert "ner_entities.1 (line 7)" in message
