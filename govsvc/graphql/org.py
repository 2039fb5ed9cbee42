"""GraphQL types, queries and mutations of the organisation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.graphql import customers as customer_schema
from govsvc.graphql.context import Info
from govsvc.graphql.errors import LegacyUserError
from govsvc.graphql.relay import connection, decode_cursor, decode_id, decode_optional
from govsvc.graphql.resolvers import load_nodes, mutate_legacy, read_legacy
from govsvc.org import models
from govsvc.org import service as org_service
from govsvc.pagination import page_size
from govsvc.sentinel import KEEP


def _cap(info: Info) -> int:
    return info.context.runtime.settings.graphql_max_page


# ---------------------------------------------------------------------------- types


@strawberry.type
class BusinessUnit(relay.Node):
    id: relay.NodeID[int]
    code: str
    name: str
    created_at: datetime
    parent_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, unit: models.BusinessUnit) -> Self:
        return cls(
            id=unit.id,
            code=unit.code,
            name=unit.name,
            created_at=unit.created_at,
            parent_pk=unit.parent_id,
        )

    @strawberry.field(
        description="The parent unit; null for a top-level unit or one you cannot see."
    )
    async def parent(self, info: Info) -> BusinessUnit | None:
        if self.parent_pk is None:
            return None
        unit = await info.context.loader(org_service.business_units_by_id).load(self.parent_pk)
        return BusinessUnit.from_model(unit) if unit else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, org_service.business_units_by_id, cls.from_model)


@strawberry.type(description="What the service promises, and so what counts as an outage.")
class ServiceLevelAgreement:
    availability_target_pct: float
    latency_threshold_ms: int | None = strawberry.field(
        description="Above this p99 latency the service is degraded (a performance issue)."
    )
    latency_outage_ms: int | None = strawberry.field(
        description="At or above this p99 latency slowness counts as an outage; null: never."
    )


@strawberry.type
class Service(relay.Node):
    id: relay.NodeID[int]
    code: str
    name: str
    tier: int = strawberry.field(description="Criticality, 1 (most critical) to 4.")
    sla: ServiceLevelAgreement
    public_name: str | None = strawberry.field(description="Its name on the status page.")
    created_at: datetime
    unit_pk: strawberry.Private[int]
    team_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, s: models.Service) -> Self:
        return cls(
            id=s.id,
            code=s.code,
            name=s.name,
            tier=s.tier,
            created_at=s.created_at,
            sla=ServiceLevelAgreement(
                availability_target_pct=s.availability_target_pct,
                latency_threshold_ms=s.latency_threshold_ms,
                latency_outage_ms=s.latency_outage_ms,
            ),
            public_name=s.public_name,
            unit_pk=s.business_unit_id,
            team_pk=s.owning_team_id,
        )

    @strawberry.field
    async def business_unit(self, info: Info) -> BusinessUnit | None:
        unit = await info.context.loader(org_service.business_units_by_id).load(self.unit_pk)
        return BusinessUnit.from_model(unit) if unit else None

    @strawberry.field
    async def owning_team(self, info: Info) -> Team | None:
        if self.team_pk is None:
            return None
        team = await info.context.loader(org_service.teams_by_id).load(self.team_pk)
        return Team.from_model(team) if team else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, org_service.services_by_id, cls.from_model)


@strawberry.type
class Team(relay.Node):
    id: relay.NodeID[int]
    code: str
    name: str
    unit_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, team: models.Team) -> Self:
        return cls(id=team.id, code=team.code, name=team.name, unit_pk=team.business_unit_id)

    @strawberry.field
    async def business_unit(self, info: Info) -> BusinessUnit | None:
        unit = await info.context.loader(org_service.business_units_by_id).load(self.unit_pk)
        return BusinessUnit.from_model(unit) if unit else None

    @strawberry.field
    async def members(self, info: Info) -> list[Person]:
        people = await info.context.loader(org_service.members_by_team, default=list).load(self.id)
        return [Person.from_model(p) for p in people]

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, org_service.teams_by_id, cls.from_model)


strawberry.enum(models.PrincipalKind, name="PrincipalKind")
PrincipalKind = models.PrincipalKind


@strawberry.type(description="A person, or a machine principal such as an alert source.")
class Person(relay.Node):
    id: relay.NodeID[int]
    kind: PrincipalKind
    email: str = strawberry.field(
        description="E-mail of a person; 'machine:<handle>' of a machine."
    )
    name: str
    time_zone: str
    jurisdiction: str | None
    active: bool
    handles: list[str] = strawberry.field(
        description="Chat ids, without '@'; public text never names them."
    )

    @classmethod
    def from_model(cls, p: models.Principal) -> Self:
        return cls(
            id=p.id,
            kind=models.PrincipalKind(p.kind),
            email=p.email,
            name=p.name,
            time_zone=p.time_zone,
            jurisdiction=p.jurisdiction,
            active=p.active,
            handles=json.loads(p.handles),
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, org_service.principals_by_id, cls.from_model)


# ---------------------------------------------------------------------------- queries


@strawberry.type
class OrgQuery:
    @strawberry.field(description="Business units you may read, oldest first.")
    async def business_units(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[BusinessUnit]:
        page = await read_legacy(
            info,
            lambda s, c: org_service.list_business_units(
                s, c, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, BusinessUnit.from_model)

    @strawberry.field(description="Services you may read, oldest first.")
    async def services(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Service]:
        page = await read_legacy(
            info,
            lambda s, c: org_service.list_services(
                s, c, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, Service.from_model)

    @strawberry.field(description="Teams you may read, oldest first.")
    async def teams(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Team]:
        page = await read_legacy(
            info,
            lambda s, c: org_service.list_teams(
                s, c, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, Team.from_model)

    @strawberry.field(description="People and machine principals, oldest first.")
    async def people(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Person]:
        page = await read_legacy(
            info,
            lambda s, c: org_service.list_people(
                s, c, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, Person.from_model)

    @strawberry.field(
        description="The organisation's customers, whose names no public text carries "
        "(administrators only)."
    )
    async def customers(self, info: Info) -> list[customer_schema.Customer]:
        return await customer_schema.list_all(info)


# ---------------------------------------------------------------------------- mutations


@strawberry.input
class BusinessUnitCreateInput:
    code: str
    name: str
    parent_id: strawberry.ID | None = None


@strawberry.type
class BusinessUnitCreateError(LegacyUserError):
    pass


@strawberry.type
class BusinessUnitCreatePayload:
    business_unit: BusinessUnit | None = None
    errors: list[BusinessUnitCreateError] = strawberry.field(default_factory=list)


@strawberry.input
class BusinessUnitUpdateInput:
    id: strawberry.ID
    name: str | None = None
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Move under this unit; null makes it top-level; omit to keep.",
    )


@strawberry.type
class BusinessUnitUpdateError(LegacyUserError):
    pass


@strawberry.type
class BusinessUnitUpdatePayload:
    business_unit: BusinessUnit | None = None
    errors: list[BusinessUnitUpdateError] = strawberry.field(default_factory=list)


@strawberry.input
class ServiceCreateInput:
    code: str
    name: str
    business_unit_id: strawberry.ID
    tier: int
    availability_target_pct: float
    latency_threshold_ms: int | None = None
    latency_outage_ms: int | None = None
    owning_team_id: strawberry.ID | None = None
    public_name: str | None = strawberry.field(
        default=None, description="Name on the public status page; omit to keep it off."
    )


@strawberry.type
class ServiceCreateError(LegacyUserError):
    pass


@strawberry.type
class ServiceCreatePayload:
    service: Service | None = None
    errors: list[ServiceCreateError] = strawberry.field(default_factory=list)


@strawberry.input(description="Omitted fields stay as they are; businessUnitId moves the service.")
class ServiceUpdateInput:
    id: strawberry.ID
    name: str | None = None
    business_unit_id: strawberry.ID | None = None
    tier: int | None = None
    availability_target_pct: float | None = None
    latency_threshold_ms: int | None = strawberry.UNSET
    latency_outage_ms: int | None = strawberry.UNSET
    owning_team_id: strawberry.ID | None = strawberry.UNSET
    public_name: str | None = strawberry.UNSET


@strawberry.type
class ServiceUpdateError(LegacyUserError):
    pass


@strawberry.type
class ServiceUpdatePayload:
    service: Service | None = None
    errors: list[ServiceUpdateError] = strawberry.field(default_factory=list)


@strawberry.input
class TeamCreateInput:
    code: str
    name: str
    business_unit_id: strawberry.ID


@strawberry.type
class TeamCreateError(LegacyUserError):
    pass


@strawberry.type
class TeamCreatePayload:
    team: Team | None = None
    errors: list[TeamCreateError] = strawberry.field(default_factory=list)


@strawberry.input
class TeamMembershipInput:
    team_id: strawberry.ID
    person_id: strawberry.ID


@strawberry.type
class TeamMembershipError(LegacyUserError):
    pass


@strawberry.type
class TeamMembershipPayload:
    team: Team | None = None
    errors: list[TeamMembershipError] = strawberry.field(default_factory=list)


@strawberry.input
class PersonCreateInput:
    email: str
    name: str
    time_zone: str = "UTC"
    jurisdiction: str | None = None
    handles: list[str] = strawberry.field(
        default_factory=list, description='Chat ids ("@kofi.mensah" or "kofi.mensah").'
    )


@strawberry.type
class PersonCreateError(LegacyUserError):
    pass


@strawberry.type
class PersonCreatePayload:
    person: Person | None = None
    errors: list[PersonCreateError] = strawberry.field(default_factory=list)


@strawberry.input
class PersonUpdateInput:
    id: strawberry.ID
    name: str | None = None
    time_zone: str | None = None
    jurisdiction: str | None = strawberry.UNSET
    active: bool | None = None
    handles: list[str] | None = strawberry.field(
        default=None, description="Replaces the chat ids; null keeps them."
    )


@strawberry.type
class PersonUpdateError(LegacyUserError):
    pass


@strawberry.type
class PersonUpdatePayload:
    person: Person | None = None
    errors: list[PersonUpdateError] = strawberry.field(default_factory=list)


@strawberry.input
class MachineCreateInput:
    handle: str = strawberry.field(description="A short lower-case name, e.g. alertmanager-eu.")
    name: str


@strawberry.type
class MachineCreateError(LegacyUserError):
    pass


@strawberry.type
class MachineCreatePayload:
    machine: Person | None = None
    errors: list[MachineCreateError] = strawberry.field(default_factory=list)


def _keep(value: Any) -> Any:
    return KEEP if value is strawberry.UNSET else value


@strawberry.type
class OrgMutation:
    @strawberry.mutation
    async def business_unit_create(
        self, info: Info, input: BusinessUnitCreateInput
    ) -> BusinessUnitCreatePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: org_service.create_business_unit(
                rt.db,
                caller,
                code=input.code,
                name=input.name,
                parent_id=decode_optional(input.parent_id, "BusinessUnit", field="parentId"),
            ),
            ok=lambda u: BusinessUnitCreatePayload(business_unit=BusinessUnit.from_model(u)),
            refused=lambda e: BusinessUnitCreatePayload(errors=e),
            error_type=BusinessUnitCreateError,
        )

    @strawberry.mutation
    async def business_unit_update(
        self, info: Info, input: BusinessUnitUpdateInput
    ) -> BusinessUnitUpdatePayload:
        rt, caller = info.context.runtime, info.context.caller
        parent = _keep(input.parent_id)
        return await mutate_legacy(
            lambda: org_service.update_business_unit(
                rt.db,
                caller,
                unit_id=decode_id(input.id, "BusinessUnit", field="id"),
                name=input.name,
                parent_id=parent
                if parent is KEEP
                else decode_optional(parent, "BusinessUnit", field="parentId"),
            ),
            ok=lambda u: BusinessUnitUpdatePayload(business_unit=BusinessUnit.from_model(u)),
            refused=lambda e: BusinessUnitUpdatePayload(errors=e),
            error_type=BusinessUnitUpdateError,
        )

    @strawberry.mutation
    async def service_create(self, info: Info, input: ServiceCreateInput) -> ServiceCreatePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: org_service.create_service(
                rt.db,
                caller,
                code=input.code,
                name=input.name,
                business_unit_id=decode_id(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                tier=input.tier,
                availability_target_pct=input.availability_target_pct,
                latency_threshold_ms=input.latency_threshold_ms,
                latency_outage_ms=input.latency_outage_ms,
                owning_team_id=decode_optional(input.owning_team_id, "Team", field="owningTeamId"),
                public_name=input.public_name,
            ),
            ok=lambda s: ServiceCreatePayload(service=Service.from_model(s)),
            refused=lambda e: ServiceCreatePayload(errors=e),
            error_type=ServiceCreateError,
        )

    @strawberry.mutation(description="Change a service's SLA or owner, or move it to another unit.")
    async def service_update(self, info: Info, input: ServiceUpdateInput) -> ServiceUpdatePayload:
        rt, caller = info.context.runtime, info.context.caller
        team = _keep(input.owning_team_id)
        return await mutate_legacy(
            lambda: org_service.update_service(
                rt.db,
                caller,
                service_id=decode_id(input.id, "Service", field="id"),
                name=input.name,
                business_unit_id=decode_optional(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                tier=input.tier,
                availability_target_pct=input.availability_target_pct,
                latency_threshold_ms=_keep(input.latency_threshold_ms),
                latency_outage_ms=_keep(input.latency_outage_ms),
                owning_team_id=team
                if team is KEEP
                else decode_optional(team, "Team", field="owningTeamId"),
                public_name=_keep(input.public_name),
            ),
            ok=lambda s: ServiceUpdatePayload(service=Service.from_model(s)),
            refused=lambda e: ServiceUpdatePayload(errors=e),
            error_type=ServiceUpdateError,
        )

    @strawberry.mutation
    async def team_create(self, info: Info, input: TeamCreateInput) -> TeamCreatePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: org_service.create_team(
                rt.db,
                caller,
                code=input.code,
                name=input.name,
                business_unit_id=decode_id(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
            ),
            ok=lambda t: TeamCreatePayload(team=Team.from_model(t)),
            refused=lambda e: TeamCreatePayload(errors=e),
            error_type=TeamCreateError,
        )

    @strawberry.mutation
    async def team_member_add(
        self, info: Info, input: TeamMembershipInput
    ) -> TeamMembershipPayload:
        return await _membership(info, input, member=True)

    @strawberry.mutation
    async def team_member_remove(
        self, info: Info, input: TeamMembershipInput
    ) -> TeamMembershipPayload:
        return await _membership(info, input, member=False)

    @strawberry.mutation
    async def person_create(self, info: Info, input: PersonCreateInput) -> PersonCreatePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: org_service.create_person(
                rt.db,
                caller,
                email=input.email,
                name=input.name,
                time_zone=input.time_zone,
                jurisdiction=input.jurisdiction,
                handles=input.handles,
            ),
            ok=lambda p: PersonCreatePayload(person=Person.from_model(p)),
            refused=lambda e: PersonCreatePayload(errors=e),
            error_type=PersonCreateError,
        )

    @strawberry.mutation(description="Change a person; active: false stops their credentials.")
    async def person_update(self, info: Info, input: PersonUpdateInput) -> PersonUpdatePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: org_service.update_person(
                rt.db,
                caller,
                person_id=decode_id(input.id, "Person", field="id"),
                name=input.name,
                time_zone=input.time_zone,
                jurisdiction=_keep(input.jurisdiction),
                active=input.active,
                handles=input.handles,
            ),
            ok=lambda p: PersonUpdatePayload(person=Person.from_model(p)),
            refused=lambda e: PersonUpdatePayload(errors=e),
            error_type=PersonUpdateError,
        )

    @strawberry.mutation(description="Add a customer to the organisation's list (audited).")
    async def customer_add(
        self, info: Info, input: customer_schema.CustomerAddInput
    ) -> customer_schema.CustomerPayload:
        return await customer_schema.add(info, input)

    @strawberry.mutation(description="Take a customer off the organisation's list (audited).")
    async def customer_remove(
        self, info: Info, input: customer_schema.CustomerRemoveInput
    ) -> customer_schema.CustomerPayload:
        return await customer_schema.remove(info, input)

    @strawberry.mutation(description="Register a machine principal (alert source, status page).")
    async def machine_create(self, info: Info, input: MachineCreateInput) -> MachineCreatePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: org_service.create_machine(rt.db, caller, handle=input.handle, name=input.name),
            ok=lambda p: MachineCreatePayload(machine=Person.from_model(p)),
            refused=lambda e: MachineCreatePayload(errors=e),
            error_type=MachineCreateError,
        )


async def _membership(
    info: Info, input: TeamMembershipInput, *, member: bool
) -> TeamMembershipPayload:
    rt, caller = info.context.runtime, info.context.caller
    return await mutate_legacy(
        lambda: org_service.set_team_membership(
            rt.db,
            caller,
            team_id=decode_id(input.team_id, "Team", field="teamId"),
            person_id=decode_id(input.person_id, "Person", field="personId"),
            member=member,
        ),
        ok=lambda t: TeamMembershipPayload(team=Team.from_model(t)),
        refused=lambda e: TeamMembershipPayload(errors=e),
        error_type=TeamMembershipError,
    )


__all__ = ["BusinessUnit", "OrgMutation", "OrgQuery", "Person", "Service", "Team"]
