"""GraphQL types of incidents and what hangs off them, loaded per request without N+1."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

import strawberry
from strawberry import relay

from govsvc.alerts import queries as alert_queries
from govsvc.authz.sensitivity import Sensitivity as SensitivityEnum
from govsvc.chat import queries as chat_queries
from govsvc.graphql import command as command_types
from govsvc.graphql.alerts import Alert
from govsvc.graphql.chat import ChatMessage
from govsvc.graphql.context import Info
from govsvc.graphql.org import BusinessUnit, Person, Service, Team
from govsvc.graphql.relay import (
    connection,
    decode_cursor,
)
from govsvc.graphql.resolvers import load_nodes, read
from govsvc.incidents import classification as cls_
from govsvc.incidents import models
from govsvc.incidents import queries as incident_queries
from govsvc.org import service as org_service
from govsvc.pagination import page_size

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from govsvc.caller import Caller

strawberry.enum(models.IncidentStatus, name="IncidentStatus")
IncidentStatus = models.IncidentStatus
strawberry.enum(cls_.Severity, name="Severity")
Severity = cls_.Severity
strawberry.enum(cls_.ImpactKind, name="ImpactKind", description="Judged against the service's SLA.")
ImpactKind = cls_.ImpactKind
strawberry.enum(cls_.DataExposure, name="DataExposure")
DataExposure = cls_.DataExposure
strawberry.enum(SensitivityEnum, name="Sensitivity")
Sensitivity = SensitivityEnum
strawberry.enum(models.ClassificationKind, name="ClassificationKind")
ClassificationKind = models.ClassificationKind
strawberry.enum(models.DisputeState, name="DisputeState")
DisputeState = models.DisputeState

LATEST_TIMELINE_MAX = 50


# ---------------------------------------------------------------------------- loaders


async def _decisions(session: AsyncSession, _: Caller, ids: list[int]) -> dict[int, list[Any]]:
    return await incident_queries.children_by_incident(session, models.DecisionEntry, ids)


async def _status_changes(session: AsyncSession, _: Caller, ids: list[int]) -> dict[int, list[Any]]:
    return await incident_queries.children_by_incident(session, models.IncidentStatusChange, ids)


async def _classifications(
    session: AsyncSession, _: Caller, ids: list[int]
) -> dict[int, list[Any]]:
    return await incident_queries.children_by_incident(session, models.IncidentClassification, ids)


async def _disputes(session: AsyncSession, _: Caller, ids: list[int]) -> dict[int, list[Any]]:
    return await incident_queries.children_by_incident(session, models.ClassificationDispute, ids)


async def _tags(session: AsyncSession, _: Caller, ids: list[int]) -> dict[int, list[str]]:
    return await incident_queries.tags_by_incident(session, ids)


async def _latest_timeline(
    session: AsyncSession, _: Caller, ids: list[int], limit: int
) -> dict[int, list[Any]]:
    return await incident_queries.latest_timeline(session, ids, limit=limit)


# ---------------------------------------------------------------------------- types


@strawberry.type(description="What is known of the impact; the classification is computed from it.")
class Impact:
    customers_affected: int
    data_exposure: DataExposure
    regulatory_exposure: bool
    duration_minutes: int | None
    unavailable: bool
    availability_pct: float | None
    latency_p99_ms: int | None


@strawberry.type
class Classification:
    kind: ClassificationKind
    policy_version: str
    computed_severity: Severity
    severity: Severity
    impact_kind: ImpactKind
    rule_id: str | None
    reasons: list[str]
    justification: str | None
    facts: strawberry.scalars.JSON
    classified_by: str
    classified_at: datetime

    @classmethod
    def from_model(cls, c: models.IncidentClassification) -> Self:
        return cls(
            kind=models.ClassificationKind(c.kind),
            policy_version=c.policy_version,
            computed_severity=cls_.Severity(c.computed_severity),
            severity=cls_.Severity(c.severity),
            impact_kind=cls_.ImpactKind(c.impact_kind),
            rule_id=c.rule_id,
            reasons=json.loads(c.reasons),
            justification=c.justification,
            facts=json.loads(c.facts),
            classified_by=c.classified_by,
            classified_at=c.classified_at,
        )


@strawberry.type
class StatusChange:
    from_status: IncidentStatus | None
    to_status: IncidentStatus
    changed_by: str
    changed_at: datetime
    note: str

    @classmethod
    def from_model(cls, c: models.IncidentStatusChange) -> Self:
        return cls(
            from_status=models.IncidentStatus(c.from_status) if c.from_status else None,
            to_status=models.IncidentStatus(c.to_status),
            changed_by=c.changed_by,
            changed_at=c.changed_at,
            note=c.note,
        )


@strawberry.type(description="Append-only; a correction is a new entry pointing at the old one.")
class TimelineEntry(relay.Node):
    id: relay.NodeID[int]
    kind: str
    text: str
    occurred_at: datetime
    recorded_at: datetime
    author: str
    corrects_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, e: models.TimelineEntry) -> Self:
        return cls(
            id=e.id,
            kind=e.kind,
            text=e.text,
            occurred_at=e.occurred_at,
            recorded_at=e.recorded_at,
            author=e.author,
            corrects_pk=e.corrects_id,
        )

    @strawberry.field(description="The entry this one corrects, if it is a correction.")
    async def corrects(self, info: Info) -> TimelineEntry | None:
        if self.corrects_pk is None:
            return None
        entry = await info.context.loader(incident_queries.timeline_entries_by_id).load(
            self.corrects_pk
        )
        return TimelineEntry.from_model(entry) if entry else None

    @strawberry.field(
        description="The chat message this entry was made from (a command typed in Slack or "
        "Teams, or the edit or deletion a correction records); null for entries made otherwise."
    )
    async def chat_message(self, info: Info) -> ChatMessage | None:
        found = await info.context.loader(chat_queries.chat_messages_by_timeline_entry).load(
            self.id
        )
        return ChatMessage.from_model(found) if found else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(
            info, node_ids, incident_queries.timeline_entries_by_id, cls.from_model
        )


@strawberry.type
class Decision:
    decision: str
    rationale: str
    alternatives: list[str]
    decided_at: datetime
    recorded_by: str
    recorded_at: datetime
    decider_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, d: models.DecisionEntry) -> Self:
        return cls(
            decision=d.decision,
            rationale=d.rationale,
            alternatives=json.loads(d.alternatives),
            decided_at=d.decided_at,
            recorded_by=d.recorded_by,
            recorded_at=d.recorded_at,
            decider_pk=d.decided_by_id,
        )

    @strawberry.field
    async def decided_by(self, info: Info) -> Person | None:
        person = await info.context.loader(org_service.principals_by_id).load(self.decider_pk)
        return Person.from_model(person) if person else None


@strawberry.type
class ClassificationDispute(relay.Node):
    id: relay.NodeID[int]
    state: DisputeState
    disputed_severity: Severity
    position: str
    proposed_severity: Severity | None
    raised_by: str
    raised_at: datetime
    response: str | None
    responded_by: str | None
    responded_at: datetime | None
    resolution: str | None
    resolved_severity: Severity | None
    resolved_by: str | None
    resolved_at: datetime | None
    raised_team_pk: strawberry.Private[int]
    response_team_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, d: models.ClassificationDispute) -> Self:
        def sev(value: str | None) -> cls_.Severity | None:
            return cls_.Severity(value) if value else None

        return cls(
            id=d.id,
            state=models.DisputeState(d.state),
            disputed_severity=cls_.Severity(d.disputed_severity),
            position=d.position,
            proposed_severity=sev(d.proposed_severity),
            raised_by=d.raised_by,
            raised_at=d.raised_at,
            response=d.response,
            responded_by=d.responded_by,
            responded_at=d.responded_at,
            resolution=d.resolution,
            resolved_severity=sev(d.resolved_severity),
            resolved_by=d.resolved_by,
            resolved_at=d.resolved_at,
            raised_team_pk=d.raised_by_team_id,
            response_team_pk=d.response_team_id,
        )

    @strawberry.field
    async def raised_by_team(self, info: Info) -> Team | None:
        team = await info.context.loader(org_service.teams_by_id).load(self.raised_team_pk)
        return Team.from_model(team) if team else None

    @strawberry.field
    async def response_team(self, info: Info) -> Team | None:
        if self.response_team_pk is None:
            return None
        team = await info.context.loader(org_service.teams_by_id).load(self.response_team_pk)
        return Team.from_model(team) if team else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, incident_queries.disputes_by_id, cls.from_model)


@strawberry.type
class Incident(relay.Node):
    id: relay.NodeID[int]
    reference: str = strawberry.field(description="Human reference, e.g. INC-42.")
    title: str
    summary: str
    status: IncidentStatus
    severity: Severity
    severity_overridden: bool
    impact_kind: ImpactKind
    classification_policy_version: str
    detection_rule: str | None = strawberry.field(
        description="The detection rule that opened it from an alert; null if a person did."
    )
    detection_version: str | None = strawberry.field(
        description="The version of policies/detection.yaml that rule belongs to."
    )
    sensitivity: Sensitivity
    impact: Impact
    detected_at: datetime
    created_by: str
    created_at: datetime
    updated_at: datetime
    service_pk: strawberry.Private[int]
    unit_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, i: models.Incident) -> Self:
        return cls(
            id=i.id,
            reference=i.reference,
            title=i.title,
            summary=i.summary,
            status=models.IncidentStatus(i.status),
            severity=cls_.Severity(i.severity),
            severity_overridden=i.severity_overridden,
            impact_kind=cls_.ImpactKind(i.impact_kind),
            classification_policy_version=i.classification_policy_version,
            detection_rule=i.detection_rule,
            detection_version=i.detection_version,
            sensitivity=SensitivityEnum(i.sensitivity),
            impact=Impact(
                customers_affected=i.customers_affected,
                data_exposure=cls_.DataExposure(i.data_exposure),
                regulatory_exposure=i.regulatory_exposure,
                duration_minutes=i.duration_minutes,
                unavailable=i.unavailable,
                availability_pct=i.availability_pct,
                latency_p99_ms=i.latency_p99_ms,
            ),
            detected_at=i.detected_at,
            created_by=i.created_by,
            created_at=i.created_at,
            updated_at=i.updated_at,
            service_pk=i.service_id,
            unit_pk=i.business_unit_id,
        )

    @strawberry.field
    async def service(self, info: Info) -> Service | None:
        service = await info.context.loader(org_service.services_by_id).load(self.service_pk)
        return Service.from_model(service) if service else None

    @strawberry.field(
        description="The alerts that opened or joined it that you may read: probable upstream "
        "causes first, then the one that opened it, then the rest."
    )
    async def alerts(self, info: Info) -> list[Alert]:
        found = await info.context.loader(alert_queries.alerts_by_incident, default=list).load(
            self.id
        )
        return [Alert.from_model(a) for a in found]

    @strawberry.field
    async def business_unit(self, info: Info) -> BusinessUnit | None:
        unit = await info.context.loader(org_service.business_units_by_id).load(self.unit_pk)
        return BusinessUnit.from_model(unit) if unit else None

    @strawberry.field
    async def tags(self, info: Info) -> list[str]:
        tags: list[str] = await info.context.loader(_tags, default=list).load(self.id)
        return tags

    @strawberry.field(description="The newest timeline entries, newest first (for lists).")
    async def latest_timeline(self, info: Info, limit: int = 5) -> list[TimelineEntry]:
        limit = max(1, min(limit, LATEST_TIMELINE_MAX))
        entries = await info.context.loader(_latest_timeline, default=list, args=(limit,)).load(
            self.id
        )
        return [TimelineEntry.from_model(e) for e in entries]

    @strawberry.field(description="The whole timeline in the order it was recorded.")
    async def timeline(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> relay.Connection[TimelineEntry]:
        cap = info.context.runtime.settings.graphql_max_page
        page = await read(
            info,
            lambda uc: incident_queries.timeline_page(
                uc,
                incident_id=self.id,
                size=page_size(first, cap=cap),
                after_id=decode_cursor(after),
            ),
        )
        return connection(page, TimelineEntry.from_model)

    @strawberry.field(description="The decision log, oldest first.")
    async def decisions(self, info: Info) -> list[Decision]:
        rows = await info.context.loader(_decisions, default=list).load(self.id)
        return [Decision.from_model(r) for r in rows]

    @strawberry.field(description="Every status transition with its time.")
    async def status_changes(self, info: Info) -> list[StatusChange]:
        rows = await info.context.loader(_status_changes, default=list).load(self.id)
        return [StatusChange.from_model(r) for r in rows]

    @strawberry.field(description="Every classification, computed or decided, oldest first.")
    async def classifications(self, info: Info) -> list[Classification]:
        rows = await info.context.loader(_classifications, default=list).load(self.id)
        return [Classification.from_model(r) for r in rows]

    @strawberry.field
    async def disputes(self, info: Info) -> list[ClassificationDispute]:
        rows = await info.context.loader(_disputes, default=list).load(self.id)
        return [ClassificationDispute.from_model(r) for r in rows]

    @strawberry.field(description="The incident commander now, if one is assigned.")
    async def commander(self, info: Info) -> Person | None:
        return await command_types.commander_of(info, self.id)

    @strawberry.field(description="Who holds which role now, commander first.")
    async def roles(self, info: Info) -> list[command_types.IncidentRoleHolder]:
        return await command_types.holders_of(info, self.id)

    @strawberry.field(description="Every term in every role, hand-overs included, oldest first.")
    async def role_history(self, info: Info) -> list[command_types.IncidentRoleHolder]:
        return await command_types.history_of(info, self.id)

    @strawberry.field(
        description="The command model that applies (policies/command.yaml) and the rule "
        "(service, business unit or default) that chose it."
    )
    async def command_model(self, info: Info) -> command_types.CommandModel | None:
        return await command_types.command_model_of(info, self.id)

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, incident_queries.incidents_by_id, cls.from_model)
