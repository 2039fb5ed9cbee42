"""GraphQL types, queries and mutations of the organisation."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.graphql import customers as customer_schema
from govsvc.graphql.context import Info
from govsvc.graphql.org_errors import OrgError, OrgErrorCode
from govsvc.graphql.relay import connection, decode_cursor, decode_id, decode_optional
from govsvc.graphql.resolvers import load_nodes, mutate, read
from govsvc.org import dependencies, models
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

    @strawberry.field(
        description="The services this one depends on (upstream: their failure may cascade "
        "to it), those you may read, by code."
    )
    async def depends_on(self, info: Info) -> list[Service]:
        loader = info.context.loader(dependencies.dependencies_by_service, default=list)
        return [Service.from_model(s) for s in await loader.load(self.id)]

    @strawberry.field(
        description="The services that depend on this one (downstream: its failure may "
        "cascade to them), those you may read, by code."
    )
    async def dependents(self, info: Info) -> list[Service]:
        loader = info.context.loader(dependencies.dependents_by_service, default=list)
        return [Service.from_model(s) for s in await loader.load(self.id)]

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
        page = await read(
            info,
            lambda uc: org_service.list_business_units(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, BusinessUnit.from_model)

    @strawberry.field(description="Services you may read, oldest first.")
    async def services(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Service]:
        page = await read(
            info,
            lambda uc: org_service.list_services(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, Service.from_model)

    @strawberry.field(description="Teams you may read, oldest first.")
    async def teams(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Team]:
        page = await read(
            info,
            lambda uc: org_service.list_teams(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, Team.from_model)

    @strawberry.field(description="People and machine principals, oldest first.")
    async def people(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Person]:
        page = await read(
            info,
            lambda uc: org_service.list_people(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
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


@strawberry.input
class BusinessUnitUpdateInput:
    id: strawberry.ID
    name: str | None = None
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Move under this unit; null makes it top-level; omit to keep.",
    )


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


@strawberry.input(
    description="serviceId depends on dependsOnId: when the latter fails, the former may too."
)
class ServiceDependencyInput:
    service_id: strawberry.ID
    depends_on_id: strawberry.ID


@strawberry.input
class TeamCreateInput:
    code: str
    name: str
    business_unit_id: strawberry.ID


@strawberry.input
class TeamMembershipInput:
    team_id: strawberry.ID
    person_id: strawberry.ID


@strawberry.input
class PersonCreateInput:
    email: str
    name: str
    time_zone: str = "UTC"
    jurisdiction: str | None = None
    handles: list[str] = strawberry.field(
        default_factory=list, description='Chat ids ("@kofi.mensah" or "kofi.mensah").'
    )


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


@strawberry.input
class MachineCreateInput:
    handle: str = strawberry.field(description="A short lower-case name, e.g. alertmanager-eu.")
    name: str


@strawberry.type
class BusinessUnitPayload:
    business_unit: BusinessUnit | None = None
    errors: list[OrgError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, unit: models.BusinessUnit) -> BusinessUnitPayload:
        return cls(business_unit=BusinessUnit.from_model(unit))


@strawberry.type
class ServicePayload:
    service: Service | None = None
    errors: list[OrgError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, service: models.Service) -> ServicePayload:
        return cls(service=Service.from_model(service))


@strawberry.type
class TeamPayload:
    team: Team | None = None
    errors: list[OrgError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, team: models.Team) -> TeamPayload:
        return cls(team=Team.from_model(team))


@strawberry.type
class PersonPayload:
    person: Person | None = None
    errors: list[OrgError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, person: models.Principal) -> PersonPayload:
        return cls(person=Person.from_model(person))


@strawberry.type(description="A machine principal (its field is `machine`, not `person`).")
class MachinePayload:
    machine: Person | None = None
    errors: list[OrgError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, machine: models.Principal) -> MachinePayload:
        return cls(machine=Person.from_model(machine))


def _keep(value: Any) -> Any:
    return KEEP if value is strawberry.UNSET else value


@strawberry.type
class OrgMutation:
    @strawberry.mutation
    async def business_unit_create(
        self, info: Info, input: BusinessUnitCreateInput
    ) -> BusinessUnitPayload:
        return await mutate(
            info,
            BusinessUnitPayload,
            lambda uc: org_service.create_business_unit(
                uc,
                code=input.code,
                name=input.name,
                parent_id=decode_optional(input.parent_id, "BusinessUnit", field="parentId"),
            ),
            ok=BusinessUnitPayload.of,
        )

    @strawberry.mutation
    async def business_unit_update(
        self, info: Info, input: BusinessUnitUpdateInput
    ) -> BusinessUnitPayload:
        parent = _keep(input.parent_id)
        return await mutate(
            info,
            BusinessUnitPayload,
            lambda uc: org_service.update_business_unit(
                uc,
                unit_id=decode_id(input.id, "BusinessUnit", field="id"),
                name=input.name,
                parent_id=parent
                if parent is KEEP
                else decode_optional(parent, "BusinessUnit", field="parentId"),
            ),
            ok=BusinessUnitPayload.of,
        )

    @strawberry.mutation
    async def service_create(self, info: Info, input: ServiceCreateInput) -> ServicePayload:
        return await mutate(
            info,
            ServicePayload,
            lambda uc: org_service.create_service(
                uc,
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
            ok=ServicePayload.of,
        )

    @strawberry.mutation(description="Change a service's SLA or owner, or move it to another unit.")
    async def service_update(self, info: Info, input: ServiceUpdateInput) -> ServicePayload:
        team = _keep(input.owning_team_id)
        return await mutate(
            info,
            ServicePayload,
            lambda uc: org_service.update_service(
                uc,
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
            ok=ServicePayload.of,
        )

    @strawberry.mutation(
        description="Record that a service depends on another; refused if it would make a cycle."
    )
    async def service_dependency_add(
        self, info: Info, input: ServiceDependencyInput
    ) -> ServicePayload:
        return await _dependency(info, input, dependencies.add_dependency)

    @strawberry.mutation(description="Forget that a service depends on another.")
    async def service_dependency_remove(
        self, info: Info, input: ServiceDependencyInput
    ) -> ServicePayload:
        return await _dependency(info, input, dependencies.remove_dependency)

    @strawberry.mutation
    async def team_create(self, info: Info, input: TeamCreateInput) -> TeamPayload:
        return await mutate(
            info,
            TeamPayload,
            lambda uc: org_service.create_team(
                uc,
                code=input.code,
                name=input.name,
                business_unit_id=decode_id(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
            ),
            ok=TeamPayload.of,
        )

    @strawberry.mutation
    async def team_member_add(self, info: Info, input: TeamMembershipInput) -> TeamPayload:
        return await _membership(info, input, member=True)

    @strawberry.mutation
    async def team_member_remove(self, info: Info, input: TeamMembershipInput) -> TeamPayload:
        return await _membership(info, input, member=False)

    @strawberry.mutation
    async def person_create(self, info: Info, input: PersonCreateInput) -> PersonPayload:
        return await mutate(
            info,
            PersonPayload,
            lambda uc: org_service.create_person(
                uc,
                email=input.email,
                name=input.name,
                time_zone=input.time_zone,
                jurisdiction=input.jurisdiction,
                handles=input.handles,
            ),
            ok=PersonPayload.of,
        )

    @strawberry.mutation(description="Change a person; active: false stops their credentials.")
    async def person_update(self, info: Info, input: PersonUpdateInput) -> PersonPayload:
        return await mutate(
            info,
            PersonPayload,
            lambda uc: org_service.update_person(
                uc,
                person_id=decode_id(input.id, "Person", field="id"),
                name=input.name,
                time_zone=input.time_zone,
                jurisdiction=_keep(input.jurisdiction),
                active=input.active,
                handles=input.handles,
            ),
            ok=PersonPayload.of,
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
    async def machine_create(self, info: Info, input: MachineCreateInput) -> MachinePayload:
        return await mutate(
            info,
            MachinePayload,
            lambda uc: org_service.create_machine(uc, handle=input.handle, name=input.name),
            ok=MachinePayload.of,
        )


async def _dependency(
    info: Info,
    input: ServiceDependencyInput,
    change: Callable[..., Awaitable[models.Service]],
) -> ServicePayload:
    return await mutate(
        info,
        ServicePayload,
        lambda uc: change(
            uc,
            service_id=decode_id(input.service_id, "Service", field="serviceId"),
            depends_on_id=decode_id(input.depends_on_id, "Service", field="dependsOnId"),
        ),
        ok=ServicePayload.of,
    )


async def _membership(info: Info, input: TeamMembershipInput, *, member: bool) -> TeamPayload:
    return await mutate(
        info,
        TeamPayload,
        lambda uc: org_service.set_team_membership(
            uc,
            team_id=decode_id(input.team_id, "Team", field="teamId"),
            person_id=decode_id(input.person_id, "Person", field="personId"),
            member=member,
        ),
        ok=TeamPayload.of,
    )


__all__ = [
    "BusinessUnit",
    "OrgError",
    "OrgErrorCode",
    "OrgMutation",
    "OrgQuery",
    "Person",
    "Service",
    "Team",
]
