"""The public face: a query for the published post-mortem, Markdown and human times on the
status page, a valid Atom feed whose links do not follow the Host header, security headers on
everything a browser opens straight from the service."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from govsvc.settings import Settings
from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ state }} {ERRORS} }} }}"
)
PUBLIC_PM = (
    "query($id: ID!) { publicPostMortem(incidentId: $id) {"
    " title text sha256 reviewedBy publishedAt } }"
)


async def _public_incident(gql: GraphQL, code: str = "payments") -> tuple[str, str]:
    unit_id = await helpers.unit(gql, code)
    service_id = await helpers.service(gql, f"{code}-api", unit_id, publicName="Card payments")
    return unit_id, str((await helpers.incident(gql, service_id))["id"])


async def _update(gql: GraphQL, incident_id: str, status: str, body: str) -> None:
    data = await gql(
        DRAFT,
        {"i": {"incidentId": incident_id, "audience": "PUBLIC", "status": status, "body": body}},
    )
    assert data["statusUpdateDraft"]["errors"] == [], data


async def _publish_post_mortem(
    gql: GraphQL, unit_id: str, incident_id: str, sections: dict[str, str]
) -> list[dict[str, Any]]:
    write = await gql(
        "mutation($i: PostMortemWriteInput!) { postMortemWrite(input: $i) {"
        f" postMortem {{ revision }} {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "sections": sections}},
    )
    assert write["postMortemWrite"]["errors"] == [], write
    move = (
        "mutation($i: PostMortemMoveInput!) { postMortemMove(input: $i) {"
        f" postMortem {{ state }} {ERRORS} }} }}"
    )
    _, approver = await helpers.person_with_token(
        gql, "ic@example.com", "incident_commander", unit_id
    )
    await gql(move, {"i": {"incidentId": incident_id, "state": "IN_REVIEW"}})
    await gql.as_(approver)(move, {"i": {"incidentId": incident_id, "state": "APPROVED"}})
    spans: list[dict[str, Any]] = (
        await gql(
            "query($id: ID!) { postMortemRedactionPreview(incidentId: $id) {"
            " start end entityType text } }",
            {"id": incident_id},
        )
    )["postMortemRedactionPreview"]
    chosen = [{k: s[k] for k in ("start", "end", "entityType")} for s in spans]
    done = await gql(
        "mutation($i: PostMortemPublishInput!) { postMortemPublish(input: $i) {"
        f" publicPostMortem {{ sha256 }} {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "spans": chosen}},
    )
    assert done["postMortemPublish"]["errors"] == [], done
    return spans


async def test_the_published_post_mortem_is_queried_and_rendered_as_markdown(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given an organisation-wide customer and a post-mortem that names it, with Markdown
    await gql('mutation { customerAdd(input: {name: "Initech"}) { customer { id } } }')
    unit_id, incident_id = await _public_incident(gql)
    spans = await _publish_post_mortem(
        gql,
        unit_id,
        incident_id,
        {
            "summary": "Card payments failed for **42 minutes** for Initech and others.",
            "actionItems": "- Add a pool-size check to CI\n- Alert on zero connections\n"
            "<script>alert(1)</script>",
        },
    )
    # then the organisation's customer was proposed without being declared on the post-mortem
    assert "Initech" in {s["text"] for s in spans}
    # when the published version is asked for
    public = (await gql(PUBLIC_PM, {"id": incident_id}))["publicPostMortem"]
    # then it is there, redacted
    assert public["title"] == "Post-incident report INC-1"
    assert "Initech" not in public["text"]
    assert "**42 minutes**" in public["text"]
    # and a reader who may not read the incident sees exactly what a missing one shows
    other_unit = await helpers.unit(gql, "ledger")
    _, outsider = await helpers.person_with_token(gql, "out@example.com", "responder", other_unit)
    assert await gql.as_(outsider)(PUBLIC_PM, {"id": incident_id}) == {"publicPostMortem": None}
    _, unpublished = await _public_incident(gql, "search")
    assert await gql(PUBLIC_PM, {"id": unpublished}) == {"publicPostMortem": None}
    # when the status page shows it
    page = (await http.get("/status")).text
    # then headings and lists are rendered, raw HTML is shown as text, times read humanly
    assert "<h2>Summary</h2>" in page
    assert "<li>Add a pool-size check to CI</li>" in page
    assert "<strong>42 minutes</strong>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert re.search(r">\s*\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC\s*<", page)
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", page)


async def test_a_closed_incident_never_reads_monitoring(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given an incident whose last public update said "monitoring"
    _, incident_id = await _public_incident(gql)
    await _update(gql, incident_id, "monitoring", "A fix is in place; we are watching.")
    assert "monitoring" in (await http.get("/status")).text
    # when the incident is resolved
    changed = await gql(
        "mutation($i: IncidentStatusChangeInput!) { incidentStatusChange(input: $i) {"
        f" incident {{ status }} {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "status": "RESOLVED"}},
    )
    assert changed["incidentStatusChange"]["errors"] == [], changed
    # then the page no longer says monitoring anywhere
    page = (await http.get("/status")).text
    assert "monitoring" not in page.lower()
    assert "Card payments: resolved" in page


async def test_the_feed_stays_valid_xml_with_control_characters_and_ignores_the_host(
    gql: GraphQL, http: httpx.AsyncClient, settings: Settings
) -> None:
    # given a published text that holds control characters pasted from a terminal
    _, incident_id = await _public_incident(gql)
    await _update(gql, incident_id, "identified", "Rollback done.\x1b[0m Retries\x0bresumed.\x07")
    # when the feed is fetched with a forged Host header
    response = await http.get("/status.atom", headers={"Host": "evil.example"})
    # then a real XML parser reads it, and every link points at the configured address
    feed = ET.fromstring(response.content)  # noqa: S314 - our own feed, parsed strictly
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = [link.get("href") or "" for link in feed.iter("{http://www.w3.org/2005/Atom}link")]
    assert links
    assert all(link.startswith(settings.base_url + "/status") for link in links), links
    assert "evil.example" not in response.text
    content = feed.find("a:entry/a:content", ns)
    assert content is not None
    assert "Retries" in (content.text or "")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", feed.findtext("a:entry/a:updated", "", ns)
    )


def test_prod_needs_a_public_url_and_it_must_be_absolute() -> None:
    keys = {"secret_key": "s" * 40, "master_key": "m" * 40}
    with pytest.raises(ValidationError, match="GOVSVC_PUBLIC_URL"):
        Settings(env="prod", **keys)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="GOVSVC_PUBLIC_URL"):
        Settings(public_url="status.example.com")
    assert Settings(public_url="https://status.example.com/").base_url == (
        "https://status.example.com"
    )


async def test_pages_and_downloads_carry_security_headers_and_evidence_is_never_rendered(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str
) -> None:
    # given evidence uploaded as an HTML page
    _, incident_id = await _public_incident(gql)
    uploaded = await http.post(
        "/evidence",
        params={"title": "Chat export", "kind": "chat_transcript", "incidentId": incident_id},
        content=b"<html><script>fetch('/graphql')</script></html>",
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "text/html"},
    )
    assert uploaded.status_code == 201, uploaded.text
    evidence = uploaded.json()["evidence"]
    # when it is downloaded
    download = await http.get(
        f"/evidence/{evidence['id']}/content", headers={"Authorization": f"Bearer {admin_token}"}
    )
    # then it comes as bytes to save, never as a page; the original type stays in metadata
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment")
    assert evidence["contentType"] == "text/html"
    # and every page and download a browser opens directly carries the headers
    pack = await http.get(
        "/audit-packs/QXVkaXRQYWNrOjE=/content", headers={"Authorization": f"Bearer {admin_token}"}
    )
    for response in (
        download,
        pack,
        await http.get("/status"),
        await http.get("/status.json"),
        await http.get("/status.atom"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "default-src 'none'" in policy
        assert "script-src" not in policy
