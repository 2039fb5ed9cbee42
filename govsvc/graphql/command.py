"""GraphQL of command: roles on incidents (assign, hand over, release), the command model that
applies, role conflicts with backups, and who holds what now (`responderLoad`)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Self

import strawberry

from govsvc.command import conflicts, models, policy, queries, roles
from govsvc.errors import ServiceError
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.org import Person
from govsvc.graphql.relay import decode_id, decode_optional
from govsvc.graphql.resolvers import mutate, read
from govsvc.incidents.classification import Severity as SeverityEnum
from govsvc.org import service as org_service

if TYPE_CHECKING:
    from govsvc.graphql.incident_types import Incident

strawberry.enum(models.IncidentRoleKind, name="IncidentRoleKind")
IncidentRoleKind = models.IncidentRoleKind
strawberry.enum(models.RoleEnd, name="RoleEnd", description="How a term in a role ended.")
RoleEnd = models.RoleEnd
strawberry.enum(
    policy.CommandModelKind,
    name="CommandModelKind",
    description="centralised: one incident commander; distributed: the service's owners lead "
    "and a coordinator works across services.",
)
CommandModelKind = policy.CommandModelKind
strawberry.enum(policy.RuleSource, name="CommandRuleSource")
CommandRuleSource = policy.RuleSource

IncidentType = Annotated["Incident", strawberry.lazy("govsvc.graphql.incident_types")]


@strawberry.enum(description="Why a command mutation refused its input.")
class CommandErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"


@strawberry.type(description="Why a command mutation refused its input.")
class CommandError(UserError):
    code: CommandErrorCode


async def _person(info: Info, pk: int | None) -> Person | None:
    if pk is None:
        return None
    found = await info.context.loader(org_service.principals_by_id).load(pk)
    return Person.from_model(found) if found else None


@strawberry.type(
    description="One term of a person in a role on an incident: current while `endedAt` is "
    "null; a hand-over names who it went to."
)
class IncidentRoleHolder:
    role: IncidentRoleKind
    assigned_at: datetime
    assigned_by: str
    note: str
    ended_at: datetime | None
    ended_by: str | None
    end_reason: RoleEnd | None
    end_note: str | None
    overrode_conflict: bool = strawberry.field(
        description="Whether the term began despite a conflict rule (see the decision log)."
    )
    person_pk: strawberry.Private[int]
    handed_to_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, t: models.IncidentRole) -> Self:
        return cls(
            role=models.IncidentRoleKind(t.role),
            assigned_at=t.assigned_at,
            assigned_by=t.assigned_by,
            note=t.note,
            ended_at=t.ended_at,
            ended_by=t.ended_by,
            end_reason=models.RoleEnd(t.end_reason) if t.end_reason else None,
            end_note=t.end_note,
            overrode_conflict=t.override_decision_id is not None,
            person_pk=t.principal_id,
            handed_to_pk=t.handed_to_id,
        )

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _person(info, self.person_pk)

    @strawberry.field(description="Whom the role was handed over to, for a hand-over.")
    async def handed_over_to(self, info: Info) -> Person | None:
        return await _person(info, self.handed_to_pk)


@strawberry.type(description="The command model of an incident and the rule that chose it.")
class CommandModel:
    model: CommandModelKind
    source: CommandRuleSource
    rule: str | None = strawberry.field(
        description="The service or business unit code the rule names; null for the default."
    )
    reason: str

    @classmethod
    def of(cls, m: policy.CommandModel) -> Self:
        return cls(model=m.model, source=m.source, rule=m.rule, reason=m.reason)


@strawberry.type(description="A conflict rule an assignment would break.")
class RoleConflictRule:
    rule: str
    description: str
    held: list[str] = strawberry.field(
        description="The roles already held that count, on incidents you may read."
    )
    hidden: int = strawberry.field(description="How many more are on incidents you may not read.")


@strawberry.type
class IncidentRolePayload:
    role: IncidentRoleKind | None = None
    holder: IncidentRoleHolder | None = None
    conflicts: list[RoleConflictRule] = strawberry.field(default_factory=list)
    errors: list[CommandError] = strawberry.field(default_factory=list)
    backup_pks: strawberry.Private[tuple[int, ...]] = ()

    @classmethod
    def of(cls, term: models.IncidentRole) -> IncidentRolePayload:
        return cls(
            role=models.IncidentRoleKind(term.role), holder=IncidentRoleHolder.from_model(term)
        )

    @classmethod
    def assigned(cls, done: roles.Assignment) -> IncidentRolePayload:
        return cls.of(done.term)

    @classmethod
    def refused(cls, error: ServiceError, errors: list[Any]) -> IncidentRolePayload:
        if not isinstance(error, conflicts.RoleConflict):
            return cls(errors=errors)
        return cls(
            errors=errors,
            conflicts=[
                RoleConflictRule(
                    rule=v.rule_id,
                    description=v.description,
                    held=list(v.references),
                    hidden=v.hidden,
                )
                for v in error.violations
            ],
            backup_pks=error.backup_ids,
        )

    @strawberry.field(
        description="On a conflict: people of the same teams (the asked person's, the service's "
        "owning team) who hold no conflicting role and could take it instead."
    )
    async def backups(self, info: Info) -> list[Person]:
        found = await info.context.loader(org_service.principals_by_id).load_many(
            list(self.backup_pks)
        )
        return [Person.from_model(p) for p in found if p is not None]


@strawberry.type(description="A role someone holds now, and on which incident.")
class HeldRole:
    role: IncidentRoleKind
    since: datetime
    incident_reference: str
    severity: SeverityEnum
    incident_row: strawberry.Private[Any]

    @strawberry.field
    def incident(self) -> IncidentType:
        from govsvc.graphql.incident_types import Incident

        return Incident.from_model(self.incident_row)


@strawberry.type(description="What one person holds now across active incidents you may read.")
class ResponderLoad:
    person: Person
    roles: list[HeldRole]

    @classmethod
    def of(cls, load: queries.Load) -> Self:
        return cls(
            person=Person.from_model(load.person),
            roles=[
                HeldRole(
                    role=models.IncidentRoleKind(term.role),
                    since=term.assigned_at,
                    incident_reference=incident.reference,
                    severity=SeverityEnum(incident.severity),
                    incident_row=incident,
                )
                for term, incident in load.roles
            ],
        )


# ---------------------------------------------------------------------------- resolvers of Incident


async def _terms(info: Info, incident_id: int) -> list[models.IncidentRole]:
    """Every term of the incident, through one loader, so current holders and history (and
    the people they name) are fetched together whatever a query asks for."""
    terms: list[models.IncidentRole] = await info.context.loader(
        queries.history_by_incident, default=list
    ).load(incident_id)
    return terms


async def commander_of(info: Info, incident_id: int) -> Person | None:
    for term in queries.current(await _terms(info, incident_id)):
        if term.role == models.IncidentRoleKind.INCIDENT_COMMANDER.value:
            return await _person(info, term.principal_id)
    return None


async def holders_of(info: Info, incident_id: int) -> list[IncidentRoleHolder]:
    return [
        IncidentRoleHolder.from_model(t) for t in queries.current(await _terms(info, incident_id))
    ]


async def history_of(info: Info, incident_id: int) -> list[IncidentRoleHolder]:
    return [IncidentRoleHolder.from_model(t) for t in await _terms(info, incident_id)]


async def command_model_of(info: Info, incident_id: int) -> CommandModel | None:
    book = info.context.runtime.policies.command
    found = await info.context.loader(queries.command_models_by_incident, args=(book,)).load(
        incident_id
    )
    return CommandModel.of(found) if found else None


# ---------------------------------------------------------------------------- queries


@strawberry.type
class CommandQuery:
    @strawberry.field(
        description="Who holds which roles now on active incidents you may read (optionally "
        "in one business unit and its children), busiest first."
    )
    async def responder_load(
        self, info: Info, unit_id: strawberry.ID | None = None
    ) -> list[ResponderLoad]:
        loads = await read(
            info,
            lambda uc: queries.responder_load(
                uc, unit_id=decode_optional(unit_id, "BusinessUnit", field="unitId")
            ),
        )
        return [ResponderLoad.of(load) for load in loads]


# ---------------------------------------------------------------------------- mutations


@strawberry.input(description="Proceed despite a conflict rule: a decision on the record.")
class RoleOverrideInput:
    justification: str = strawberry.field(description="Why, in at least 20 characters.")


@strawberry.input
class IncidentRoleAssignInput:
    incident_id: strawberry.ID
    role: IncidentRoleKind
    person_id: strawberry.ID
    note: str | None = strawberry.field(
        default=None, description="Said at the hand-over (or the assignment), kept on record."
    )
    override: RoleOverrideInput | None = None


@strawberry.input
class IncidentRoleReleaseInput:
    incident_id: strawberry.ID
    role: IncidentRoleKind
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="Which holder (needed when several hold the role)."
    )
    note: str | None = None


def _incident_pk(value: str) -> int:
    return decode_id(value, "Incident", field="incidentId")


@strawberry.type
class CommandMutation:
    @strawberry.mutation(
        description="Give someone a role on an incident; a current holder hands it over. Refused "
        "with CONFLICT (the rule, the other incidents, backups) when a conflict rule forbids it, "
        "unless `override` gives a justification."
    )
    async def incident_role_assign(
        self, info: Info, input: IncidentRoleAssignInput
    ) -> IncidentRolePayload:
        return await mutate(
            info,
            IncidentRolePayload,
            lambda uc: roles.assign(
                uc,
                incident_id=_incident_pk(input.incident_id),
                role=models.IncidentRoleKind(input.role),
                principal_id=decode_id(input.person_id, "Person", field="personId"),
                note=input.note,
                override_justification=input.override.justification if input.override else None,
            ),
            ok=IncidentRolePayload.assigned,
        )

    @strawberry.mutation(description="End someone's term in a role, with no successor.")
    async def incident_role_release(
        self, info: Info, input: IncidentRoleReleaseInput
    ) -> IncidentRolePayload:
        return await mutate(
            info,
            IncidentRolePayload,
            lambda uc: roles.release(
                uc,
                incident_id=_incident_pk(input.incident_id),
                role=models.IncidentRoleKind(input.role),
                principal_id=decode_optional(input.person_id, "Person", field="personId"),
                note=input.note,
            ),
            ok=IncidentRolePayload.of,
        )
