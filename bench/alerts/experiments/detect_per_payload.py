"""EXPERIMENT, not a fix: `govsvc serve` with detection's per-alert queries done per payload.

    .venv/bin/python bench/alerts/run.py \
        --server-wrapper bench/alerts/experiments/detect_per_payload.py

What it patches in govsvc.alerts.detect (see bench/alerts/README.md, findings 1 and 2):

1. `_correlated` is answered once per service per `evaluate` call (one payload, under the
   alert pipeline lock) instead of once per alert: a storm batch of 100 alerts on one service
   ran `related_services` (one query per hop) and the open-incident query 100 times.
2. `_waiting_beside` only brings back pending alerts whose rule has a corroboration condition:
   a new signal can only change the decision of those; duration-only pending alerts (e.g. a
   tier-1 warning waiting its 300 s) are left to the worker's tick instead of being loaded and
   re-decided with every payload that touches their service.
"""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import select

from govsvc.alerts import detect
from govsvc.alerts.models import Alert, AlertStatus, Detection

_evaluate = detect.evaluate
_correlated = detect._correlated
_CACHE: dict[int, dict[int, Any]] = {}


async def _correlated_once(uc: Any, service: Any, *, now: Any) -> Any:
    # `service` is a ServiceInfo in newer trees, a service id in older ones.
    key = getattr(service, "id", service)
    per_session = _CACHE.setdefault(id(uc.session), {})
    if key not in per_session:
        per_session[key] = await _correlated(uc, service, now=now)
    return per_session[key]


async def _evaluate_scoped(uc: Any, *args: Any, **kwargs: Any) -> int:
    _CACHE[id(uc.session)] = {}
    try:
        return await _evaluate(uc, *args, **kwargs)
    finally:
        _CACHE.pop(id(uc.session), None)


async def _waiting_beside(uc: Any, alerts: Any) -> list[Alert]:
    rules = [r.id for r in uc.policies.alerts.detection.current.version.rules if r.corroboration]
    ids = {a.id for a in alerts}
    services = {a.service_id for a in alerts if a.service_id is not None}
    if not services or not rules:
        return []
    rows = await uc.session.execute(
        select(Alert).where(
            Alert.service_id.in_(services),
            Alert.status == AlertStatus.FIRING.value,
            Alert.detection == Detection.PENDING.value,
            Alert.detection_rule.in_(rules),
        )
    )
    return [a for a in rows.scalars() if a.id not in ids]


detect._correlated = _correlated_once
detect.evaluate = _evaluate_scoped
detect._waiting_beside = _waiting_beside

if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
