"""GraphQL mutations of incidents: one input, a payload with typed errors, one use case each."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from govsvc.authz.sensitivity import Sensitivity as SensitivityEnum
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.incident_types import (
    ClassificationDispute,
    DataExposure,
    Decision,
    Incident,
    IncidentStatus,
    Sensitivity,
    Severity,
    TimelineEntry,
)
from govsvc.graphql.relay import (
    decode_id,
    decode_optional,
)
from govsvc.graphql.resolvers import mutate
from govsvc.incidents import classification as cls_
from govsvc.incidents import disputes as incident_disputes
from govsvc.incidents import models
from govsvc.incidents import records as incident_records
from govsvc.incidents import service as incident_service

# ---------------------------------------------------------------------------- mutations


@strawberry.input(description="Impact as known now; the severity is computed from it.")
class ImpactInput:
    customers_affected: int = 0
    data_exposure: DataExposure = cls_.DataExposure.NONE
    regulatory_exposure: bool = False
    duration_minutes: int | None = None
    unavailable: bool = strawberry.field(default=False, description="The service is down outright.")
    availability_pct: float | None = None
    latency_p99_ms: int | None = None

    def to_facts(self) -> cls_.ImpactFacts:
        return incident_service.make_facts(
            customers_affected=self.customers_affected,
            data_exposure=self.data_exposure,
            regulatory_exposure=self.regulatory_exposure,
            duration_minutes=self.duration_minutes,
            unavailable=self.unavailable,
            availability_pct=self.availability_pct,
            latency_p99_ms=self.latency_p99_ms,
        )


@strawberry.input
class IncidentCreateInput:
    title: str
    service_id: strawberry.ID
    impact: ImpactInput = strawberry.field(default_factory=ImpactInput)
    summary: str = ""
    sensitivity: Sensitivity = SensitivityEnum.INTERNAL
    tags: list[str] = strawberry.field(default_factory=list)
    detected_at: datetime | None = None


@strawberry.input(description="Reclassify explicitly: new impact and/or another policy version.")
class IncidentReclassifyInput:
    incident_id: strawberry.ID
    impact: ImpactInput | None = None
    policy_version: str | None = strawberry.field(
        default=None, description="Default: the current version."
    )


@strawberry.input
class IncidentSeverityOverrideInput:
    incident_id: strawberry.ID
    severity: Severity
    justification: str


@strawberry.input
class IncidentStatusChangeInput:
    incident_id: strawberry.ID
    status: IncidentStatus
    note: str = ""


@strawberry.input(description="Correct the title or summary; omitted fields stay as they are.")
class IncidentEditInput:
    incident_id: strawberry.ID
    title: str | None = None
    summary: str | None = None


@strawberry.input
class IncidentTagInput:
    incident_id: strawberry.ID
    add: list[str] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class IncidentTimelineAddInput:
    incident_id: strawberry.ID
    text: str
    occurred_at: datetime | None = None
    corrects_id: strawberry.ID | None = strawberry.field(
        default=None, description="The entry this one corrects; the old entry stays."
    )


@strawberry.input
class IncidentDecisionRecordInput:
    incident_id: strawberry.ID
    decision: str
    rationale: str
    alternatives: list[str] = strawberry.field(default_factory=list)
    decided_by_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: you."
    )
    decided_at: datetime | None = None


@strawberry.input
class ClassificationDisputeOpenInput:
    incident_id: strawberry.ID
    team_id: strawberry.ID = strawberry.field(description="The team that disputes.")
    position: str
    proposed_severity: Severity | None = None


@strawberry.input
class ClassificationDisputeAnswerInput:
    dispute_id: strawberry.ID
    team_id: strawberry.ID = strawberry.field(description="The team that answers.")
    response: str


@strawberry.input
class ClassificationDisputeResolveInput:
    dispute_id: strawberry.ID
    resolution: str
    severity: Severity | None = strawberry.field(
        default=None, description="The settled severity; omit to keep the current one."
    )


@strawberry.enum(description="Why an incident mutation refused its input.")
class IncidentErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    JUSTIFICATION_REQUIRED = "JUSTIFICATION_REQUIRED"
    UNKNOWN_TAG = "UNKNOWN_TAG"
    UNKNOWN_POLICY_VERSION = "UNKNOWN_POLICY_VERSION"


@strawberry.type(description="Why an incident mutation refused its input.")
class IncidentError(UserError):
    code: IncidentErrorCode


@strawberry.type
class IncidentPayload:
    incident: Incident | None = None
    errors: list[IncidentError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, incident: models.Incident) -> IncidentPayload:
        return cls(incident=Incident.from_model(incident))


@strawberry.type
class TimelineEntryPayload:
    entry: TimelineEntry | None = None
    errors: list[IncidentError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, entry: models.TimelineEntry) -> TimelineEntryPayload:
        return cls(entry=TimelineEntry.from_model(entry))


@strawberry.type
class DecisionPayload:
    decision: Decision | None = None
    errors: list[IncidentError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, decision: models.DecisionEntry) -> DecisionPayload:
        return cls(decision=Decision.from_model(decision))


@strawberry.type
class ClassificationDisputePayload:
    dispute: ClassificationDispute | None = None
    errors: list[IncidentError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, dispute: models.ClassificationDispute) -> ClassificationDisputePayload:
        return cls(dispute=ClassificationDispute.from_model(dispute))


def _incident_pk(value: str) -> int:
    return decode_id(value, "Incident", field="incidentId")


def _dispute_pk(value: str) -> int:
    return decode_id(value, "ClassificationDispute", field="disputeId")


@strawberry.type
class IncidentMutation:
    @strawberry.mutation(description="Open an incident, classified under the current policy.")
    async def incident_create(self, info: Info, input: IncidentCreateInput) -> IncidentPayload:
        detected: datetime | None = input.detected_at
        return await mutate(
            info,
            IncidentPayload,
            lambda uc: incident_service.create_incident(
                uc,
                title=input.title,
                service_id=decode_id(input.service_id, "Service", field="serviceId"),
                facts=input.impact.to_facts(),
                summary=input.summary,
                sensitivity=input.sensitivity,
                tags=input.tags,
                detected_at=detected,
            ),
            ok=IncidentPayload.of,
        )

    @strawberry.mutation
    async def incident_reclassify(
        self, info: Info, input: IncidentReclassifyInput
    ) -> IncidentPayload:
        return await mutate(
            info,
            IncidentPayload,
            lambda uc: incident_service.classify_incident(
                uc,
                incident_id=_incident_pk(input.incident_id),
                facts=input.impact.to_facts() if input.impact else None,
                policy_version=input.policy_version,
            ),
            ok=IncidentPayload.of,
        )

    @strawberry.mutation(description="Set the severity by hand; needs a justification.")
    async def incident_severity_override(
        self, info: Info, input: IncidentSeverityOverrideInput
    ) -> IncidentPayload:
        return await mutate(
            info,
            IncidentPayload,
            lambda uc: incident_service.override_severity(
                uc,
                incident_id=_incident_pk(input.incident_id),
                severity=input.severity,
                justification=input.justification,
            ),
            ok=IncidentPayload.of,
        )

    @strawberry.mutation
    async def incident_status_change(
        self, info: Info, input: IncidentStatusChangeInput
    ) -> IncidentPayload:
        return await mutate(
            info,
            IncidentPayload,
            lambda uc: incident_service.change_status(
                uc,
                incident_id=_incident_pk(input.incident_id),
                status=input.status,
                note=input.note,
            ),
            ok=IncidentPayload.of,
        )

    @strawberry.mutation(description="Correct an incident's title or summary (both audited).")
    async def incident_edit(self, info: Info, input: IncidentEditInput) -> IncidentPayload:
        return await mutate(
            info,
            IncidentPayload,
            lambda uc: incident_service.edit_incident(
                uc,
                incident_id=_incident_pk(input.incident_id),
                title=input.title,
                summary=input.summary,
            ),
            ok=IncidentPayload.of,
        )

    @strawberry.mutation(description="Add and remove tags from the controlled taxonomy.")
    async def incident_tag(self, info: Info, input: IncidentTagInput) -> IncidentPayload:
        return await mutate(
            info,
            IncidentPayload,
            lambda uc: incident_service.tag_incident(
                uc,
                incident_id=_incident_pk(input.incident_id),
                add=input.add,
                remove=input.remove,
            ),
            ok=IncidentPayload.of,
        )

    @strawberry.mutation
    async def incident_timeline_add(
        self, info: Info, input: IncidentTimelineAddInput
    ) -> TimelineEntryPayload:
        occurred: datetime | None = input.occurred_at
        return await mutate(
            info,
            TimelineEntryPayload,
            lambda uc: incident_records.add_timeline_entry(
                uc,
                incident_id=_incident_pk(input.incident_id),
                text=input.text,
                occurred_at=occurred,
                corrects_id=decode_optional(input.corrects_id, "TimelineEntry", field="correctsId"),
            ),
            ok=TimelineEntryPayload.of,
        )

    @strawberry.mutation
    async def incident_decision_record(
        self, info: Info, input: IncidentDecisionRecordInput
    ) -> DecisionPayload:
        decided_at: datetime | None = input.decided_at
        return await mutate(
            info,
            DecisionPayload,
            lambda uc: incident_records.record_decision(
                uc,
                incident_id=_incident_pk(input.incident_id),
                decision=input.decision,
                rationale=input.rationale,
                alternatives=input.alternatives,
                decided_by_id=decode_optional(input.decided_by_id, "Person", field="decidedById"),
                decided_at=decided_at,
            ),
            ok=DecisionPayload.of,
        )

    @strawberry.mutation(description="A team disputes the incident's classification.")
    async def classification_dispute_open(
        self, info: Info, input: ClassificationDisputeOpenInput
    ) -> ClassificationDisputePayload:
        return await mutate(
            info,
            ClassificationDisputePayload,
            lambda uc: incident_disputes.dispute_classification(
                uc,
                incident_id=_incident_pk(input.incident_id),
                team_id=decode_id(input.team_id, "Team", field="teamId"),
                position=input.position,
                proposed_severity=input.proposed_severity,
            ),
            ok=ClassificationDisputePayload.of,
        )

    @strawberry.mutation(description="Another team answers an open dispute.")
    async def classification_dispute_answer(
        self, info: Info, input: ClassificationDisputeAnswerInput
    ) -> ClassificationDisputePayload:
        return await mutate(
            info,
            ClassificationDisputePayload,
            lambda uc: incident_disputes.answer_dispute(
                uc,
                dispute_id=_dispute_pk(input.dispute_id),
                team_id=decode_id(input.team_id, "Team", field="teamId"),
                response=input.response,
            ),
            ok=ClassificationDisputePayload.of,
        )

    @strawberry.mutation(description="Someone with authority settles a dispute.")
    async def classification_dispute_resolve(
        self, info: Info, input: ClassificationDisputeResolveInput
    ) -> ClassificationDisputePayload:
        return await mutate(
            info,
            ClassificationDisputePayload,
            lambda uc: incident_disputes.resolve_dispute(
                uc,
                dispute_id=_dispute_pk(input.dispute_id),
                resolution=input.resolution,
                severity=input.severity,
            ),
            ok=ClassificationDisputePayload.of,
        )
