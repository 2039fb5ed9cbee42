"""Audit packs as an external auditor and a security reviewer meet them (issue 8, items 2 and
8 to 11): a realistic pack builds and reads as a report should, only those who could read
everything in a pack may see it, packs are built by the worker with progress, and offline
verification says loudly when authenticity was not checked."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from govsvc.audit import signing, tree_heads
from govsvc.compliance.pack_verify import verify_pack
from govsvc.graphql.relay import global_id
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers, pack_helpers

GOVSVC = Path(sys.executable).parent / "govsvc"


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def _decide(gql: GraphQL, key: str, target: str) -> None:
    data = await gql(
        "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
        " errors { code message } } }",
        {"i": {"controlKey": key, "targetId": target, "confirm": True}},
    )
    assert data["controlMappingDecide"]["errors"] == [], data


async def _evidence(
    http: httpx.AsyncClient,
    token: str,
    incident_id: str,
    *,
    title: str,
    kind: str,
    data: bytes,
    content_type: str = "application/octet-stream",
) -> dict[str, Any]:
    response = await http.post(
        "/evidence",
        params={"title": title, "kind": kind, "incidentId": incident_id},
        content=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()["evidence"]
    return result


async def _download(http: httpx.AsyncClient, token: str, path: str) -> httpx.Response:
    return await http.get(path, headers={"Authorization": f"Bearer {token}"})


def _pdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


EVIDENCE_KINDS = [
    ("log_export", "text/plain", "auth.log export"),
    ("document", "application/pdf", "Post-incident review"),
    ("ticket", "application/json", "Change ticket"),
    ("screenshot", "image/png", "Dashboard at peak"),
    ("timeline_export", "application/octet-stream", "timeline.csv"),
    ("chat_transcript", "text/plain", "War-room chat"),
]


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_realistic_pack_over_several_frameworks_builds_and_reads_as_a_report(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime, tmp_path: Path
) -> None:
    # given two units, 36 incidents over two months, several mapped to controls ...
    units = [await helpers.unit(gql, code) for code in ("payments", "identity")]
    services = [await helpers.service(gql, f"svc-{n}", u) for n, u in enumerate(units)]
    incidents = []
    for n in range(36):
        tags = ["security"] if n % 3 == 0 else ["personal-data-exposure"] if n % 3 == 1 else []
        created = await helpers.incident(
            gql,
            services[n % 2],
            title=f"Outage {n}",
            detectedAt=_ago(days=60 - n, hours=1),
            tags=tags,
        )
        incidents.append(str(created["id"]))
    for incident_id in incidents[::3]:
        await _decide(gql, "soc2:CC7.3", incident_id)
        await _decide(gql, "soc2:CC7.4", incident_id)
        await _decide(gql, "iso27001:A.5.26", incident_id)
    for incident_id in incidents[1::3]:
        await _decide(gql, "gdpr:Art. 33", incident_id)
    # ... and controls with many evidence items (one incident carries six, others two or three)
    hashes = []
    for n, incident_id in enumerate(incidents[:12]):
        count = 6 if n == 0 else 2 + n % 2
        for kind, content_type, title in EVIDENCE_KINDS[:count]:
            item = await _evidence(
                http,
                admin_token,
                incident_id,
                title=title,
                kind=kind,
                content_type=content_type,
                data=f"{title} of incident {n}\n".encode() * 50,
            )
            hashes.append(item["sha256"])
    period = {"periodStart": _ago(days=90), "periodEnd": _ago(hours=-1)}
    for framework in ("soc2", "iso27001", "gdpr"):
        # when a pack is asked for and the worker builds it
        built = await pack_helpers.build(gql, runtime, framework=framework, **period)
        # then it is ready and verifies offline
        assert built["state"] == "READY", built
        assert built["progress"] == 1.0
        assert built["error"] is None
        response = await _download(http, admin_token, built["downloadPath"])
        assert response.status_code == 200, response.text
        path = tmp_path / f"{framework}.zip"
        path.write_bytes(response.content)
        report = verify_pack(path)
        assert report.ok, report.problems
        archive = zipfile.ZipFile(path)
        html = archive.read("report.html").decode()
        pages = _pdf_pages(archive.read("report.pdf"))
        # a cover with who, what, when and the key
        cover = pages[0]
        for wanted in ("Organisation", "Payments", "Period", "Prepared by", "admin"):
            assert wanted in cover, (wanted, cover)
        key = tree_heads.signing_key(runtime.settings).public_key()
        fingerprint = hashlib.sha256(
            key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ).hexdigest()
        assert fingerprint in cover.replace(":", "").replace("\n", "").replace(" ", "")
        assert "Framework" in cover
        assert framework in cover
        # numbered pages, a summary table, every control, and a last page on verification
        assert len(pages) >= 4, len(pages)
        for number, text in enumerate(pages, start=1):
            assert f"Page {number} of {len(pages)}" in text, (number, text[-200:])
        assert "Summary of controls by status" in "".join(pages)
        assert "How to verify this pack offline" in pages[-1]
        assert "--trusted-key" in pages[-1].replace("\n", "")
        coverage = json.loads(archive.read("coverage.json"))
        text = " ".join(" ".join(pages).split())
        for control in coverage["controls"]:
            assert control["id"] in text
        # one source: the PDF says what the HTML says (the evidence table's full hashes too)
        if framework == "soc2":
            cc73 = next(c for c in coverage["controls"] if c["id"] == "CC7.3")
            assert len(cc73["evidence"]) >= 6
            for item in cc73["evidence"]:
                assert item["sha256"] in html
                assert item["collected_by"] in html
                assert item["title"] in text


async def _evidenced_incident(gql: GraphQL, http: httpx.AsyncClient, token: str) -> str:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident_id = str(
        (await helpers.incident(gql, service_id, detectedAt=_ago(hours=30), tags=["security"]))[
            "id"
        ]
    )
    await _decide(gql, "soc2:CC7.3", incident_id)
    for kind, content_type, title in EVIDENCE_KINDS:
        await _evidence(
            http,
            token,
            incident_id,
            title=title,
            kind=kind,
            content_type=content_type,
            data=title.encode() * 10,
        )
    return incident_id


@pytest.mark.slow  # builds a pack (PDF)
async def test_selected_controls_dates_and_files_are_told_truthfully(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime, tmp_path: Path
) -> None:
    # given an evidenced incident, and a pack of two controls for a period still running
    await _evidenced_incident(gql, http, admin_token)
    built = await pack_helpers.build(
        gql,
        runtime,
        periodStart=_ago(days=10),
        periodEnd=_ago(days=-30),
        controlKeys=["soc2:CC7.3", "soc2:CC7.5"],
    )
    assert built["state"] == "READY", built
    assert built["controlKeys"] == ["soc2:CC7.3", "soc2:CC7.5"]
    archive = zipfile.ZipFile(
        io.BytesIO((await _download(http, admin_token, built["downloadPath"])).content)
    )
    now = datetime.now(UTC)
    names = set(archive.namelist())
    # then OSCAL reviews only the selected controls, and its import-ap resolves in the pack
    oscal = json.loads(archive.read("oscal/assessment-results.json"))["assessment-results"]
    [selection] = oscal["results"][0]["reviewed-controls"]["control-selections"]
    assert "include-all" not in selection
    assert [c["control-id"] for c in selection["include-controls"]] == ["CC7.3", "CC7.5"]
    target = oscal["import-ap"]["href"]
    assert target.startswith("#")
    resources = {r["uuid"]: r for r in oscal["back-matter"]["resources"]}
    plan = resources[target[1:]]
    for resource in resources.values():
        for link in resource.get("rlinks", []):
            assert link["href"].startswith("../")
            assert link["href"][3:] in names, link["href"]
    assert plan["rlinks"][0]["href"] == "../manifest.json"
    # and the report says the selection
    html = archive.read("report.html").decode()
    assert "Only 2 of the 10 controls" in " ".join(html.split())
    # no creation date in the future, anywhere
    manifest = json.loads(archive.read("manifest.json"))
    assert datetime.fromisoformat(manifest["as_of"].replace("Z", "+00:00")) <= now
    created = pypdf.PdfReader(io.BytesIO(archive.read("report.pdf"))).metadata
    assert created is not None
    assert created.creation_date is not None
    assert created.creation_date.astimezone(UTC) <= now
    modified = oscal["metadata"]["last-modified"]
    assert datetime.fromisoformat(modified.replace("Z", "+00:00")) <= now
    for name in names:
        if name.startswith("incidents/"):
            exported = json.loads(archive.read(name))["exported_at"]
            assert datetime.fromisoformat(exported.replace("Z", "+00:00")) <= now
    # evidence files keep an extension that opens them
    expected = {"text/plain": ".txt", "application/pdf": ".pdf", "application/json": ".json"}
    expected |= {"image/png": ".png", "application/octet-stream": ".csv"}  # "timeline.csv"
    index = json.loads(archive.read("evidence/index.json"))["items"]
    assert len(index) >= 3
    for item in index:
        assert item["path"] in names
        assert Path(item["path"]).suffix == expected[item["content_type"]], item


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_control_no_incident_engaged_is_not_shown_as_missing(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given CC7.3 evidenced, and CC7.5 which no incident in scope engaged
    await _evidenced_incident(gql, http, admin_token)
    built = await pack_helpers.build(
        gql, runtime, periodStart=_ago(days=10), periodEnd=_ago(hours=-1)
    )
    archive = zipfile.ZipFile(
        io.BytesIO((await _download(http, admin_token, built["downloadPath"])).content)
    )
    html = " ".join(archive.read("report.html").decode().split())
    # then it is said to be not applicable in the period, with the reason, not a red "missing"
    section = html[html.index("CC7.5 ") :]
    section = section[: section.index('<div class="control">')]
    assert "Not applicable in period" in section
    assert "No incident in scope engaged this control" in section
    assert 'class="badge missing"' not in section
    oscal = json.loads(archive.read("oscal/assessment-results.json"))["assessment-results"]
    finding = next(
        f for f in oscal["results"][0]["findings"] if f["target"]["target-id"] == "CC7.5"
    )
    assert finding["target"]["status"]["reason"] == "other"
    assert "No incident in scope" in finding["description"]


# ------------------------------------------------------------------------- who may read it


async def _two_units_and_a_pack(
    gql: GraphQL, http: httpx.AsyncClient, token: str, runtime: Runtime
) -> tuple[str, str, dict[str, Any]]:
    """Units A and B with an incident each; the administrator's pack covers both."""
    unit_a = await helpers.unit(gql, "unit-a")
    unit_b = await helpers.unit(gql, "unit-b")
    for code, unit in (("svc-a", unit_a), ("svc-b", unit_b)):
        service = await helpers.service(gql, code, unit)
        incident = await helpers.incident(gql, service, detectedAt=_ago(hours=20))
        await _evidence(
            http, token, str(incident["id"]), title="log", kind="log_export", data=b"log\n"
        )
    built = await pack_helpers.build(
        gql, runtime, periodStart=_ago(days=5), periodEnd=_ago(hours=-1)
    )
    assert built["state"] == "READY", built
    return unit_a, unit_b, built


