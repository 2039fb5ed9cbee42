"""Reading on-call: schedules (filtered by access in SQL), who is on call when, computed shifts,
who a service's escalation policy reaches first, jurisdiction breaches, and calendar feeds."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.db import utcnow
from govsvc.errors import Forbidden, Invalid, NotFound
from govsvc.oncall import jurisdictions, rotation
from govsvc.oncall.models import (
    EscalationPolicy,
    Page,
    Schedule,
    ScheduleMember,
    ScheduleOverride,
    ServiceEscalation,
)
from govsvc.org import service as org_service
from govsvc.org.models import Principal, TeamMember
from govsvc.outbox.models import Delivery, Endpoint
from govsvc.pagination import Page as ResultPage
from govsvc.pagination import fetch_page
from govsvc.usecase import UseCase

MAX_SPAN = timedelta(days=93)  # the longest period shifts or violations are computed for


def visible(caller: Caller) -> ColumnElement[bool]:
    return readable(caller.access, "schedule", Schedule.business_unit_id)


async def schedule_for(
    uc: UseCase, schedule_id: int, action: str, *, lock: bool = False
) -> Schedule:
    """A schedule the caller may see (else NotFound) and act on (else Forbidden)."""
    query = select(Schedule).where(Schedule.id == schedule_id, visible(uc.caller))
    if lock:
        query = query.with_for_update()
    schedule = (await uc.session.execute(query)).scalar_one_or_none()
    if schedule is None:
        raise NotFound("no such schedule", field="scheduleId")
    if action != "read" and not uc.caller.access.allows(
        action, "schedule", unit_id=schedule.business_unit_id
    ):
        raise Forbidden(f"not allowed to {action} this schedule")
    return schedule


async def schedules_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, Schedule]:
    rows = await session.execute(select(Schedule).where(Schedule.id.in_(set(ids)), visible(caller)))
    return {s.id: s for s in rows.scalars()}


async def list_schedules(uc: UseCase, *, size: int, after_id: int | None) -> ResultPage[Schedule]:
    query = select(Schedule).where(visible(uc.caller))
    return await fetch_page(uc.session, query, id_column=Schedule.id, size=size, after_id=after_id)


def layers_of(schedule: Schedule) -> list[rotation.Layer]:
    return [rotation.Layer.from_dict(d) for d in json.loads(schedule.layers)]


async def _overrides(
    session: AsyncSession, schedule_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[rotation.Override]]:
    rows = await session.execute(
        select(ScheduleOverride).where(
            ScheduleOverride.schedule_id.in_(set(schedule_ids)),
            ScheduleOverride.removed_at.is_(None),
            ScheduleOverride.starts_at < end,
            ScheduleOverride.ends_at > start,
        )
    )
    found: dict[int, list[rotation.Override]] = {}
    for o in rows.scalars():
        found.setdefault(o.schedule_id, []).append(
            rotation.Override(o.id, o.principal_id, o.starts_at, o.ends_at)
        )
    return found


async def overrides_by_schedule(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, list[ScheduleOverride]]:
    """Current and future overrides per schedule, soonest first."""
    rows = await session.execute(
        select(ScheduleOverride)
        .join(Schedule, Schedule.id == ScheduleOverride.schedule_id)
        .where(
            ScheduleOverride.schedule_id.in_(set(ids)),
            ScheduleOverride.removed_at.is_(None),
            ScheduleOverride.ends_at > utcnow(),
            visible(caller),
        )
        .order_by(ScheduleOverride.starts_at)
    )
    found: dict[int, list[ScheduleOverride]] = {}
    for o in rows.scalars():
        found.setdefault(o.schedule_id, []).append(o)
    return found


async def _shift_at(
    session: AsyncSession, schedule: Schedule, at: datetime
) -> rotation.Shift | None:
    overrides = (await _overrides(session, [schedule.id], at, at + timedelta(seconds=1))).get(
        schedule.id, []
    )
    return rotation.shift_at(layers_of(schedule), overrides, at)


async def on_call_at(session: AsyncSession, schedule_id: int, at: datetime) -> list[int]:
    """The principal ids the schedule puts on call at `at` (empty when nobody is).

    For other domains (escalation, role backups): NO access filtering, so never hand the
    answer to a caller without checking they may read the schedule."""
    schedule = await session.get(Schedule, schedule_id)
    if schedule is None:
        return []
    shift = await _shift_at(session, schedule, at)
    return [] if shift is None else [shift.person_id]


async def on_call(uc: UseCase, *, schedule_id: int, at: datetime | None) -> rotation.Shift | None:
    """Who the schedule has on call at `at` (default now), from which layer or override."""
    schedule = await schedule_for(uc, schedule_id, "read")
    return await _shift_at(uc.session, schedule, at or utcnow())


def check_period(start: datetime, end: datetime) -> None:
    """Refuse a period that is empty or too long to compute."""
    if end <= start:
        raise Invalid("the period must end after it starts", field="to")
    if end - start > MAX_SPAN:
        raise Invalid("at most 93 days at a time", field="to")


async def shifts_between(
    session: AsyncSession, schedule: Schedule, start: datetime, end: datetime
) -> list[rotation.Shift]:
    overrides = (await _overrides(session, [schedule.id], start, end)).get(schedule.id, [])
    return rotation.final_shifts(layers_of(schedule), overrides, max(start, rotation.EARLIEST), end)


async def shifts_by_schedule(
    session: AsyncSession, caller: Caller, ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[rotation.Shift]]:
    """Computed shifts of many schedules in [start, end), in two statements (a loader's
    batch: the caller must have checked the period)."""
    found = await schedules_by_id(session, caller, ids)
    overrides = await _overrides(session, found, start, end)
    lo = max(start, rotation.EARLIEST)
    return {
        sid: rotation.final_shifts(layers_of(s), overrides.get(sid, []), lo, end)
        for sid, s in found.items()
    }


# ---------------------------------------------------------------------------- escalation


@dataclass(frozen=True)
class Target:
    kind: str  # schedule | person | team
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Level:
    timeout_seconds: int
    targets: tuple[Target, ...]


def parse_levels(text: str) -> list[Level]:
    return [
        Level(
            int(d["timeout_seconds"]), tuple(Target(t["kind"], int(t["id"])) for t in d["targets"])
        )
        for d in json.loads(text)
    ]


def levels_of(policy: EscalationPolicy) -> list[Level]:
    return parse_levels(policy.levels)


@dataclass(frozen=True)
class Reached:
    person_id: int
    target: Target
    shift: rotation.Shift | None  # for schedule targets: the shift that put them on call


async def resolve_targets(
    session: AsyncSession, targets: Sequence[Target], at: datetime
) -> list[Reached]:
    """Who the targets reach at `at`, each person once (first target wins). No access
    filtering: for escalation and for callers already allowed to read the policy."""
    out: list[Reached] = []
    seen: set[int] = set()
    team_ids = [t.id for t in targets if t.kind == "team"]
    members: dict[int, list[int]] = {}
    if team_ids:
        rows = await session.execute(
            select(TeamMember.team_id, TeamMember.principal_id)
            .join(Principal, Principal.id == TeamMember.principal_id)
            .where(TeamMember.team_id.in_(team_ids), Principal.active.is_(True))
            .order_by(TeamMember.id)
        )
        for team_id, principal_id in rows.all():
            members.setdefault(team_id, []).append(principal_id)
    for target in targets:
        found: list[tuple[int, rotation.Shift | None]]
        if target.kind == "schedule":
            schedule = await session.get(Schedule, target.id)
            shift = await _shift_at(session, schedule, at) if schedule is not None else None
            found = [(shift.person_id, shift)] if shift is not None else []
        elif target.kind == "person":
            found = [(target.id, None)]
        else:
            found = [(p, None) for p in members.get(target.id, [])]
        for person_id, shift in found:
            if person_id not in seen:
                seen.add(person_id)
                out.append(Reached(person_id, target, shift))
    return out


def policies_visible(caller: Caller) -> ColumnElement[bool]:
    return readable(caller.access, "escalation_policy", EscalationPolicy.business_unit_id)


async def policy_for(uc: UseCase, policy_id: int, action: str) -> EscalationPolicy:
    policy = (
        await uc.session.execute(
            select(EscalationPolicy).where(
                EscalationPolicy.id == policy_id, policies_visible(uc.caller)
            )
        )
    ).scalar_one_or_none()
    if policy is None:
        raise NotFound("no such escalation policy", field="policyId")
    if action != "read" and not uc.caller.access.allows(
        action, "escalation_policy", unit_id=policy.business_unit_id
    ):
        raise Forbidden(f"not allowed to {action} this escalation policy")
    return policy


async def policies_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, EscalationPolicy]:
    rows = await session.execute(
        select(EscalationPolicy).where(EscalationPolicy.id.in_(set(ids)), policies_visible(caller))
    )
    return {p.id: p for p in rows.scalars()}


async def list_policies(
    uc: UseCase, *, size: int, after_id: int | None
) -> ResultPage[EscalationPolicy]:
    query = select(EscalationPolicy).where(policies_visible(uc.caller))
    return await fetch_page(
        uc.session, query, id_column=EscalationPolicy.id, size=size, after_id=after_id
    )


async def policy_of_service(session: AsyncSession, service_id: int) -> int | None:
    return (
        await session.execute(
            select(ServiceEscalation.policy_id).where(ServiceEscalation.service_id == service_id)
        )
    ).scalar_one_or_none()


async def policy_ids_by_service(
    session: AsyncSession, caller: Caller, service_ids: Iterable[int]
) -> dict[int, int]:
    """The policy each service points at, where the caller may read that policy."""
    rows = await session.execute(
        select(ServiceEscalation.service_id, ServiceEscalation.policy_id)
        .join(EscalationPolicy, EscalationPolicy.id == ServiceEscalation.policy_id)
        .where(ServiceEscalation.service_id.in_(set(service_ids)), policies_visible(caller))
    )
    return dict(rows.all())


async def who_is_on_call(uc: UseCase, *, service_id: int, at: datetime | None) -> list[Reached]:
    """Whom the service's escalation policy pages first at `at` (default now): its level-1
    targets resolved then. Empty when the service points at no policy you may read."""
    service = await org_service.get_service(uc.session, uc.caller, service_id, field="serviceId")
    policy_id = await policy_of_service(uc.session, service.id)
    if policy_id is None:
        return []
    try:
        policy = await policy_for(uc, policy_id, "read")
    except NotFound:
        return []
    levels = levels_of(policy)
    return await resolve_targets(uc.session, levels[0].targets, at or utcnow())


def pages_visible(caller: Caller) -> ColumnElement[bool]:
    return readable(caller.access, "page", Page.business_unit_id)


async def pages_by_incident(
    session: AsyncSession, caller: Caller, incident_ids: Iterable[int]
) -> dict[int, list[Page]]:
    rows = await session.execute(
        select(Page)
        .where(Page.incident_id.in_(set(incident_ids)), pages_visible(caller))
        .order_by(Page.id)
    )
    found: dict[int, list[Page]] = {}
    for page in rows.scalars():
        found.setdefault(page.incident_id, []).append(page)
    return found


@dataclass(frozen=True)
class PageDelivery:
    """What became of one channel of a page (an outbox delivery)."""

    delivery_id: int
    kind: str
    state: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


async def deliveries_by_page(
    session: AsyncSession, caller: Caller, page_ids: Iterable[int]
) -> dict[int, list[PageDelivery]]:
    """The delivery result of each page the caller may read, per channel (two statements)."""
    rows = (
        await session.execute(
            select(Page.id, Page.delivery_ids).where(
                Page.id.in_(set(page_ids)), pages_visible(caller)
            )
        )
    ).all()
    wanted = {page_id: [int(d) for d in json.loads(ids)] for page_id, ids in rows}
    all_ids = {d for ids in wanted.values() for d in ids}
    found: dict[int, PageDelivery] = {}
    if all_ids:
        deliveries = await session.execute(
            select(
                Delivery.id,
                Endpoint.kind,
                Delivery.state,
                Delivery.attempts,
                Delivery.last_error,
                Delivery.delivered_at,
            )
            .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
            .where(Delivery.id.in_(all_ids))
        )
        for d_id, kind, state, attempts, error, delivered in deliveries.all():
            found[d_id] = PageDelivery(d_id, kind, state, attempts, error, delivered)
    return {p: [found[d] for d in ids if d in found] for p, ids in wanted.items()}


async def pages_by_id(session: AsyncSession, caller: Caller, ids: Iterable[int]) -> dict[int, Page]:
    rows = await session.execute(select(Page).where(Page.id.in_(set(ids)), pages_visible(caller)))
    return {p.id: p for p in rows.scalars()}


async def list_pages(
    uc: UseCase, *, incident_id: int | None, size: int, after_id: int | None
) -> ResultPage[Page]:
    query = select(Page).where(pages_visible(uc.caller))
    if incident_id is not None:
        query = query.where(Page.incident_id == incident_id)
    return await fetch_page(
        uc.session, query, id_column=Page.id, size=size, after_id=after_id, newest_first=True
    )


# ---------------------------------------------------------------------------- jurisdictions


async def people(session: AsyncSession, ids: Iterable[int]) -> dict[int, jurisdictions.Person]:
    rows = await session.execute(
        select(Principal.id, Principal.time_zone, Principal.jurisdiction).where(
            Principal.id.in_(set(ids))
        )
    )
    return {i: jurisdictions.Person(i, tz, j) for i, tz, j in rows.all()}


async def schedule_violations(
    uc: UseCase, *, schedule_id: int, start: datetime, end: datetime
) -> list[jurisdictions.Violation]:
    """Every breach of a jurisdiction rule by the schedule's shifts in the period."""
    check_period(start, end)
    schedule = await schedule_for(uc, schedule_id, "read")
    found = await shifts_between(uc.session, schedule, start, end)
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for shift in found:
        spans.setdefault(shift.person_id, []).append((shift.start, shift.end))
    who = await people(uc.session, spans)
    out: list[jurisdictions.Violation] = []
    for person_id, person_spans in spans.items():
        if person_id in who:
            out += jurisdictions.violations(
                uc.policies.jurisdictions, who[person_id], person_spans, start, end
            )
    return sorted(out, key=lambda v: (v.start, v.person_id, v.rule))


