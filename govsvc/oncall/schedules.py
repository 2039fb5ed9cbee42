"""Changing schedules: create, update (a new version; the audit event keeps before and after),
overrides, and calendar feeds. Bad input is refused with the field at fault and stores nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from govsvc import validation
from govsvc.audit.log import record
from govsvc.auth.tokens import hash_token
from govsvc.db import utcnow
from govsvc.errors import Conflict, Invalid, NotFound
from govsvc.incidents.common import unit_code
from govsvc.oncall import rotation
from govsvc.oncall.models import OnCallFeed, Schedule, ScheduleMember, ScheduleOverride
from govsvc.oncall.queries import schedule_for
from govsvc.org import service as org_service
from govsvc.org.models import Principal, PrincipalKind
from govsvc.usecase import UseCase

FEED_PREFIX = "gsf_"
MAX_OVERRIDE = timedelta(days=90)


@dataclass(frozen=True)
class WindowSpec:
    start: str
    end: str
    days: list[str] | None = None


@dataclass(frozen=True)
class LayerSpec:
    name: str
    time_zone: str
    rrule: str
    start: str
    member_ids: list[int]
    windows: list[WindowSpec] = field(default_factory=list)


async def _check_people(uc: UseCase, ids: Sequence[int], *, field: str) -> None:
    wanted = set(ids)
    found = set(
        (
            await uc.session.execute(
                select(Principal.id).where(
                    Principal.id.in_(wanted),
                    Principal.kind == PrincipalKind.PERSON.value,
                    Principal.active.is_(True),
                )
            )
        ).scalars()
    )
    if wanted - found:
        raise NotFound("no such active person", field=field)


async def _layers(uc: UseCase, specs: Sequence[LayerSpec]) -> list[rotation.Layer]:
    if not specs:
        raise Invalid("a schedule needs at least one layer", field="layers")
    if len(specs) > rotation.MAX_LAYERS:
        raise Invalid(f"at most {rotation.MAX_LAYERS} layers", field="layers")
    layers = []
    for n, spec in enumerate(specs):
        where = f"layers.{n}"
        windows = [
            rotation.parse_window(w.start, w.end, w.days, f"{where}.windows.{k}")
            for k, w in enumerate(spec.windows)
        ]
        layers.append(
            rotation.parse_layer(
                name=spec.name,
                time_zone=spec.time_zone,
                rrule_text=spec.rrule,
                start=spec.start,
                members=spec.member_ids,
                windows=windows,
                field=where,
            )
        )
        await _check_people(uc, spec.member_ids, field=f"{where}.memberIds")
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise Invalid("layer names must differ", field="layers")
    return layers


async def _keep_members(uc: UseCase, schedule: Schedule, layers: Sequence[rotation.Layer]) -> None:
    await uc.session.execute(
        delete(ScheduleMember).where(ScheduleMember.schedule_id == schedule.id)
    )
    people = sorted({m for layer in layers for m in layer.members})
    uc.session.add_all(ScheduleMember(schedule_id=schedule.id, principal_id=p) for p in people)


def _document(schedule: Schedule) -> dict[str, object]:
    return {
        "name": schedule.name,
        "description": schedule.description,
        "layers": json.loads(schedule.layers),
        "version": schedule.version,
    }


async def create_schedule(
    uc: UseCase,
    *,
    business_unit_id: int,
    name: str,
    description: str = "",
    layers: Sequence[LayerSpec],
) -> Schedule:
    """A schedule in a business unit (write on `schedule` there)."""
    name = validation.text(name, field="name")
    description = validation.text(
        description, field="description", max_length=2000, allow_empty=True
    )
    unit = await org_service.get_business_unit(
        uc.session, uc.caller, business_unit_id, field="businessUnitId"
    )
    uc.caller.access.require("write", "schedule", unit_id=unit.id)
    parsed = await _layers(uc, layers)
    now = utcnow()
    schedule = Schedule(
        business_unit_id=unit.id,
        name=name,
        description=description,
        layers=json.dumps([layer.as_dict() for layer in parsed]),
        version=1,
        created_by=uc.caller.actor,
        created_at=now,
        updated_at=now,
    )
    uc.session.add(schedule)
    await uc.session.flush()
    await _keep_members(uc, schedule, parsed)
    await record(
        uc.session,
        uc.caller,
        "schedule.create",
        resource_type="schedule",
        resource_id=schedule.id,
        unit=unit.code,
        payload={"before": None, "after": _document(schedule)},
    )
    return schedule


async def update_schedule(
    uc: UseCase,
    *,
    schedule_id: int,
    name: str | None = None,
    description: str | None = None,
    layers: Sequence[LayerSpec] | None = None,
) -> Schedule:
    """A new version of the schedule; the audit event keeps the whole document before and after."""
    schedule = await schedule_for(uc, schedule_id, "write", lock=True)
    before = _document(schedule)
    if name is not None:
        schedule.name = validation.text(name, field="name")
    if description is not None:
        schedule.description = validation.text(
            description, field="description", max_length=2000, allow_empty=True
        )
    if layers is not None:
        parsed = await _layers(uc, layers)
        schedule.layers = json.dumps([layer.as_dict() for layer in parsed])
        await _keep_members(uc, schedule, parsed)
    after = {**_document(schedule), "version": schedule.version + 1}
    if {**before, "version": 0} == {**after, "version": 0}:
        raise Invalid("nothing would change", field="scheduleId")
    schedule.version += 1
    schedule.updated_at = utcnow()
    await record(
        uc.session,
        uc.caller,
        "schedule.update",
        resource_type="schedule",
        resource_id=schedule.id,
        unit=await unit_code(uc.session, schedule.business_unit_id),
        payload={"before": before, "after": after},
    )
    return schedule


async def create_override(
    uc: UseCase,
    *,
    schedule_id: int,
    person_id: int,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
) -> ScheduleOverride:
    """Put someone on call for a stretch, above every layer. Overrides of one schedule never
    overlap (the schedule row is locked, so two at once cannot both pass the check)."""
    reason = validation.text(reason, field="reason", max_length=2000)
    schedule = await schedule_for(uc, schedule_id, "write", lock=True)
    if ends_at <= starts_at:
        raise Invalid("must be after the start", field="endsAt")
    if ends_at <= utcnow():
        raise Invalid("must be in the future", field="endsAt")
    if ends_at - starts_at > MAX_OVERRIDE:
        raise Invalid(
            "an override lasts at most 90 days: change the layers instead", field="endsAt"
        )
    await _check_people(uc, [person_id], field="personId")
    clash = (
        await uc.session.execute(
            select(ScheduleOverride.id, ScheduleOverride.starts_at, ScheduleOverride.ends_at).where(
                ScheduleOverride.schedule_id == schedule.id,
                ScheduleOverride.removed_at.is_(None),
                ScheduleOverride.starts_at < ends_at,
                ScheduleOverride.ends_at > starts_at,
            )
        )
    ).first()
    if clash is not None:
        raise Conflict(
            f"overlaps override #{clash[0]}"
            f" ({clash[1]:%Y-%m-%d %H:%M}Z-{clash[2]:%Y-%m-%d %H:%M}Z)",
            field="startsAt",
        )
    override = ScheduleOverride(
        schedule_id=schedule.id,
        principal_id=person_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=uc.caller.actor,
        created_at=utcnow(),
    )
    uc.session.add(override)
    await uc.session.flush()
    await record(
        uc.session,
        uc.caller,
        "schedule.override_create",
        resource_type="schedule",
        resource_id=schedule.id,
        unit=await unit_code(uc.session, schedule.business_unit_id),
        payload={
            "override_id": override.id,
            "person_id": person_id,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "reason": reason,
        },
    )
    return override


async def remove_override(uc: UseCase, *, override_id: int) -> ScheduleOverride:
    override = await uc.session.get(ScheduleOverride, override_id)
    if override is None or override.removed_at is not None:
        raise NotFound("no such override", field="overrideId")
    try:
        schedule = await schedule_for(uc, override.schedule_id, "write", lock=True)
    except NotFound:
        raise NotFound("no such override", field="overrideId") from None
    override.removed_at = utcnow()
    override.removed_by = uc.caller.actor
    await record(
        uc.session,
        uc.caller,
        "schedule.override_remove",
        resource_type="schedule",
        resource_id=schedule.id,
        unit=await unit_code(uc.session, schedule.business_unit_id),
        payload={"override_id": override.id},
    )
    return override


# ---------------------------------------------------------------------------- feeds


def feed_hash(uc_secret: str, token: str) -> str:
    return hash_token(uc_secret, token)


@dataclass(frozen=True)
class IssuedFeed:
    feed: OnCallFeed
    token: str  # shown once; only its hash is stored


async def create_feed(
    uc: UseCase, *, schedule_id: int | None = None, person_id: int | None = None
) -> IssuedFeed:
    """A calendar subscription for one schedule (readers of the schedule) or one person's
    shifts on every schedule (the person, or an administrator)."""
    if (schedule_id is None) == (person_id is None):
        raise Invalid("name a schedule or a person", field="scheduleId")
    unit: str | None = None
    unit_id: int | None = None
    if schedule_id is not None:
        schedule = await schedule_for(uc, schedule_id, "read")
        unit_id = schedule.business_unit_id
        unit = await unit_code(uc.session, schedule.business_unit_id)
    elif person_id is not None:
        if uc.caller.principal_id == person_id:  # your own feed: no role needed
            person = await uc.session.get(Principal, person_id)
        else:
            person = (await org_service.principals_by_id(uc.session, uc.caller, [person_id])).get(
                person_id
            )
        if person is None or person.kind != PrincipalKind.PERSON.value:
            raise NotFound("no such person", field="personId")
        if uc.caller.principal_id != person.id:
            uc.caller.access.require_everywhere("write", "schedule")
    token = FEED_PREFIX + secrets.token_urlsafe(32)
    feed = OnCallFeed(
        token_hash=feed_hash(uc.settings.secret_key.get_secret_value(), token),
        prefix=token[: len(FEED_PREFIX) + 6],
        schedule_id=schedule_id,
        principal_id=person_id,
        business_unit_id=unit_id,
        created_by=uc.caller.actor,
        created_at=utcnow(),
    )
    uc.session.add(feed)
    await uc.session.flush()
    await record(
        uc.session,
        uc.caller,
        "oncall_feed.create",
        resource_type="oncall_feed",
        resource_id=feed.id,
        unit=unit,
        payload={"schedule_id": schedule_id, "person_id": person_id, "prefix": feed.prefix},
    )
    return IssuedFeed(feed, token)


async def revoke_feed(uc: UseCase, *, feed_id: int) -> OnCallFeed:
    """Stop a feed: its URL answers 404 from now on."""
    feed = await uc.session.get(OnCallFeed, feed_id)
    if feed is None or feed.revoked_at is not None:
        raise NotFound("no such feed", field="feedId")
    unit = None
    if feed.schedule_id is not None:
        try:
            schedule = await schedule_for(uc, feed.schedule_id, "read")
        except NotFound:
            raise NotFound("no such feed", field="feedId") from None
        unit = await unit_code(uc.session, schedule.business_unit_id)
        if feed.created_by != uc.caller.actor:
            uc.caller.access.require("write", "schedule", unit_id=schedule.business_unit_id)
    elif (
        feed.principal_id != uc.caller.principal_id
        and feed.created_by != uc.caller.actor
        and not uc.caller.access.scope("write", "schedule").everywhere
    ):
        raise NotFound("no such feed", field="feedId")
    feed.revoked_at = utcnow()
    feed.revoked_by = uc.caller.actor
    await record(
        uc.session,
        uc.caller,
        "oncall_feed.revoke",
        resource_type="oncall_feed",
        resource_id=feed.id,
        unit=unit,
        payload={"prefix": feed.prefix},
    )
    return feed
