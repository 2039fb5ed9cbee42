"""The worker's half of the outbox: claim due deliveries, POST them, record what happened.

Claiming is one short write transaction: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several
workers take disjoint batches; on SQLite the write transaction (BEGIN IMMEDIATE) serializes
them. A claim marks the delivery `delivering` with a lease (`next_attempt_at` in the future)
and a fresh claim token, and writes the attempt row at once. The HTTP calls run outside any
transaction; each outcome is recorded in its own transaction, fenced by the claim token so a
worker whose lease was taken over cannot overwrite its successor. A worker that dies mid-batch
loses nothing: when its leases run out the next worker claims those deliveries again (and
marks the unfinished attempts as lost). Delivery is therefore at-least-once; receivers drop
repeats by the idempotency key, which every retry of an event carries unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import smtplib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.outbox import formats, retries, sealing, signing, smtp
from govsvc.outbox.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    Endpoint,
    EndpointKind,
)
from govsvc.outbox.retries import Outcome
from govsvc.settings import Settings

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

log = logging.getLogger("govsvc.outbox")
USER_AGENT = "govsvc-webhooks/1"
ERROR_EXCERPT = 500  # bytes of a refusing receiver's answer kept with the attempt
LOST = "lease expired before the attempt finished (worker lost)"


@dataclass(frozen=True)
class Claim:
    """One delivery a worker has leased, with everything needed to send it."""

    delivery_id: int
    token: str
    attempt: int
    url: str
    kind: EndpointKind
    sealed_secret: bytes
    event: formats.Event


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None


class Clock:
    """Wall-clock time, shifted when a caller pins `now` (tests, replays); durations and
    signature timestamps always use the real clock."""

    def __init__(self, now: datetime | None):
        self._shift = (now - utcnow()) if now is not None else timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self._shift


def attempt_deadline(settings: Settings) -> float:
    """The longest one attempt may take, end to end (connect, send the body, read the answer)."""
    return settings.outbox_connect_timeout_seconds + 2 * settings.outbox_read_timeout_seconds


def lease_seconds(settings: Settings) -> float:
    # A lease shorter than an attempt would hand a live attempt to a second worker.
    return max(settings.outbox_lease_seconds, 2 * attempt_deadline(settings))


def _system(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, "system:outbox")


async def deliver_due(
    runtime: Runtime,
    *,
    batch: int = 20,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> int:
    """Attempt every due delivery, up to `batch` of them, concurrently; returns how many were
    attempted. `rng` draws the retry jitter (tests pin it)."""
    clock = Clock(now)
    claims = await claim_due(runtime, batch=batch, now=clock())
    if not claims:
        return 0
    settings = runtime.settings
    timeout = httpx.Timeout(
        settings.outbox_read_timeout_seconds,
        connect=settings.outbox_connect_timeout_seconds,
        pool=settings.outbox_connect_timeout_seconds,
    )
    jitter = rng or random.Random()  # noqa: S311 - spreading retries needs no secrecy
    # Redirects are not followed: a signed body belongs to the URL an administrator registered.
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        await asyncio.gather(
            *(_deliver_one(runtime, client, claim, clock, jitter) for claim in claims)
        )
    return len(claims)


async def claim_due(runtime: Runtime, *, batch: int, now: datetime) -> list[Claim]:
    """Lease up to `batch` due deliveries (pending and due, or delivering with a lapsed lease)
    of active endpoints, oldest due first."""
    settings = runtime.settings
    lease_until = now + timedelta(seconds=lease_seconds(settings))
    claims: list[Claim] = []
    async with runtime.db.write() as session:
        rows = (
            await session.execute(
                select(Delivery, Endpoint)
                .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
                .where(
                    Delivery.state.in_(
                        [DeliveryState.PENDING.value, DeliveryState.DELIVERING.value]
                    ),
                    Delivery.next_attempt_at <= now,
                    Endpoint.active.is_(True),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(batch)
                .with_for_update(of=Delivery, skip_locked=True)
            )
        ).all()
        for delivery, endpoint in rows:
            if delivery.state == DeliveryState.DELIVERING.value:
                await _mark_lost(session, delivery)
                if delivery.attempts - delivery.attempt_base >= settings.outbox_max_attempts:
                    await _bury(session, _system(runtime), delivery, now, reason=LOST)
                    continue
            token = uuid.uuid4().hex
            delivery.attempts += 1
            delivery.state = DeliveryState.DELIVERING.value
            delivery.claim_token = token
            delivery.next_attempt_at = lease_until
            session.add(
                DeliveryAttempt(delivery_id=delivery.id, attempt=delivery.attempts, started_at=now)
            )
            claims.append(
                Claim(
                    delivery_id=delivery.id,
                    token=token,
                    attempt=delivery.attempts,
                    url=endpoint.url,
                    kind=EndpointKind(endpoint.kind),
                    sealed_secret=endpoint.sealed_secret,
                    event=formats.Event(
                        event_type=delivery.event_type,
                        idempotency_key=delivery.idempotency_key,
                        occurred_at=delivery.created_at,
                        payload=json.loads(delivery.payload),
                    ),
                )
            )
    return claims


async def _mark_lost(session: AsyncSession, delivery: Delivery) -> None:
    await session.execute(
        update(DeliveryAttempt)
        .where(
            DeliveryAttempt.delivery_id == delivery.id,
            DeliveryAttempt.attempt == delivery.attempts,
            DeliveryAttempt.finished_at.is_(None),
        )
        .values(error=LOST)
    )
    delivery.last_status_code, delivery.last_error = None, LOST


async def _deliver_one(
    runtime: Runtime, client: httpx.AsyncClient, claim: Claim, clock: Clock, rng: random.Random
) -> None:
    try:
        result = await send(runtime, client, claim)
    except Exception as error:  # a bug must not strand the claim until its lease runs out
        log.exception("delivery %s: sending failed unexpectedly", claim.delivery_id)
        result = Result(Outcome.RETRY, None, f"internal error: {type(error).__name__}", 0)
    try:
        await finish(runtime, claim, result, now=clock(), rng=rng)
    except Exception:  # the lease brings it back; the receiver dedupes a repeat
        log.exception("delivery %s: recording the outcome failed", claim.delivery_id)


async def send(runtime: Runtime, client: httpx.AsyncClient, claim: Claim) -> Result:
    """POST one claimed delivery, signed; never raises for what the network or receiver does."""
    settings = runtime.settings
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    if claim.kind is EndpointKind.EMAIL:
        return await _send_email(runtime.settings, claim, started)
    try:
        secret = sealing.unseal(runtime.master_key, claim.sealed_secret)
    except sealing.SecretUnreadable as error:
        # Nothing was sent; a restored master key heals it, so it is retried, not buried.
        return Result(Outcome.RETRY, None, f"not sent: {error}", 0)
    try:
        body = formats.render(claim.kind, claim.event)
    except formats.Unsendable as error:
        # Nothing was sent and a retry would build the same message: dead-letter it, saying why.
        return Result(Outcome.UNSENDABLE, None, f"not sent: {error}"[:ERROR_EXCERPT], 0)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Govsvc-Delivery": str(claim.delivery_id),
        "X-Govsvc-Attempt": str(claim.attempt),
        # Real time, not the (possibly pinned) clock: receivers check it against theirs.
        **signing.sign(
            secret,
            body,
            event_type=claim.event.event_type,
            idempotency_key=claim.event.idempotency_key,
            timestamp=int(time.time()),
        ),
    }
    deadline = attempt_deadline(settings)
    try:
        async with asyncio.timeout(deadline):
            async with client.stream("POST", claim.url, content=body, headers=headers) as response:
                outcome = retries.classify(response.status_code)
                detail = None
                if outcome is not Outcome.DELIVERED:
                    excerpt = await _excerpt(response)
                    detail = f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else "")
                return Result(
                    outcome,
                    response.status_code,
                    detail,
                    elapsed_ms(),
                    retries.retry_after(response.headers.get("Retry-After"), utcnow()),
                )
    except (TimeoutError, httpx.TimeoutException) as exc:
        kind = type(exc).__name__ if isinstance(exc, httpx.TimeoutException) else "deadline"
        return Result(
            Outcome.RETRY, None, f"timeout ({kind}) after {elapsed_ms()} ms", elapsed_ms()
        )
    except httpx.HTTPError as exc:
        return Result(
            Outcome.RETRY, None, f"{type(exc).__name__}: {exc}"[:ERROR_EXCERPT], elapsed_ms()
        )


async def _send_email(settings: Settings, claim: Claim, started: float) -> Result:
    """An e-mail endpoint's delivery: one message over SMTP to its recipients."""

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        mail = smtp.message(settings, claim.url, claim.event)
    except formats.Unsendable as error:
        return Result(Outcome.UNSENDABLE, None, f"not sent: {error}"[:ERROR_EXCERPT], 0)
    try:
        refused = await smtp.send(settings, mail)
    except smtp.SmtpRefused as error:
        return Result(Outcome.PERMANENT, None, str(error)[:ERROR_EXCERPT], elapsed_ms())
    except (OSError, smtplib.SMTPException) as error:
        return Result(
            Outcome.RETRY, None, f"{type(error).__name__}: {error}"[:ERROR_EXCERPT], elapsed_ms()
        )
    # Sent to the others; the attempt log keeps whom the relay would not take.
    note = f"recipients refused: {', '.join(refused)}"[:ERROR_EXCERPT] if refused else None
    return Result(Outcome.DELIVERED, 250, note, elapsed_ms())


