"""Evidence end to end, over the public API, on the file vault and on S3 Object Lock (moto)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from govsvc import usecase
from govsvc.caller import Caller
from govsvc.evidence import service as evidence_service
from govsvc.evidence.models import EvidenceItem, EvidenceKind, StorageIntent
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY

POLICIES = Path(__file__).parents[2] / "policies"
SHORT_RETENTION = """
version: "2026.1"
always: []
default: {id: drill, period: {seconds: 2}, citation: "test drill: two seconds"}
rules:
  - {id: drill-long, framework: hipaa, kinds: all, period: {years: 6}, citation: "HIPAA"}
"""
UPLOAD = """
mutation($i: EvidenceUploadInput!) { evidenceUpload(input: $i) {
  evidence { id title kind sha256 size retentionRule retentionReason retainUntil legalHold
             encrypted state downloadPath incidents { reference } previous { id } }
  errors { field message code } } }
"""


@pytest.fixture(params=["file", "s3"])
def settings(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Settings:
    """The test database, with retention of seconds, on each storage backend in turn."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "retention.yaml").write_text(SHORT_RETENTION)
    changes: dict[str, Any] = {"policies_dir": policies}
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = request.getfixturevalue("lock_bucket")
        changes.update(
            storage_url=f"s3://{bucket}",
            s3_endpoint_url=endpoint,
            s3_region=REGION,
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SecretStr(SECRET_KEY),
            s3_path_style=True,
        )
    return settings.model_copy(update=changes)


async def _incident(gql: GraphQL, **fields: Any) -> str:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    return str((await helpers.incident(gql, service_id, **fields))["id"])


async def upload(http: httpx.AsyncClient, token: str, data: bytes, **fields: Any) -> dict[str, Any]:
    """A GraphQL multipart request, as Apollo or `gql` would send it."""
    variables = {"i": {"file": None, "title": "Gateway logs", "kind": "LOG_EXPORT", **fields}}
    response = await http.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}"},
        data={
            "operations": json.dumps({"query": UPLOAD, "variables": variables}),
            "map": json.dumps({"0": ["variables.i.file"]}),
        },
        files={"0": ("gateway.log", data, "text/plain")},
    )
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["evidenceUpload"]
    return result


