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
    def anonymous(cls, policy: AccessPolicy) -> Caller:
        """Nobody yet: holds no grant, so every check refuses (a socket before it logs in)."""
        return cls(None, "anonymous", Access(policy, [], UnitTree({}, {})))

    @property
    def is_anonymous(self) -> bool:
        return self.actor == "anonymous" and not self.access.grants

    def on_behalf(self, what: str) -> Caller:
        """The service itself doing `what` for this caller (freezing what they published):
        a system act, recorded as done on their behalf, under their request id."""
        return Caller.system(self.access.policy, f"system:{what} for {self.actor}", self.request_id)

    @classmethod
    def system(cls, policy: AccessPolicy, actor: str, request_id: str | None = None) -> Caller:
        """The service acting on its own account, with administrator rights everywhere."""
        access = Access(policy, [GrantView("admin", None)], UnitTree({}, {}))
        return cls(None, actor, access, request_id)
