"""First run: create the first administrator and a token for them, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from govsvc.auth import tokens
from govsvc.caller import Caller
from govsvc.grants import service as authz_service
from govsvc.org import service as org_service
from govsvc.org.models import Principal, PrincipalKind
from govsvc.runtime import Runtime

BOOTSTRAP_EMAIL = "admin@govsvc.local"
BOOTSTRAP_TTL = timedelta(days=30)


@dataclass(frozen=True)
class Bootstrapped:
    email: str
    token: str


async def bootstrap_admin(runtime: Runtime) -> Bootstrapped | None:
    """On an empty database, make an administrator with a token; otherwise do nothing."""
    caller = Caller.system(runtime.policies.access, "system:bootstrap")
    async with runtime.db.write() as session:
        # The write transaction serializes two servers starting at once: one bootstraps.
        if (await session.execute(select(func.count()).select_from(Principal))).scalar_one():
            return None
        admin = await org_service.add_principal(
            session,
            caller,
            kind=PrincipalKind.PERSON,
            email=BOOTSTRAP_EMAIL,
            name="First administrator",
        )
        await authz_service.add_grant(
            session, caller, principal_id=admin.id, role="admin", business_unit_id=None
        )
        issued = await tokens.issue_token(
            session,
            caller,
            secret=runtime.settings.secret_key.get_secret_value(),
            principal=admin,
            ttl=BOOTSTRAP_TTL,
            name="bootstrap",
        )
        return Bootstrapped(admin.email, issued.plaintext)
