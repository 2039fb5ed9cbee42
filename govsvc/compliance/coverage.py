"""Coverage of a framework's control objectives by evidence, over a period and business units.

A control applies to an incident when a person confirmed the mapping, or, for a control that
no tag narrows (it names no `suggested_by_tags`), to every incident in scope. It is evidenced
when every incident it applies to has evidence of a kind the control accepts; partially when
some have; missing when none have (or, with no incidents, when nothing is mapped to it
directly); stale when its only evidence was collected before the period or is gone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from govsvc.authz.completeness import reads_everything
from govsvc.caller import Caller
from govsvc.compliance.catalog import Control
from govsvc.compliance.models import ControlMapping, MappingState
from govsvc.errors import NotFound
from govsvc.evidence.access import readable_evidence
from govsvc.evidence.models import EvidenceItem, EvidenceLink, EvidenceState
from govsvc.incidents.common import readable_incidents
from govsvc.incidents.models import Incident
from govsvc.org.units import load_unit_tree

if TYPE_CHECKING:
    from govsvc.usecase import UseCase


class CoverageStatus(StrEnum):
    EVIDENCED = "evidenced"
    PARTIALLY = "partially"
    MISSING = "missing"
    STALE = "stale"


@dataclass
class ControlCoverage:
    control: Control
    status: CoverageStatus
    incidents: list[Incident]  # the incidents it applies to
    evidence: list[EvidenceItem]  # qualifying evidence, oldest first
    gaps: list[str] = field(default_factory=list)


@dataclass
class Coverage:
    framework: str
    period_start: datetime
    period_end: datetime
    controls: list[ControlCoverage]
    incidents: list[Incident]
    # Whether the caller's access may have kept something out, and notices saying what kind
    # of thing: never how many nor which (see govsvc/authz/completeness.py).
    access_limited: bool
    left_out: list[str]


def _period(start: datetime, end: datetime) -> str:
    return f"{start.date().isoformat()}..{end.date().isoformat()}"


async def compute(
    uc: UseCase,
    *,
    framework: str,
    period_start: datetime,
    period_end: datetime,
    control_keys: Sequence[str] = (),
    unit_ids: Sequence[int] = (),
) -> Coverage:
    """Each control objective of `framework` with its evidence, status and named gaps."""
    runtime, session, caller = uc.runtime, uc.session, uc.caller
    if framework not in runtime.policies.catalog.frameworks:
        raise NotFound(f"no framework {framework!r} in the catalog", field="framework")
    controls = [
        c
        for c in runtime.policies.catalog.controls(framework)
        if not control_keys or c.key in control_keys
    ]
    in_period = and_(Incident.detected_at >= period_start, Incident.detected_at < period_end)
    scope = select(Incident).where(in_period)
    if unit_ids:
        tree = await load_unit_tree(session)
        units = set().union(*(tree.descendants_or_self(u) for u in unit_ids))
        scope = scope.where(Incident.business_unit_id.in_(sorted(units)))
    incidents = list(
        (
            await session.execute(scope.where(readable_incidents(caller)).order_by(Incident.id))
        ).scalars()
    )
    ids = [i.id for i in incidents]
    mapped: dict[str, set[int]] = defaultdict(set)
    for key, target in (
        await session.execute(
            select(ControlMapping.control_key, ControlMapping.target_id).where(
                ControlMapping.target_type == "incident",
                ControlMapping.target_id.in_(ids),
                ControlMapping.state == MappingState.CONFIRMED.value,
            )
        )
    ).all():
        mapped[key].add(target)
    rows = (
        await session.execute(
            select(EvidenceLink.target_id, EvidenceItem)
            .join(EvidenceItem, EvidenceItem.id == EvidenceLink.evidence_id)
            .where(
                EvidenceLink.target_type == "incident",
                EvidenceLink.target_id.in_(ids),
                readable_evidence(caller),
            )
            .order_by(EvidenceItem.id)
        )
    ).all()
    evidence_of: dict[int, list[EvidenceItem]] = defaultdict(list)
    for incident_id, item in rows:
        evidence_of[incident_id].append(item)
    left_out = access_notices(caller, unit_ids)
    by_id = {i.id: i for i in incidents}
    results = [
        _judge(c, _applies(c, mapped, by_id), evidence_of, period_start, period_end)
        for c in controls
    ]
    return Coverage(
        framework, period_start, period_end, results, incidents, bool(left_out), left_out
    )


def access_notices(caller: Caller, unit_ids: Sequence[int]) -> list[str]:
    """What the caller's access may have kept out of a report on these units (every unit when
    none are named). Decided from grants alone: counting what was hidden told a caller with no
    grant how many incidents another unit had, and bisecting the period, when."""
    where = "the business units asked for" if unit_ids else "every business unit"
    notices = []
    if not reads_everything(caller.access, "incident", unit_ids):
        notices.append(
            f"your access does not cover all incidents of {where} at every sensitivity: "
            "some may have been left out"
        )
    if not reads_everything(caller.access, "evidence", unit_ids):
        notices.append(
            f"your access does not cover all evidence of {where} at every sensitivity: "
            "some may have been left out"
        )
    return notices


def _applies(
    control: Control, mapped: dict[str, set[int]], by_id: dict[int, Incident]
) -> list[Incident]:
    if "incident" not in control.applies_to:
        return []
    if control.suggested_by_tags:
        return [by_id[i] for i in sorted(mapped.get(control.key, ()))]
    return list(by_id.values())


def _judge(
    control: Control,
    incidents: list[Incident],
    evidence_of: dict[int, list[EvidenceItem]],
    start: datetime,
    end: datetime,
) -> ControlCoverage:
    kinds = {str(k) for k in control.evidence_kinds}

    def qualifying(incident: Incident) -> list[EvidenceItem]:
        return [e for e in evidence_of.get(incident.id, []) if not kinds or e.kind in kinds]

    found = {i.id: qualifying(i) for i in incidents}
    items = sorted({e.id: e for es in found.values() for e in es}.values(), key=lambda e: e.id)
    lacking = [i for i in incidents if not found[i.id]]
    span = _period(start, end)
    if not incidents:
        return ControlCoverage(
            control,
            CoverageStatus.MISSING,
            [],
            [],
            [f"no incidents in {span} were mapped to {control.id}, so nothing evidences it"],
        )
    if len(lacking) == len(incidents):
        status = CoverageStatus.MISSING
    elif lacking:
        status = CoverageStatus.PARTIALLY
    elif all(e.state != EvidenceState.ACTIVE.value or e.collected_at < start for e in items):
        status = CoverageStatus.STALE
    else:
        status = CoverageStatus.EVIDENCED
    gaps = []
    by_severity: dict[str, list[str]] = defaultdict(list)
    for incident in lacking:
        by_severity[incident.severity].append(incident.reference)
    for severity in sorted(by_severity):
        accepted = ", ".join(sorted(kinds)) or "any kind"
        gaps.append(
            f"no evidence ({accepted}) for {control.id} on the {severity} incidents "
            f"{', '.join(by_severity[severity])} of {span}"
        )
    if status is CoverageStatus.STALE:
        gaps.append(f"{control.id}: all evidence predates {start.date().isoformat()} or is gone")
    return ControlCoverage(control, status, incidents, items, gaps)
