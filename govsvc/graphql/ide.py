"""GraphiQL served entirely from this origin: a page and the pinned npm builds it needs
(React, ReactDOM, GraphiQL; vendored under static/graphiql with their licences and SHA-384
sums), so it works offline and loads nothing from a CDN. Development only, like introspection."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql"
# Nothing but this origin: scripts and styles from here (GraphiQL sets inline styles), its
# fonts are data: URIs, and it talks only to this server (HTTP and the WebSocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src data:; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def page() -> Response:
    return HTMLResponse(
        (ASSETS_DIR / "index.html").read_text(encoding="utf-8"),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        },
    )


def asset_routes() -> list[BaseRoute]:
    return [Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS_DIR), name="graphiql")]
