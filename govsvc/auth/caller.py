"""Who is acting, with what access, on behalf of which request."""

from __future__ import annotations

from dataclasses import dataclass

from govsvc.authz.access import Access, GrantView, UnitTree
from govsvc.authz.policy import AccessPolicy


@dataclass(frozen=True)
class Caller:
    principal_id: int | None  # None for the system itself (CLI, bootstrap, worker)
    actor: str  # how the audit log names them: "alice@example.com", "system:cli"
    access: Access
    request_id: str | None = None

    @classmethod
    def system(cls, policy: AccessPolicy, actor: str, request_id: str | None = None) -> Caller:
        """The service acting on its own account, with administrator rights everywhere."""
        access = Access(policy, [GrantView("admin", None)], UnitTree({}, {}))
        return cls(None, actor, access, request_id)
