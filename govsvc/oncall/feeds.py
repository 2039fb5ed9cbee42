"""Calendar feeds (RFC 5545, built with `icalendar`): the next 60 days of a schedule's shifts,
or of one person's on every schedule. The URL's token is the only credential a calendar app
can keep, so it is random, stored as a keyed hash, and revocable; an unknown or revoked token
reads exactly like a missing page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select

from govsvc.db import utcnow
from govsvc.errors import NotFound
from govsvc.oncall.models import OnCallFeed
from govsvc.oncall.queries import feed_shifts
from govsvc.oncall.schedules import FEED_PREFIX, feed_hash
from govsvc.org.models import Principal
from govsvc.usecase import UseCase

HORIZON = timedelta(days=60)
PRODID = "-//govsvc//on-call//EN"


async def calendar(uc: UseCase, *, token: str, now: datetime | None = None) -> bytes:
    """The ICS document for a feed token; NotFound for an unknown or revoked one."""
    if not token.startswith(FEED_PREFIX) or len(token) > 100:
        raise NotFound("no such feed")
    hashed = feed_hash(uc.settings.secret_key.get_secret_value(), token)
    feed = (
        await uc.session.execute(select(OnCallFeed).where(OnCallFeed.token_hash == hashed))
    ).scalar_one_or_none()
    if feed is None or feed.revoked_at is not None:
        raise NotFound("no such feed")
    start = (now or utcnow()).replace(microsecond=0)
    found = await feed_shifts(
        uc.session,
        schedule_id=feed.schedule_id,
        person_id=feed.principal_id,
        start=start,
        end=start + HORIZON,
    )
    names = dict(
        (
            await uc.session.execute(
                select(Principal.id, Principal.name).where(
                    Principal.id.in_({f.shift.person_id for f in found})
                )
            )
        ).all()
    )
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call ({'schedule' if feed.schedule_id else 'person'} feed)")
    stamp = start.astimezone(UTC)
    for item in found:
        shift = item.shift
        event = Event()
        source = f"override #{shift.override_id}" if shift.override_id else f"layer {shift.layer}"
        person = names.get(shift.person_id, f"person #{shift.person_id}")
        event.add(
            "uid",
            f"oncall-{item.schedule_id}-{shift.person_id}-{int(shift.start.timestamp())}@govsvc",
        )
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {person} ({item.schedule_name})")
        event.add("description", f"{item.schedule_name}, {source}")
        cal.add_component(event)
    body: bytes = cal.to_ical()
    return body
