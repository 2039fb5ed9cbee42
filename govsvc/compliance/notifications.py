"""Where each regulator's clock stands for each incident, and the regulator-facing timeline.

A regime applies to an incident when a person confirmed a mapping of the incident to one of
that framework's controls (e.g. GDPR Art. 33): the same decision that puts it in audit packs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.chain import format_time
from govsvc.comms import redact as comms_redact
from govsvc.compliance import regulatory
from govsvc.compliance.clocks import ClockState, TriggerKind
from govsvc.compliance.models import ControlMapping, MappingState, RegulatoryTrigger
from govsvc.compliance.regulatory import IncidentClock, clocks_for
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.evidence.models import EvidenceItem
from govsvc.incidents.common import incident_for, readable_incidents
from govsvc.incidents.models import Incident, IncidentStatusChange, TimelineEntry

if TYPE_CHECKING:
    from govsvc.runtime import Runtime
    from govsvc.usecase import UseCase


async def notification_clocks(
    uc: UseCase,
    *,
    states: Sequence[ClockState] = (),
    incident_id: int | None = None,
    limit: int = 500,
) -> list[IncidentClock]:
    """Clocks across the incidents the caller may read, soonest due first."""
    session = uc.session
    query = (
        select(Incident)
        .where(readable_incidents(uc.caller))
        .join(
            ControlMapping,
            (ControlMapping.target_type == "incident")
            & (ControlMapping.target_id == Incident.id)
            & (ControlMapping.state == MappingState.CONFIRMED.value),
        )
        .distinct()
    )
    if incident_id is not None:
        query = query.where(Incident.id == incident_id)
    incidents = list((await session.execute(query.order_by(Incident.id).limit(limit))).scalars())
    clocks = await clocks_for(uc.runtime, session, incidents)
    if states:
        clocks = [c for c in clocks if c.status.state in states]
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)
    return sorted(clocks, key=lambda c: (c.status.due_at or far, c.incident.id, c.status.clock))


@dataclass(frozen=True)
class Said:
    """Text a person wrote (a note, a summary, a reason): the only part of a timeline entry the
    redactor may touch. Our own labels ("Reasons for the delay: ") are never fed to it; read
    as prose next to a name, they were taken for part of the name."""

    text: str


Piece = str | Said


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # trigger, notification, status, entry
    pieces: tuple[Piece, ...]  # our labels (str) and what people wrote (Said)
    source: str  # where it comes from, e.g. "regulatory_trigger 4"
    audit_seq: int | None

    @property
    def text(self) -> str:
        return "".join(p.text if isinstance(p, Said) else p for p in self.pieces)


async def regulator_timeline(
    uc: UseCase,
    *,
    incident_id: int,
    regime: str,
    include_entry_ids: Sequence[int] = (),
    redact: bool = True,
) -> dict[str, Any]:
    """One chronological, regulator-facing timeline: the moments the regime counts from, the
    notifications sent under it, the status of the incident, and only those internal timeline
    entries someone chose to include. Nothing else leaves. As its export (`timeline_json`)."""
    runtime, session = uc.runtime, uc.session
    if regime not in runtime.policies.regimes:
        raise NotFound(f"unknown regime {regime!r}", field="regime")
    incident = await incident_for(session, uc.caller, incident_id, "read")
    triggers = (await regulatory.triggers_by_incident(session, [incident.id])).get(incident.id, [])
    changes = list(
        (
            await session.execute(
                select(IncidentStatusChange)
                .where(IncidentStatusChange.incident_id == incident.id)
                .order_by(IncidentStatusChange.id)
            )
        ).scalars()
    )
    items = _detection(incident, triggers, changes)
    for t in triggers:
        label = t.kind.replace("_", " ").capitalize()
        items.append(
            TimelineItem(
                t.occurred_at,
                "trigger",
                (f"{label}: ", Said(t.note)) if t.note else (label,),
                f"regulatory_trigger {t.id}",
                t.audit_seq,
            )
        )
    notices = (await regulatory.notifications_by_incident(session, [incident.id])).get(
        incident.id, []
    )
    hashes = dict(
        (
            await session.execute(
                select(EvidenceItem.id, EvidenceItem.sha256).where(
                    EvidenceItem.id.in_([n.content_evidence_id for n in notices])
                )
            )
        ).all()
    )
    for n in notices:
        if n.regime == regime:
            pieces: list[Piece] = [f"Notification ({n.clock}) sent to ", Said(n.recipient), ": "]
            pieces.append(Said(n.summary))
            if n.late_reason:
                pieces += [" Reasons for the delay: ", Said(n.late_reason)]
            pieces.append(f" [content sha256 {hashes.get(n.content_evidence_id, '?')}]")
            items.append(
                TimelineItem(
                    n.sent_at,
                    "notification",
                    tuple(pieces),
                    f"regulatory_notification {n.id}",
                    n.audit_seq,
                )
            )
    for change in changes:
        if change.from_status is not None:  # the opening one is the detection, shown above
            items.append(
                TimelineItem(
                    change.changed_at,
                    "status",
                    (f"Status: {change.to_status}",),
                    f"status_change {change.id}",
                    change.audit_seq,
                )
            )
    if include_entry_ids:
        entries = (
            (
                await session.execute(
                    select(TimelineEntry).where(
                        TimelineEntry.incident_id == incident.id,
                        TimelineEntry.id.in_(list(include_entry_ids)),
                    )
                )
            )
            .scalars()
            .all()
        )
        if len(entries) != len(set(include_entry_ids)):
            raise Invalid(
                "an included entry is not on this incident's timeline",
                field="includeEntryIds",
                code=ErrorCode.NOT_FOUND,
            )
        items += [
            TimelineItem(e.occurred_at, "entry", (Said(e.text),), f"timeline_entry {e.id}", None)
            for e in entries
        ]
    if redact:
        items = await _redacted(runtime, session, incident, items)
    return timeline_json(incident, regime, sorted(items, key=lambda i: (i.at, i.kind, i.source)))


def _detection(
    incident: Incident,
    triggers: Sequence[RegulatoryTrigger],
    changes: Sequence[IncidentStatusChange],
) -> list[TimelineItem]:
    """The incident's own detection, once: it is also its opening status change (whose audit
    event it carries), and a recorded detection at or before it says the same thing."""
    recorded = [t.occurred_at for t in triggers if t.kind == TriggerKind.DETECTED.value]
    if recorded and min(recorded) <= incident.detected_at:
        return []
    opening = next((c for c in changes if c.from_status is None), None)
    return [
        TimelineItem(
            incident.detected_at,
            "trigger",
            ("Incident detected",),
            f"incident {incident.reference}",
            opening.audit_seq if opening is not None else None,
        )
    ]


async def _redacted(
    runtime: Runtime, session: AsyncSession, incident: Incident, items: list[TimelineItem]
) -> list[TimelineItem]:
    """Take people's names, contacts and secrets out of what goes to a regulator: the
    timeline says what happened and when, not who on the team typed what. Only what people
    wrote is redacted, each piece on its own; our labels pass as they are."""
    roster, allow = await comms_redact.roster_for(session, incident, None)
    engine = runtime.redactor

    def clean(text: str) -> str:
        return engine.apply(text, engine.preview(text, roster, extra_allow=allow), roster).text

    said = [p.text for i in items for p in i.pieces if isinstance(p, Said)]
    cleaned = iter(await anyio.to_thread.run_sync(lambda: [clean(t) for t in said]))
    return [
        TimelineItem(
            i.at,
            i.kind,
            tuple(Said(next(cleaned)) if isinstance(p, Said) else p for p in i.pieces),
            i.source,
            i.audit_seq,
        )
        for i in items
    ]


def timeline_json(incident: Incident, regime: str, items: Sequence[TimelineItem]) -> dict[str, Any]:
    return {
        "format": "govsvc.regulator-timeline/1",
        "incident": incident.reference,
        "regime": regime,
        "entries": [
            {
                "at": format_time(i.at),
                "kind": i.kind,
                "text": i.text,
                "source": i.source,
                "audit_seq": i.audit_seq,
            }
            for i in items
        ],
    }
