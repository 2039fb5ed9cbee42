"""Compliance over the public API: mappings, coverage, regulator clocks and timelines, packs."""

from __future__ import annotations

import asyncio
import json
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from govsvc.compliance.pack_verify import verify_pack
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers, pack_helpers

GOVSVC = Path(sys.executable).parent / "govsvc"
ERRORS = "errors { field message code }"


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def _incident(gql: GraphQL, **fields: Any) -> str:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    created = await helpers.incident(gql, service_id, detectedAt=_ago(hours=100), **fields)
    return str(created["id"])


async def _decide(gql: GraphQL, key: str, target: str, confirm: bool = True) -> dict[str, Any]:
    data = await gql(
        "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
        f" controlKey state {ERRORS} }} }}",
        {"i": {"controlKey": key, "targetId": target, "confirm": confirm}},
    )
    result: dict[str, Any] = data["controlMappingDecide"]
    return result


async def _note(gql: GraphQL, incident_id: str, text: str) -> str:
    data = await gql(
        "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i)"
        " { entry { id } } }",
        {"i": {"incidentId": incident_id, "text": text}},
    )
    return str(data["incidentTimelineAdd"]["entry"]["id"])


async def _evidence(
    http: httpx.AsyncClient, token: str, incident_id: str, kind: str, data: bytes
) -> dict[str, Any]:
    response = await http.post(
        "/evidence",
        params={"title": f"{kind} export", "kind": kind, "incidentId": incident_id},
        content=data,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()["evidence"]
    return result


async def test_tags_suggest_controls_and_a_person_confirms_them(gql: GraphQL) -> None:
    # given
    incident_id = await _incident(gql, tags=["personal-data-exposure"])
    # when
    suggested = await gql(
        "query($id: ID!) { controlSuggestions(incidentId: $id) { control { key } becauseOfTags } }",
        {"id": incident_id},
    )
    keys = {s["control"]["key"] for s in suggested["controlSuggestions"]}
    # then
    assert {"gdpr:Art. 33", "hipaa:164.404"} <= keys
    decided = await _decide(gql, "gdpr:Art. 33", incident_id)
    assert decided == {"controlKey": "gdpr:Art. 33", "state": "CONFIRMED", "errors": []}
    after = await gql(
        "query($id: ID!) { controlSuggestions(incidentId: $id) { control { key } } }",
        {"id": incident_id},
    )
    assert "gdpr:Art. 33" not in {s["control"]["key"] for s in after["controlSuggestions"]}
    audited = await gql(
        '{ auditEvents(filter: {action: "control_mapping.confirm"}) { edges {'
        " node { payload } } } }"
    )
    [event] = audited["auditEvents"]["edges"]
    assert event["node"]["payload"]["suggested_by"] == "tag:personal-data-exposure"


async def test_an_unknown_control_is_refused(gql: GraphQL) -> None:
    incident_id = await _incident(gql)
    refused = await _decide(gql, "gdpr:Art. 99", incident_id)
    assert refused["errors"][0]["field"] == "controlKey"
    assert refused["errors"][0]["code"] == "NOT_FOUND"


CLOCKS = """query($states: [ClockState!], $id: ID) { notificationClocks(states: $states,
  incidentId: $id) { regime clock state dueAt sentAt reasonsRequired explanation
  incident { reference } } }"""


async def test_gdpr_clocks_run_from_awareness_and_a_late_notice_needs_reasons(
    gql: GraphQL,
) -> None:
    # given a personal-data breach we became aware of 80 hours ago, under GDPR
    incident_id = await _incident(gql, tags=["personal-data-exposure"])
    await _decide(gql, "gdpr:Art. 33", incident_id)
    await gql(
        "mutation($i: RegulatoryTriggerRecordInput!) { regulatoryTriggerRecord(input: $i)"
        f" {{ {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "kind": "BECAME_AWARE", "occurredAt": _ago(hours=80)}},
    )
    facts = await gql(
        "mutation($i: RegulatoryFactRecordInput!) { regulatoryFactRecord("
        f"input: $i) {{ clocks {{ clock state }} {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "name": "risk_to_individuals", "value": "risk"}},
    )
    # then the 72-hour clock was missed
    clocks = facts["regulatoryFactRecord"]["clocks"]
    assert {"clock": "supervisory-authority", "state": "MISSED"} in clocks
    missed = await gql(CLOCKS, {"states": ["MISSED"]})
    assert [c["clock"] for c in missed["notificationClocks"]] == ["supervisory-authority"]
    assert missed["notificationClocks"][0]["reasonsRequired"] is True
    # when the notification goes out late, with reasons, its content is frozen as evidence
    sent = await gql(
        "mutation($i: RegulatoryNotificationRecordInput!) { regulatoryNotificationRecord("
        f"input: $i) {{ clocks {{ clock state sentAt }} {ERRORS} }} }}",
        {
            "i": {
                "incidentId": incident_id,
                "regime": "gdpr",
                "clock": "supervisory-authority",
                "recipient": "Data Protection Commission",
                "summary": "Initial notification",
                "content": "Art. 33 notification: nature of the breach ...",
                "lateReason": "Forensic confirmation of exfiltration took until today",
            }
        },
    )
    # then
    [clock] = [
        c
        for c in sent["regulatoryNotificationRecord"]["clocks"]
        if c["clock"] == "supervisory-authority"
    ]
    assert clock["sentAt"] is not None
    documents = await gql("{ evidence(filter: {kinds: [DOCUMENT]}) { edges { node { title } } } }")
    assert (
        "gdpr supervisory-authority notification"
        in (documents["evidence"]["edges"][0]["node"]["title"])
    )


async def test_a_clock_near_its_deadline_is_due_soon(gql: GraphQL) -> None:
    incident_id = await _incident(gql, tags=["personal-data-exposure"])
    await _decide(gql, "gdpr:Art. 33", incident_id)
    await gql(
        "mutation($i: RegulatoryFactRecordInput!) { regulatoryFactRecord(input: $i)"
        " { clocks { state } } }",
        {"i": {"incidentId": incident_id, "name": "risk_to_individuals", "value": "risk"}},
    )
    await gql(
        "mutation($i: RegulatoryTriggerRecordInput!) { regulatoryTriggerRecord(input: $i)"
        " { clocks { state } } }",
        {"i": {"incidentId": incident_id, "kind": "BECAME_AWARE", "occurredAt": _ago(hours=68)}},
    )
    due = await gql(CLOCKS, {"states": ["DUE_SOON"]})
    assert [c["clock"] for c in due["notificationClocks"]] == ["supervisory-authority"]


async def test_the_regulator_timeline_discloses_only_what_is_meant_for_the_regulator(
    gql: GraphQL,
) -> None:
    # given an incident with an internal note and a regulator-relevant trigger
    incident_id = await _incident(gql, tags=["personal-data-exposure"])
    await _decide(gql, "gdpr:Art. 33", incident_id)
    secret = await _note(gql, incident_id, "Internal: suspect <script>alert(1)</script> vendor")
    public = await _note(gql, incident_id, "Containment confirmed by forensic firm")
    await gql(
        "mutation($i: RegulatoryTriggerRecordInput!) { regulatoryTriggerRecord(input: $i)"
        " { clocks { state } } }",
        {"i": {"incidentId": incident_id, "kind": "CONTAINED", "note": "Access revoked"}},
    )
    query = (
        'query($id: ID!, $inc: [ID!]) { regulatorTimeline(incidentId: $id, regime: "gdpr",'
        " includeEntryIds: $inc) { entries { kind text source auditSeq } json html } }"
    )
    # when
    default = (await gql(query, {"id": incident_id}))["regulatorTimeline"]
    chosen = (await gql(query, {"id": incident_id, "inc": [public]}))["regulatorTimeline"]
    # then internal entries never leave unless chosen
    texts = [e["text"] for e in default["entries"]]
    assert not any("Internal" in t or "forensic firm" in t for t in texts)
    assert any(t.startswith("Contained") for t in texts)
    assert all(
        e["auditSeq"]
        for e in default["entries"]
        if e["kind"] != "trigger" or e["source"].startswith("regulatory_trigger")
    )
    assert "Containment confirmed by forensic firm" in [e["text"] for e in chosen["entries"]]
    assert "suspect" not in json.dumps(chosen["json"])
    assert secret not in json.dumps(chosen)
    assert chosen["json"]["format"] == "govsvc.regulator-timeline/1"


async def test_coverage_names_evidenced_and_missing_objectives_with_their_gaps(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given one incident mapped to CC7.3 and CC7.4, with a log export (accepted by both) ...
    first = await _incident(gql, tags=["security"])
    await _decide(gql, "soc2:CC7.3", first)
    await _decide(gql, "soc2:CC7.4", first)
    await _evidence(http, admin_token, first, "log_export", b"auth.log")
    # ... and a second, mapped to CC7.4 only, with no evidence at all
    service = (await gql("{ services { edges { node { id } } } }"))["services"]["edges"][0]
    second = (await helpers.incident(gql, service["node"]["id"], detectedAt=_ago(hours=50)))["id"]
    await _decide(gql, "soc2:CC7.4", second)
    # when
    data = await gql(
        'query($s: DateTime!, $e: DateTime!) { controlCoverage(framework: "soc2",'
        " periodStart: $s, periodEnd: $e) { controls { control { id } status gaps"
        " incidents { reference } evidence { kind } } leftOut } }",
        {"s": _ago(days=30), "e": _ago(hours=-1)},
    )
    by_id = {c["control"]["id"]: c for c in data["controlCoverage"]["controls"]}
    # then
    assert by_id["CC7.3"]["status"] == "EVIDENCED"
    assert by_id["CC7.4"]["status"] == "PARTIALLY"
    assert any("INC-2" in gap and "CC7.4" in gap for gap in by_id["CC7.4"]["gaps"])
    assert by_id["CC7.5"]["status"] == "MISSING"


async def _pack(gql: GraphQL, runtime: Runtime, period: dict[str, str]) -> dict[str, Any]:
    built = await pack_helpers.build(gql, runtime, **period)
    assert built["state"] == "READY", built
    return built


@pytest.mark.slow  # builds two packs (PDF)
@pytest.mark.cli
async def test_an_audit_pack_is_deterministic_and_verifies_offline(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, tmp_path: Path, runtime: Runtime
) -> None:
    # given an evidenced incident
    incident_id = await _incident(gql, tags=["security"])
    await _decide(gql, "soc2:CC7.3", incident_id)
    await _evidence(http, admin_token, incident_id, "log_export", b"auth.log\n" * 100)
    await _note(gql, incident_id, "Rotated credentials")
    period = {"periodStart": _ago(days=30), "periodEnd": _ago(hours=-1)}
    # when assembled twice from the same inputs
    first = await _pack(gql, runtime, period)
    second = await _pack(gql, runtime, period)
    # then the same bytes
    assert first["sha256"] == second["sha256"]
    response = await http.get(
        first["downloadPath"], headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200
    path = tmp_path / "pack.zip"
    path.write_bytes(response.content)
    report = verify_pack(path)
    assert report.ok, report.problems
    assert report.checked_events > 0
    names = zipfile.ZipFile(path).namelist()
    assert {
        "report.pdf",
        "report.html",
        "oscal/assessment-results.json",
        "incidents/INC-1.json",
    } <= set(names)
    oscal = json.loads(zipfile.ZipFile(path).read("oscal/assessment-results.json"))
    resources = oscal["assessment-results"]["back-matter"]["resources"]
    assert any(r["rlinks"][0].get("hashes") for r in resources)
    # and the command line agrees, with no database at all
    cli = await asyncio.create_subprocess_exec(
        str(GOVSVC),
        "pack",
        "verify",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        env=pack_helpers.offline_env(),
    )
    out, _ = await cli.communicate()
    assert cli.returncode == 3, out  # intact, but no trusted key was given
    assert b"pack verified" in out


def _rewrite(source: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """Copy a pack, replacing (or, with None, dropping) some members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    new.writestr(info, change[info.filename] or b"")
            else:
                new.writestr(info, old.read(info.filename))


@pytest.fixture
async def pack_file(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, tmp_path: Path, runtime: Runtime
) -> Path:
    incident_id = await _incident(gql, tags=["security"])
    await _decide(gql, "soc2:CC7.3", incident_id)
    await _evidence(http, admin_token, incident_id, "log_export", b"auth.log\n")
    await _note(gql, incident_id, "Rotated credentials")
    pack = await _pack(gql, runtime, {"periodStart": _ago(days=30), "periodEnd": _ago(hours=-1)})
    response = await http.get(
        pack["downloadPath"], headers={"Authorization": f"Bearer {admin_token}"}
    )
    path = tmp_path / "pack.zip"
    path.write_bytes(response.content)
    return path


@pytest.mark.slow  # builds a pack (PDF)
async def test_one_flipped_byte_in_any_file_is_caught_and_named(
    pack_file: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(pack_file) as archive:
        names = [n for n in archive.namelist() if n != "manifest.sig"]
        contents = {n: archive.read(n) for n in names}
    for name in names:
        # given the pack with one byte of one file flipped
        data = bytearray(contents[name])
        data[len(data) // 2] ^= 0x01
        target = tmp_path / f"tampered-{names.index(name)}.zip"
        _rewrite(pack_file, target, {name: bytes(data)})
        # when / then
        report = verify_pack(target)
        assert not report.ok, name
        assert any(name in p or "manifest" in p for p in report.problems), (name, report)


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_removed_event_is_caught(pack_file: Path, tmp_path: Path) -> None:
    # given the pack with one audit event taken out
    with zipfile.ZipFile(pack_file) as archive:
        lines = archive.read("audit/events.jsonl").splitlines(keepends=True)
    assert len(lines) > 1
    target = tmp_path / "fewer-events.zip"
    _rewrite(pack_file, target, {"audit/events.jsonl": b"".join(lines[1:])})
    # when
    report = verify_pack(target)
    # then the events file no longer matches, and the orphaned proof is named
    assert any(p.startswith("audit/events.jsonl") for p in report.problems)
    assert any("an event was removed" in p for p in report.problems)


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_corrupted_archive_is_reported_not_crashed_on(
    pack_file: Path, tmp_path: Path
) -> None:
    raw = bytearray(pack_file.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    target = tmp_path / "bitrot.zip"
    target.write_bytes(bytes(raw))
    report = verify_pack(target)
    assert not report.ok


@pytest.mark.slow  # builds a pack (PDF)
def test_the_manifest_signature_covers_the_manifest(pack_file: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(pack_file) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    manifest["excluded"] = []  # someone hides what was left out
    target = tmp_path / "edited-manifest.zip"
    _rewrite(pack_file, target, {"manifest.json": json.dumps(manifest).encode()})
    report = verify_pack(target)
    assert report.problems[0].startswith("manifest.sig")


async def test_the_regulator_timeline_takes_people_out_unless_told_not_to(gql: GraphQL) -> None:
    # given an included entry that names someone on the team
    incident_id = await _incident(gql, tags=["personal-data-exposure"])
    await helpers.person_with_token(gql, "maria.garcia@example.com")
    entry = await _note(gql, incident_id, "Maria Garcia confirmed containment at 10:02")
    query = (
        "query($id: ID!, $inc: [ID!], $r: Boolean!) { regulatorTimeline(incidentId: $id,"
        ' regime: "gdpr", includeEntryIds: $inc, redact: $r) { entries { text } } }'
    )
    # when
    redacted = await gql(query, {"id": incident_id, "inc": [entry], "r": True})
    plain = await gql(query, {"id": incident_id, "inc": [entry], "r": False})
    # then
    texts = [e["text"] for e in redacted["regulatorTimeline"]["entries"]]
    assert not any("Maria" in t for t in texts)
    assert any("confirmed containment at 10:02" in t for t in texts)
    assert any("Maria Garcia" in e["text"] for e in plain["regulatorTimeline"]["entries"])
