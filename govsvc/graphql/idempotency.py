"""`Idempotency-Key` on GraphQL POSTs that carry a mutation: the first response is kept (per
caller and key, with a hash of the request) and a retry gets it back byte for byte, running
nothing. The same key with another request is refused (422), a retry while the first is still
running too (409). Queries ignore the header: they change nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import Response

from govsvc.caller import Caller
from govsvc.http_boundary import error_response
from govsvc.idempotency import service
from govsvc.runtime import Runtime

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Visible ASCII, as in the IETF draft's examples (UUIDs, ULIDs, random tokens).
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


async def run_once(
    runtime: Runtime,
    caller: Caller,
    request: Request,
    execute: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `execute` at most once per (caller, key) for the same request."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return await execute()
    if not _KEY.fullmatch(key):
        return error_response(
            400, "Idempotency-Key must be 1 to 255 visible ASCII characters", "INVALID"
        )
    if "application/json" not in request.headers.get("content-type", ""):
        return error_response(
            400,
            "Idempotency-Key is accepted on application/json requests only "
            "(upload large files through POST /evidence)",
            "INVALID",
        )
    request_sha256 = _mutation_digest(await request.body(), runtime.settings.graphql_max_tokens)
    if request_sha256 is None or caller.principal_id is None:
        return await execute()  # a query, or a request GraphQL itself will refuse
    settings = runtime.settings
    try:
        outcome = await service.claim(
            runtime.db,
            principal_id=caller.principal_id,
            key=key,
            request_sha256=request_sha256,
            ttl=timedelta(seconds=settings.idempotency_key_ttl_seconds),
            lease=timedelta(seconds=settings.idempotency_lease_seconds),
        )
    except service.KeyReused:
        return error_response(
            422,
            "this Idempotency-Key was first used for a different request; use a new key",
            "IDEMPOTENCY_KEY_REUSED",
        )
    except service.KeyInFlight:
        return error_response(
            409,
            "a request with this Idempotency-Key is still running; retry later",
            "IDEMPOTENCY_KEY_IN_USE",
            headers={"Retry-After": "1"},
        )
    if isinstance(outcome, service.StoredResponse):
        return Response(
            outcome.body,
            status_code=outcome.status_code,
            headers={"content-type": outcome.content_type, REPLAYED_HEADER: "true"},
        )
    try:
        response = await execute()
    except BaseException:
        await service.release(runtime.db, outcome)
        raise
    await service.finish(
        runtime.db,
        outcome,
        service.StoredResponse(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", "application/json"),
            body=bytes(response.body),
        ),
    )
    return response


def _mutation_digest(body: bytes, max_tokens: int) -> str | None:
    """SHA-256 naming a mutation request (document, operation, variables); None otherwise."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        return None
    operation_name = data.get("operationName")
    try:
        document = parse(data["query"], max_tokens=max_tokens or None)
    except GraphQLError:
        return None
    operation = get_operation_ast(
        document, operation_name if isinstance(operation_name, str) else None
    )
    if operation is None or operation.operation is not OperationType.MUTATION:
        return None
    canonical = orjson.dumps(
        {
            "query": data["query"],
            "operationName": operation_name,
            "variables": data.get("variables"),
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(canonical).hexdigest()
