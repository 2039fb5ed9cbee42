"""create_app(settings) -> Starlette. No module-level engine, settings or enforcer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from govsvc import health
from govsvc.auth.authenticate import Authenticator
from govsvc.auth.oidc import OidcVerifier
from govsvc.graphql import ide
from govsvc.graphql.http import GraphQLEndpoint
from govsvc.http_boundary import JsonErrorMiddleware, UrlTextGuard
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from govsvc.web.alerts import AlertEndpoints
from govsvc.web.chat import ChatEndpoints
from govsvc.web.evidence import EvidenceEndpoints
from govsvc.web.oncall import OnCallFeeds
from govsvc.web.packs import PackEndpoints
from govsvc.web.security_headers import SecurityHeadersMiddleware
from govsvc.web.status_page import StatusPage
from govsvc.worker import run_worker

log = logging.getLogger("govsvc")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (or keep a sane incoming one) and echo it in the response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    runtime = runtime or Runtime.build(settings)
    authenticator = Authenticator(
        db=runtime.db,
        policy=runtime.policies.access,
        secret=settings.secret_key.get_secret_value(),
        oidc=OidcVerifier(settings),
    )
    graphql = GraphQLEndpoint(runtime, authenticator)
    evidence = EvidenceEndpoints(runtime, authenticator)
    audit_packs = PackEndpoints(runtime, authenticator)
    status_page = StatusPage(runtime)
    alerts = AlertEndpoints(runtime, authenticator)
    oncall_feeds = OnCallFeeds(runtime)
    chat = ChatEndpoints(runtime)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # A misconfigured store (no Object Lock, no versioning) stops start-up here.
        await runtime.store.check()
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(run_worker(runtime, stop=stop))
            if settings.worker_embedded
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await runtime.db.dispose()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        problems = await health.readiness_problems(runtime.db)
        return JSONResponse(
            {"status": "ready" if not problems else "not ready", "problems": problems},
            status_code=503 if problems else 200,
        )

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/evidence", evidence.upload, methods=["POST"]),
            Route("/evidence/{id}/content", evidence.download, methods=["GET"]),
            Route("/audit-packs/{id}/content", audit_packs.download, methods=["GET"]),
            Route("/alerts/alertmanager", alerts.alertmanager, methods=["POST"]),
            Route("/alerts/generic", alerts.generic, methods=["POST"]),
            Route("/oncall/{token}.ics", oncall_feeds.ics, methods=["GET"]),
            Route("/chat/slack/commands", chat.slack_command, methods=["POST"]),
            Route("/chat/slack/events", chat.slack_event, methods=["POST"]),
            Route("/chat/teams", chat.teams, methods=["POST"]),
            Route("/status", status_page.html, methods=["GET"]),
            Route("/status.json", status_page.json, methods=["GET"]),
            Route("/status.atom", status_page.atom, methods=["GET"]),
            *(ide.asset_routes() if settings.is_dev else []),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    # Added innermost first: the request id, security headers (on failures too), JSON for any
    # failure, then the URL's text check.
    app.add_middleware(UrlTextGuard)
    app.add_middleware(JsonErrorMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
