"""The public status page in a real headless browser (Debian's Chromium, driven by
Playwright): what a phone user sees, and that nothing internal is there."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import GraphQL
from tests.graphql import helpers

# A real headless browser.
pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    " update { state } errors { code message } } }"
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # A closed network: no background calls home, no sandbox as root.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        await launched.close()


async def test_a_phone_sees_services_and_public_updates_and_nothing_internal(
    live_server: str, gql: GraphQL, browser: Browser
) -> None:
    # given a public service with a public update, and internal chatter on the same incident
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments", tier=3)
    await helpers.service(gql, "ledger", unit_id, publicName="Statements", tier=3)
    await helpers.service(gql, "db-internal", unit_id, tier=3)  # no public name: never shown
    incident_id = (
        await helpers.incident(
            gql, service_id, impact={"unavailable": True}, title="db-prod-7 primary crashed"
        )
    )["id"]
    public = "Card payments are failing for some customers. Next update by 10:00 UTC."
    for audience, body in (
        ("PUBLIC", public),
        ("INTERNAL", "SECRET-INTERNAL: Maria is restoring db-prod-7"),
    ):
        result = await gql(
            DRAFT,
            {
                "i": {
                    "incidentId": incident_id,
                    "audience": audience,
                    "status": "investigating",
                    "body": body,
                }
            },
        )
        assert result["statusUpdateDraft"]["errors"] == [], result
    # when a phone opens the page
    page = await browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    response = await page.goto(f"http://{live_server}/status")
    # then it loads without credentials and shows the services and the public update
    assert response is not None
    assert response.status == 200
    services = await page.locator("ul.services li").all_inner_texts()
    assert [" ".join(s.split()) for s in services] == [
        "Card payments Partial outage",
        "Statements Operational",
    ]
    assert public in await page.locator("article").first.inner_text()
    body = await page.locator("body").inner_text()
    for internal in ("SECRET-INTERNAL", "Maria", "db-prod-7", "db-internal", "SEV"):
        assert internal not in body
    html = await page.content()
    assert "db-prod-7" not in html
    # and it fits a phone's width
    overflow = await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # the feed link is discoverable
    feed = await page.locator('link[rel="alternate"]').get_attribute("href")
    assert feed == "/status.atom"
