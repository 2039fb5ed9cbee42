"""GraphQL of access: grants, API tokens, and who am I."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.auth import tokens
from govsvc.grants import models
from govsvc.grants import service as authz_service
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.org import BusinessUnit, Person
from govsvc.graphql.relay import (
    connection,
    decode_cursor,
    decode_filter,
    decode_id,
    decode_optional,
)
from govsvc.graphql.resolvers import load_nodes, mutate, read
from govsvc.org import service as org_service
from govsvc.pagination import page_size


@strawberry.type(description="A role held in a business unit and its children, or everywhere.")
class Grant(relay.Node):
    id: relay.NodeID[int]
    role: str
    expires_at: datetime | None
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    principal_pk: strawberry.Private[int]
    unit_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, g: models.Grant) -> Self:
        return cls(
            id=g.id,
            role=g.role,
            expires_at=g.expires_at,
            granted_by=g.granted_by,
            granted_at=g.granted_at,
            revoked_at=g.revoked_at,
            revoked_by=g.revoked_by,
            principal_pk=g.principal_id,
            unit_pk=g.business_unit_id,
        )

    @strawberry.field(description="Null means every business unit.")
    async def business_unit(self, info: Info) -> BusinessUnit | None:
        if self.unit_pk is None:
            return None
        unit = await info.context.loader(org_service.business_units_by_id).load(self.unit_pk)
        return BusinessUnit.from_model(unit) if unit else None

    @strawberry.field
    async def principal(self, info: Info) -> Person | None:
        p = await info.context.loader(org_service.principals_by_id).load(self.principal_pk)
        return Person.from_model(p) if p else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, authz_service.grants_by_id, cls.from_model)


@strawberry.type(description="The caller: who the credential belongs to and what it holds.")
class Viewer:
    person: Person | None
    actor: str
    roles: list[str]

    @strawberry.field(description="Your own grants, live and past.")
    async def grants(self, info: Info) -> list[Grant]:
        pid = info.context.caller.principal_id
        if pid is None:
            return []
        found = await info.context.loader(authz_service.grants_by_principal, default=list).load(pid)
        return [Grant.from_model(g) for g in found]


@strawberry.type
class AccessQuery:
    @strawberry.field(description="Who you are, as the service sees you.")
    async def me(self, info: Info) -> Viewer:
        caller = info.context.caller
        person = None
        if caller.principal_id is not None:
            found = await info.context.loader(org_service.principals_by_id).load(
                caller.principal_id
            )
            person = Person.from_model(found) if found else None
        return Viewer(person=person, actor=caller.actor, roles=sorted(caller.access.roles()))

    @strawberry.field(description="Grants you may see, newest first.")
    async def grants(
        self,
        info: Info,
        principal_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[Grant]:
        cap = info.context.runtime.settings.graphql_max_page
        page = await read(
            info,
            lambda uc: authz_service.list_grants(
                uc,
                principal_id=decode_filter(principal_id, "Person"),
                size=page_size(first, cap=cap),
                after_id=decode_cursor(after),
            ),
        )
        return connection(page, Grant.from_model)


@strawberry.input
class GrantCreateInput:
    principal_id: strawberry.ID
    role: str
    business_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Omit to grant the role in every business unit."
    )
    expires_at: datetime | None = None


@strawberry.input
class GrantRevokeInput:
    id: strawberry.ID


@strawberry.input
class ApiTokenCreateInput:
    principal_id: strawberry.ID
    name: str = ""
    expires_in_seconds: int = strawberry.field(
        default=90 * 86400, description="Lifetime; at most ten years."
    )


@strawberry.enum(description="Why an access mutation refused its input.")
class AccessErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"


@strawberry.type(description="Why an access mutation refused its input.")
class AccessError(UserError):
    code: AccessErrorCode


@strawberry.type
class GrantPayload:
    grant: Grant | None = None
    errors: list[AccessError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, grant: models.Grant) -> GrantPayload:
        return cls(grant=Grant.from_model(grant))


@strawberry.type
class ApiTokenPayload:
    token: str | None = strawberry.field(
        default=None, description="Shown this once; only a hash is kept."
    )
    expires_at: datetime | None = None
    errors: list[AccessError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, issued: tokens.IssuedToken) -> ApiTokenPayload:
        return cls(token=issued.plaintext, expires_at=issued.token.expires_at)


@strawberry.type
class AccessMutation:
    @strawberry.mutation
    async def grant_create(self, info: Info, input: GrantCreateInput) -> GrantPayload:
        expires: datetime | None = input.expires_at
        return await mutate(
            info,
            GrantPayload,
            lambda uc: authz_service.grant_role(
                uc,
                principal_id=decode_id(input.principal_id, "Person", field="principalId"),
                role=input.role,
                business_unit_id=decode_optional(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                expires_at=expires,
            ),
            ok=GrantPayload.of,
        )

    @strawberry.mutation
    async def grant_revoke(self, info: Info, input: GrantRevokeInput) -> GrantPayload:
        return await mutate(
            info,
            GrantPayload,
            lambda uc: authz_service.revoke_grant(
                uc, grant_id=decode_id(input.id, "Grant", field="id")
            ),
            ok=GrantPayload.of,
        )

    @strawberry.mutation(description="Mint an API token for a person or machine principal.")
    async def api_token_create(self, info: Info, input: ApiTokenCreateInput) -> ApiTokenPayload:
        return await mutate(
            info,
            ApiTokenPayload,
            lambda uc: tokens.create_token(
                uc,
                principal_id=decode_id(input.principal_id, "Person", field="principalId"),
                ttl=timedelta(seconds=input.expires_in_seconds),
                name=input.name,
            ),
            ok=ApiTokenPayload.of,
        )
