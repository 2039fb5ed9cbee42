"""Who reads which audience's status updates: decided by policies/policy.csv (resource type
`status_update.<audience>`; `read` for published updates, `read_draft` for the rest, `write` to
draft one), applied in SQL so an update the caller may not read looks exactly like a missing one.

Reading an update also needs reading its incident; every query here joins the incident and
filters it by the caller's incident scope as well, so callers need not remember to.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, or_, select

from govsvc.authz.access import Access, readable
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.comms.models import Audience, StatusUpdate, UpdateState
from govsvc.errors import Forbidden
from govsvc.incidents.models import Incident

RESOURCE_PREFIX = "status_update."


def resource(audience: Audience | str) -> str:
    return RESOURCE_PREFIX + Audience(audience).value


def read_action(state: str) -> str:
    """Published updates are read with `read`; drafts, rejections and withdrawals with
    `read_draft` (they were never sent to their audience)."""
    return "read" if state == UpdateState.PUBLISHED.value else "read_draft"


def readable_updates(access: Access) -> ColumnElement[bool]:
    """The WHERE clause (over StatusUpdate joined to Incident) of every update the caller may
    read: per audience, per state, per unit, and only on incidents they may read."""
    published = StatusUpdate.state == UpdateState.PUBLISHED.value
    by_audience = [
        and_(
            StatusUpdate.audience == audience.value,
            or_(
                and_(
                    published,
                    access.scope("read", resource(audience)).where(Incident.business_unit_id),
                ),
                and_(
                    ~published,
                    access.scope("read_draft", resource(audience)).where(Incident.business_unit_id),
                ),
            ),
        )
        for audience in Audience
    ]
    return and_(
        or_(*by_audience),
        readable(access, "incident", Incident.business_unit_id, Incident.sensitivity),
    )


def select_readable(caller: Caller) -> Select[StatusUpdate]:
    """SELECT status updates, already limited to those the caller may read."""
    return (
        select(StatusUpdate)
        .join(Incident, Incident.id == StatusUpdate.incident_id)
        .where(readable_updates(caller.access))
    )


def may_read(caller: Caller, update: StatusUpdate, incident: Incident) -> bool:
    """The single-object form of `readable_updates` (the incident is already readable)."""
    return caller.access.allows(
        read_action(update.state),
        resource(update.audience),
        unit_id=incident.business_unit_id,
        sensitivity=Sensitivity(incident.sensitivity),
    )


def require_write(caller: Caller, audience: Audience, incident: Incident) -> None:
    """Drafting an update for this audience on this incident."""
    if not caller.access.allows(
        "write",
        resource(audience),
        unit_id=incident.business_unit_id,
        sensitivity=Sensitivity(incident.sensitivity),
    ):
        raise Forbidden(f"not allowed to write {audience.value} status updates here")
