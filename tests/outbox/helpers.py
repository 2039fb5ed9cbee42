"""Helpers shared by the outbox tests."""

from __future__ import annotations

from typing import Any

from govsvc.outbox import admin
from govsvc.outbox.enqueue import enqueue
from govsvc.outbox.models import Delivery, DeliveryAttempt
from govsvc.runtime import Runtime

RECEIVER_SECRET = "receiver-secret-" + "s" * 24
CHAT_PAYLOAD: dict[str, Any] = {
    "title": "Payments API degraded",
    "text": "Card payments fail for some customers in the EU. <b>We are on it</b> & updating.",
    "severity": "SEV2",
    "status": "investigating",
    "incident_reference": "INC-2026-0042",
    "url": "https://status.example.com/incidents/42",
}


async def publish(
    runtime: Runtime,
    key: str,
    payload: dict[str, Any] | None = None,
    *,
    kinds: set[str] | None = None,
) -> list[int]:
    """What a service function does: enqueue inside its write transaction."""
    async with runtime.db.write() as session:
        return await enqueue(
            session,
            event_type="incident.status_changed",
            payload=CHAT_PAYLOAD if payload is None else payload,
            idempotency_key=key,
            kinds=kinds,
        )


async def delivery(runtime: Runtime, delivery_id: int) -> Delivery:
    async with runtime.db.read() as session:
        found = await session.get(Delivery, delivery_id)
    assert found is not None
    return found


async def attempts(runtime: Runtime, delivery_id: int) -> list[DeliveryAttempt]:
    async with runtime.db.read() as session:
        return (await admin.attempts_for(session, [delivery_id]))[delivery_id]
