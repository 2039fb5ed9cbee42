"""GraphQL of compliance: catalogs, mappings, coverage, regulator clocks and timelines, packs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Self

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from govsvc.compliance import coverage as coverage_service
from govsvc.compliance import (
    facts,
    mapping,
    notifications,
    pack_access,
    pack_jobs,
    packs,
    preview,
    regulatory,
    rendering,
)
from govsvc.compliance import models as compliance_models
from govsvc.compliance.catalog import Control as ControlModel
from govsvc.compliance.clocks import ClockState as ClockStateEnum
from govsvc.compliance.clocks import TriggerKind as TriggerKindEnum
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.evidence import EvidenceItem
from govsvc.graphql.incident_types import Incident
from govsvc.graphql.relay import decode_filter, decode_id, global_id, split_global_id
from govsvc.graphql.resolvers import load_nodes, mutate, read, read_checked, read_or
from govsvc.usecase import UseCase

strawberry.enum(
    ClockStateEnum,
    name="ClockState",
    description="NOT_STARTED: what it counts from has not happened. WAITING: not sent, and "
    "whether it applies hangs on facts not yet recorded (pendingFacts); a waiting clock near "
    "or past its deadline shows DUE_SOON or MISSED instead, still with its pendingFacts. "
    "OPEN, DUE_SOON: running, not sent. MET: sent in time. MISSED: sent late, or overdue.",
)
ClockState = ClockStateEnum
strawberry.enum(TriggerKindEnum, name="TriggerKind")
TriggerKind = TriggerKindEnum
strawberry.enum(coverage_service.CoverageStatus, name="CoverageStatus")
CoverageStatus = coverage_service.CoverageStatus
strawberry.enum(compliance_models.MappingState, name="MappingState")
MappingState = compliance_models.MappingState


@strawberry.type(description="A control objective of a framework's catalog (controls/).")
class Control:
    key: str
    framework: str
    id: str
    title: str
    objective: str
    evidence_kinds: list[str]
    applies_to: list[str]
    suggested_by_tags: list[str]

    @classmethod
    def from_model(cls, c: ControlModel) -> Self:
        return cls(
            key=c.key,
            framework=c.framework,
            id=c.id,
            title=c.title,
            objective=c.objective,
            evidence_kinds=[str(k) for k in c.evidence_kinds],
            applies_to=[str(a) for a in c.applies_to],
            suggested_by_tags=list(c.suggested_by_tags),
        )


@strawberry.type
class Framework:
    id: str
    name: str
    version: str
    source: str
    controls: list[Control]


@strawberry.type
class ControlSuggestion:
    control: Control
    because_of_tags: list[str]


@strawberry.type
class ControlCoverage:
    control: Control
    status: CoverageStatus
    incidents: list[Incident]
    evidence: list[EvidenceItem]
    gaps: list[str]


@strawberry.type(description="Which control objectives are evidenced, and the gaps named.")
class CoverageReport:
    framework: str
    period_start: datetime
    period_end: datetime
    controls: list[ControlCoverage]
    access_limited: bool = strawberry.field(
        description="Your access does not cover everything in scope (every business unit asked "
        "for, or every unit when none was, at every sensitivity), so the report may leave "
        "things out. Decided from your grants alone: it never says how many or which, and is "
        "the same for a unit you may not read and a unit that does not exist."
    )
    left_out: list[str] = strawberry.field(
        description="What kinds of things your access may have kept out (never how many)."
    )


@strawberry.type(description="One regulator's clock on one incident.")
class NotificationClock:
    incident: Incident
    regime: str
    clock: str
    name: str
    audience: str
    citation: str
    state: ClockState
    started_at: datetime | None
    due_at: datetime | None
    sent_at: datetime | None
    sent_late_by_seconds: int | None
    soft: bool
    phased: bool
    reasons_required: bool = strawberry.field(
        description="Late, and a late notification must give the reasons for the delay."
    )
    reasons_given: bool = strawberry.field(
        description="The notification that settled this clock gave the reasons for the delay."
    )
    late_reason: str | None = strawberry.field(
        description="Those reasons, as sent (null when none were given)."
    )
    pending_facts: list[str] = strawberry.field(
        description="Facts that decide whether this clock applies, not yet recorded: until "
        "they are, the clock is WAITING (or DUE_SOON / MISSED as its deadline nears or passes)."
    )
    explanation: str

    @classmethod
    def from_clock(cls, c: regulatory.IncidentClock) -> Self:
        s = c.status
        return cls(
            incident=Incident.from_model(c.incident),
            regime=s.regime,
            clock=s.clock,
            name=s.name,
            audience=s.audience,
            citation=s.citation,
            state=s.state,
            started_at=s.started_at,
            due_at=s.due_at,
            sent_at=s.sent_at,
            sent_late_by_seconds=int(s.sent_late_by.total_seconds())
            if s.sent_late_by is not None
            else None,
            soft=s.soft,
            phased=s.phased,
            reasons_required=s.reasons_required,
            reasons_given=c.late_reason is not None,
            late_reason=c.late_reason,
            pending_facts=list(s.pending_facts),
            explanation=s.explanation,
        )


@strawberry.type(description="A clock's deadline for a hypothetical trigger (nothing recorded).")
class NotificationClockPreview:
    regime: str
    clock: str
    name: str
    audience: str
    citation: str
    state: ClockState
    started_at: datetime | None
    due_at: datetime | None = strawberry.field(
        description="For a soft clock (without undue delay), the indicative target."
    )
    soft: bool
    phased: bool
    pending_facts: list[str]
    assumed_sent: list[str] = strawberry.field(
        description="Notifications (<regime>/<clock>) this clock counts from, taken as sent at "
        "their own deadlines, the latest lawful moment."
    )
    explanation: str

    @classmethod
    def from_preview(cls, p: preview.ClockPreview) -> Self:
        s = p.status
        return cls(
            regime=s.regime,
            clock=s.clock,
            name=s.name,
            audience=s.audience,
            citation=s.citation,
            state=s.state,
            started_at=s.started_at,
            due_at=s.due_at,
            soft=s.soft,
            phased=s.phased,
            pending_facts=list(s.pending_facts),
            assumed_sent=list(p.assumed_sent),
            explanation=s.explanation,
        )


@strawberry.type(description="A fact regulator clocks may depend on (regulatoryFactRecord).")
class KnownFact:
    name: str
    kind: str = strawberry.field(description="count, yes/no or level.")
    meaning: str
    levels: list[str] = strawberry.field(description="For a level: the words it takes.")


@strawberry.input(description="A fact as text, read as its kind (see regulatoryFactRecord).")
class RegulatoryFactInput:
    name: str
    value: str


@strawberry.type
class RegulatorTimelineEntry:
    at: datetime
    kind: str
    text: str
    source: str
    audit_seq: int | None


@strawberry.type
class RegulatorTimeline:
    regime: str
    entries: list[RegulatorTimelineEntry]
    json: JSON = strawberry.field(description="The export as JSON.")
    html: str = strawberry.field(description="The export for people.")


strawberry.enum(compliance_models.AuditPackState, name="AuditPackState")
AuditPackState = compliance_models.AuditPackState


@strawberry.type(
    description="An audit pack: queued, built by the worker, then ready to download (or "
    "failed, with the reason). Visible only to those who could read everything in it."
)
class AuditPack(relay.Node):
    id: relay.NodeID[int]
    framework: str
    period_start: datetime
    period_end: datetime
    control_keys: list[str] = strawberry.field(description="Empty: the whole catalog.")
    state: AuditPackState
    progress: float = strawberry.field(description="0 to 1; 1 when ready.")
    error: str | None = strawberry.field(description="Why it failed.")
    sha256: str | None = strawberry.field(description="Of the zip; set when ready.")
    size: int | None
    excluded: list[str] = strawberry.field(
        description="What the pack leaves out: the kinds of things the creator's access may "
        "have kept out (never how many or which), and evidence whose bytes are gone."
    )
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    download_path: str | None = strawberry.field(description="GET it (with your token) when ready.")

    @classmethod
    def from_model(cls, p: compliance_models.AuditPack) -> Self:
        ready = p.state == compliance_models.AuditPackState.READY.value
        return cls(
            id=p.id,
            framework=p.framework,
            period_start=p.period_start,
            period_end=p.period_end,
            control_keys=list(json.loads(p.request).get("controls", [])),
            state=compliance_models.AuditPackState(p.state),
            progress=p.progress,
            error=p.error,
            sha256=p.sha256,
            size=p.size,
            excluded=json.loads(p.excluded),
            created_by=p.created_by,
            created_at=p.created_at,
            finished_at=p.finished_at,
            download_path=f"/audit-packs/{global_id('AuditPack', p.id)}/content" if ready else None,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, pack_access.packs_by_id, cls.from_model)


@strawberry.type
class ComplianceQuery:
    @strawberry.field(description="Control catalogs (controls/*.yaml).")
    def frameworks(self, info: Info) -> list[Framework]:
        catalog = info.context.runtime.policies.catalog
        return [
            Framework(
                id=f.id,
                name=f.name,
                version=f.version,
                source=f.source,
                controls=[Control.from_model(c) for c in catalog.controls(f.id)],
            )
            for f in catalog.frameworks.values()
        ]

    @strawberry.field(
        description="The facts regimes may test and regulatoryFactRecord takes (one list)."
    )
    def known_facts(self) -> list[KnownFact]:
        return [
            KnownFact(name=f.name, kind=f.kind.value, meaning=f.meaning, levels=list(f.levels))
            for f in facts.KNOWN_FACTS.values()
        ]

    @strawberry.field(description="Controls an incident's tags suggest, not yet decided.")
    async def control_suggestions(
        self, info: Info, incident_id: strawberry.ID
    ) -> list[ControlSuggestion]:
        found: list[mapping.Suggestion] = await read_or(
            info,
            lambda uc: mapping.suggestions(
                uc, incident_id=decode_id(incident_id, "Incident", field="incidentId")
            ),
            missing=[],
        )
        return [
            ControlSuggestion(control=Control.from_model(s.control), because_of_tags=s.because_of)
            for s in found
        ]

    @strawberry.field(description="Coverage of a framework's controls over a period.")
    async def control_coverage(
        self,
        info: Info,
        framework: str,
        period_start: datetime,
        period_end: datetime,
        control_keys: list[str] | None = None,
        business_unit_ids: list[strawberry.ID] | None = None,
    ) -> CoverageReport | None:
        start: datetime = period_start
        end: datetime = period_end
        report = await read_or(
            info,
            lambda uc: coverage_service.compute(
                uc,
                framework=framework,
                period_start=start,
                period_end=end,
                control_keys=control_keys or (),
                unit_ids=[
                    decode_id(u, "BusinessUnit", field="businessUnitIds")
                    for u in business_unit_ids or ()
                ],
            ),
            missing=None,
        )
        if report is None:
            return None
        return CoverageReport(
            framework=report.framework,
            period_start=report.period_start,
            period_end=report.period_end,
            access_limited=report.access_limited,
            left_out=report.left_out,
            controls=[
                ControlCoverage(
                    control=Control.from_model(c.control),
                    status=c.status,
                    incidents=[Incident.from_model(i) for i in c.incidents],
                    evidence=[EvidenceItem.from_model(e) for e in c.evidence],
                    gaps=c.gaps,
                )
                for c in report.controls
            ],
        )

    @strawberry.field(
        description="An audit pack and how far its build has got; null if missing "
        "or not yours to read."
    )
    async def audit_pack(self, info: Info, id: strawberry.ID) -> AuditPack | None:
        found = await read_or(
            info,
            lambda uc: pack_access.audit_pack(uc, pack_id=decode_id(id, "AuditPack", field="id")),
            missing=None,
        )
        return AuditPack.from_model(found) if found is not None else None

    @strawberry.field(description="Regulator clocks across incidents, soonest due first.")
    async def notification_clocks(
        self,
        info: Info,
        states: list[ClockState] | None = None,
        incident_id: strawberry.ID | None = None,
    ) -> list[NotificationClock]:
        pk = decode_filter(incident_id, "Incident")
        clocks = await read(
            info,
            lambda uc: notifications.notification_clocks(
                uc, states=[ClockStateEnum(x) for x in states or ()], incident_id=pk
            ),
        )
        return [NotificationClock.from_clock(c) for c in clocks]

    @strawberry.field(
        description="Deadlines of a regime's clocks if its triggers happened at `triggeredAt` "
        "(every trigger kind, or only `trigger`), for drills and planning; facts not given are "
        "unknown (those clocks show WAITING). Nothing is recorded."
    )
    async def notification_clock_preview(
        self,
        info: Info,
        regime: str,
        triggered_at: datetime,
        trigger: TriggerKind | None = None,
        facts: list[RegulatoryFactInput] | None = None,
    ) -> NotificationClockPreviewResult:
        at: datetime = triggered_at
        kind = TriggerKindEnum(trigger) if trigger is not None else None
        given = [(f.name, f.value) for f in facts or ()]
        return await read_checked(
            info,
            NotificationClockPreviewResult,
            lambda uc: preview.preview(
                uc, regime=regime, triggered_at=at, trigger=kind, facts=given
            ),
            ok=NotificationClockPreviewResult.of,
        )

    @strawberry.field(description="The regulator-facing timeline of an incident under a regime.")
    async def regulator_timeline(
        self,
        info: Info,
        incident_id: strawberry.ID,
        regime: str,
        include_entry_ids: list[strawberry.ID] | None = None,
        redact: Annotated[
            bool, strawberry.argument(description="Take names, contacts and secrets out.")
        ] = True,
    ) -> RegulatorTimeline | None:
        document: Any = await read_or(
            info,
            lambda uc: notifications.regulator_timeline(
                uc,
                incident_id=decode_id(incident_id, "Incident", field="incidentId"),
                regime=regime,
                include_entry_ids=[
                    decode_id(e, "TimelineEntry", field="includeEntryIds")
                    for e in include_entry_ids or ()
                ],
                redact=redact,
            ),
            missing=None,
        )
        if document is None:
            return None
        return RegulatorTimeline(
            regime=regime,
            json=document,
            html=rendering.timeline_html(document),
            entries=[
                RegulatorTimelineEntry(
                    at=datetime.fromisoformat(e["at"].replace("Z", "+00:00")),
                    kind=e["kind"],
                    text=e["text"],
                    source=e["source"],
                    audit_seq=e["audit_seq"],
                )
                for e in document["entries"]
            ],
        )


# ---------------------------------------------------------------------------- mutations


@strawberry.input
class ControlMappingDecideInput:
    control_key: str
    target_id: strawberry.ID = strawberry.field(description="An Incident or EvidenceItem id.")
    confirm: bool = True


@strawberry.enum(description="Why a compliance mutation (or preview) refused its input.")
class ComplianceErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    JUSTIFICATION_REQUIRED = "JUSTIFICATION_REQUIRED"


@strawberry.type(description="Why a compliance mutation (or preview) refused its input.")
class ComplianceError(UserError):
    code: ComplianceErrorCode


@strawberry.type
class ControlMappingPayload:
    control_key: str | None = None
    state: MappingState | None = None
    errors: list[ComplianceError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, m: compliance_models.ControlMapping) -> ControlMappingPayload:
        return cls(control_key=m.control_key, state=compliance_models.MappingState(m.state))


@strawberry.input
class RegulatoryTriggerRecordInput:
    incident_id: strawberry.ID
    kind: TriggerKind
    occurred_at: datetime | None = None
    note: str = ""


@strawberry.input
class RegulatoryFactRecordInput:
    incident_id: strawberry.ID
    name: str = strawberry.field(
        description=f"A known fact (policies/regimes.yaml lists them): {facts.known()}."
    )
    value: str = strawberry.field(description="As text: a number, yes/no, or a named level.")


@strawberry.input
class RegulatoryNotificationRecordInput:
    incident_id: strawberry.ID
    regime: str
    clock: str
    recipient: str
    content: str = strawberry.field(description="What was sent; frozen as evidence.")
    summary: str = ""
    sent_at: datetime | None = None
    late_reason: str | None = None


@strawberry.type(description="Previewed clocks, or why the preview cannot be made.")
class NotificationClockPreviewResult:
    clocks: list[NotificationClockPreview] = strawberry.field(default_factory=list)
    errors: list[ComplianceError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, found: list[preview.ClockPreview]) -> NotificationClockPreviewResult:
        return cls(clocks=[NotificationClockPreview.from_preview(p) for p in found])


@strawberry.type
class RegulatoryPayload:
    incident: Incident | None = None
    clocks: list[NotificationClock] = strawberry.field(default_factory=list)
    errors: list[ComplianceError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, standing: regulatory.Standing) -> RegulatoryPayload:
        return cls(
            incident=Incident.from_model(standing.incident),
            clocks=[NotificationClock.from_clock(c) for c in standing.clocks],
        )


@strawberry.input
class AuditPackCreateInput:
    framework: str
    period_start: datetime
    period_end: datetime
    control_keys: list[str] = strawberry.field(default_factory=list)
    business_unit_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.type
class AuditPackPayload:
    audit_pack: AuditPack | None = None
    errors: list[ComplianceError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, pack: compliance_models.AuditPack) -> AuditPackPayload:
        return cls(audit_pack=AuditPack.from_model(pack))


def _incident_pk(value: str) -> int:
    return decode_id(value, "Incident", field="incidentId")


def _target(value: str) -> tuple[str, int]:
    kinds = {"Incident": "incident", "EvidenceItem": "evidence"}
    split = split_global_id(value)
    # Anything but an incident or an evidence item is refused as a missing incident.
    type_name = split[0] if split is not None and split[0] in kinds else "Incident"
    return kinds[type_name], decode_id(value, type_name, field="targetId")


@strawberry.type
class ComplianceMutation:
    @strawberry.mutation(description="Confirm or reject that a control applies (audited).")
    async def control_mapping_decide(
        self, info: Info, input: ControlMappingDecideInput
    ) -> ControlMappingPayload:
        async def decide(uc: UseCase) -> compliance_models.ControlMapping:
            kind, pk = _target(input.target_id)
            return await mapping.decide(
                uc,
                control_key=input.control_key,
                target_type=kind,
                target_id=pk,
                confirm=input.confirm,
            )

        return await mutate(info, ControlMappingPayload, decide, ok=ControlMappingPayload.of)

    @strawberry.mutation(description="Record when a clock-starting moment happened.")
    async def regulatory_trigger_record(
        self, info: Info, input: RegulatoryTriggerRecordInput
    ) -> RegulatoryPayload:
        occurred: datetime | None = input.occurred_at
        return await mutate(
            info,
            RegulatoryPayload,
            lambda uc: regulatory.record_trigger(
                uc,
                incident_id=_incident_pk(input.incident_id),
                kind=TriggerKindEnum(input.kind),
                occurred_at=occurred,
                note=input.note,
            ),
            ok=RegulatoryPayload.of,
        )

    @strawberry.mutation(
        description="Record a fact the clocks depend on, e.g. "
        "affected_individuals or risk_to_individuals."
    )
    async def regulatory_fact_record(
        self, info: Info, input: RegulatoryFactRecordInput
    ) -> RegulatoryPayload:
        return await mutate(
            info,
            RegulatoryPayload,
            lambda uc: regulatory.record_fact(
                uc,
                incident_id=_incident_pk(input.incident_id),
                name=input.name,
                value=input.value,
            ),
            ok=RegulatoryPayload.of,
        )

    @strawberry.mutation(description="Record a notification sent; its content becomes evidence.")
    async def regulatory_notification_record(
        self, info: Info, input: RegulatoryNotificationRecordInput
    ) -> RegulatoryPayload:
        sent: datetime | None = input.sent_at
        return await mutate(
            info,
            RegulatoryPayload,
            lambda uc: regulatory.record_notification(
                uc,
                incident_id=_incident_pk(input.incident_id),
                regime=input.regime,
                clock=input.clock,
                recipient=input.recipient,
                content=input.content,
                summary=input.summary,
                sent_at=sent,
                late_reason=input.late_reason,
            ),
            ok=RegulatoryPayload.of,
        )

    @strawberry.mutation(
        description="Ask for an audit pack: it is queued at once and built by the worker; "
        "follow it with `auditPack(id) { state progress }` (kept in WORM storage, audited)."
    )
    async def audit_pack_create(self, info: Info, input: AuditPackCreateInput) -> AuditPackPayload:
        start: datetime = input.period_start
        end: datetime = input.period_end
        return await mutate(
            info,
            AuditPackPayload,
            lambda uc: pack_jobs.request(
                uc,
                pack_request=packs.PackRequest(
                    framework=input.framework,
                    period_start=start,
                    period_end=end,
                    control_keys=tuple(input.control_keys),
                    unit_ids=tuple(
                        decode_id(u, "BusinessUnit", field="businessUnitIds")
                        for u in input.business_unit_ids
                    ),
                ),
            ),
            ok=AuditPackPayload.of,
        )
