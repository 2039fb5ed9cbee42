"""How the plain HTTP endpoints (evidence, packs) say no: JSON `{"errors": [...]}` with the
same field/message/code as GraphQL payload errors, and a fitting status."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from govsvc.errors import ErrorCode, Forbidden, ServiceError

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