async def _excerpt(response: httpx.Response) -> str:
    """The start of a refusal's body, for whoever reads the attempt log."""
    taken = bytearray()
    async for chunk in response.aiter_bytes():
        taken += chunk
        if len(taken) >= ERROR_EXCERPT:
            break
    text = bytes(taken[:ERROR_EXCERPT]).decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() else " " for c in text).strip()


async def finish(
    runtime: Runtime, claim: Claim, result: Result, *, now: datetime, rng: random.Random
) -> None:
    """Record an attempt's outcome: delivered, retry later, or dead."""
    settings = runtime.settings
    async with runtime.db.write() as session:
        # The attempt happened whoever holds the claim now, so its row is always completed.
        await session.execute(
            update(DeliveryAttempt)
            .where(
                DeliveryAttempt.delivery_id == claim.delivery_id,
                DeliveryAttempt.attempt == claim.attempt,
            )
            .values(
                finished_at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
            )
        )
        delivery = (
            await session.execute(
                select(Delivery)
                .where(Delivery.id == claim.delivery_id, Delivery.claim_token == claim.token)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if delivery is None:
            log.warning(
                "delivery %s: lease was taken over; outcome of attempt %s kept only "
                "in the attempt log",
                claim.delivery_id,
                claim.attempt,
            )
            return
        delivery.claim_token = None
        delivery.last_status_code, delivery.last_error = result.status_code, result.error
        if result.outcome is Outcome.DELIVERED:
            delivery.state = DeliveryState.DELIVERED.value
            delivery.delivered_at = now
            return
        if result.outcome in (Outcome.PERMANENT, Outcome.UNSENDABLE):
            reason = (
                result.error or "unsendable"
                if result.outcome is Outcome.UNSENDABLE or result.status_code is None
                else f"refused with HTTP {result.status_code}"
            )
            await _bury(session, _system(runtime), delivery, now, reason=reason)
            return
        failures = delivery.attempts - delivery.attempt_base
        if failures >= settings.outbox_max_attempts:
            await _bury(
                session,
                _system(runtime),
                delivery,
                now,
                reason=f"no success in {failures} attempts",
            )
            return
        base, cap = settings.outbox_backoff_base_seconds, settings.outbox_backoff_cap_seconds
        delay = retries.backoff(failures, base=base, cap=cap, rng=rng)
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, cap))
        delivery.state = DeliveryState.PENDING.value
        delivery.next_attempt_at = now + timedelta(seconds=delay)


async def _bury(
    session: AsyncSession, caller: Caller, delivery: Delivery, now: datetime, *, reason: str
) -> None:
    """Dead-letter a delivery: it stays, visible and requeueable, and the audit log says why."""
    delivery.state = DeliveryState.DEAD.value
    delivery.dead_at = now
    delivery.claim_token = None
    await record(
        session,
        caller,
        "webhook.delivery_dead",
        resource_type="webhook_delivery",
        resource_id=delivery.id,
        payload={
            "endpoint_id": delivery.endpoint_id,
            "event_type": delivery.event_type,
            "idempotency_key": delivery.idempotency_key,
            "attempts": delivery.attempts,
            "last_status_code": delivery.last_status_code,
            "reason": reason,
        },
    )
