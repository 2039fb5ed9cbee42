"""Recording events for delivery, inside the caller's own write transaction.

Because the outbox rows are written by the same transaction as the change they announce, a
rolled-back change announces nothing and a committed one is never lost, whatever happens to
the process afterwards: the worker delivers from the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.db import utcnow
from govsvc.errors import Invalid
from govsvc.outbox import formats
from govsvc.outbox.models import Delivery, DeliveryState, Endpoint, EndpointKind

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$")
# Sent as a header on every attempt: visible ASCII only, so it survives any HTTP stack intact.
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_PAYLOAD_BYTES = 256 * 1024


def parse_kinds(kinds: Iterable[str] | None) -> set[EndpointKind] | None:
    if kinds is None:
        return None
    try:
        return {EndpointKind(kind) for kind in kinds}
    except ValueError:
        known = ", ".join(k.value for k in EndpointKind)
        raise Invalid(f"unknown endpoint kind (use {known})", field="kinds") from None


async def enqueue(
    session: AsyncSession,
    *,
    event_type: str,
    payload: dict[str, Any],
    idempotency_key: str,
    kinds: set[str] | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Queue one delivery of this event per active endpoint of `kinds` (every kind if None).

    Call it inside the write transaction that makes the change. A key already queued for an
    endpoint is skipped, so repeating an enqueue never sends twice. Returns the new deliveries'
    ids (empty when every endpoint already had this key, or there are no endpoints)."""
    if len(event_type) > 100 or not _EVENT_TYPE.match(event_type):
        raise Invalid(
            "use dotted lower-case words, e.g. incident.status_changed", field="event_type"
        )
    if not _IDEMPOTENCY_KEY.match(idempotency_key):
        raise Invalid("use 1-200 visible ASCII characters", field="idempotency_key")
    wanted = parse_kinds(kinds)
    if not isinstance(payload, dict):
        raise Invalid("the payload must be a JSON object", field="payload")
    try:
        text = formats.canonical_json(payload)
    except (TypeError, ValueError) as error:
        raise Invalid(f"the payload is not JSON: {error}", field="payload") from None
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise Invalid(f"the payload exceeds {MAX_PAYLOAD_BYTES} bytes", field="payload")

    query = select(Endpoint.id, Endpoint.kind).where(Endpoint.active.is_(True))
    if wanted is not None:
        query = query.where(Endpoint.kind.in_(sorted(k.value for k in wanted)))
    endpoints = (await session.execute(query.order_by(Endpoint.id))).all()
    for kind in {EndpointKind(kind) for _, kind in endpoints}:
        formats.check(kind, payload)

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    occurred_at = now or utcnow()  # one moment for every copy of the event
    created: list[int] = []
    for endpoint_id, _ in endpoints:
        statement = (
            insert(Delivery)
            .values(
                endpoint_id=endpoint_id,
                event_type=event_type,
                idempotency_key=idempotency_key,
                payload=text,
                state=DeliveryState.PENDING.value,
                attempts=0,
                attempt_base=0,
                next_attempt_at=occurred_at,
                created_at=occurred_at,
            )
            # Atomic even against a concurrent enqueue of the same key: that one waits for ours
            # and then inserts nothing, instead of failing the caller's whole transaction.
            .on_conflict_do_nothing(index_elements=["endpoint_id", "idempotency_key"])
            .returning(Delivery.id)
        )
        new_id = (await session.execute(statement)).scalar_one_or_none()
        if new_id is not None:
            created.append(new_id)
    return created
