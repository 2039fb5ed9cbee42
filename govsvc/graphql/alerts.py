"""GraphQL types, queries and mutations of alerts: the deduplicated signals, their history, the
unrouted queue, silences, rule noise and source health."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Self

import strawberry
from strawberry import relay

from govsvc.alerts import models, queries, service, silences
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.org import Service
from govsvc.graphql.relay import connection, decode_cursor, decode_id, decode_optional, global_id
from govsvc.graphql.resolvers import load_nodes, mutate, read, read_or
from govsvc.incidents import queries as incident_queries
from govsvc.org import service as org_service
from govsvc.pagination import page_size

if TYPE_CHECKING:
    from govsvc.graphql.incident_types import Incident

# The global id type of a payload as received (what POST /alerts/* answers as "payload").
RECEIVED_PAYLOAD = "ReceivedAlertPayload"

strawberry.enum(models.AlertStatus, name="AlertStatus")
strawberry.enum(models.Perspective, name="Perspective")
strawberry.enum(
    models.Detection, name="Detection", description="What detection made of the current firing."
)
AlertStatus = models.AlertStatus
Perspective = models.Perspective
Detection = models.Detection


@strawberry.enum(description="Why an alert mutation refused its input.")
class AlertErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"


@strawberry.type(description="Why an alert mutation refused its input.")
class AlertError(UserError):
    code: AlertErrorCode


@strawberry.type
class Label:
    name: str
    value: str


def _labels(text: str) -> list[Label]:
    return [Label(name=k, value=v) for k, v in sorted(json.loads(text).items())]


@strawberry.type(description="One entry of an alert's history; nothing here is ever changed.")
class AlertEvent:
    kind: str = strawberry.field(
        description="fired, resolved, ignored, incident_opened, correlated, paged, "
        "page_suppressed, escalation_started, flapping, stable, acknowledged, noise."
    )
    at: datetime
    detail: str
    received: str | None = strawberry.field(
        description="The alert exactly as the source sent it (JSON), for fired and resolved."
    )

    @classmethod
    def from_model(cls, e: models.AlertEvent) -> Self:
        return cls(kind=e.kind, at=e.at, detail=e.detail, received=e.received)


@strawberry.type(description="A monitoring signal, deduplicated by source and fingerprint.")
class Alert(relay.Node):
    id: relay.NodeID[int]
    source: str
    fingerprint: str
    rule_name: str = strawberry.field(description="alertname, or the mapped rule.")
    status: AlertStatus
    severity: str = strawberry.field(description="critical, warning or info.")
    perspective: Perspective
    location: str | None
    summary: str
    labels: list[Label]
    annotations: list[Label]
    generator_url: str | None
    route: str | None = strawberry.field(
        description="The routing rule that chose the service; null while unrouted."
    )
    fired_at: datetime = strawberry.field(description="When the current firing started.")
    ends_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime
    count: int = strawberry.field(description="Payloads that carried it (repeats included).")
    firings: int
    flapping: bool
    detection: Detection
    detection_rule: str | None
    detection_version: str | None
    correlation: str | None = strawberry.field(
        description="origin (it opened the incident), same_service, upstream (a probable "
        "cause: the incident's service depends on it) or downstream."
    )
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_seconds: int | None = strawberry.field(description="From firing to acknowledgement.")
    noise: bool
    noise_reason: str | None
    service_pk: strawberry.Private[int | None]
    incident_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, a: models.Alert) -> Self:
        return cls(
            id=a.id,
            source=a.source,
            fingerprint=a.fingerprint,
            rule_name=a.rule_name,
            status=models.AlertStatus(a.status),
            severity=a.severity,
            perspective=models.Perspective(a.perspective),
            location=a.location,
            summary=a.summary,
            labels=_labels(a.labels),
            annotations=_labels(a.annotations),
            generator_url=a.generator_url,
            route=a.route,
            fired_at=a.fired_at,
            ends_at=a.ends_at,
            first_seen_at=a.first_seen_at,
            last_seen_at=a.last_seen_at,
            count=a.count,
            firings=a.firings,
            flapping=a.flapping,
            detection=models.Detection(a.detection),
            detection_rule=a.detection_rule,
            detection_version=a.detection_version,
            correlation=a.correlation,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by,
            ack_seconds=a.ack_seconds,
            noise=a.noise,
            noise_reason=a.noise_reason,
            service_pk=a.service_id,
            incident_pk=a.incident_id,
        )

    @strawberry.field(description="Null while unrouted, or if you cannot read the service.")
    async def service(self, info: Info) -> Service | None:
        if self.service_pk is None:
            return None
        found = await info.context.loader(org_service.services_by_id).load(self.service_pk)
        return Service.from_model(found) if found else None

    @strawberry.field(description="The incident it opened or joined; null if you cannot read it.")
    async def incident(
        self, info: Info
    ) -> Annotated[Incident, strawberry.lazy("govsvc.graphql.incident_types")] | None:
        from govsvc.graphql.incident_types import Incident

        if self.incident_pk is None:
            return None
        found = await info.context.loader(incident_queries.incidents_by_id).load(self.incident_pk)
        return Incident.from_model(found) if found else None

    @strawberry.field(description="Its history, oldest first.")
    async def events(self, info: Info) -> list[AlertEvent]:
        found = await info.context.loader(queries.events_by_alert, default=list).load(self.id)
        return [AlertEvent.from_model(e) for e in found]

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.alerts_by_id, cls.from_model)


@strawberry.type
class LabelMatcher:
    label: str
    op: str = strawberry.field(description="=, !=, =~ or !~ (regexes anchored).")
    value: str


@strawberry.input
class LabelMatcherInput:
    label: str
    op: str = strawberry.field(description="=, !=, =~ or !~ (regexes anchored).")
    value: str


@strawberry.type(description="A silence or maintenance window: it stops pages, never the record.")
class AlertSilence(relay.Node):
    id: relay.NodeID[int]
    kind: str = strawberry.field(description="silence or maintenance.")
    matchers: list[LabelMatcher]
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    service_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, s: models.Silence) -> Self:
        return cls(
            id=s.id,
            kind=s.kind,
            matchers=[LabelMatcher(**m) for m in json.loads(s.matchers)],
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            reason=s.reason,
            created_by=s.created_by,
            created_at=s.created_at,
            cancelled_at=s.cancelled_at,
            cancelled_by=s.cancelled_by,
            service_pk=s.service_id,
        )

    @strawberry.field
    async def service(self, info: Info) -> Service | None:
        if self.service_pk is None:
            return None
        found = await info.context.loader(org_service.services_by_id).load(self.service_pk)
        return Service.from_model(found) if found else None

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.silences_by_id, cls.from_model)


@strawberry.type(description="How noisy one rule of one source was in a period.")
class AlertRuleNoise:
    source: str
    rule_name: str
    fired: int = strawberry.field(description="Firings in the period.")
    acknowledged: int
    incidents: int = strawberry.field(description="Alerts that opened or joined an incident.")
    noise: int = strawberry.field(description="Firings of alerts marked as noise.")
    noise_ratio: float

    @classmethod
    def of(cls, r: queries.RuleNoise) -> Self:
        return cls(
            source=r.source,
            rule_name=r.rule_name,
            fired=r.fired,
            acknowledged=r.acknowledged,
            incidents=r.incidents,
            noise=r.noise,
            noise_ratio=round(r.noise_ratio, 4),
        )


@strawberry.type(description="A configured alert source and whether it is heard from.")
class AlertSourceStatus:
    name: str
    kind: str
    perspective: Perspective
    heartbeat_window_seconds: int | None
    last_heartbeat_at: datetime | None
    last_payload_at: datetime | None
    blind_since: datetime | None = strawberry.field(
        description="Silent beyond its heartbeat window since then; null while alive."
    )
    blind_incident_ids: list[strawberry.ID]

    @classmethod
    def of(cls, s: queries.SourceStatus) -> Self:
        return cls(
            name=s.name,
            kind=s.kind,
            perspective=models.Perspective(s.perspective),
            heartbeat_window_seconds=s.heartbeat_window_seconds,
            last_heartbeat_at=s.last_heartbeat_at,
            last_payload_at=s.last_payload_at,
            blind_since=s.blind_since,
            blind_incident_ids=[
                strawberry.ID(global_id("Incident", i)) for i in s.blind_incident_ids
            ],
        )


def _cap(info: Info) -> int:
    return info.context.runtime.settings.graphql_max_page


@strawberry.type
class AlertQuery:
    @strawberry.field(
        description="Alerts you may read, newest first. unrouted: true is the queue of alerts "
        "no service matched (administrators)."
    )
    async def alerts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: AlertStatus | None = None,
        unrouted: bool | None = None,
        service_id: strawberry.ID | None = None,
        source: str | None = None,
    ) -> relay.Connection[Alert]:
        def fetch(uc: Any) -> Any:
            where = queries.AlertFilter(
                status=status,
                unrouted=unrouted,
                service_id=decode_optional(service_id, "Service", field="serviceId"),
                source=source,
            )
            return queries.list_alerts(
                uc,
                where=where,
                size=page_size(first, cap=_cap(info)),
                after_id=decode_cursor(after),
            )

        return connection(await read(info, fetch), Alert.from_model)

    @strawberry.field(description="Silences and maintenance windows, newest first.")
    async def alert_silences(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        active_at: datetime | None = None,
    ) -> relay.Connection[AlertSilence]:
        page = await read(
            info,
            lambda uc: queries.list_silences(
                uc,
                active_at=active_at,
                size=page_size(first, cap=_cap(info)),
                after_id=decode_cursor(after),
            ),
        )
        return connection(page, AlertSilence.from_model)

    @strawberry.field(
        description="The noisiest rules first: most firings marked noise, then most never "
        "acknowledged nor turned into an incident. For tuning thresholds."
    )
    async def alert_rule_noise(
        self, info: Info, since: datetime, until: datetime, first: int = 20
    ) -> list[AlertRuleNoise]:
        found = await read(
            info,
            lambda uc: queries.rule_noise(
                uc, since=since, until=until, limit=page_size(first, cap=_cap(info))
            ),
        )
        return [AlertRuleNoise.of(r) for r in found]

    @strawberry.field(description="Configured alert sources and their heartbeat (administrators).")
    async def alert_sources(self, info: Info) -> list[AlertSourceStatus]:
        return [AlertSourceStatus.of(s) for s in await read(info, queries.source_statuses)]

    @strawberry.field(
        description="A payload exactly as a source sent it (administrators only: one payload "
        "may carry alerts of several units; each alert's events keep its own part)."
    )
    async def received_alert_payload(self, info: Info, id: strawberry.ID) -> str | None:
        found = await read_or(
            info,
            lambda uc: queries.raw_payload(
                uc, payload_id=decode_id(id, RECEIVED_PAYLOAD, field="id")
            ),
            missing=None,
        )
        return found.body if found else None


@strawberry.type
class AlertPayload:
    alert: Alert | None = None
    errors: list[AlertError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, alert: models.Alert) -> AlertPayload:
        return cls(alert=Alert.from_model(alert))


@strawberry.type
class AlertSilencePayload:
    silence: AlertSilence | None = None
    errors: list[AlertError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, silence: models.Silence) -> AlertSilencePayload:
        return cls(silence=AlertSilence.from_model(silence))


@strawberry.input
class AlertAcknowledgeInput:
    alert_id: strawberry.ID
    note: str = ""


@strawberry.input
class AlertMarkNoiseInput:
    alert_id: strawberry.ID
    reason: str


@strawberry.input
class AlertRouteInput:
    alert_id: strawberry.ID
    service_id: strawberry.ID


@strawberry.input(description="Name a service, label matchers, or both.")
class AlertSilenceCreateInput:
    kind: str = strawberry.field(default="silence", description="silence or maintenance.")
    service_id: strawberry.ID | None = None
    matchers: list[LabelMatcherInput] = strawberry.field(default_factory=list)
    starts_at: datetime | None = strawberry.field(default=None, description="Default: now.")
    ends_at: datetime
    reason: str


@strawberry.input
class AlertSilenceCancelInput:
    silence_id: strawberry.ID


@strawberry.type
class AlertMutation:
    @strawberry.mutation(description="I am on it: the time from firing to now is kept.")
    async def alert_acknowledge(self, info: Info, input: AlertAcknowledgeInput) -> AlertPayload:
        return await mutate(
            info,
            AlertPayload,
            lambda uc: service.acknowledge(
                uc, alert_id=decode_id(input.alert_id, "Alert", field="alertId"), note=input.note
            ),
            ok=AlertPayload.of,
        )

    @strawberry.mutation(description="This alert told nobody anything useful (rule tuning).")
    async def alert_mark_noise(self, info: Info, input: AlertMarkNoiseInput) -> AlertPayload:
        return await mutate(
            info,
            AlertPayload,
            lambda uc: service.mark_noise(
                uc,
                alert_id=decode_id(input.alert_id, "Alert", field="alertId"),
                reason=input.reason,
            ),
            ok=AlertPayload.of,
        )

    @strawberry.mutation(
        description="Place an unrouted alert on a service (administrators); detection then "
        "decides it as if it had been routed on arrival."
    )
    async def alert_route(self, info: Info, input: AlertRouteInput) -> AlertPayload:
        return await mutate(
            info,
            AlertPayload,
            lambda uc: service.route_alert(
                uc,
                alert_id=decode_id(input.alert_id, "Alert", field="alertId"),
                service_id=decode_id(input.service_id, "Service", field="serviceId"),
            ),
            ok=AlertPayload.of,
        )

    @strawberry.mutation(description="Stop pages for a service or label matchers for a while.")
    async def alert_silence_create(
        self, info: Info, input: AlertSilenceCreateInput
    ) -> AlertSilencePayload:
        return await mutate(
            info,
            AlertSilencePayload,
            lambda uc: silences.create_silence(
                uc,
                kind=input.kind,
                service_id=decode_optional(input.service_id, "Service", field="serviceId"),
                matchers=[(m.label, m.op, m.value) for m in input.matchers],
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                reason=input.reason,
            ),
            ok=AlertSilencePayload.of,
        )

    @strawberry.mutation(description="End a silence now.")
    async def alert_silence_cancel(
        self, info: Info, input: AlertSilenceCancelInput
    ) -> AlertSilencePayload:
        return await mutate(
            info,
            AlertSilencePayload,
            lambda uc: silences.cancel_silence(
                uc, silence_id=decode_id(input.silence_id, "AlertSilence", field="silenceId")
            ),
            ok=AlertSilencePayload.of,
        )
