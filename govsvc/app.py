"""create_app(settings) -> Starlette. No module-level engine, settings or enforcer."""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from govsvc import health
from govsvc.auth.authenticate import Authenticator
from govsvc.auth.caller import Caller
from govsvc.auth.oidc import OidcVerifier
from govsvc.errors import Unauthenticated
from govsvc.graphql.context import Context
from govsvc.graphql.schema import build_schema
from govsvc.runtime import Runtime
from govsvc.settings import Settings

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


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI app, answering 401 before any GraphQL runs without a credential."""

    def __init__(self, runtime: Runtime, authenticator: Authenticator):
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql" if runtime.settings.is_dev else None,
            allow_queries_via_get=True,
        )
        self.runtime = runtime
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._is_ide_page(scope):
            request = Request(scope)
            try:
                caller = await self.authenticator.authenticate(
                    request.headers.get("authorization"),
                    request_id=scope.get("state", {}).get("request_id"),
                )
            except Unauthenticated as error:
                response = JSONResponse(
                    {
                        "errors": [
                            {"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}
                        ]
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="govsvc"'},
                )
                await response(scope, receive, send)
                return
            scope["state"]["caller"] = caller
        await super().__call__(scope, receive, send)

    def _is_ide_page(self, scope: Scope) -> bool:
        # The GraphiQL page itself holds no data; its requests carry the token like any other.
        if self.graphql_ide is None or scope["method"] != "GET":
            return False
        headers = dict(scope["headers"])
        return b"text/html" in headers.get(b"accept", b"") and not scope.get("query_string")

    async def get_context(self, request: Any, response: Any) -> Context:
        caller: Caller = request.scope["state"]["caller"]
        return Context(runtime=self.runtime, caller=caller)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    runtime = runtime or Runtime.build(settings)
    authenticator = Authenticator(
        db=runtime.db,
        policy=runtime.policies.access,
        secret=settings.secret_key.get_secret_value(),
        oidc=OidcVerifier(settings),
    )
    graphql = GraphQLEndpoint(runtime, authenticator)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
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
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_middleware(RequestIdMiddleware)
    return app
