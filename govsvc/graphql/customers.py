"""GraphQL of the organisation's customer list (names no public text may carry)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.graphql.context import Info
from govsvc.graphql.org_errors import OrgError
from govsvc.graphql.relay import decode_id
from govsvc.graphql.resolvers import load_nodes, mutate, read
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
class CustomerPayload:
    customer: Customer | None = None
    errors: list[OrgError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, customer: models.Customer) -> CustomerPayload:
        return cls(customer=Customer.from_model(customer))


async def list_all(info: Info) -> list[Customer]:
    found = await read(info, customers.list_customers)
    return [Customer.from_model(c) for c in found]


async def add(info: Info, input: CustomerAddInput) -> CustomerPayload:
    return await mutate(
        info,
        CustomerPayload,
        lambda uc: customers.add_customer(uc, name=input.name),
        ok=CustomerPayload.of,
    )


async def remove(info: Info, input: CustomerRemoveInput) -> CustomerPayload:
    return await mutate(
        info,
        CustomerPayload,
        lambda uc: customers.remove_customer(
            uc, customer_id=decode_id(input.id, "Customer", field="id")
        ),
        ok=CustomerPayload.of,
    )
