"""The append-only records kept during an incident: timeline entries and the decision log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from govsvc import validation
from govsvc.audit.log import record
from govsvc.errors import Invalid, NotFound
from govsvc.incidents.common import (
    incident_for,
    past_or_now,
    timeline_note,
    unit_code,
)
from govsvc.incidents.models import (
    DecisionEntry,
    TimelineEntry,
)
from govsvc.org import service as org_service
from govsvc.usecase import UseCase


async def add_timeline_entry(
    uc: UseCase,
    *,
    incident_id: int,
    text: str,
    occurred_at: datetime | None = None,
    corrects_id: int | None = None,
) -> TimelineEntry:
    """Append to the timeline; a correction points at the entry it corrects, which stays."""
    text = validation.text(text, field="text", max_length=20_000)
    occurred = past_or_now(occurred_at, field="occurredAt")
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    if corrects_id is not None:
        corrected = await session.get(TimelineEntry, corrects_id)
        if corrected is None or corrected.incident_id != incident.id:
            raise NotFound("no such timeline entry on this incident", field="correctsId")
    entry = TimelineEntry(
        incident_id=incident.id,
        kind="correction" if corrects_id else "note",
        text=text,
        occurred_at=occurred,
        author=uc.caller.actor,
        corrects_id=corrects_id,
    )
    session.add(entry)
    await session.flush()
    await record(
        session,
        uc.caller,
        "incident.timeline_add",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "entry": entry.id,
            "corrects": corrects_id,
            "text": text,
            "occurred_at": occurred,
        },
    )
    return entry


async def record_decision(
    uc: UseCase,
    *,
    incident_id: int,
    decision: str,
    rationale: str,
    alternatives: Sequence[str] = (),
    decided_by_id: int | None = None,
    decided_at: datetime | None = None,
) -> DecisionEntry:
    """Log a decision with its rationale and the alternatives that were considered."""
    decision = validation.text(decision, field="decision", max_length=5_000)
    rationale = validation.text(rationale, field="rationale", max_length=20_000)
    options = [validation.text(a, field="alternatives", max_length=2_000) for a in alternatives]
    when = past_or_now(decided_at, field="decidedAt")
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "update")
    decider_id = decided_by_id if decided_by_id is not None else uc.caller.principal_id
    if decider_id is None:
        raise Invalid("name who decided", field="decidedById")
    decider = await org_service.get_principal(session, uc.caller, decider_id, field="decidedById")
    entry = DecisionEntry(
        incident_id=incident.id,
        decision=decision,
        rationale=rationale,
        alternatives=json.dumps(options),
        decided_by_id=decider.id,
        decided_at=when,
        recorded_by=uc.caller.actor,
    )
    session.add(entry)
    session.add(
        timeline_note(
            incident,
            uc.caller,
            "decision",
            f"Decision by {decider.name}: {decision}",
            occurred_at=when,
        )
    )
    await session.flush()
    await record(
        session,
        uc.caller,
        "incident.decision",
        resource_type="incident",
        resource_id=incident.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "entry": entry.id,
            "decision": decision,
            "rationale": rationale,
            "alternatives": options,
            "decided_by": decider.email,
            "decided_at": when,
        },
    )
    return entry
