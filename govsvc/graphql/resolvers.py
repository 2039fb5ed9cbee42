"""The few moves every resolver makes: read through a session, or mutate and map refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from graphql import GraphQLError

from govsvc.errors import Forbidden, ServiceError
from govsvc.graphql.context import BatchFn, Info
from govsvc.graphql.errors import error_type_of, forbidden, refusal
from govsvc.graphql.relay import INT64_MAX, parse_key
from govsvc.usecase import UseCase, reading, writing

T = TypeVar("T")
UseCaseFn = Callable[[UseCase], Awaitable[T]]
M = TypeVar("M")
P = TypeVar("P")


def bad_input(error: ServiceError) -> GraphQLError:
    return GraphQLError(error.message, extensions={"code": error.code.value, "field": error.field})


async def read(info: Info, fn: UseCaseFn[T]) -> T:
    """Run a query use case in a read transaction; refusals become top-level errors."""
    try:
        async with reading(info.context.runtime, info.context.caller) as uc:
            return await fn(uc)
    except ServiceError as error:
        raise bad_input(error) from None
    except Forbidden as error:
        raise forbidden(error) from None


async def read_or(info: Info, fn: UseCaseFn[T], *, missing: M) -> T | M:
    """Like `read`, but a missing (or forbidden-to-see) object answers `missing` in data, the
    way `node` answers null: nothing to see is not an error."""
    try:
        return await read(info, fn)
    except GraphQLError as error:
        if (error.extensions or {}).get("code") == "NOT_FOUND":
            return missing
        raise


async def read_checked(
    info: Info, payload: Callable[..., P], fn: UseCaseFn[T], *, ok: Callable[[T], P]
) -> P:
    """Like `read`, for queries that judge what they are given (previews): a refusal of the
    input is an expected outcome and comes back as errors in data, as a mutation's would;
    denial stays a top-level FORBIDDEN."""
    try:
        async with reading(info.context.runtime, info.context.caller) as uc:
            result = await fn(uc)
    except ServiceError as error:
        return payload(errors=[refusal(error_type_of(payload), error)])
    except Forbidden as error:
        raise forbidden(error) from None
    return ok(result)


async def mutate(
    info: Info, payload: Callable[..., P], fn: UseCaseFn[T], *, ok: Callable[[T], P]
) -> P:
    """Run one use case as one unit of work. What it returns becomes the payload through `ok`;
    an expected refusal becomes the payload's errors (of its domain's error type), denial a
    FORBIDDEN error, and any of them (or a failure) rolls back everything the call wrote."""
    try:
        async with writing(info.context.runtime, info.context.caller) as uc:
            result = await fn(uc)
    except ServiceError as error:
        errors = [refusal(error_type_of(payload), error)]
        # A payload may say more about a refusal than its errors (e.g. who could step in).
        refused = getattr(payload, "refused", None)
        return refused(error, errors) if refused is not None else payload(errors=errors)
    except Forbidden as error:
        raise forbidden(error) from None
    return ok(result)


async def load_nodes(
    info: Info,
    node_ids: Iterable[str],
    fn: BatchFn,
    to_node: Callable[[Any], T],
) -> list[T | None]:
    """Relay node lookup through the per-request loader; unreadable ids come back as null."""
    # `node`/`nodes` have checked each key against its type's column already; this only
    # refuses anything not written canonically.
    keys = [parse_key(node_id, max_key=INT64_MAX) for node_id in node_ids]
    valid = [k for k in keys if k is not None]
    found = await info.context.loader(fn).load_many(valid)
    by_key = dict(zip(valid, found, strict=True))
    return [
        to_node(by_key[k]) if k is not None and by_key.get(k) is not None else None for k in keys
    ]
