"""GraphQL of the organisation's customer list (names no public text may carry)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.graphql.context import Info
from govsvc.graphql.errors import LegacyUserError
from govsvc.graphql.relay import decode_id
from govsvc.graphql.resolvers import load_nodes, mutate_legacy, read_legacy
from govsvc.org import customers, models


@strawberry.type(description="A customer whose name is redacted from every public text.")
class Customer(relay.Node):
    id: relay.NodeID[int]
    name: str
    added_by: str
    created_at: datetime

    @classmethod
    def from_model(cls, c: models.Customer) -> Self:
        return cls(id=c.id, name=c.name, added_by=c.added_by, created_at=c.created_at)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, customers.customers_by_id, cls.from_model)


@strawberry.input
class CustomerAddInput:
    name: str = strawberry.field(description='As written in text, e.g. "Globex Corporation".')


@strawberry.input
class CustomerRemoveInput:
    id: strawberry.ID


@strawberry.type
class CustomerError(LegacyUserError):
    pass


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    errors: list[CustomerError] = strawberry.field(default_factory=list)


async def list_all(info: Info) -> list[Customer]:
    found = await read_legacy(info, customers.list_customers)
    return [Customer.from_model(c) for c in found]


async def add(info: Info, input: CustomerAddInput) -> CustomerPayload:
    rt, caller = info.context.runtime, info.context.caller
    return await mutate_legacy(
        lambda: customers.add_customer(rt.db, caller, name=input.name),
        ok=lambda c: CustomerPayload(customer=Customer.from_model(c)),
        refused=lambda e: CustomerPayload(errors=e),
        error_type=CustomerError,
    )


async def remove(info: Info, input: CustomerRemoveInput) -> CustomerPayload:
    rt, caller = info.context.runtime, info.context.caller
    return await mutate_legacy(
        lambda: customers.remove_customer(
            rt.db, caller, customer_id=decode_id(input.id, "Customer", field="id")
        ),
        ok=lambda c: CustomerPayload(customer=Customer.from_model(c)),
        refused=lambda e: CustomerPayload(errors=e),
        error_type=CustomerError,
    )