NODE = "query($id: ID!) { node(id: $id) { id ... on AuditPack { state } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_pack_is_readable_only_by_those_who_could_read_everything_in_it(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given a pack over units A and B, and people with rights in A only, or everywhere
    unit_a, _, pack = await _two_units_and_a_pack(gql, http, admin_token, runtime)
    _, auditor_a = await helpers.person_with_token(gql, "aud-a@example.com", "auditor", unit_a)
    _, officer_a = await helpers.person_with_token(
        gql, "co-a@example.com", "compliance_officer", unit_a
    )
    _, auditor_all = await helpers.person_with_token(gql, "aud@example.com", "auditor")
    _, nobody = await helpers.person_with_token(gql, "nobody@example.com")
    missing_id = global_id("AuditPack", 999_999)
    missing_path = f"/audit-packs/{missing_id}/content"
    absent = await _download(http, admin_token, missing_path)
    assert absent.status_code == 404
    for token in (auditor_a, officer_a, nobody):
        # when someone who cannot read unit B asks for it, over HTTP and GraphQL
        refused = await _download(http, token, pack["downloadPath"])
        gone = await _download(http, token, missing_path)
        # then it looks exactly like a pack that does not exist
        assert refused.status_code == gone.status_code == 404
        assert refused.json() == gone.json()
        as_them = gql.as_(token)
        assert await pack_helpers.read(as_them, pack["id"]) is None
        assert (await as_them(NODE, {"id": pack["id"]}))["node"] is None
        assert (await as_them(NODES, {"ids": [pack["id"], missing_id]}))["nodes"] == [None, None]
    # and a reader of everything may read it
    assert (await _download(http, auditor_all, pack["downloadPath"])).status_code == 200
    assert (await pack_helpers.read(gql.as_(auditor_all), pack["id"])) is not None
    assert (await gql.as_(auditor_all)(NODE, {"id": pack["id"]}))["node"]["state"] == "READY"


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_pack_of_one_unit_is_readable_by_readers_of_that_unit_only(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given a compliance officer of unit A who builds a pack of what they can read
    unit_a, unit_b, _ = await _two_units_and_a_pack(gql, http, admin_token, runtime)
    _, officer_a = await helpers.person_with_token(
        gql, "co-a@example.com", "compliance_officer", unit_a
    )
    _, auditor_a = await helpers.person_with_token(gql, "aud-a@example.com", "auditor", unit_a)
    _, auditor_b = await helpers.person_with_token(gql, "aud-b@example.com", "auditor", unit_b)
    mine = await pack_helpers.build(
        gql.as_(officer_a), runtime, periodStart=_ago(days=5), periodEnd=_ago(hours=-1)
    )
    assert mine["state"] == "READY", mine
    # when / then: readers of A may read it, a reader of B alone may not
    for token, status in ((officer_a, 200), (auditor_a, 200), (auditor_b, 404)):
        response = await _download(http, token, mine["downloadPath"])
        assert response.status_code == status, (token, response.text)
        seen = await pack_helpers.read(gql.as_(token), mine["id"])
        assert (seen is not None) == (status == 200)


# ------------------------------------------------------------------------- built as a job


@pytest.mark.slow  # builds a pack (PDF)
async def test_a_pack_is_queued_at_once_and_built_by_the_worker_with_progress(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given an incident with 24 MB of incompressible evidence
    incident_id = await _evidenced_incident(gql, http, admin_token)
    for n in range(3):
        await _evidence(
            http,
            admin_token,
            incident_id,
            title=f"disk image {n}",
            kind="log_export",
            data=bytes(__import__("random").Random(n).randbytes(8 * 1024 * 1024)),
        )
    # when a pack is asked for
    payload = await pack_helpers.ask(gql, periodStart=_ago(days=5), periodEnd=_ago(hours=-1))
    queued = payload["auditPack"]
    # then it is queued at once, with nothing to download yet
    assert queued["state"] == "QUEUED"
    assert queued["progress"] == 0.0
    early = await _download(http, admin_token, f"/audit-packs/{queued['id']}/content")
    assert early.status_code == 409
    assert early.json()["errors"][0]["code"] == "CONFLICT"
    # and while the real worker loop builds it, its progress can be followed over GraphQL
    from govsvc.worker import run_worker

    worker = asyncio.create_task(run_worker(runtime, once=True))
    seen: list[tuple[str, float]] = []
    while not worker.done():
        found = await pack_helpers.read(gql, queued["id"])
        assert found is not None
        seen.append((found["state"], found["progress"]))
        await asyncio.sleep(0.02)
    await worker
    done = await pack_helpers.read(gql, queued["id"])
    assert done is not None
    assert done["state"] == "READY"
    assert done["progress"] == 1.0
    building = [p for state, p in seen if state == "BUILDING"]
    assert any(0 < p < 1 for p in building), seen
    assert building == sorted(building)
    assert done["size"] > 24 * 1024 * 1024


async def test_a_pack_that_cannot_be_built_fails_with_the_reason(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given a compliance officer who asks for a pack, then loses the role before it is built
    person, token = await helpers.person_with_token(gql, "co@example.com", "compliance_officer")
    payload = await pack_helpers.ask(
        gql.as_(token), periodStart=_ago(days=5), periodEnd=_ago(hours=-1)
    )
    assert payload["errors"] == [], payload
    grants = await gql(
        "query($id: ID!) { grants(principalId: $id) { edges { node { id } } } }", {"id": person}
    )
    for edge in grants["grants"]["edges"]:
        revoked = await gql(
            "mutation($i: GrantRevokeInput!) { grantRevoke(input: $i) { errors { code } } }",
            {"i": {"id": edge["node"]["id"]}},
        )
        assert revoked["grantRevoke"]["errors"] == []
    # when the worker runs
    from govsvc.worker import run_worker

    await run_worker(runtime, once=True)
    # then the pack failed, says why, and there is nothing to download
    failed = await pack_helpers.read(gql, payload["auditPack"]["id"])
    assert failed is not None
    assert failed["state"] == "FAILED"
    assert "not allowed" in failed["error"]
    assert failed["downloadPath"] is None
    assert failed["sha256"] is None


async def test_bad_requests_are_refused_before_anything_is_queued(gql: GraphQL) -> None:
    past: dict[str, Any] = {"periodStart": _ago(days=2), "periodEnd": _ago(days=1)}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"periodStart": _ago(days=1), "periodEnd": _ago(days=2)}, "periodEnd"),
        ({"periodStart": _ago(days=-1), "periodEnd": _ago(days=-3)}, "periodStart"),
        ({**past, "framework": "nope"}, "framework"),
        ({**past, "controlKeys": ["soc2:X"]}, "controlKeys"),
    ]
    for fields, field in cases:
        payload = await pack_helpers.ask(gql, **fields)
        assert payload["auditPack"] is None
        assert payload["errors"][0]["field"] == field, (fields, payload)
    events = await gql(
        '{ auditEvents(filter: {action: "audit_pack.request"}) { edges { cursor } } }'
    )
    assert events["auditEvents"]["edges"] == []


