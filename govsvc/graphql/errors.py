"""How failures reach clients: payload errors per domain, FORBIDDEN, and masked surprises.

A use case refuses by raising a `ServiceError` (govsvc.errors) with a code. Each domain's
GraphQL module declares its error type (`IncidentError`, `CommsError`, ...) with an enum of the
codes its mutations can answer (`IncidentErrorCode`, ...), the way Saleor does: a client learns
from the schema exactly which refusals one mutation can give. `refusal` turns the exception into
that domain's error; `resolvers.mutate` does it for every mutation.
"""

from __future__ import annotations

import functools
import logging
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from govsvc.errors import Forbidden, ServiceError
from govsvc.graphql.scalars import InputValueError

log = logging.getLogger("govsvc.graphql")


@strawberry.interface(description="A refusal of a mutation's input: which field and why.")
class UserError:
    field: str | None = strawberry.field(description="The input field at fault, if one is.")
    message: str


@functools.cache
def _code_enum(error_type: Any) -> type[Enum]:
    code: type[Enum] = typing.get_type_hints(error_type)["code"]
    return code


@functools.cache
def error_type_of(payload: Any) -> type[Any]:
    """The domain error type a payload lists under `errors`."""
    (error_type,) = typing.get_args(typing.get_type_hints(payload)["errors"])
    return typing.cast(type[Any], error_type)


def refusal(error_type: Any, error: ServiceError) -> Any:
    """`error` as `error_type`, with the domain's code of the same name."""
    codes = _code_enum(error_type)
    try:
        code = codes(error.code.value)
    except ValueError:
        # A use case answered a code its domain does not declare: still a refusal the client
        # must read, so it goes out as INVALID, and we hear of it (tests/unit check the enums).
        log.error("%s has no code %s; answered INVALID", codes.__name__, error.code.value)
        code = codes("INVALID")
    return error_type(field=error.field, message=error.message, code=code)


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
