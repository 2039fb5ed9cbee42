"""What the public status page shows: services that have a public name, their current public
state, the published public updates and public post-mortems, and nothing else (no internal
titles, no severities, no people). Anyone may read it, signed in or not: it only ever holds
what was published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from govsvc.audit.chain import format_time
from govsvc.comms.models import Audience, PublicPostMortem, StatusUpdate, UpdateState
from govsvc.db import utcnow
from govsvc.incidents.models import Incident, IncidentStatus
from govsvc.org.models import Service
from govsvc.usecase import UseCase

OPEN = (
    IncidentStatus.DETECTED,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
)
# Worst first: how an open incident with a public update shows on its service.
_STATES = ("major_outage", "partial_outage", "degraded_performance", "operational")
_LABEL = {
    "major_outage": "Major outage",
    "partial_outage": "Partial outage",
    "degraded_performance": "Degraded performance",
    "operational": "Operational",
}
PAGE_UPDATES = 50


def _public_state(incident: Incident) -> str:
    if incident.impact_kind == "outage":
        return "major_outage" if incident.severity == "SEV1" else "partial_outage"
    return "degraded_performance"


@dataclass(frozen=True)
class Snapshot:
    services: list[dict[str, Any]]
    updates: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    generated_at: str
    now: datetime


async def snapshot(uc: UseCase, *, now: datetime | None = None) -> Snapshot:
    """The page as of `now` (default: now); needs no rights, shows only what was published."""
    now = now or utcnow()
    session = uc.session
    services = {
        s.id: s
        for s in (
            await session.execute(
                select(Service)
                .where(Service.public_name.is_not(None))
                .order_by(Service.public_name)
            )
        ).scalars()
    }
    rows = (
        await session.execute(
            select(StatusUpdate, Incident)
            .join(Incident, Incident.id == StatusUpdate.incident_id)
            .where(
                StatusUpdate.audience == Audience.PUBLIC.value,
                StatusUpdate.state == UpdateState.PUBLISHED.value,
                Incident.service_id.in_(list(services)),
            )
            .order_by(StatusUpdate.published_at.desc())
            .limit(PAGE_UPDATES)
        )
    ).all()
    state = dict.fromkeys(services, "operational")
    updates = []
    for update, incident in rows:
        service = services[incident.service_id]
        if incident.status in OPEN:
            worst = min(_STATES.index(state[service.id]), _STATES.index(_public_state(incident)))
            state[service.id] = _STATES[worst]
        published = update.published_at or now
        updates.append(
            {
                "id": f"update-{update.id}",
                "service": service.public_name,
                "incident": incident.reference,
                "status": update.status,
                # What the incident is now: a closed one never reads "monitoring".
                "incident_status": incident.status if incident.status in OPEN else "resolved",
                "text": update.body,
                "published_at": format_time(published),
                "sha256": update.published_sha256,
                "at": published,
            }
        )
    reports = [
        {
            "id": f"report-{r.id}",
            "title": r.title,
            "incident": r.title.split()[-1],
            "text": r.text,
            "published_at": format_time(r.published_at),
            "sha256": r.sha256,
            "at": r.published_at,
        }
        for r in (
            await session.execute(
                select(PublicPostMortem)
                .order_by(PublicPostMortem.published_at.desc())
                .limit(PAGE_UPDATES)
            )
        ).scalars()
    ]
    return Snapshot(
        services=[
            {"name": s.public_name, "state": state[s.id], "label": _LABEL[state[s.id]]}
            for s in services.values()
        ],
        updates=updates,
        reports=reports,
        generated_at=format_time(now),
        now=now,
    )
