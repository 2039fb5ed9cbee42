"""How failures reach clients: typed payload errors, FORBIDDEN, and masked surprises."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from govsvc.errors import ErrorCode as DomainErrorCode
from govsvc.errors import Forbidden, ServiceError
from govsvc.graphql.scalars import InputValueError

log = logging.getLogger("govsvc.graphql")

ErrorCode = strawberry.enum(
    DomainErrorCode, name="ErrorCode", description="Why a mutation refused its input."
)


@strawberry.interface(description="A refusal of a mutation's input: which field, why, a code.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    message: str
    code: ErrorCode  # type: ignore[valid-type]


def user_errors(error_type: type[Any], error: ServiceError) -> list[Any]:
    return [error_type(field=error.field, message=error.message, code=error.code)]


def forbidden(error: Forbidden) -> GraphQLError:
    return GraphQLError(str(error), extensions={"code": "FORBIDDEN"})


_SHOWN = (GraphQLError, InputValueError)


class MaskUnexpectedErrors(SchemaExtension):
    """Replace any error we did not mean to show by a message and the request id to quote."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        result.errors = [self._mask(error, request_id) for error in result.errors]

    def _mask(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, _SHOWN):
            return error
        log.error("unexpected error [request %s]", request_id, exc_info=original)
        return GraphQLError(
            f"Unexpected error; quote request id {request_id} when reporting it.",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
