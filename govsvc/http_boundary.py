"""The outermost guards of every HTTP route: whatever goes wrong underneath, a client gets JSON
with a code and the request id to quote, never a plain-text 500; and text no database can store
is refused in the URL before any route sees it."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import exc as sa_exc
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govsvc.errors import Unavailable
from govsvc.text_input import REASON, first_unstorable, is_storable

log = logging.getLogger("govsvc.http")

# Failures that mean "the database cannot answer now" (down, unreachable, pool exhausted,
# SQLite busy) rather than a bug: 503 and a retry hint instead of 500.
_UNAVAILABLE = (Unavailable, sa_exc.TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError)
RETRY_AFTER_SECONDS = 5


def error_response(
    status: int,
    message: str,
    code: str,
    *,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One error in the shape GraphQL clients already parse: message + extensions.code."""
    extensions: dict[str, Any] = {"code": code}
    if request_id is not None:
        extensions["requestId"] = request_id
    return JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]},
        status_code=status,
        headers=headers,
    )


def request_id_of(scope: Scope) -> str | None:
    request_id = scope.get("state", {}).get("request_id")
    return request_id if isinstance(request_id, str) else None


class JsonErrorMiddleware:
    """Turn an exception that escaped a route into a JSON 503 (database unavailable) or 500."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] in ("http.response.start", "websocket.accept", "websocket.close"):
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise  # half an answer is out; the server closes the connection
            request_id = request_id_of(scope)
            unavailable = isinstance(error, _UNAVAILABLE)
            log.error(
                "%s [request %s]",
                "database unavailable" if unavailable else "unexpected error",
                request_id,
                exc_info=error,
            )
            if scope["type"] == "websocket":
                # 1013: try again later; 1011: the server met an unexpected condition.
                await send({"type": "websocket.close", "code": 1013 if unavailable else 1011})
                return
            if unavailable:
                response = error_response(
                    503,
                    "The service cannot reach its database just now; try again shortly "
                    f"(request id {request_id}).",
                    "SERVICE_UNAVAILABLE",
                    request_id=request_id,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            else:
                response = error_response(
                    500,
                    f"Unexpected error; quote request id {request_id} when reporting it.",
                    "INTERNAL_SERVER_ERROR",
                    request_id=request_id,
                )
            await response(scope, receive, send)


class UrlTextGuard:
    """Refuse a path or query parameter holding NUL (PostgreSQL cannot store it) with a 400,
    for every route at once."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # Decoded the way Starlette decodes them for the routes.
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not is_storable(scope.get("path", "")):
            where = "path"
        elif first_unstorable([text for pair in query for text in pair]) is not None:
            where = "query"
        else:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1007})  # inconsistent data
            return
        response = error_response(400, f"the URL's {where}: {REASON}", "BAD_USER_INPUT")
        await response(scope, receive, send)
