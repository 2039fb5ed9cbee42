"""Administering the outbox: endpoints, the delivery log, and requeueing what failed.

Only administrators (`manage webhook` everywhere) change anything; every change is audited.
An endpoint's secret is accepted once, sealed, and never returned or logged; for Slack and
Teams the URL is itself a credential, so reads and the audit log show it redacted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import AlreadyExists, Conflict, Invalid, NotFound
from govsvc.outbox.models import Delivery, DeliveryAttempt, DeliveryState, Endpoint, EndpointKind
from govsvc.outbox.sealing import seal
from govsvc.pagination import Page, fetch_page, page_size
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    pass

SECRET_MIN, SECRET_MAX = 16, 512
URL_MAX = 2000
CREDENTIAL_URL_KINDS = frozenset({EndpointKind.SLACK, EndpointKind.TEAMS})


@dataclass(frozen=True)
class EndpointView:
    """An endpoint as anyone may be shown it: no secret, credential URLs redacted."""

    id: int
    name: str
    kind: EndpointKind
    url: str
    active: bool
    created_at: datetime
    created_by: str


def redacted_url(kind: EndpointKind, url: str) -> str:
    parts = urlsplit(url)
    if kind in CREDENTIAL_URL_KINDS:
        return f"{parts.scheme}://{parts.netloc}/…{parts.path[-4:]}"
    return parts._replace(query="…" if parts.query else "").geturl()


def view(endpoint: Endpoint) -> EndpointView:
    kind = EndpointKind(endpoint.kind)
    return EndpointView(
        id=endpoint.id,
        name=endpoint.name,
        kind=kind,
        url=redacted_url(kind, endpoint.url),
        active=endpoint.active,
        created_at=endpoint.created_at,
        created_by=endpoint.created_by,
    )


def _kind(value: str) -> EndpointKind:
    try:
        return EndpointKind(value)
    except ValueError:
        known = ", ".join(k.value for k in EndpointKind)
        raise Invalid(f"unknown endpoint kind (use {known})", field="kind") from None


def _url(value: str, kind: EndpointKind = EndpointKind.GENERIC) -> str:
    value = value.strip()
    if len(value) > URL_MAX:
        raise Invalid(f"must be at most {URL_MAX} characters", field="url")
    if kind is EndpointKind.EMAIL:
        return _mailto(value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check: it raises on a bad one
    except ValueError:
        raise Invalid("not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("must be an http:// or https:// URL with a host", field="url")
    if parts.username is not None or parts.password is not None:
        # They would be stored and shown in clear; the receiver checks the signature instead.
        raise Invalid("must not carry credentials (user:password@)", field="url")
    if parts.fragment:
        raise Invalid("must not have a #fragment", field="url")
    return value


def _mailto(value: str) -> str:
    """mailto: (each event's own recipients) or mailto:a@x,b@y (those too)."""
    if not value.startswith("mailto:"):
        raise Invalid(
            "an e-mail endpoint's URL is mailto: or mailto:address[,address]", field="url"
        )
    addresses = [a.strip() for a in value.removeprefix("mailto:").split(",") if a.strip()]
    return "mailto:" + ",".join(validation.email(a, field="url") for a in addresses)


def _secret(value: str) -> str:
    # The message never echoes the value: it may be a real secret with a typo.
    if not SECRET_MIN <= len(value) <= SECRET_MAX or not value.isprintable():
        raise Invalid(
            f"use {SECRET_MIN}-{SECRET_MAX} printable characters (a random string)",
            field="secret",
        )
    return value


async def create_endpoint(
    uc: UseCase, *, name: str, url: str, kind: str, secret: str
) -> EndpointView:
    """Register where events go; the secret signs every delivery to it."""
    uc.caller.access.require_everywhere("manage", "webhook")
    name = validation.text(name, field="name", max_length=100)
    endpoint_kind = _kind(kind)
    url = _url(url, endpoint_kind)
    sealed = seal(uc.runtime.master_key, _secret(secret))
    session = uc.session
    endpoint = Endpoint(
        name=name,
        url=url,
        kind=endpoint_kind.value,
        sealed_secret=sealed,
        active=True,
        created_at=utcnow(),
        created_by=uc.caller.actor,
    )
    session.add(endpoint)
    try:
        await session.flush()
    except IntegrityError:
        raise AlreadyExists(f"an endpoint named {name!r} exists", field="name") from None
    await record(
        session,
        uc.caller,
        "webhook.endpoint_create",
        resource_type="webhook_endpoint",
        resource_id=endpoint.id,
        payload={
            "name": name,
            "kind": endpoint_kind.value,
            "url": redacted_url(endpoint_kind, url),
        },
    )
    return view(endpoint)


async def set_endpoint_active(uc: UseCase, *, endpoint_id: int, active: bool) -> EndpointView:
    """Pause or resume an endpoint. Paused, it gets no new events and its queued deliveries
    wait (they are not dropped) until it is resumed."""
    uc.caller.access.require_everywhere("manage", "webhook")
    session = uc.session
    endpoint = await session.get(Endpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("no such endpoint", field="endpointId")
    if endpoint.active != active:
        endpoint.active = active
        await record(
            session,
            uc.caller,
            "webhook.endpoint_resume" if active else "webhook.endpoint_pause",
            resource_type="webhook_endpoint",
            resource_id=endpoint.id,
            payload={"name": endpoint.name},
        )
    return view(endpoint)


async def list_endpoints(
    uc: UseCase,
) -> list[EndpointView]:
    uc.caller.access.require_everywhere("read", "webhook")
    rows = await uc.session.execute(select(Endpoint).order_by(Endpoint.id))
    return [view(endpoint) for endpoint in rows.scalars()]


async def retry(uc: UseCase, *, delivery_id: int, now: datetime | None = None) -> Delivery:
    """Requeue a dead delivery, or bring a failed one's next retry forward to now, with a fresh
    retry budget. The attempt log keeps every earlier attempt."""
    uc.caller.access.require_everywhere("manage", "webhook")
    now = now or utcnow()
    session = uc.session
    delivery = (
        await session.execute(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
    ).scalar_one_or_none()
    if delivery is None:
        raise NotFound("no such delivery", field="deliveryId")
    failed = (
        delivery.state == DeliveryState.PENDING.value and delivery.attempts > delivery.attempt_base
    )
    if delivery.state != DeliveryState.DEAD.value and not failed:
        raise Conflict(
            f"the delivery is {delivery.state}; only dead or failed deliveries are requeued",
            field="deliveryId",
        )
    previous = delivery.state
    delivery.state = DeliveryState.PENDING.value
    delivery.attempt_base = delivery.attempts
    delivery.next_attempt_at = now
    delivery.dead_at = None
    await record(
        session,
        uc.caller,
        "webhook.delivery_retry",
        resource_type="webhook_delivery",
        resource_id=delivery.id,
        payload={
            "previous_state": previous,
            "attempts": delivery.attempts,
            "endpoint_id": delivery.endpoint_id,
            "idempotency_key": delivery.idempotency_key,
        },
    )
    return delivery


async def list_deliveries(
    uc: UseCase,
    *,
    state: str | None = None,
    endpoint_id: int | None = None,
    event_type: str | None = None,
    first: int | None = None,
    after_id: int | None = None,
    max_page: int = 100,
) -> Page[Delivery]:
    """The delivery log, newest first, filtered in the query."""
    uc.caller.access.require_everywhere("read", "webhook")
    query = select(Delivery)
    if state is not None:
        try:
            query = query.where(Delivery.state == DeliveryState(state).value)
        except ValueError:
            known = ", ".join(s.value for s in DeliveryState)
            raise Invalid(f"unknown delivery state (use {known})", field="state") from None
    if endpoint_id is not None:
        query = query.where(Delivery.endpoint_id == endpoint_id)
    if event_type is not None:
        query = query.where(Delivery.event_type == event_type)
    return await fetch_page(
        uc.session,
        query,
        id_column=Delivery.id,
        size=page_size(first, cap=max_page),
        after_id=after_id,
    )


async def attempts_for(
    session: AsyncSession, delivery_ids: Iterable[int]
) -> dict[int, list[DeliveryAttempt]]:
    """Every attempt of these deliveries, in order, in one query (a DataLoader's batch)."""
    ids = sorted(set(delivery_ids))
    found: dict[int, list[DeliveryAttempt]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(ids))
        .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempt)
    )
    for attempt in rows.scalars():
        found[attempt.delivery_id].append(attempt)
    return found


async def attempts_by_delivery(
    session: AsyncSession, caller: Caller, delivery_ids: Iterable[int]
) -> dict[int, list[DeliveryAttempt]]:
    """`attempts_for` as a loader's batch: reached only through a delivery the caller may read."""
    return await attempts_for(session, delivery_ids)


async def deliveries_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Delivery]:
    """Deliveries by id, for `node` (a loader's batch); none for a caller who may not read them."""
    if not caller.access.allows("read", "webhook"):
        return {}
    rows = await session.execute(select(Delivery).where(Delivery.id.in_(set(ids))))
    return {d.id: d for d in rows.scalars()}
