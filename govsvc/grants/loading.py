"""Load a principal's live grants and, when any is unit-scoped, the unit tree."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import Access, GrantView, UnitTree
from govsvc.authz.policy import AccessPolicy
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.grants.models import Grant
from govsvc.org.units import load_unit_tree


async def load_access(session: AsyncSession, policy: AccessPolicy, principal_id: int) -> Access:
    now = utcnow()
    rows = (
        await session.execute(
            select(Grant.role, Grant.business_unit_id).where(
                Grant.principal_id == principal_id,
                Grant.revoked_at.is_(None),
                or_(Grant.expires_at.is_(None), Grant.expires_at > now),
            )
        )
    ).all()
    grants = [GrantView(role, unit_id) for role, unit_id in rows]
    # Only unit-scoped grants need the tree; callers with global grants skip the query.
    needs_tree = any(g.unit_id is not None for g in grants)
    units = await load_unit_tree(session) if needs_tree else UnitTree({}, {})
    return Access(policy, grants, units)


async def caller_for(
    session: AsyncSession,
    policy: AccessPolicy,
    principal_id: int,
    email: str,
    request_id: str | None,
) -> Caller:
    """A principal as a Caller with their grants: how authentication (and chat, which maps a
    chat user to a person) names who acts."""
    return Caller(principal_id, email, await load_access(session, policy, principal_id), request_id)
