"""GraphQL mutations of incidents: one input, a payload with typed errors, one use case each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from govsvc.authz.sensitivity import Sensitivity as SensitivityEnum
from govsvc.graphql.context import Info
from govsvc.graphql.errors import LegacyUserError
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
from govsvc.graphql.resolvers import mutate_legacy
from govsvc.incidents import classification as cls_
from govsvc.incidents import disputes as incident_disputes
from govsvc.incidents import records as incident_records
from govsvc.incidents import service as incident_service

# ---------------------------------------------------------------------------- mutations


@strawberry.input(description="Impact as known now; the severity is computed from it.")
class ImpactInput:
    customers_affected: int = 0
    data_exposure: DataExposure = cls_.DataExposure.NONE  # type: ignore[valid-type]
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
    sensitivity: Sensitivity = SensitivityEnum.INTERNAL  # type: ignore[valid-type]
    tags: list[str] = strawberry.field(default_factory=list)
    detected_at: datetime | None = None


@strawberry.type
class IncidentCreateError(LegacyUserError):
    pass


@strawberry.type
class IncidentCreatePayload:
    incident: Incident | None = None
    errors: list[IncidentCreateError] = strawberry.field(default_factory=list)


@strawberry.input(description="Reclassify explicitly: new impact and/or another policy version.")
class IncidentReclassifyInput:
    incident_id: strawberry.ID
    impact: ImpactInput | None = None
    policy_version: str | None = strawberry.field(
        default=None, description="Default: the current version."
    )


@strawberry.type
class IncidentReclassifyError(LegacyUserError):
    pass


@strawberry.type
class IncidentReclassifyPayload:
    incident: Incident | None = None
    errors: list[IncidentReclassifyError] = strawberry.field(default_factory=list)


@strawberry.input
class IncidentSeverityOverrideInput:
    incident_id: strawberry.ID
    severity: Severity  # type: ignore[valid-type]
    justification: str


@strawberry.type
class IncidentSeverityOverrideError(LegacyUserError):
    pass


@strawberry.type
class IncidentSeverityOverridePayload:
    incident: Incident | None = None
    errors: list[IncidentSeverityOverrideError] = strawberry.field(default_factory=list)


@strawberry.input
class IncidentStatusChangeInput:
    incident_id: strawberry.ID
    status: IncidentStatus  # type: ignore[valid-type]
    note: str = ""


@strawberry.type
class IncidentStatusChangeError(LegacyUserError):
    pass


@strawberry.type
class IncidentStatusChangePayload:
    incident: Incident | None = None
    errors: list[IncidentStatusChangeError] = strawberry.field(default_factory=list)


@strawberry.input
class IncidentTagInput:
    incident_id: strawberry.ID
    add: list[str] = strawberry.field(default_factory=list)
    remove: list[str] = strawberry.field(default_factory=list)


@strawberry.type
class IncidentTagError(LegacyUserError):
    pass


@strawberry.type
class IncidentTagPayload:
    incident: Incident | None = None
    errors: list[IncidentTagError] = strawberry.field(default_factory=list)


@strawberry.input
class IncidentTimelineAddInput:
    incident_id: strawberry.ID
    text: str
    occurred_at: datetime | None = None
    corrects_id: strawberry.ID | None = strawberry.field(
        default=None, description="The entry this one corrects; the old entry stays."
    )


@strawberry.type
class IncidentTimelineAddError(LegacyUserError):
    pass


@strawberry.type
class IncidentTimelineAddPayload:
    entry: TimelineEntry | None = None
    errors: list[IncidentTimelineAddError] = strawberry.field(default_factory=list)


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


@strawberry.type
class IncidentDecisionRecordError(LegacyUserError):
    pass


@strawberry.type
class IncidentDecisionRecordPayload:
    decision: Decision | None = None
    errors: list[IncidentDecisionRecordError] = strawberry.field(default_factory=list)


@strawberry.input
class ClassificationDisputeOpenInput:
    incident_id: strawberry.ID
    team_id: strawberry.ID = strawberry.field(description="The team that disputes.")
    position: str
    proposed_severity: Severity | None = None  # type: ignore[valid-type]


@strawberry.input
class ClassificationDisputeAnswerInput:
    dispute_id: strawberry.ID
    team_id: strawberry.ID = strawberry.field(description="The team that answers.")
    response: str


@strawberry.input
class ClassificationDisputeResolveInput:
    dispute_id: strawberry.ID
    resolution: str
    severity: Severity | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The settled severity; omit to keep the current one."
    )


@strawberry.type
class ClassificationDisputeError(LegacyUserError):
    pass


@strawberry.type
class ClassificationDisputePayload:
    dispute: ClassificationDispute | None = None
    errors: list[ClassificationDisputeError] = strawberry.field(default_factory=list)


def _incident_pk(value: str) -> int:
    return decode_id(value, "Incident", field="incidentId")


def _incident_payload(payload: Any, error_type: Any) -> dict[str, Any]:
    return {
        "ok": lambda i: payload(incident=Incident.from_model(i)),
        "refused": lambda e: payload(errors=e),
        "error_type": error_type,
    }


@strawberry.type
class IncidentMutation:
    @strawberry.mutation(description="Open an incident, classified under the current policy.")
    async def incident_create(
        self, info: Info, input: IncidentCreateInput
    ) -> IncidentCreatePayload:
        rt, caller = info.context.runtime, info.context.caller
        detected: datetime | None = input.detected_at
        return await mutate_legacy(
            lambda: incident_service.create_incident(
                rt.db,
                caller,
                policies=rt.policies,
                title=input.title,
                service_id=decode_id(input.service_id, "Service", field="serviceId"),
                facts=input.impact.to_facts(),
                summary=input.summary,
                sensitivity=input.sensitivity,
                tags=input.tags,
                detected_at=detected,
            ),
            **_incident_payload(IncidentCreatePayload, IncidentCreateError),
        )

    @strawberry.mutation
    async def incident_reclassify(
        self, info: Info, input: IncidentReclassifyInput
    ) -> IncidentReclassifyPayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: incident_service.classify_incident(
                rt.db,
                caller,
                policies=rt.policies,
                incident_id=_incident_pk(input.incident_id),
                facts=input.impact.to_facts() if input.impact else None,
                policy_version=input.policy_version,
            ),
            **_incident_payload(IncidentReclassifyPayload, IncidentReclassifyError),
        )

    @strawberry.mutation(description="Set the severity by hand; needs a justification.")
    async def incident_severity_override(
        self, info: Info, input: IncidentSeverityOverrideInput
    ) -> IncidentSeverityOverridePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: incident_service.override_severity(
                rt.db,
                caller,
                incident_id=_incident_pk(input.incident_id),
                severity=input.severity,
                justification=input.justification,
            ),
            **_incident_payload(IncidentSeverityOverridePayload, IncidentSeverityOverrideError),
        )

    @strawberry.mutation
    async def incident_status_change(
        self, info: Info, input: IncidentStatusChangeInput
    ) -> IncidentStatusChangePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: incident_service.change_status(
                rt.db,
                caller,
                incident_id=_incident_pk(input.incident_id),
                status=input.status,
                note=input.note,
            ),
            **_incident_payload(IncidentStatusChangePayload, IncidentStatusChangeError),
        )

    @strawberry.mutation(description="Add and remove tags from the controlled taxonomy.")
    async def incident_tag(self, info: Info, input: IncidentTagInput) -> IncidentTagPayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: incident_service.tag_incident(
                rt.db,
                caller,
                policies=rt.policies,
                incident_id=_incident_pk(input.incident_id),
                add=input.add,
                remove=input.remove,
            ),
            **_incident_payload(IncidentTagPayload, IncidentTagError),
        )

    @strawberry.mutation
    async def incident_timeline_add(
        self, info: Info, input: IncidentTimelineAddInput
    ) -> IncidentTimelineAddPayload:
        rt, caller = info.context.runtime, info.context.caller
        occurred: datetime | None = input.occurred_at
        return await mutate_legacy(
            lambda: incident_records.add_timeline_entry(
                rt.db,
                caller,
                incident_id=_incident_pk(input.incident_id),
                text=input.text,
                occurred_at=occurred,
                corrects_id=decode_optional(input.corrects_id, "TimelineEntry", field="correctsId"),
            ),
            ok=lambda e: IncidentTimelineAddPayload(entry=TimelineEntry.from_model(e)),
            refused=lambda e: IncidentTimelineAddPayload(errors=e),
            error_type=IncidentTimelineAddError,
        )

    @strawberry.mutation
    async def incident_decision_record(
        self, info: Info, input: IncidentDecisionRecordInput
    ) -> IncidentDecisionRecordPayload:
        rt, caller = info.context.runtime, info.context.caller
        decided_at: datetime | None = input.decided_at
        return await mutate_legacy(
            lambda: incident_records.record_decision(
                rt.db,
                caller,
                incident_id=_incident_pk(input.incident_id),
                decision=input.decision,
                rationale=input.rationale,
                alternatives=input.alternatives,
                decided_by_id=decode_optional(input.decided_by_id, "Person", field="decidedById"),
                decided_at=decided_at,
            ),
            ok=lambda d: IncidentDecisionRecordPayload(decision=Decision.from_model(d)),
            refused=lambda e: IncidentDecisionRecordPayload(errors=e),
            error_type=IncidentDecisionRecordError,
        )

    @strawberry.mutation(description="A team disputes the incident's classification.")
    async def classification_dispute_open(
        self, info: Info, input: ClassificationDisputeOpenInput
    ) -> ClassificationDisputePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await _dispute_call(
            lambda: incident_disputes.dispute_classification(
                rt.db,
                caller,
                incident_id=_incident_pk(input.incident_id),
                team_id=decode_id(input.team_id, "Team", field="teamId"),
                position=input.position,
                proposed_severity=input.proposed_severity,
            )
        )

    @strawberry.mutation(description="Another team answers an open dispute.")
    async def classification_dispute_answer(
        self, info: Info, input: ClassificationDisputeAnswerInput
    ) -> ClassificationDisputePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await _dispute_call(
            lambda: incident_disputes.answer_dispute(
                rt.db,
                caller,
                dispute_id=decode_id(input.dispute_id, "ClassificationDispute", field="disputeId"),
                team_id=decode_id(input.team_id, "Team", field="teamId"),
                response=input.response,
            )
        )

    @strawberry.mutation(description="Someone with authority settles a dispute.")
    async def classification_dispute_resolve(
        self, info: Info, input: ClassificationDisputeResolveInput
    ) -> ClassificationDisputePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await _dispute_call(
            lambda: incident_disputes.resolve_dispute(
                rt.db,
                caller,
                dispute_id=decode_id(input.dispute_id, "ClassificationDispute", field="disputeId"),
                resolution=input.resolution,
                severity=input.severity,
            )
        )


async def _dispute_call(call: Any) -> ClassificationDisputePayload:
    return await mutate_legacy(
        call,
        ok=lambda d: ClassificationDisputePayload(dispute=ClassificationDispute.from_model(d)),
        refused=lambda e: ClassificationDisputePayload(errors=e),
        error_type=ClassificationDisputeError,
    )
