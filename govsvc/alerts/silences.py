"""Silences and maintenance windows: for a service, a label matcher, or both, from a start to an
end, with who and why. They stop pages, never the record: matching alerts are still stored,
routed, correlated and linked, and each suppressed page says which silence held it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select

from govsvc import validation
from govsvc.alerts.matchers import Matcher
from govsvc.alerts.models import Silence
from govsvc.alerts.queries import silences_visible
from govsvc.audit.log import record
from govsvc.db import utcnow
from govsvc.errors import Conflict, Invalid, NotFound
from govsvc.incidents.common import unit_code_or_none
from govsvc.org import service as org_service
from govsvc.usecase import UseCase

KINDS = ("silence", "maintenance")
MAX_LENGTH = timedelta(days=90)
MAX_MATCHERS = 20


def _matchers(given: Sequence[tuple[str, str, str]]) -> list[Matcher]:
    if len(given) > MAX_MATCHERS:
        raise Invalid(f"at most {MAX_MATCHERS} matchers", field="matchers")
    out = []
    for index, (label, op, value) in enumerate(given):
        try:
            out.append(Matcher(label, op, value))  # type: ignore[arg-type]  # checked inside
        except ValueError as error:
            raise Invalid(str(error), field=f"matchers.{index}") from None
    return out


async def create_silence(
    uc: UseCase,
    *,
    kind: str,
    service_id: int | None,
    matchers: Sequence[tuple[str, str, str]],
    starts_at: datetime | None,
    ends_at: datetime,
    reason: str,
) -> Silence:
    """Silence pages for a service (the caller may write silences in its unit), or for label
    matchers across every unit (a grant covering every unit)."""
    if kind not in KINDS:
        raise Invalid("kind is silence or maintenance", field="kind")
    reason = validation.text(reason, field="reason", max_length=2000)
    parsed = _matchers(matchers)
    now = utcnow()
    start = starts_at or now
    if ends_at <= start:
        raise Invalid("must be after the start", field="endsAt")
    if ends_at <= now:
        raise Invalid("must be in the future", field="endsAt")
    if ends_at - start > MAX_LENGTH:
        raise Invalid("a silence lasts at most 90 days: renew it when needed", field="endsAt")
    unit_id = None
    if service_id is not None:
        service = await org_service.get_service(
            uc.session, uc.caller, service_id, field="serviceId"
        )
        unit_id = service.business_unit_id
        uc.caller.access.require("write", "alert_silence", unit_id=unit_id)
    else:
        if not parsed:
            raise Invalid("name a service or at least one matcher", field="matchers")
        uc.caller.access.require_everywhere("write", "alert_silence")
    silence = Silence(
        kind=kind,
        service_id=service_id,
        business_unit_id=unit_id,
        matchers=json.dumps([m.as_dict() for m in parsed]),
        starts_at=start,
        ends_at=ends_at,
        reason=reason,
        created_by=uc.caller.actor,
        created_at=now,
    )
    uc.session.add(silence)
    await uc.session.flush()
    await record(
        uc.session,
        uc.caller,
        "alert.silence_create",
        resource_type="alert_silence",
        resource_id=silence.id,
        unit=await unit_code_or_none(uc.session, unit_id),
        payload={
            "kind": kind,
            "service_id": service_id,
            "matchers": [str(m) for m in parsed],
            "starts_at": start,
            "ends_at": ends_at,
            "reason": reason,
        },
    )
    return silence


async def cancel_silence(uc: UseCase, *, silence_id: int) -> Silence:
    """End a silence now; the record keeps when it was cancelled and by whom."""
    silence = (
        await uc.session.execute(
            select(Silence).where(Silence.id == silence_id, silences_visible(uc.caller))
        )
    ).scalar_one_or_none()
    if silence is None:
        raise NotFound("no such silence", field="silenceId")
    if silence.business_unit_id is None:
        uc.caller.access.require_everywhere("write", "alert_silence")
    else:
        uc.caller.access.require("write", "alert_silence", unit_id=silence.business_unit_id)
    now = utcnow()
    if silence.cancelled_at is not None or silence.ends_at <= now:
        raise Conflict("the silence is already over", field="silenceId")
    silence.cancelled_at = now
    silence.cancelled_by = uc.caller.actor
    await record(
        uc.session,
        uc.caller,
        "alert.silence_cancel",
        resource_type="alert_silence",
        resource_id=silence.id,
        unit=await unit_code_or_none(uc.session, silence.business_unit_id),
        payload={"kind": silence.kind},
    )
    return silence
