"""The /graphql endpoint: strawberry's ASGI app behind authentication, speaking
GraphQL over HTTP including the application/graphql-response+json media type."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types.unset import UNSET

from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.caller import Caller
from govsvc.errors import Unauthenticated
from govsvc.graphql import ide
from govsvc.graphql.context import Context
from govsvc.graphql.idempotency import run_once
from govsvc.graphql.schema import build_schema
from govsvc.http_boundary import error_response
from govsvc.runtime import Runtime

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI app, answering 401 before any GraphQL runs without a credential."""

    def __init__(self, runtime: Runtime, authenticator: Authenticator):
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql" if runtime.settings.is_dev else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=True,
        )
        self.runtime = runtime
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # A socket may log in with its upgrade request's header or in connection_init.
            try:
                scope.setdefault("state", {})[
                    "caller"
                ] = await self.authenticator.authenticate_request(HTTPConnection(scope))
            except Unauthenticated:
                scope.setdefault("state", {})["caller"] = None
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if not self._is_ide_page(scope):
            try:
                scope["state"]["caller"] = await self.authenticator.authenticate_request(request)
            except Unauthenticated as error:
                await unauthenticated(error)(scope, receive, send)
                return
        try:
            caller = scope["state"].get("caller")
            response = (
                await run_once(self.runtime, caller, request, lambda: self.run(request))
                if caller is not None
                else await self.run(request)
            )
        except HTTPException as error:
            # Strawberry says no in plain text; clients of a JSON API get JSON.
            response = error_response(
                error.status_code, error.reason, _HTTP_CODES.get(error.status_code, "BAD_REQUEST")
            )
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses invalid UTF-8, unpaired surrogates and nesting beyond 1024 levels as
        # a JSONDecodeError (a 400 below), where the standard library would raise
        # UnicodeDecodeError or RecursionError (a 500) or hand surrogates on to the database.
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = self.decode_json(data)
        except orjson.JSONDecodeError as error:
            raise HTTPException(400, f"the request body is not valid JSON: {error}") from None
        # Bodies, variables, extensions and upload maps are all objects (or a batch of them);
        # null stands for "none" (GET's variables=null), anything else would crash strawberry.
        if parsed is None:
            return {}
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "expected a JSON object")
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page over vendored assets, not strawberry's (which loads them from a CDN).
        return ide.page()

    def _is_ide_page(self, scope: Scope) -> bool:
        # The GraphiQL page itself holds no data; its requests carry the token like any other.
        if self.graphql_ide is None or scope["method"] != "GET":
            return False
        headers = dict(scope["headers"])
        return b"text/html" in headers.get(b"accept", b"") and not scope.get("query_string")

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        # Remember whether the client speaks the GraphQL-over-HTTP response media type.
        sub_response.wants_graphql_response_json = (  # type: ignore[attr-defined]
            GRAPHQL_RESPONSE_JSON in request.headers.get("accept", "")
        )
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        if not getattr(sub_response, "wants_graphql_response_json", False):
            return super().create_response(response_data, sub_response)
        if isinstance(response_data, dict) and _is_request_error(response_data):
            # The document never executed (parse, validation or variable errors): no data, 400.
            response_data = {"errors": response_data["errors"]}
            sub_response.status_code = 400
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

    async def get_context(self, request: Any, response: Any) -> Context:
        caller: Caller | None = request.scope["state"].get("caller")
        context = Context(
            runtime=self.runtime, caller=caller or Caller.anonymous(self.runtime.policies.access)
        )
        if request.scope["type"] == "websocket":
            context.socket = request
            context.credential = request.headers.get("authorization") if caller else None
            context.reauthenticate = self._reauthenticate
        return context

    async def _reauthenticate(self, credential: str | None) -> Caller:
        return await self.authenticator.authenticate(credential, request_id=None)

    async def on_ws_connect(self, context: Context) -> Any:
        if not context.caller.is_anonymous:
            return UNSET
        params = context.connection_params or {}
        credential = params.get("Authorization") or params.get("authorization")
        credential = credential if isinstance(credential, str) else None
        try:
            context.caller = await self.authenticator.authenticate(credential, request_id=None)
        except Unauthenticated:
            raise ConnectionRejectionError({"message": "invalid or missing credential"}) from None
        context.credential = credential
        return UNSET


def _is_request_error(response: GraphQLHTTPResponse) -> bool:
    errors: list[dict[str, Any]] = list(response.get("errors") or [])  # type: ignore[arg-type]
    return (
        response.get("data") is None
        and bool(errors)
        and not any("path" in error for error in errors)
    )
