"""GraphiQL (dev only) comes entirely from our own origin: the page names no other origin, every
asset it names is served with the right type and the pinned bytes, and in a real browser with
every other origin cut off the editor renders and runs a query."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import shutil
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, ConsoleMessage, Route, async_playwright

from govsvc.app import create_app
from govsvc.settings import Environment, Settings
from tests.conftest import build_runtime, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HTML = {"Accept": "text/html"}


class _References(HTMLParser):
    """Every URL the page makes the browser load, with its integrity attribute if any."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attribute in ("src", "href"):
            url = values.get(attribute)
            if url:
                self.found.append((tag, url, values.get("integrity")))


@pytest.fixture
def dev_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"env": Environment.DEV})


@pytest.fixture
async def dev_http(dev_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    runtime = build_runtime(dev_settings)
    transport = httpx.ASGITransport(app=create_app(dev_settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://govsvc.test") as http:
        yield http
    await runtime.db.dispose()


async def test_the_page_names_only_our_origin_and_every_asset_is_served(
    dev_http: httpx.AsyncClient,
) -> None:
    # when a browser opens /graphql
    page = await dev_http.get("/graphql", headers=HTML)
    # then the page references no other origin, in markup or in its policy
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = _References()
    parser.feed(page.text)
    assert {tag for tag, _, _ in parser.found} >= {"script", "link"}
    for _, url, _ in parser.found:
        parts = urlsplit(url)
        assert parts.scheme in ("", "data"), url
        assert not parts.netloc, url
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page.text)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "http" not in policy
    # and each asset is served here, with its type, matching the pinned hash where given
    expected_type = {".js": "javascript", ".css": "text/css"}
    for _, url, integrity in parser.found:
        if url.startswith("data:"):
            continue
        asset = await dev_http.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert expected_type[suffix] in asset.headers["content-type"], url
        if integrity:
            algorithm, _, digest = integrity.partition("-")
            assert algorithm == "sha384"
            assert base64.b64encode(hashlib.sha384(asset.content).digest()).decode() == digest


async def test_graphiql_and_its_assets_are_served_in_dev_only(
    http: httpx.AsyncClient, dev_http: httpx.AsyncClient
) -> None:
    # given the same service in test (the `http` fixture) and in dev
    # when a browser asks each for the IDE and one of its assets
    page = await http.get("/graphql", headers=HTML)
    asset = await http.get("/graphiql/graphiql.min.js")
    dev_asset = await dev_http.get("/graphiql/graphiql.min.js")
    # then only dev serves them
    assert page.status_code == 401  # no IDE page: the endpoint asks for a credential
    assert not page.headers["content-type"].startswith("text/html")
    assert asset.status_code == 404
    assert dev_asset.status_code == 200


@pytest.fixture
async def dev_server(dev_settings: Settings) -> AsyncIterator[str]:
    runtime = build_runtime(dev_settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(dev_settings, runtime), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    await runtime.db.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
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


@pytest.mark.slow  # a real headless browser
async def test_the_editor_renders_and_runs_a_query_with_other_origins_cut_off(
    dev_server: str, browser: Browser, admin_token: str
) -> None:
    # given a browser that can reach nothing but this server
    context = await browser.new_context()
    refused: list[str] = []

    async def only_our_origin(route: Route) -> None:
        url = route.request.url
        if url.startswith(dev_server) or url.startswith("data:"):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort()

    await context.route("**/*", only_our_origin)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message: ConsoleMessage) -> None:
        # Its schema fetch before a token is entered is refused (401): expected, not a fault.
        if message.type == "error" and "status of 401" not in message.text:
            errors.append(message.text)

    page.on("console", console)
    # when it opens GraphiQL and runs a query with a token in the Headers tab
    response = await page.goto(f"{dev_server}/graphql")
    assert response is not None
    assert response.status == 200
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await editor.wait_for(timeout=20_000)
    await page.evaluate(
        "q => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q)",
        "{ me { actor } }",
    )
    await page.get_by_role("button", name="Headers").click()
    headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
    await headers.click()
    await page.keyboard.insert_text(f'{{"Authorization": "Bearer {admin_token}"}}')
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response .CodeMirror")
    await result.get_by_text("admin@govsvc.local").wait_for(timeout=20_000)
    # then it ran entirely from this origin, without a script error or a policy violation
    assert refused == []
    assert errors == []
    await context.close()