async def download(http: httpx.AsyncClient, token: str, path: str) -> httpx.Response:
    return await http.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_uploaded_evidence_comes_back_byte_for_byte_and_the_read_is_audited(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given
    incident_id = await _incident(gql)
    data = os.urandom(300_000)
    # when
    result = await upload(
        http,
        admin_token,
        data,
        incidentId=incident_id,
        sha256=hashlib.sha256(data).hexdigest(),
        frameworks=["hipaa"],
    )
    evidence = result["evidence"]
    fetched = await download(http, admin_token, evidence["downloadPath"])
    # then
    assert result["errors"] == []
    assert evidence["sha256"] == hashlib.sha256(data).hexdigest()
    assert evidence["size"] == len(data)
    assert evidence["retentionRule"] == "drill-long"
    assert "6 years" in evidence["retentionReason"]
    assert evidence["incidents"] == [{"reference": "INC-1"}]
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["x-evidence-sha256"] == evidence["sha256"]
    reads = await gql(
        '{ auditEvents(filter: {action: "evidence.download"}) { edges { node {'
        " actor resourceId } } } }"
    )
    assert len(reads["auditEvents"]["edges"]) == 1


async def test_a_hash_mismatch_stores_nothing_and_leaves_no_row(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given
    incident_id = await _incident(gql)
    # when the client says the bytes hash to something else
    response = await http.post(
        "/evidence",
        params={
            "title": "Chat",
            "kind": "chat_transcript",
            "incidentId": incident_id,
            "sha256": "0" * 64,
        },
        content=b"what was really said",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    # then
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "sha256"
    async with runtime.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(EvidenceItem))).scalar() == 0
        [intent] = (await session.execute(select(StorageIntent))).scalars().all()
    assert intent.failed_at is not None
    assert intent.completed_at is None


async def test_the_streaming_endpoint_takes_and_returns_large_files(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given 20 MiB, more than two multipart parts
    incident_id = await _incident(gql)
    data = os.urandom(20 * 1024 * 1024)

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    # when
    response = await http.post(
        "/evidence",
        params={
            "title": "Heap dump",
            "kind": "configuration_snapshot",
            "incidentId": incident_id,
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        content=body(),
        headers={
            "Authorization": f"Bearer {admin_token}",
            "Content-Type": "application/octet-stream",
        },
    )
    # then
    assert response.status_code == 201, response.text
    evidence = response.json()["evidence"]
    fetched = await download(http, admin_token, f"/evidence/{evidence['id']}/content")
    assert hashlib.sha256(fetched.content).hexdigest() == evidence["sha256"]


async def test_encrypted_evidence_is_sealed_at_rest_and_erasable(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given evidence full of personal data, stored encrypted
    incident_id = await _incident(gql)
    data = b"Customer Jane Roe, jane@example.com, +44 20 7946 0958\n" * 5000
    result = await upload(
        http, admin_token, data, incidentId=incident_id, kind="CHAT_TRANSCRIPT", encrypt=True
    )
    evidence = result["evidence"]
    async with runtime.db.read() as session:
        item = await session.get(EvidenceItem, int(_pk(evidence["id"])))
    assert item is not None
    raw = b"".join([c async for c in runtime.store.get(item.storage_key, item.storage_version)])
    # then the stored bytes are not the evidence, the download is
    assert b"jane@example.com" not in raw
    assert (await download(http, admin_token, evidence["downloadPath"])).content == data
    # when it is erased
    shredded = await gql(
        "mutation($i: EvidenceShredInput!) { evidenceShred(input: $i) { evidence { state }"
        " errors { code } } }",
        {"i": {"evidenceId": evidence["id"], "reason": "GDPR Art. 17 request ref 2026-118"}},
    )
    # then the key is gone and the bytes, still locked, are unreadable
    assert shredded["evidenceShred"]["evidence"] == {"state": "SHREDDED"}
    gone = await download(http, admin_token, evidence["downloadPath"])
    assert gone.status_code == 410
    async with runtime.db.read() as session:
        item = await session.get(EvidenceItem, int(_pk(evidence["id"])))
    assert item is not None
    assert item.wrapped_key is None
    await runtime.store.head(item.storage_key, item.storage_version)  # still there, locked


async def test_unencrypted_evidence_cannot_be_erased_early(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    incident_id = await _incident(gql)
    evidence = (await upload(http, admin_token, b"logs", incidentId=incident_id))["evidence"]
    refused = await gql(
        "mutation($i: EvidenceShredInput!) { evidenceShred(input: $i) { evidence { state }"
        " errors { field code } } }",
        {"i": {"evidenceId": evidence["id"], "reason": "please delete this now"}},
    )
    assert refused["evidenceShred"]["errors"] == [
        {"field": "evidenceId", "code": "ILLEGAL_TRANSITION"}
    ]


async def test_an_incident_record_is_frozen_into_evidence(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given an incident with a decision and a note
    incident_id = await _incident(gql)
    await gql(
        "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i)"
        " { entry { id } } }",
        {"i": {"incidentId": incident_id, "text": "Paged DBA"}},
    )
    await gql(
        "mutation($i: IncidentDecisionRecordInput!) { incidentDecisionRecord(input: $i)"
        " { decision { decision } } }",
        {
            "i": {
                "incidentId": incident_id,
                "decision": "Fail over",
                "rationale": "Primary is gone",
                "alternatives": ["Wait"],
            }
        },
    )
    # when
    frozen = await gql(
        "mutation($i: EvidenceFreezeIncidentInput!) { evidenceFreezeIncident(input: $i) {"
        " evidence { kind sha256 downloadPath incidents { reference } } errors { code } } }",
        {"i": {"incidentId": incident_id}},
    )
    evidence = frozen["evidenceFreezeIncident"]["evidence"]
    body = (await download(http, admin_token, evidence["downloadPath"])).content
    # then
    assert evidence["kind"] == "TIMELINE_EXPORT"
    assert hashlib.sha256(body).hexdigest() == evidence["sha256"]
    record = json.loads(body)
    assert record["incident"]["reference"] == "INC-1"
    assert [d["decision"] for d in record["decisions"]] == ["Fail over"]
    assert "Paged DBA" in [e["text"] for e in record["timeline"]]
    assert (
        body
        == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


async def test_a_new_version_points_at_the_old_which_stays(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    incident_id = await _incident(gql)
    first = (await upload(http, admin_token, b"v1", incidentId=incident_id))["evidence"]
    second = (await upload(http, admin_token, b"v2", previousId=first["id"]))["evidence"]
    assert second["previous"] == {"id": first["id"]}
    assert second["incidents"] == [{"reference": "INC-1"}]
    assert (await download(http, admin_token, first["downloadPath"])).content == b"v1"
    assert (await download(http, admin_token, second["downloadPath"])).content == b"v2"


async def test_retention_is_extended_never_shortened(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given
    incident_id = await _incident(gql)
    evidence = (
        await upload(http, admin_token, b"x", incidentId=incident_id, frameworks=["hipaa"])
    )["evidence"]
    mutation = (
        "mutation($i: EvidenceRetentionExtendInput!) { evidenceRetentionExtend("
        "input: $i) { evidence { retainUntil } errors { field code } } }"
    )
    # when shortening
    shorter = await gql(
        mutation,
        {
            "i": {
                "evidenceId": evidence["id"],
                "retainUntil": "2027-01-01T00:00:00Z",
                "reason": "trying to shorten it",
            }
        },
    )
    # then refused, and the store still holds the old date
    assert shorter["evidenceRetentionExtend"]["errors"] == [
        {"field": "retainUntil", "code": "ILLEGAL_TRANSITION"}
    ]
    async with runtime.db.read() as session:
        item = await session.get(EvidenceItem, int(_pk(evidence["id"])))
    assert item is not None
    stored = await runtime.store.head(item.storage_key, item.storage_version)
    assert stored.retain_until.isoformat().startswith(evidence["retainUntil"][:19])
    # when extending
    longer = await gql(
        mutation,
        {
            "i": {
                "evidenceId": evidence["id"],
                "retainUntil": "2040-01-01T00:00:00Z",
                "reason": "litigation expected in 2035",
            }
        },
    )
    # then
    assert longer["evidenceRetentionExtend"]["evidence"]["retainUntil"].startswith("2040-01-01")
    stored = await runtime.store.head(item.storage_key, item.storage_version)
    assert stored.retain_until.year == 2040


@pytest.mark.slow  # waits out retention
async def test_a_legal_hold_stops_disposition_until_lifted_and_disposal_leaves_a_record(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given evidence on an incident with two seconds of retention, under a hold
    incident_id = await _incident(gql)
    evidence = (await upload(http, admin_token, b"short-lived", incidentId=incident_id))["evidence"]
    assert evidence["retentionRule"] == "drill"
    placed = await gql(
        "mutation($i: LegalHoldPlaceInput!) { legalHoldPlace(input: $i) { legalHold { id }"
        " errors { code message } } }",
        {
            "i": {
                "matter": "Smith v. Example",
                "reason": "Litigation hold from counsel",
                "scope": "INCIDENT",
                "incidentId": incident_id,
            }
        },
    )
    hold_id = placed["legalHoldPlace"]["legalHold"]["id"]
    await asyncio.sleep(3.5)  # two seconds, rounded up to a whole second by the store
    sweep = (
        "mutation($i: RetentionSweepInput!) { retentionSweep(input: $i) { dryRun"
        " disposedEvidenceIds kept errors { code } } }"
    )
    # when the sweep runs while the hold is on
    held = await gql(sweep, {"i": {"dryRun": False}})
    # then nothing goes
    assert held["retentionSweep"]["disposedEvidenceIds"] == []
    # when the hold is lifted, a dry run shows exactly what will go, and a sweep takes it
    lifted = await gql(
        "mutation($i: LegalHoldLiftInput!) { legalHoldLift(input: $i) {"
        " legalHold { liftedAt } errors { field message code } } }",
        {"i": {"holdId": hold_id, "reason": "Case settled 2026"}},
    )
    assert lifted["legalHoldLift"]["errors"] == []
    dry = await gql(sweep, {"i": {"dryRun": True}})
    assert dry["retentionSweep"]["disposedEvidenceIds"] == [evidence["id"]]
    assert (await download(http, admin_token, evidence["downloadPath"])).status_code == 200
    done = await gql(sweep, {"i": {"dryRun": False}})
    # then
    assert done["retentionSweep"]["disposedEvidenceIds"] == [evidence["id"]]
    assert (await download(http, admin_token, evidence["downloadPath"])).status_code == 410
    records = await gql("{ dispositionRecords { evidenceId sha256 retentionRule } }")
    assert records["dispositionRecords"] == [
        {"evidenceId": evidence["id"], "sha256": evidence["sha256"], "retentionRule": "drill"}
    ]


async def test_evidence_added_under_an_active_hold_is_held_from_the_start(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    incident_id = await _incident(gql)
    await gql(
        "mutation($i: LegalHoldPlaceInput!) { legalHoldPlace(input: $i) { legalHold { id } } }",
        {
            "i": {
                "matter": "Regulator inquiry",
                "scope": "INCIDENT",
                "reason": "FCA information request",
                "incidentId": incident_id,
            }
        },
    )
    evidence = (await upload(http, admin_token, b"late", incidentId=incident_id))["evidence"]
    assert evidence["legalHold"] is True


async def test_restricted_evidence_is_invisible_to_a_responder(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given restricted evidence in payments, and a responder there
    incident_id = await _incident(gql, sensitivity="RESTRICTED")
    evidence = (await upload(http, admin_token, b"secret", incidentId=incident_id))["evidence"]
    units = await gql("{ businessUnits { edges { node { id } } } }")
    unit_id = units["businessUnits"]["edges"][0]["node"]["id"]
    _, token = await helpers.person_with_token(gql, "r@example.com", "responder", unit_id)
    responder = gql.as_(token)
    # when / then: it looks exactly like a missing one
    seen = await responder("query($id: ID!) { node(id: $id) { id } }", {"id": evidence["id"]})
    assert seen == {"node": None}
    assert (await responder("{ evidence { edges { node { id } } } }"))["evidence"]["edges"] == []
    fetched = await download(http, token, evidence["downloadPath"])
    missing = await download(http, token, "/evidence/RXZpZGVuY2VJdGVtOjk5OQ==/content")
    assert (fetched.status_code, fetched.json()) == (missing.status_code, missing.json())


def _pk(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":")[1]


async def test_an_upload_that_breaks_midway_leaves_no_row_and_no_object(
    gql: GraphQL, runtime: Runtime
) -> None:
    # given a collector whose connection dies after 12 MiB (more than one multipart part)
    incident_id = await _incident(gql)

    async def dying() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield os.urandom(1024 * 1024)
        raise ConnectionResetError("client went away")

    caller = Caller.system(runtime.policies.access, "system:test")
    new = evidence_service.NewEvidence(
        title="Partial", kind=EvidenceKind.LOG_EXPORT, incident_id=int(_pk(incident_id))
    )
    # when
    with pytest.raises(ConnectionResetError):
        await usecase.run(runtime, caller, evidence_service.collect, new, dying())
    # then no row, a failed intent on record, and nothing in the store under that key
    async with runtime.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(EvidenceItem))).scalar() == 0
        [intent] = (await session.execute(select(StorageIntent))).scalars().all()
    assert intent.failure is not None
    assert "client went away" in intent.failure
    assert await runtime.store.versions(intent.storage_key) == []
