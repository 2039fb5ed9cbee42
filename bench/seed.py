"""Seed a fresh govsvc database through the service layer (the same code paths GraphQL uses).

Units, services, then incidents, each with tags and several timeline entries. Everything goes
through `govsvc.org.service` / `govsvc.incidents.service`, so every row carries its audit event.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from govsvc import usecase
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.incidents import records as incident_records
from govsvc.incidents import service as incident_service
from govsvc.incidents.classification import DataExposure
from govsvc.org import service as org_service
from govsvc.runtime import Runtime

TOP_UNITS = ("retail", "corporate", "payments")
CHILD_UNITS = ("eu", "uk", "us")
SERVICES_PER_UNIT = 3
TAGS = (
    "deployment",
    "configuration-change",
    "capacity",
    "third-party",
    "software-defect",
    "network",
    "database",
    "dns",
    "identity",
    "alert",
    "customer-reported",
    "synthetic-monitoring",
    "sla-breach",
)
NOTES = (
    "Paged on-call; acknowledging and looking at dashboards.",
    "Error rate on the edge is climbing, mostly 503s from the gateway.",
    "Rolled back the last deployment in one region to compare.",
    "Supplier confirms degraded performance on their side.",
    "Connection pool saturated on the primary; failing over.",
    "Customer support reports login failures from several regions.",
    "Mitigation holding; keeping the incident open to monitor.",
)


@dataclass(frozen=True)
class Seeded:
    service_ids: list[int]
    incidents: int
    timeline_entries: int


async def seed(
    runtime: Runtime, *, incidents: int, notes_per_incident: int, rng_seed: int = 7
) -> Seeded:
    rng = random.Random(rng_seed)
    caller = Caller.system(runtime.policies.access, "bench:seed")

    service_ids: list[int] = []
    for top in TOP_UNITS:
        parent = await usecase.run(
            runtime, caller, org_service.create_business_unit, code=top, name=top.title()
        )
        for child in CHILD_UNITS:
            code = f"{top}-{child}"
            unit = await usecase.run(
                runtime,
                caller,
                org_service.create_business_unit,
                code=code,
                name=f"{top.title()} {child.upper()}",
                parent_id=parent.id,
            )
            team = await usecase.run(
                runtime,
                caller,
                org_service.create_team,
                code=f"{code}-ops",
                name=f"{code} operations",
                business_unit_id=unit.id,
            )
            for n in range(SERVICES_PER_UNIT):
                service = await usecase.run(
                    runtime,
                    caller,
                    org_service.create_service,
                    code=f"{code}-svc{n}",
                    name=f"{top.title()} {child.upper()} service {n}",
                    business_unit_id=unit.id,
                    tier=1 + (n % 4),
                    availability_target_pct=99.9,
                    latency_threshold_ms=300,
                    latency_outage_ms=2000,
                    owning_team_id=team.id,
                )
                service_ids.append(service.id)

    timeline = 0
    sensitivities = [Sensitivity.INTERNAL] * 8 + [Sensitivity.CONFIDENTIAL, Sensitivity.RESTRICTED]
    for i in range(incidents):
        facts = incident_service.make_facts(
            customers_affected=rng.choice((0, 10, 500, 20_000)),
            data_exposure=DataExposure.NONE,
            regulatory_exposure=rng.random() < 0.1,
            duration_minutes=rng.choice((None, 5, 45, 240)),
            unavailable=rng.random() < 0.3,
            availability_pct=rng.choice((None, 99.5, 97.0)),
            latency_p99_ms=rng.choice((None, 450, 2500)),
        )
        incident = await usecase.run(
            runtime,
            caller,
            incident_service.create_incident,
            title=f"Seeded incident {i}: elevated errors",
            service_id=rng.choice(service_ids),
            facts=facts,
            summary="Seeded by bench/seed.py.",
            sensitivity=rng.choice(sensitivities),
            tags=rng.sample(TAGS, rng.randint(1, 4)),
        )
        timeline += 1  # create_incident writes the "opened" entry
        for _ in range(notes_per_incident):
            await usecase.run(
                runtime,
                caller,
                incident_records.add_timeline_entry,
                incident_id=incident.id,
                text=rng.choice(NOTES),
            )
            timeline += 1
    return Seeded(service_ids, incidents, timeline)
