"""The organisation's customers: names that no public text may carry (post-mortems, public
and customer status updates). Managed by administrators; every change is audited."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.errors import AlreadyExists, Forbidden, NotFound
from govsvc.org.models import Customer
from govsvc.usecase import UseCase


def _require_manager(caller: Caller) -> None:
    # The list says who the organisation's customers are: as sensitive as the people list is
    # to change, so only those who manage the organisation everywhere see or change it.
    caller.access.require_everywhere("manage", "customer")


async def add_customer(uc: UseCase, *, name: str) -> Customer:
    """Add a customer to the organisation-wide list."""
    clean = validation.text(name, field="name")
    session = uc.session
    _require_manager(uc.caller)
    taken = (await session.execute(select(Customer.id).where(Customer.name.ilike(clean)))).first()
    if taken is not None:
        raise AlreadyExists(f"{clean} is already on the customer list", field="name")
    customer = Customer(name=clean, added_by=uc.caller.actor)
    session.add(customer)
    try:
        await session.flush()
    except IntegrityError:
        raise AlreadyExists(f"{clean} is already on the customer list", field="name") from None
    await record(
        session,
        uc.caller,
        "customer.add",
        resource_type="customer",
        resource_id=customer.id,
        payload={"name": clean},
    )
    return customer


async def remove_customer(uc: UseCase, *, customer_id: int) -> Customer:
    """Take a customer off the list (the audit log keeps that it was there)."""
    session = uc.session
    _require_manager(uc.caller)
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer", field="id")
    await session.delete(customer)
    await record(
        session,
        uc.caller,
        "customer.remove",
        resource_type="customer",
        resource_id=customer.id,
        payload={"name": customer.name},
    )
    return customer


async def list_customers(
    uc: UseCase,
) -> list[Customer]:
    """The whole list, by name (for those who manage it)."""
    _require_manager(uc.caller)
    return list((await uc.session.execute(select(Customer).order_by(Customer.name))).scalars())


async def customers_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Customer]:
    try:
        _require_manager(caller)
    except Forbidden:
        return {}  # `node` answers null, as for a missing customer
    rows = await session.execute(select(Customer).where(Customer.id.in_(list(ids))))
    return {c.id: c for c in rows.scalars()}


async def customer_names(session: AsyncSession) -> list[str]:
    """Every name on the list, for redaction (no access check: the names never leave)."""
    return list((await session.execute(select(Customer.name).order_by(Customer.id))).scalars())
