"""First run: create the first administrator and a token for them, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from govsvc.auth import tokens
from govsvc.caller import Caller
from govsvc.grants import service as authz_service
from govsvc.org import service as org_service
from govsvc.runtime import Runtime
from govsvc.usecase import writing

BOOTSTRAP_EMAIL = "admin@govsvc.local"
BOOTSTRAP_TTL = timedelta(days=30)


@dataclass(frozen=True)
class Bootstrapped:
    email: str
    token: str


async def bootstrap_admin(runtime: Runtime) -> Bootstrapped | None:
    """On an empty database, make an administrator with a token; otherwise do nothing."""
    caller = Caller.system(runtime.policies.access, "system:bootstrap")
    async with writing(runtime, caller) as uc:
        # The write transaction serializes two servers starting at once: one bootstraps.
        if await org_service.count_principals(uc):
            return None
        admin = await org_service.create_person(
            uc, email=BOOTSTRAP_EMAIL, name="First administrator"
        )
        await authz_service.grant_role(
            uc, principal_id=admin.id, role="admin", business_unit_id=None
        )
        issued = await tokens.create_token(
            uc, principal_id=admin.id, ttl=BOOTSTRAP_TTL, name="bootstrap"
        )
        return Bootstrapped(admin.email, issued.plaintext)
