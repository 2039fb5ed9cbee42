"""Is the monitoring itself alive? Each source declares a heartbeat (Alertmanager's
always-firing Watchdog, or any payload for a generic tool); one silent beyond its window opens
a "monitoring blind" incident on every service it covers, because nobody would be paged then.

A source is watched from the first time it is heard: a source configured but never connected
is not reported blind (there is no moment it went silent), and `alertSources` shows it as
never heard."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from govsvc.alerts.models import SourceHeartbeat
from govsvc.alerts.signals import Signal
from govsvc.alerts.sources import AlertSource
from govsvc.audit.log import record
from govsvc.db import ALERT_PIPELINE_LOCK, one_writer_at_a_time, utcnow
from govsvc.incidents import service as incident_service
from govsvc.incidents.classification import ImpactFacts
from govsvc.incidents.common import timeline_note
from govsvc.incidents.models import Incident
from govsvc.org.models import Service
from govsvc.usecase import UseCase

JOB = "alert heartbeats"


def is_heartbeat(source: AlertSource, signal: Signal) -> bool:
    beat = source.heartbeat
    return beat is not None and beat.alertname is not None and signal.rule_name == beat.alertname


def beats(source: AlertSource, signals: list[Signal]) -> bool:
    beat = source.heartbeat
    if beat is None:
        return False
    if beat.alertname is None:
        return True  # a generic tool is alive when it sends anything
    return any(is_heartbeat(source, s) and s.status.value == "firing" for s in signals)


async def heard(uc: UseCase, source: AlertSource, *, beat: bool, now: datetime) -> None:
    """Note that the source spoke (and beat); end a blind spell it was in."""
    session = uc.session
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(SourceHeartbeat)
        .values(source=source.name, blind_incidents="[]")
        .on_conflict_do_nothing(index_elements=["source"])
    )
    row = (
        await session.execute(
            select(SourceHeartbeat).where(SourceHeartbeat.source == source.name).with_for_update()
        )
    ).scalar_one()
    row.last_payload_at = now
    if not beat:
        return
    row.last_heartbeat_at = now
    if row.blind_since is None:
        return
    silent_for = now - row.blind_since
    incident_ids = json.loads(row.blind_incidents)
    incidents = (
        await session.execute(select(Incident).where(Incident.id.in_(incident_ids)))
    ).scalars()
    for incident in incidents:
        session.add(
            timeline_note(
                incident,
                uc.caller,
                "detection",
                f"Monitoring source {source.name} is heard again after "
                f"{int(silent_for.total_seconds())} s of silence",
            )
        )
    await record(
        session,
        uc.caller,
        "alert.source_back",
        resource_type="alert_source",
        resource_id=source.name,
        payload={"blind_since": row.blind_since, "incidents": incident_ids},
    )
    row.blind_since = None
    row.blind_incidents = "[]"


async def find_blind_sources(uc: UseCase) -> list[str]:
    """Open a "monitoring blind" incident on each covered service of every silent source."""
    session = uc.session
    await one_writer_at_a_time(session, ALERT_PIPELINE_LOCK)  # not while a payload is heard
    now = utcnow()
    rows = {r.source: r for r in (await session.execute(select(SourceHeartbeat))).scalars()}
    went_blind = []
    for source in uc.policies.alerts.sources:
        row = rows.get(source.name)
        if source.heartbeat is None or row is None or row.blind_since is not None:
            continue
        last = row.last_heartbeat_at or row.last_payload_at
        if last is None or now - last <= timedelta(seconds=source.heartbeat.window_seconds):
            continue
        services = (
            await session.execute(select(Service).where(Service.code.in_(source.covers)))
        ).scalars()
        opened = []
        for service in services:
            incident = await incident_service.create_incident(
                uc,
                title=f"Monitoring blind: {source.name} silent since {last:%Y-%m-%d %H:%M} UTC",
                service_id=service.id,
                facts=ImpactFacts(),
                summary=(
                    f"No heartbeat from alert source {source.name} ({source.perspective.value}"
                    f" perspective) for more than {source.heartbeat.window_seconds} s: outages of"
                    f" {service.code} would not be detected from it."
                ),
                detected_at=now,
            )
            opened.append(incident.id)
        row.blind_since = last
        row.blind_incidents = json.dumps(opened)
        await record(
            session,
            uc.caller,
            "alert.source_blind",
            resource_type="alert_source",
            resource_id=source.name,
            payload={"last_heard": last, "incidents": opened, "covers": list(source.covers)},
        )
        went_blind.append(source.name)
    return went_blind