# ---------------------------------------------------------------------------- feeds


@dataclass(frozen=True)
class FeedShift:
    schedule_id: int
    schedule_name: str
    shift: rotation.Shift


async def feed_shifts(
    session: AsyncSession,
    *,
    schedule_id: int | None,
    person_id: int | None,
    start: datetime,
    end: datetime,
) -> list[FeedShift]:
    """What a feed shows (its token is its authority: no caller)."""
    if schedule_id is not None:
        schedules = [s for s in [await session.get(Schedule, schedule_id)] if s is not None]
    elif person_id is not None:
        # the schedules naming them in a layer, or giving them an override in the period
        named = select(ScheduleMember.schedule_id).where(ScheduleMember.principal_id == person_id)
        overridden = select(ScheduleOverride.schedule_id).where(
            ScheduleOverride.principal_id == person_id,
            ScheduleOverride.removed_at.is_(None),
            ScheduleOverride.starts_at < end,
            ScheduleOverride.ends_at > start,
        )
        rows = await session.execute(
            select(Schedule)
            .where(or_(Schedule.id.in_(named), Schedule.id.in_(overridden)))
            .order_by(Schedule.id)
        )
        schedules = list(rows.scalars())
    else:
        schedules = []
    out = []
    for schedule in schedules:
        for shift in await shifts_between(session, schedule, start, end):
            if person_id is None or shift.person_id == person_id:
                out.append(FeedShift(schedule.id, schedule.name, shift))
    return sorted(out, key=lambda f: (f.shift.start, f.schedule_id))
