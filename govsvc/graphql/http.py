"""The /graphql endpoint: strawberry's ASGI app behind authentication, speaking
GraphQL over HTTP including the application/graphql-response+json media type."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.types.unset import UNSET

from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.auth.caller import Caller
from govsvc.errors import Unauthenticated
from govsvc.graphql.context import Context
from govsvc.graphql.schema import build_schema
from govsvc.runtime import Runtime

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


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
        elif scope["type"] == "http" and not self._is_ide_page(scope):
            try:
                caller = await self.authenticator.authenticate_request(Request(scope))
            except Unauthenticated as error:
                await unauthenticated(error)(scope, receive, send)
                return
            scope["state"]["caller"] = caller
        await super().__call__(scope, receive, send)

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