# ------------------------------------------------------------------------- offline verify


@pytest.mark.slow  # builds a pack (PDF)
@pytest.mark.cli
async def test_pack_verify_says_loudly_when_authenticity_was_not_checked(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime, tmp_path: Path
) -> None:
    # given a pack, the organisation's published key, and someone else's key
    await _evidenced_incident(gql, http, admin_token)
    built = await pack_helpers.build(
        gql, runtime, periodStart=_ago(days=5), periodEnd=_ago(hours=-1)
    )
    pack = tmp_path / "pack.zip"
    pack.write_bytes((await _download(http, admin_token, built["downloadPath"])).content)
    published = tmp_path / "org.pem"
    published.write_text(signing.public_key_pem(tree_heads.signing_key(runtime.settings)))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "other.pem"
    other.write_text(signing.public_key_pem(Ed25519PrivateKey.generate()))

    async def verify(*extra: str) -> tuple[int, str, str]:
        cli = await asyncio.create_subprocess_exec(
            str(GOVSVC),
            "pack",
            "verify",
            str(pack),
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=pack_helpers.offline_env(),
        )
        out, err = await cli.communicate()
        assert cli.returncode is not None
        return cli.returncode, out.decode(), err.decode()

    # when verified without a trusted key: intact, but authenticity NOT checked, exit 3
    code, out, err = await verify()
    assert code == 3, (out, err)
    assert "pack verified" in out
    assert "AUTHENTICITY NOT CHECKED" in err
    # with the organisation's key: 0, and nothing to warn about
    code, out, err = await verify("--trusted-key", str(published))
    assert code == 0, (out, err)
    assert err == ""
    # with another key: a failure, 1
    code, out, err = await verify("--trusted-key", str(other))
    assert code == 1, (out, err)
    assert "not the key you trust" in out
