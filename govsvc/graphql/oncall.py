"""GraphQL of on-call: schedules and their computed shifts, who is on call, jurisdiction
breaches, calendar feeds, escalation policies and pages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Self

import strawberry
from strawberry import relay

from govsvc.db import utcnow
from govsvc.errors import ServiceError
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.org import Person
from govsvc.graphql.relay import (
    connection,
    decode_cursor,
    decode_id,
    decode_optional,
    global_id,
    split_global_id,
)
from govsvc.graphql.resolvers import bad_input, load_nodes, mutate, read, read_or
from govsvc.oncall import escalation, jurisdictions, models, queries, rotation, schedules
from govsvc.org import service as org_service
from govsvc.pagination import page_size


@strawberry.enum(description="Why an on-call mutation refused its input.")
class OnCallErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"


@strawberry.type(description="Why an on-call mutation refused its input.")
class OnCallError(UserError):
    code: OnCallErrorCode


def _cap(info: Info) -> int:
    return info.context.runtime.settings.graphql_max_page


async def _person(info: Info, person_id: int | None) -> Person | None:
    if person_id is None:
        return None
    found = await info.context.loader(org_service.principals_by_id).load(person_id)
    return Person.from_model(found) if found else None


# ---------------------------------------------------------------------------- types


@strawberry.type(description="A daily window (in the layer's zone) outside which it has nobody.")
class LayerWindow:
    start: str = strawberry.field(description="HH:MM")
    end: str = strawberry.field(description="HH:MM; before start: the window runs past midnight.")
    days: list[str] = strawberry.field(description="Days it opens on: MO TU WE TH FR SA SU.")


@strawberry.type(description="One rotation of a schedule.")
class ScheduleLayer:
    name: str
    time_zone: str = strawberry.field(description="IANA zone the hand-offs are local to.")
    rrule: str = strawberry.field(description="RFC 5545 RRULE of the hand-offs.")
    start: str = strawberry.field(description="Local date and time of the first hand-off.")
    windows: list[LayerWindow]
    member_pks: strawberry.Private[tuple[int, ...]]

    @classmethod
    def of(cls, layer: rotation.Layer) -> Self:
        return cls(
            name=layer.name,
            time_zone=layer.time_zone,
            rrule=layer.rrule,
            start=layer.start.isoformat(timespec="minutes"),
            windows=[LayerWindow(**w.as_dict()) for w in layer.windows],  # type: ignore[arg-type]
            member_pks=layer.members,
        )

    @strawberry.field(description="In rotation order.")
    async def members(self, info: Info) -> list[Person]:
        found = await info.context.loader(org_service.principals_by_id).load_many(
            list(self.member_pks)
        )
        return [Person.from_model(p) for p in found if p is not None]


@strawberry.type(description="A stretch of time one person is on call, and what put them there.")
class OnCallShift:
    start: datetime
    end: datetime
    source: str = strawberry.field(description="layer or override.")
    layer: str | None = strawberry.field(description="The layer's name, for source layer.")
    override_id: strawberry.ID | None
    person_pk: strawberry.Private[int]

    @classmethod
    def of(cls, shift: rotation.Shift) -> Self:
        return cls(
            start=shift.start,
            end=shift.end,
            source=shift.source,
            layer=shift.layer,
            override_id=(
                strawberry.ID(global_id("ScheduleOverride", shift.override_id))
                if shift.override_id
                else None
            ),
            person_pk=shift.person_id,
        )

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _person(info, self.person_pk)


@strawberry.type(description="Someone taking a stretch of a schedule above every layer.")
class ScheduleOverride:
    id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    person_pk: strawberry.Private[int]

    @classmethod
    def of(cls, o: models.ScheduleOverride) -> Self:
        return cls(
            id=strawberry.ID(global_id("ScheduleOverride", o.id)),
            starts_at=o.starts_at,
            ends_at=o.ends_at,
            reason=o.reason,
            created_by=o.created_by,
            person_pk=o.principal_id,
        )

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _person(info, self.person_pk)


@strawberry.type(description="An on-call schedule: layers top first, overrides above them all.")
class Schedule(relay.Node):
    id: relay.NodeID[int]
    name: str
    description: str
    version: int = strawberry.field(description="Each change makes a new version (audited).")
    layers: list[ScheduleLayer]
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, s: models.Schedule) -> Self:
        return cls(
            id=s.id,
            name=s.name,
            description=s.description,
            version=s.version,
            layers=[ScheduleLayer.of(layer) for layer in queries.layers_of(s)],
            created_by=s.created_by,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )

    @strawberry.field(description="Current and future overrides, soonest first.")
    async def overrides(self, info: Info) -> list[ScheduleOverride]:
        found = await info.context.loader(queries.overrides_by_schedule, default=list).load(self.id)
        return [ScheduleOverride.of(o) for o in found]

    @strawberry.field(
        description="Who is on call, shift by shift, in [from, to) (at most 93 days; by"
        " default the next 7 days)."
    )
    async def shifts(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[OnCallShift]:
        start = from_ or utcnow()
        end = to or start + timedelta(days=7)
        try:
            queries.check_period(start, end)
        except ServiceError as error:
            raise bad_input(error) from None
        found = await info.context.loader(
            queries.shifts_by_schedule, default=list, args=(start, end)
        ).load(self.id)
        return [OnCallShift.of(s) for s in found]

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.schedules_by_id, cls.from_model)


@strawberry.type(description="A breach of a jurisdiction rule (policies/jurisdictions.yaml).")
class ScheduleViolation:
    rule: str = strawberry.field(
        description="min_daily_rest, max_oncall_hours_per_week, public_holiday or quiet_hours."
    )
    jurisdiction: str = strawberry.field(description="The rules applied: a country or default.")
    start: datetime
    end: datetime
    detail: str
    person_pk: strawberry.Private[int]

    @classmethod
    def of(cls, v: jurisdictions.Violation) -> Self:
        return cls(
            rule=v.rule,
            jurisdiction=v.jurisdiction,
            start=v.start,
            end=v.end,
            detail=v.detail,
            person_pk=v.person_id,
        )

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _person(info, self.person_pk)


@strawberry.type(description="Whom a service's escalation policy pages first.")
class OnCallPerson:
    target: str = strawberry.field(description="schedule:<id>, person:<id> or team:<id>.")
    shift: OnCallShift | None = strawberry.field(description="For schedule targets.")
    person_pk: strawberry.Private[int]

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _person(info, self.person_pk)


@strawberry.type
class EscalationTarget:
    kind: str = strawberry.field(description="schedule, person or team.")
    id: strawberry.ID


@strawberry.type
class EscalationLevel:
    timeout_seconds: int
    targets: list[EscalationTarget]


_TARGET_TYPES = {"schedule": "Schedule", "person": "Person", "team": "Team"}


@strawberry.type(description="Levels paged in turn until someone acknowledges.")
class EscalationPolicy(relay.Node):
    id: relay.NodeID[int]
    name: str
    repeats: int = strawberry.field(description="Runs of the whole ladder after the first.")
    version: int
    levels: list[EscalationLevel]
    created_by: str
    created_at: datetime

    @classmethod
    def from_model(cls, p: models.EscalationPolicy) -> Self:
        return cls(
            id=p.id,
            name=p.name,
            repeats=p.repeats,
            version=p.version,
            levels=[
                EscalationLevel(
                    timeout_seconds=level.timeout_seconds,
                    targets=[
                        EscalationTarget(
                            kind=t.kind, id=strawberry.ID(global_id(_TARGET_TYPES[t.kind], t.id))
                        )
                        for t in level.targets
                    ],
                )
                for level in queries.levels_of(p)
            ],
            created_by=p.created_by,
            created_at=p.created_at,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.policies_by_id, cls.from_model)


@strawberry.type(description="What became of a page on one channel.")
class PageDelivery:
    kind: str = strawberry.field(description="slack, teams, generic or email.")
    state: str = strawberry.field(description="pending, delivering, delivered or dead.")
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


@strawberry.type(description="One person paged (or skipped, saying why) at one level.")
class OnCallPage(relay.Node):
    id: relay.NodeID[int]
    incident_id: strawberry.ID
    level: int
    round: int
    target: str
    state: str = strawberry.field(description="sent or skipped.")
    reason: str | None = strawberry.field(description="Why it was skipped.")
    channels: list[str] = strawberry.field(description="Endpoint kinds it was queued on.")
    delivery_ids: list[strawberry.ID] = strawberry.field(
        description="Outbox deliveries (webhookDeliveries): their state is the delivery result."
    )
    paged_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    person_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, p: models.Page) -> Self:
        return cls(
            id=p.id,
            incident_id=strawberry.ID(global_id("Incident", p.incident_id)),
            level=p.level,
            round=p.round,
            target=p.target,
            state=p.state,
            reason=p.reason,
            channels=[c for c in p.channels.split(",") if c],
            delivery_ids=[
                strawberry.ID(global_id("WebhookDelivery", i)) for i in json.loads(p.delivery_ids)
            ],
            paged_at=p.paged_at,
            acknowledged_at=p.acknowledged_at,
            acknowledged_by=p.acknowledged_by,
            person_pk=p.principal_id,
        )

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        return await _person(info, self.person_pk)

    @strawberry.field(description="The delivery result on each channel, as of now.")
    async def deliveries(self, info: Info) -> list[PageDelivery]:
        found = await info.context.loader(queries.deliveries_by_page, default=list).load(self.id)
        return [
            PageDelivery(
                kind=d.kind,
                state=d.state,
                attempts=d.attempts,
                last_error=d.last_error,
                delivered_at=d.delivered_at,
            )
            for d in found
        ]

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.pages_by_id, cls.from_model)


# ---------------------------------------------------------------------------- queries


@strawberry.type
class OnCallQuery:
    @strawberry.field(description="Schedules you may read, oldest first.")
    async def schedules(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Schedule]:
        page = await read(
            info,
            lambda uc: queries.list_schedules(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, Schedule.from_model)

    @strawberry.field(description="A schedule by id; null if missing or not yours to read.")
    async def schedule(self, info: Info, id: strawberry.ID) -> Schedule | None:
        key = split_global_id(id)
        if key is None or key[0] != "Schedule":
            return None
        found = await info.context.loader(queries.schedules_by_id).load(key[1])
        return Schedule.from_model(found) if found else None

    @strawberry.field(
        description="Who the schedule has on call at `at` (default now), from which layer or"
        " override, with the shift's start and end; null when nobody is."
    )
    async def on_call(
        self, info: Info, schedule_id: strawberry.ID, at: datetime | None = None
    ) -> OnCallShift | None:
        found = await read_or(
            info,
            lambda uc: queries.on_call(
                uc, schedule_id=decode_id(schedule_id, "Schedule", field="scheduleId"), at=at
            ),
            missing=None,
        )
        return OnCallShift.of(found) if found else None

    @strawberry.field(
        description="Whom the service's escalation policy pages first at `at` (default now)."
    )
    async def who_is_on_call(
        self, info: Info, service_id: strawberry.ID, at: datetime | None = None
    ) -> list[OnCallPerson]:
        found: list[queries.Reached] = await read_or(
            info,
            lambda uc: queries.who_is_on_call(
                uc, service_id=decode_id(service_id, "Service", field="serviceId"), at=at
            ),
            missing=[],
        )
        return [
            OnCallPerson(
                target=r.target.key,
                shift=OnCallShift.of(r.shift) if r.shift else None,
                person_pk=r.person_id,
            )
            for r in found
        ]

    @strawberry.field(description="Breaches of jurisdiction rules by the schedule in [from, to).")
    async def schedule_violations(
        self,
        info: Info,
        schedule_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[ScheduleViolation]:
        found: list[jurisdictions.Violation] = await read_or(
            info,
            lambda uc: queries.schedule_violations(
                uc,
                schedule_id=decode_id(schedule_id, "Schedule", field="scheduleId"),
                start=from_,
                end=to,
            ),
            missing=[],
        )
        return [ScheduleViolation.of(v) for v in found]

    @strawberry.field(description="Escalation policies you may read, oldest first.")
    async def escalation_policies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[EscalationPolicy]:
        page = await read(
            info,
            lambda uc: queries.list_policies(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return connection(page, EscalationPolicy.from_model)

    @strawberry.field(description="Pages you may read, newest first; optionally one incident's.")
    async def on_call_pages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        incident_id: strawberry.ID | None = None,
    ) -> relay.Connection[OnCallPage]:
        page = await read(
            info,
            lambda uc: queries.list_pages(
                uc,
                incident_id=decode_optional(incident_id, "Incident", field="incidentId"),
                size=page_size(first, cap=_cap(info)),
                after_id=decode_cursor(after),
            ),
        )
        return connection(page, OnCallPage.from_model)


# ---------------------------------------------------------------------------- mutations


@strawberry.input
class LayerWindowInput:
    start: str = strawberry.field(description="HH:MM")
    end: str = strawberry.field(description="HH:MM")
    days: list[str] | None = strawberry.field(default=None, description="Default: every day.")


@strawberry.input(description="A rotation: hand-offs per an RRULE, local to its zone.")
class ScheduleLayerInput:
    name: str
    time_zone: str
    rrule: str = strawberry.field(description="e.g. FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0")
    start: str = strawberry.field(description="Local date-time of the first hand-off.")
    member_ids: list[strawberry.ID]
    windows: list[LayerWindowInput] = strawberry.field(default_factory=list)


def _layers(given: list[ScheduleLayerInput] | None) -> list[schedules.LayerSpec] | None:
    if given is None:
        return None
    return [
        schedules.LayerSpec(
            name=layer.name,
            time_zone=layer.time_zone,
            rrule=layer.rrule,
            start=layer.start,
            member_ids=[
                decode_id(m, "Person", field=f"layers.{n}.memberIds") for m in layer.member_ids
            ],
            windows=[schedules.WindowSpec(w.start, w.end, w.days) for w in layer.windows],
        )
        for n, layer in enumerate(given)
    ]


@strawberry.input(description="Layers top first: the top layer wins where it has someone.")
class ScheduleCreateInput:
    business_unit_id: strawberry.ID
    name: str
    description: str = ""
    layers: list[ScheduleLayerInput]


@strawberry.input(description="Omitted fields stay; layers replace the whole list.")
class ScheduleUpdateInput:
    schedule_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    layers: list[ScheduleLayerInput] | None = None


@strawberry.input
class ScheduleOverrideCreateInput:
    schedule_id: strawberry.ID
    person_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    reason: str


@strawberry.input
class ScheduleOverrideRemoveInput:
    override_id: strawberry.ID


@strawberry.input(description="Name a schedule or a person.")
class OnCallFeedCreateInput:
    schedule_id: strawberry.ID | None = None
    person_id: strawberry.ID | None = None


@strawberry.input
class OnCallFeedRevokeInput:
    feed_id: strawberry.ID


@strawberry.input
class EscalationTargetInput:
    kind: str = strawberry.field(description="schedule, person or team.")
    id: strawberry.ID


@strawberry.input
class EscalationLevelInput:
    timeout_seconds: int
    targets: list[EscalationTargetInput]


@strawberry.input
class EscalationPolicyCreateInput:
    business_unit_id: strawberry.ID
    name: str
    repeats: int = 0
    levels: list[EscalationLevelInput]


@strawberry.input(description="Omitted fields stay; levels replace the whole ladder.")
class EscalationPolicyUpdateInput:
    policy_id: strawberry.ID
    name: str | None = None
    repeats: int | None = None
    levels: list[EscalationLevelInput] | None = None


def _level_specs(given: list[EscalationLevelInput]) -> list[escalation.LevelSpec]:
    out = []
    for n, level in enumerate(given):
        targets = []
        for k, t in enumerate(level.targets):
            type_name = _TARGET_TYPES.get(t.kind)
            if type_name is None:  # the use case names the unknown kind
                targets.append((t.kind, 0))
            else:
                field = f"levels.{n}.targets.{k}.id"
                targets.append((t.kind, decode_id(t.id, type_name, field=field)))
        out.append(escalation.LevelSpec(level.timeout_seconds, targets))
    return out


@strawberry.input(description="policyId null: the service pages nobody by itself.")
class ServiceEscalationPolicySetInput:
    service_id: strawberry.ID
    policy_id: strawberry.ID | None = None


@strawberry.input
class IncidentPageInput:
    incident_id: strawberry.ID
    policy_id: strawberry.ID


@strawberry.input
class PageAcknowledgeInput:
    page_id: strawberry.ID


@strawberry.type
class SchedulePayload:
    schedule: Schedule | None = None
    errors: list[OnCallError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, s: models.Schedule) -> SchedulePayload:
        return cls(schedule=Schedule.from_model(s))


@strawberry.type
class ScheduleOverridePayload:
    override: ScheduleOverride | None = None
    errors: list[OnCallError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, o: models.ScheduleOverride) -> ScheduleOverridePayload:
        return cls(override=ScheduleOverride.of(o))


@strawberry.type(description="A calendar feed: its URL is shown once, at creation.")
class OnCallFeed:
    id: strawberry.ID
    kind: str = strawberry.field(description="schedule or person.")
    prefix: str = strawberry.field(description="The token's start, to tell feeds apart.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, f: models.OnCallFeed) -> Self:
        return cls(
            id=strawberry.ID(global_id("OnCallFeed", f.id)),
            kind="schedule" if f.schedule_id else "person",
            prefix=f.prefix,
            created_at=f.created_at,
            revoked_at=f.revoked_at,
        )


@strawberry.type
class OnCallFeedPayload:
    feed: OnCallFeed | None = None
    url: str | None = strawberry.field(
        default=None, description="Subscribe to it; shown only now (only its hash is kept)."
    )
    errors: list[OnCallError] = strawberry.field(default_factory=list)


@strawberry.type
class EscalationPolicyPayload:
    policy: EscalationPolicy | None = None
    errors: list[OnCallError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, p: models.EscalationPolicy) -> EscalationPolicyPayload:
        return cls(policy=EscalationPolicy.from_model(p))


@strawberry.type
class ServiceEscalationPolicyPayload:
    service_id: strawberry.ID | None = None
    policy_id: strawberry.ID | None = None
    errors: list[OnCallError] = strawberry.field(default_factory=list)


@strawberry.type
class IncidentPagePayload:
    pages: list[OnCallPage] = strawberry.field(default_factory=list)
    errors: list[OnCallError] = strawberry.field(default_factory=list)


@strawberry.type
class PagePayload:
    page: OnCallPage | None = None
    errors: list[OnCallError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, p: models.Page) -> PagePayload:
        return cls(page=OnCallPage.from_model(p))


@strawberry.type
class OnCallMutation:
    @strawberry.mutation(description="Create a schedule in a business unit.")
    async def schedule_create(self, info: Info, input: ScheduleCreateInput) -> SchedulePayload:
        return await mutate(
            info,
            SchedulePayload,
            lambda uc: schedules.create_schedule(
                uc,
                business_unit_id=decode_id(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                name=input.name,
                description=input.description,
                layers=_layers(input.layers) or [],
            ),
            ok=SchedulePayload.of,
        )

    @strawberry.mutation(description="Change a schedule: a new version, audited before/after.")
    async def schedule_update(self, info: Info, input: ScheduleUpdateInput) -> SchedulePayload:
        return await mutate(
            info,
            SchedulePayload,
            lambda uc: schedules.update_schedule(
                uc,
                schedule_id=decode_id(input.schedule_id, "Schedule", field="scheduleId"),
                name=input.name,
                description=input.description,
                layers=_layers(input.layers),
            ),
            ok=SchedulePayload.of,
        )

    @strawberry.mutation(description="Put someone on call above every layer for a while.")
    async def schedule_override_create(
        self, info: Info, input: ScheduleOverrideCreateInput
    ) -> ScheduleOverridePayload:
        return await mutate(
            info,
            ScheduleOverridePayload,
            lambda uc: schedules.create_override(
                uc,
                schedule_id=decode_id(input.schedule_id, "Schedule", field="scheduleId"),
                person_id=decode_id(input.person_id, "Person", field="personId"),
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                reason=input.reason,
            ),
            ok=ScheduleOverridePayload.of,
        )

    @strawberry.mutation(description="Remove an override.")
    async def schedule_override_remove(
        self, info: Info, input: ScheduleOverrideRemoveInput
    ) -> ScheduleOverridePayload:
        return await mutate(
            info,
            ScheduleOverridePayload,
            lambda uc: schedules.remove_override(
                uc, override_id=decode_id(input.override_id, "ScheduleOverride", field="overrideId")
            ),
            ok=ScheduleOverridePayload.of,
        )

    @strawberry.mutation(
        description="A calendar (ICS) feed of the next 60 days of a schedule's shifts, or of"
        " one person's on every schedule (yourself, or administrators)."
    )
    async def on_call_feed_create(
        self, info: Info, input: OnCallFeedCreateInput
    ) -> OnCallFeedPayload:
        base = info.context.runtime.settings.base_url

        def ok(issued: schedules.IssuedFeed) -> OnCallFeedPayload:
            return OnCallFeedPayload(
                feed=OnCallFeed.of(issued.feed), url=f"{base}/oncall/{issued.token}.ics"
            )

        return await mutate(
            info,
            OnCallFeedPayload,
            lambda uc: schedules.create_feed(
                uc,
                schedule_id=decode_optional(input.schedule_id, "Schedule", field="scheduleId"),
                person_id=decode_optional(input.person_id, "Person", field="personId"),
            ),
            ok=ok,
        )

    @strawberry.mutation(description="Stop a feed: its URL answers 404 from now on.")
    async def on_call_feed_revoke(
        self, info: Info, input: OnCallFeedRevokeInput
    ) -> OnCallFeedPayload:
        return await mutate(
            info,
            OnCallFeedPayload,
            lambda uc: schedules.revoke_feed(
                uc, feed_id=decode_id(input.feed_id, "OnCallFeed", field="feedId")
            ),
            ok=lambda f: OnCallFeedPayload(feed=OnCallFeed.of(f)),
        )

    @strawberry.mutation(description="Create an escalation policy in a business unit.")
    async def escalation_policy_create(
        self, info: Info, input: EscalationPolicyCreateInput
    ) -> EscalationPolicyPayload:
        return await mutate(
            info,
            EscalationPolicyPayload,
            lambda uc: escalation.create_policy(
                uc,
                business_unit_id=decode_id(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                name=input.name,
                repeats=input.repeats,
                levels=_level_specs(input.levels),
            ),
            ok=EscalationPolicyPayload.of,
        )

    @strawberry.mutation(
        description="Change a policy: a new version (audited before/after); escalations under"
        " way keep the ladder they started with."
    )
    async def escalation_policy_update(
        self, info: Info, input: EscalationPolicyUpdateInput
    ) -> EscalationPolicyPayload:
        return await mutate(
            info,
            EscalationPolicyPayload,
            lambda uc: escalation.update_policy(
                uc,
                policy_id=decode_id(input.policy_id, "EscalationPolicy", field="policyId"),
                name=input.name,
                repeats=input.repeats,
                levels=_level_specs(input.levels) if input.levels is not None else None,
            ),
            ok=EscalationPolicyPayload.of,
        )

    @strawberry.mutation(description="Point a service at an escalation policy (or at none).")
    async def service_escalation_policy_set(
        self, info: Info, input: ServiceEscalationPolicySetInput
    ) -> ServiceEscalationPolicyPayload:
        def ok(result: tuple[int, int | None]) -> ServiceEscalationPolicyPayload:
            service_pk, policy_pk = result
            return ServiceEscalationPolicyPayload(
                service_id=strawberry.ID(global_id("Service", service_pk)),
                policy_id=(
                    strawberry.ID(global_id("EscalationPolicy", policy_pk)) if policy_pk else None
                ),
            )

        return await mutate(
            info,
            ServiceEscalationPolicyPayload,
            lambda uc: escalation.set_service_policy(
                uc,
                service_id=decode_id(input.service_id, "Service", field="serviceId"),
                policy_id=decode_optional(input.policy_id, "EscalationPolicy", field="policyId"),
            ),
            ok=ok,
        )

    @strawberry.mutation(description="Page an incident through an escalation policy now.")
    async def incident_page(self, info: Info, input: IncidentPageInput) -> IncidentPagePayload:
        async def run(uc: Any) -> list[models.Page]:
            started = await escalation.page(
                uc,
                incident_id=decode_id(input.incident_id, "Incident", field="incidentId"),
                policy_id=decode_id(input.policy_id, "EscalationPolicy", field="policyId"),
            )
            return await escalation.pages_of(uc, escalation_id=started.id)

        return await mutate(
            info,
            IncidentPagePayload,
            run,
            ok=lambda pages: IncidentPagePayload(pages=[OnCallPage.from_model(p) for p in pages]),
        )

    @strawberry.mutation(description="I have it: stops the page's escalation.")
    async def page_acknowledge(self, info: Info, input: PageAcknowledgeInput) -> PagePayload:
        return await mutate(
            info,
            PagePayload,
            lambda uc: escalation.acknowledge(
                uc, page_id=decode_id(input.page_id, "OnCallPage", field="pageId")
            ),
            ok=PagePayload.of,
        )
