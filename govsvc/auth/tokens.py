"""API tokens: random, shown once, stored only as a keyed hash, expiring and revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.auth.models import ApiToken
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import Invalid, NotFound
from govsvc.org import service as org_service
from govsvc.org.models import Principal
from govsvc.usecase import UseCase

TOKEN_PREFIX = "gsv_"  # noqa: S105 - a marker, not a secret
MAX_TTL = timedelta(days=3650)


def hash_token(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def looks_like_api_token(credential: str) -> bool:
    return credential.startswith(TOKEN_PREFIX)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # returned to the caller once; never stored


async def issue_token(
    session: AsyncSession,
    caller: Caller,
    *,
    secret: str,
    principal: Principal,
    ttl: timedelta,
    name: str = "",
) -> IssuedToken:
    """Mint a token for a principal inside the caller's transaction (audited)."""
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise Invalid(
            "a token must expire between 1 second and 10 years from now", field="expiresIn"
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        principal_id=principal.id,
        name=name,
        token_hash=hash_token(secret, plaintext),
        prefix=plaintext[: len(TOKEN_PREFIX) + 6],
        expires_at=utcnow() + ttl,
    )
    session.add(token)
    await session.flush()
    await record(
        session,
        caller,
        "token.issue",
        resource_type="api_token",
        resource_id=token.id,
        payload={"principal": principal.email, "name": name, "expires_at": token.expires_at},
    )
    return IssuedToken(token, plaintext)


def _secret(uc: UseCase) -> str:
    return uc.settings.secret_key.get_secret_value()


async def create_token(
    uc: UseCase, *, principal_id: int, ttl: timedelta, name: str = ""
) -> IssuedToken:
    """Mint a token for a person or machine the caller may manage tokens for."""
    # A token acts with all its principal's grants, wherever they are: only someone who
    # manages tokens everywhere may mint or revoke one (a unit admin could otherwise
    # mint a token for a global admin and step out of their unit).
    uc.caller.access.require_everywhere("manage", "token")
    principal = await org_service.get_principal(
        uc.session, uc.caller, principal_id, field="principalId"
    )
    return await issue_token(
        uc.session, uc.caller, secret=_secret(uc), principal=principal, ttl=ttl, name=name
    )


async def revoke_token(
    uc: UseCase,
    *,
    token: str | None = None,
    token_id: int | None = None,
) -> ApiToken:
    """Revoke one token, named by its value or its id. Revoking twice is a no-op, not an error."""
    session = uc.session
    if token is not None:
        query = select(ApiToken).where(ApiToken.token_hash == hash_token(_secret(uc), token))
    elif token_id is not None:
        query = select(ApiToken).where(ApiToken.id == token_id)
    else:
        raise Invalid("name the token by value or by id", field="token")
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound("no such token", field="token")
    principal = await session.get(Principal, found.principal_id)
    # As in create_token: only someone who manages tokens everywhere.
    uc.caller.access.require_everywhere("manage", "token")
    if found.revoked_at is None:
        found.revoked_at = utcnow()
        await record(
            session,
            uc.caller,
            "token.revoke",
            resource_type="api_token",
            resource_id=found.id,
            payload={"principal": principal.email if principal else None},
        )
    return found


async def principal_for_token(
    session: AsyncSession, *, secret: str, token: str
) -> Principal | None:
    """The active principal a live token belongs to, or None (expired, revoked, unknown)."""
    row = (
        await session.execute(
            select(Principal, ApiToken.expires_at, ApiToken.revoked_at)
            .join(ApiToken, ApiToken.principal_id == Principal.id)
            .where(ApiToken.token_hash == hash_token(secret, token))
        )
    ).first()
    if row is None:
        return None
    principal, expires_at, revoked_at = row
    if revoked_at is not None or expires_at <= utcnow() or not principal.active:
        return None
    return principal
