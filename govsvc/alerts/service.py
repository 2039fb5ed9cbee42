"""What people do to alerts: acknowledge them (the time from firing to acknowledgement is
kept), mark them as noise (what `alertRuleNoise` ranks rules by), and route one the routing
rules could not place."""

from __future__ import annotations

from govsvc import validation
from govsvc.alerts import detect
from govsvc.alerts.models import Alert, AlertEvent, AlertStatus, Detection
from govsvc.alerts.queries import alert_for
from govsvc.audit.log import record
from govsvc.db import ALERT_PIPELINE_LOCK, one_writer_at_a_time, utcnow
from govsvc.errors import Conflict
from govsvc.incidents.common import unit_code_or_none
from govsvc.org import service as org_service
from govsvc.usecase import UseCase


async def _audit(uc: UseCase, alert: Alert, action: str, payload: dict[str, object]) -> None:
    await record(
        uc.session,
        uc.caller,
        action,
        resource_type="alert",
        resource_id=alert.id,
        unit=await unit_code_or_none(uc.session, alert.business_unit_id),
        payload={"source": alert.source, "fingerprint": alert.fingerprint, **payload},
    )


async def acknowledge(uc: UseCase, *, alert_id: int, note: str = "") -> Alert:
    """Someone has seen this alert's current firing and is on it."""
    note = validation.text(note, field="note", max_length=2000, allow_empty=True)
    alert = await alert_for(uc, alert_id, "acknowledge")
    if alert.status != AlertStatus.FIRING.value:
        raise Conflict("the alert is resolved: there is nothing to acknowledge", field="alertId")
    if alert.acknowledged_at is not None:
        raise Conflict(
            f"already acknowledged by {alert.acknowledged_by} at {alert.acknowledged_at:%H:%M:%S}Z",
            field="alertId",
        )
    now = utcnow()
    alert.acknowledged_at = now
    alert.acknowledged_by = uc.caller.actor
    alert.ack_seconds = max(0, int((now - alert.fired_at).total_seconds()))
    uc.session.add(
        AlertEvent.about(
            alert,
            "acknowledged",
            f"by {uc.caller.actor} after {alert.ack_seconds} s" + (f": {note}" if note else ""),
            now,
        )
    )
    await _audit(uc, alert, "alert.acknowledge", {"ack_seconds": alert.ack_seconds, "note": note})
    return alert


async def mark_noise(uc: UseCase, *, alert_id: int, reason: str) -> Alert:
    """Record that this alert told nobody anything useful, and why (for tuning its rule)."""
    reason = validation.text(reason, field="reason", max_length=2000)
    alert = await alert_for(uc, alert_id, "mark_noise")
    if alert.noise:
        raise Conflict("already marked as noise", field="alertId")
    alert.noise = True
    alert.noise_reason = reason
    uc.session.add(AlertEvent.about(alert, "noise", f"by {uc.caller.actor}: {reason}", utcnow()))
    await _audit(uc, alert, "alert.mark_noise", {"reason": reason})
    return alert


async def route_alert(uc: UseCase, *, alert_id: int, service_id: int) -> Alert:
    """Place an unrouted alert on a service by hand (an administrator's act), then let
    detection decide it as if it had been routed on arrival."""
    await one_writer_at_a_time(uc.session, ALERT_PIPELINE_LOCK)  # detection runs, as on arrival
    alert = await alert_for(uc, alert_id, "route")
    uc.caller.access.require_everywhere("route", "alert")
    if alert.service_id is not None:
        raise Conflict("the alert is already routed to a service", field="alertId")
    service = await org_service.get_service(uc.session, uc.caller, service_id, field="serviceId")
    now = utcnow()
    alert.service_id = service.id
    alert.business_unit_id = service.business_unit_id
    alert.route = "manual"
    alert.detection = (
        Detection.PENDING.value
        if alert.status == AlertStatus.FIRING.value
        else Detection.RESOLVED.value
    )
    uc.session.add(
        AlertEvent.about(alert, "routed", f"to {service.code} by {uc.caller.actor}", now)
    )
    await _audit(uc, alert, "alert.route", {"service": service.code})
    info = detect.ServiceInfo(service.id, service.code, service.tier, service.business_unit_id)
    await detect.evaluate(uc, [alert], services_by_id={service.id: info}, now=now)
    return alert
