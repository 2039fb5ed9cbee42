"""How the plain HTTP endpoints (evidence, packs) say no: JSON `{"errors": [...]}` with the
same field/message/code as GraphQL payload errors, and a fitting status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from govsvc.errors import ErrorCode, Forbidden, Invalid, ServiceError

_STATUS = {ErrorCode.NOT_FOUND: 404, ErrorCode.GONE: 410, ErrorCode.CONFLICT: 409}


def refused(error: ServiceError) -> Response:
    return JSONResponse(
        {"errors": [{"field": error.field, "message": error.message, "code": error.code.value}]},
        status_code=_STATUS.get(error.code, 400),
    )


def forbidden(error: Forbidden) -> Response:
    return JSONResponse(
        {"errors": [{"field": None, "message": str(error), "code": "FORBIDDEN"}]}, status_code=403
    )


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None past `limit` (a chunked body may not say its length)."""
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
    if not seen:
        raise Invalid("the body is empty", field="body")
    return b"".join(chunks)


def too_large(limit: int) -> Response:
    return JSONResponse(
        {"errors": [{"field": "body", "code": "INVALID", "message": f"larger than {limit} bytes"}]},
        status_code=413,
    )
