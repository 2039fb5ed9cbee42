"""Runbook files (policies/runbooks/*.yaml) and their rules: the repository's load, and a bad
file is refused with its name and the line at fault."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govsvc.authz.policy import AccessPolicy
from govsvc.incidents.taxonomy import load_taxonomy
from govsvc.runbooks.book import (
    RunbookFileError,
    RunbookRulesError,
    load_runbook,
    load_runbooks,
    render,
)

POLICIES = Path(__file__).parents[2] / "policies"
TAGS = load_taxonomy(POLICIES / "taxonomy.yaml").tags
ROLES = AccessPolicy(POLICIES).roles

GOOD = """\
id: db-restart
title: Restart the database proxy
current: 2
versions:
  - version: 1
    effective: 2026-01-01
    match:
      tags: [database]
    steps:
      - key: look
        kind: manual
        title: Look at the dashboards
        instructions: Check the connection pool graphs.
  - version: 2
    effective: 2026-02-01
    match:
      tags: [database]
      severities: [SEV2, SEV3]
    steps:
      - key: look
        kind: manual
        title: Look at the dashboards
        instructions: Check the connection pool graphs.
      - key: restart
        kind: automated
        title: Restart the proxy
        request:
          url: http://127.0.0.1:9/restart
          secret_env: RUNBOOK_SECRET
          timeout_seconds: 5
          body: {incident: "${incident.reference}", note: "costs $$5"}
      - key: confirm
        kind: approval
        title: The commander confirms recovery
        roles: [incident_commander]
"""


def _write(tmp_path: Path, text: str, name: str = "db-restart.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(path: Path) -> str:
    with pytest.raises(RunbookFileError) as refused:
        load_runbook(path, known_tags=TAGS, known_roles=ROLES)
    message = str(refused.value)
    assert str(path) in message
    return message


def test_the_repository_runbooks_load() -> None:
    book = load_runbooks(
        POLICIES / "runbooks.yaml", POLICIES / "runbooks", known_tags=TAGS, known_roles=ROLES
    )
    assert {r.id for r in book.runbooks} >= {"security-containment", "payments-failover"}
    assert book.approval_needed("SEV1")
    assert not book.approval_needed("SEV4")


def test_a_good_runbook_loads_with_its_versions(tmp_path: Path) -> None:
    runbook = load_runbook(_write(tmp_path, GOOD), known_tags=TAGS, known_roles=ROLES)
    current = runbook.current_version
    assert (current.number, [s.kind for s in current.steps]) == (
        2,
        ["manual", "automated", "approval"],
    )
    assert current.matches(service="x", tags=["database"], severity="SEV2") == [
        "tag database",
        "severity SEV2",
    ]
    assert current.matches(service="x", tags=["database"], severity="SEV1") is None
    assert runbook.version(1).digest != current.digest
    body = render(current.steps[1].request.body, {"incident.reference": "INC-7"})  # type: ignore[union-attr]
    assert body == {"incident": "INC-7", "note": "costs $5"}


_LOOK = "        instructions: Check the connection pool graphs.\n      - key: restart"
_MATCH = "    match:\n      tags: [database]\n      severities: [SEV2, SEV3]\n"
_ROLES = "        roles: [incident_commander]\n"


@pytest.mark.parametrize(
    ("old", "new", "line", "says"),
    [
        ("tags: [database]\n    steps", "tags: [databse]\n    steps", 8, "unknown tag 'databse'"),
        ("secret_env: RUNBOOK_SECRET", "secret_env: lower", 29, "should match pattern"),
        ("${incident.reference}", "${incident.secret}", 31, "unknown variable ${incident.secret}"),
        ("${incident.reference}", "${incident", 31, "bad placeholder"),
        ("roles: [incident_commander]", "roles: [overlord]", 35, "unknown role 'overlord'"),
        ("url: http://127.0.0.1:9/restart", "url: file:///etc/passwd", 28, "should match"),
        ("timeout_seconds: 5", "timeout_seconds: 900", 30, "less than or equal to 300"),
        ("kind: approval", "kind: robot", 33, "'manual', 'automated' or 'approval'"),
        ("key: confirm", "key: restart", 19, "two steps are keyed 'restart'"),
        ("effective: 2026-02-01", "effective: 2025-02-01", 15, "takes effect before version 1"),
        ("version: 2", "version: 1", 14, "listed once each, oldest first"),
        ("current: 2", "current: 3", 3, "current names version 3"),
        (_LOOK, "      - key: restart", 20, "needs instructions"),
        (_MATCH, "    match: {}\n", 16, "a match names services, tags or severities"),
        (_ROLES, _ROLES + "        colour: red\n", 36, "unknown key 'colour'"),
    ],
)
def test_a_bad_runbook_is_refused_with_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, says: str
) -> None:
    assert old in GOOD
    message = _refused(_write(tmp_path, GOOD.replace(old, new, 1)))
    assert f"(line {line})" in message, message
    assert says in message, message


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, GOOD.replace("current: 2\n", "current: 2\ncurrent: 1\n")))
    assert "duplicate key 'current' (first on line 3)" in message
    assert "line 4" in message


def test_a_file_must_be_named_after_its_runbook(tmp_path: Path) -> None:
    message = _refused(_write(tmp_path, GOOD, "restart.yaml"))
    assert "lives in db-restart.yaml" in message


def test_a_bad_rules_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "runbooks.yaml"
    shutil.copy(POLICIES / "runbooks.yaml", rules)
    rules.write_text(rules.read_text().replace("[SEV1, SEV2]", "[SEV1, SEV9]"))
    with pytest.raises(RunbookRulesError) as refused:
        load_runbooks(rules, tmp_path / "none", known_tags=TAGS, known_roles=ROLES)
    assert str(rules) in str(refused.value)
    assert "approval_before_automated.severities.1 (line 10)" in str(refused.value)


def test_a_stray_file_in_the_runbooks_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "runbooks" / "Notes.txt").write_text("todo")
    with pytest.raises(RunbookFileError) as refused:
        load_runbooks(POLICIES / "runbooks.yaml", tmp_path / "runbooks")
    assert "Notes.txt" in str(refused.value)
