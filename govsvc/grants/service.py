"""Use cases of access: granting and revoking roles (admins only, always audited)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.grants.models import Grant
from govsvc.org import service as org_service
from govsvc.org.models import BusinessUnit
from govsvc.pagination import Page, fetch_page
from govsvc.usecase import UseCase


async def grant_role(
    uc: UseCase,
    *,
    principal_id: int,
    role: str,
    business_unit_id: int | None,
    expires_at: datetime | None = None,
) -> Grant:
    """Grant a role in a business unit (and its children), or everywhere when no unit is given."""
    # Someone who may grant nothing learns nothing either (not even the list of roles).
    uc.caller.access.require("manage", "grant")
    if role not in uc.caller.access.policy.roles:
        known = ", ".join(sorted(uc.caller.access.policy.roles))
        raise Invalid(
            f"unknown role {role!r}; known roles: {known}",
            field="role",
            code=ErrorCode.UNKNOWN_ROLE,
        )
    if expires_at is not None and expires_at <= utcnow():
        raise Invalid("expiry must be in the future", field="expiresAt")
    principal = await org_service.get_principal(
        uc.session, uc.caller, principal_id, field="principalId"
    )
    unit_code = None
    if business_unit_id is None:
        uc.caller.access.require_everywhere("manage", "grant")
    else:
        units = await org_service.business_units_by_id(uc.session, uc.caller, [business_unit_id])
        if business_unit_id not in units:
            raise NotFound("no such business unit", field="businessUnitId")
        uc.caller.access.require("manage", "grant", unit_id=business_unit_id)
        unit_code = units[business_unit_id].code
    grant = Grant(
        principal_id=principal.id,
        role=role,
        business_unit_id=business_unit_id,
        expires_at=expires_at,
        granted_by=uc.caller.actor,
    )
    uc.session.add(grant)
    await uc.session.flush()
    await record(
        uc.session,
        uc.caller,
        "grant.create",
        resource_type="grant",
        resource_id=grant.id,
        unit=unit_code,
        payload={
            "principal": principal.email,
            "role": role,
            "unit": unit_code or "*",
            "expires_at": expires_at,
        },
    )
    return grant


async def revoke_grant(uc: UseCase, *, grant_id: int) -> Grant:
    """Revoke a grant; it stays on record with who revoked it and when."""
    session = uc.session
    grant = await _visible_grant(session, uc.caller, grant_id)
    if grant.business_unit_id is None:
        uc.caller.access.require_everywhere("manage", "grant")
    else:
        uc.caller.access.require("manage", "grant", unit_id=grant.business_unit_id)
    if grant.revoked_at is None:
        grant.revoked_at = utcnow()
        grant.revoked_by = uc.caller.actor
        # Name the unit as grant.create does, so whoever reads that unit's audit log sees
        # the access end as well as begin.
        unit = (
            await session.get(BusinessUnit, grant.business_unit_id)
            if grant.business_unit_id is not None
            else None
        )
        await record(
            session,
            uc.caller,
            "grant.revoke",
            resource_type="grant",
            resource_id=grant.id,
            unit=unit.code if unit else None,
            payload={"role": grant.role, "principal_id": grant.principal_id},
        )
    return grant


def _grant_filter(caller: Caller) -> ColumnElement[bool]:
    # Everyone may see their own grants; seeing others' takes "read grant" where they apply
    # (a grant that covers every unit is visible only to those who read grants everywhere).
    return or_(
        Grant.principal_id == caller.principal_id,
        readable(caller.access, "grant", Grant.business_unit_id),
    )


async def _visible_grant(session: AsyncSession, caller: Caller, grant_id: int) -> Grant:
    grant = (
        await session.execute(select(Grant).where(Grant.id == grant_id, _grant_filter(caller)))
    ).scalar_one_or_none()
    if grant is None:
        raise NotFound("no such grant", field="id")
    return grant


async def list_grants(
    uc: UseCase,
    *,
    principal_id: int | None,
    size: int,
    after_id: int | None,
) -> Page[Grant]:
    """Grants the caller may see, newest first, optionally of one principal."""
    query = select(Grant).where(_grant_filter(uc.caller))
    if principal_id is not None:
        query = query.where(Grant.principal_id == principal_id)
    return await fetch_page(uc.session, query, id_column=Grant.id, size=size, after_id=after_id)


async def grants_by_principal(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, list[Grant]]:
    rows = await session.execute(
        select(Grant)
        .where(Grant.principal_id.in_(set(ids)), _grant_filter(caller))
        .order_by(Grant.id)
    )
    grouped: dict[int, list[Grant]] = {}
    for grant in rows.scalars():
        grouped.setdefault(grant.principal_id, []).append(grant)
    return grouped


async def grants_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Grant]:
    rows = await session.execute(select(Grant).where(Grant.id.in_(set(ids)), _grant_filter(caller)))
    return {grant.id: grant for grant in rows.scalars()}
