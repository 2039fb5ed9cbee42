"""Claim a key, then finish it with the response or release it: the store behind
`Idempotency-Key`. Every step is its own short transaction, so a key is visible as taken while
its request runs, and a concurrent duplicate is refused instead of waiting."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from govsvc.db import Database, utcnow
from govsvc.idempotency.models import IdempotencyKey

IN_FLIGHT = "in_flight"
DONE = "done"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Claim:
    """The right to run the request once and store its answer."""

    id: int
    token: str


class KeyReused(Exception):
    """The key was first used for a different request."""


class KeyInFlight(Exception):
    """The first request with this key is still running."""


async def claim(
    db: Database,
    *,
    principal_id: int,
    key: str,
    request_sha256: str,
    ttl: timedelta,
    lease: timedelta,
) -> Claim | StoredResponse:
    """Take the key for this request, or the stored answer of its first use."""
    # Two first uses at once: one insert wins, the other sees its row on the next round.
    for _ in range(3):
        try:
            return await _claim_once(
                db,
                principal_id=principal_id,
                key=key,
                request_sha256=request_sha256,
                ttl=ttl,
                lease=lease,
            )
        except IntegrityError:
            continue
    raise KeyInFlight(key)


async def _claim_once(
    db: Database,
    *,
    principal_id: int,
    key: str,
    request_sha256: str,
    ttl: timedelta,
    lease: timedelta,
) -> Claim | StoredResponse:
    now = utcnow()
    token = secrets.token_hex(16)
    async with db.write() as session:
        # Expired keys go as new ones come (indexed; at most what expired since last time).
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        row = (
            await session.execute(
                select(IdempotencyKey)
                .where(IdempotencyKey.principal_id == principal_id, IdempotencyKey.key == key)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:
            row = IdempotencyKey(
                principal_id=principal_id,
                key=key,
                request_sha256=request_sha256,
                state=IN_FLIGHT,
                claim_token=token,
                claimed_until=now + lease,
                created_at=now,
                expires_at=now + ttl,
            )
            session.add(row)
            await session.flush()
            return Claim(row.id, token)
        if row.request_sha256 != request_sha256:
            raise KeyReused(key)
        if row.state == DONE:
            return StoredResponse(
                status_code=row.status_code or 200,
                content_type=row.content_type or "application/json",
                body=row.response_body or b"",
            )
        if row.claimed_until > now:
            raise KeyInFlight(key)
        # Its process died before answering: the request runs again under a new claim.
        row.claim_token, row.claimed_until = token, now + lease
        return Claim(row.id, token)


async def finish(db: Database, claim: Claim, response: StoredResponse) -> None:
    """Keep the answer; later uses of the key get these bytes."""
    async with db.write() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == claim.id, IdempotencyKey.claim_token == claim.token)
            .values(
                state=DONE,
                status_code=response.status_code,
                content_type=response.content_type,
                response_body=response.body,
            )
        )


async def release(db: Database, claim: Claim) -> None:
    """Give the key back unanswered (the request never produced a response)."""
    async with db.write() as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == claim.id, IdempotencyKey.claim_token == claim.token
            )
        )
