"""Signals out of request bodies: Alertmanager's webhook (version 4) exactly as it sends it, and
any tool's JSON through its source's JMESPath mapping. Pure parsing: a bad payload is refused
whole, naming the field, before anything is stored."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from govsvc.alerts.models import AlertStatus, Perspective
from govsvc.alerts.sources import AlertSource, search
from govsvc.audit.chain import canonical_json
from govsvc.errors import Invalid
from govsvc.text_input import first_unstorable

MAX_ALERTS = 10_000
_ZERO_TIME = "0001-01-01T00:00:00Z"
_FRACTION = re.compile(r"(\.\d{6})\d+")
_SEVERITY_WORDS = {
    "critical": "critical",
    "page": "critical",
    "error": "critical",
    "high": "critical",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}
_LIMITS = {"fingerprint": 200, "rule": 200, "location": 200, "generatorURL": 2000}


@dataclass(frozen=True)
class Signal:
    fingerprint: str
    rule_name: str
    status: AlertStatus
    severity: str
    perspective: str
    location: str | None
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    received: str  # the alert element as received, canonical JSON


def _time(value: Any, field: str) -> datetime | None:
    if value is None or value == "" or value == _ZERO_TIME:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise Invalid("not a time in epoch seconds", field=field) from None
    if not isinstance(value, str):
        raise Invalid("expected an RFC 3339 time", field=field)
    try:
        # Go writes nanoseconds; Python keeps microseconds.
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        raise Invalid(f"not an RFC 3339 time: {value[:40]!r}", field=field) from None
    if parsed.tzinfo is None:
        raise Invalid("a time needs a UTC offset", field=field)
    if parsed.year < 1970:
        return None  # Go's zero time in another spelling: "not set"
    return parsed.astimezone(UTC)


def _string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid("expected an object of names to strings", field=field)
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > 200:
            raise Invalid("names are strings of at most 200 characters", field=field)
        if isinstance(item, dict | list):
            raise Invalid(f"{key!r} must be a plain value", field=f"{field}.{key}")
        out[key] = (
            "" if item is None else str(item).lower() if isinstance(item, bool) else str(item)
        )
    return out


def _severity(word: str | None) -> str:
    return _SEVERITY_WORDS.get((word or "").strip().lower(), "warning")


def _perspective(value: str | None, default: Perspective) -> str:
    try:
        return Perspective((value or "").strip().lower()).value
    except ValueError:
        return default.value


def _bounded(values: dict[str, str | None], where: str) -> None:
    for name, value in values.items():
        limit = _LIMITS[name]
        if value is not None and len(value) > limit:
            raise Invalid(f"longer than {limit} characters", field=f"{where}.{name}")


def _label_fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(canonical_json(labels).encode()).hexdigest()[:16]


def _checked_text(document: Any) -> None:
    bad = first_unstorable(document)
    if bad is not None:
        raise Invalid("text must not contain NUL characters or unpaired surrogates", field=bad)


def parse_alertmanager(body: Any, source: AlertSource) -> list[Signal]:
    """Alertmanager's webhook payload, version 4."""
    if not isinstance(body, dict):
        raise Invalid("expected Alertmanager's webhook object", field="body")
    _checked_text(body)
    if str(body.get("version")) != "4":
        raise Invalid(
            "only version 4 of Alertmanager's webhook payload is understood", field="version"
        )
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise Invalid("expected a list of alerts", field="alerts")
    if len(alerts) > MAX_ALERTS:
        raise Invalid(f"at most {MAX_ALERTS} alerts per payload", field="alerts")
    common = _string_map(body.get("commonLabels"), "commonLabels")
    signals = []
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(alert, dict):
            raise Invalid("expected an alert object", field=where)
        labels = {**common, **_string_map(alert.get("labels"), f"{where}.labels")}
        if not labels:
            raise Invalid("an alert needs labels", field=f"{where}.labels")
        annotations = _string_map(alert.get("annotations"), f"{where}.annotations")
        status = alert.get("status", body.get("status"))
        if status not in ("firing", "resolved"):
            raise Invalid("status is firing or resolved", field=f"{where}.status")
        fingerprint = alert.get("fingerprint") or _label_fingerprint(labels)
        generator = alert.get("generatorURL") or None
        if not isinstance(fingerprint, str) or (
            generator is not None and not isinstance(generator, str)
        ):
            raise Invalid("fingerprint and generatorURL are strings", field=where)
        rule = labels.get("alertname", "unnamed")
        location = labels.get("location") or labels.get("region") or None
        _bounded(
            {
                "fingerprint": fingerprint,
                "rule": rule,
                "location": location,
                "generatorURL": generator,
            },
            where,
        )
        signals.append(
            Signal(
                fingerprint=fingerprint,
                rule_name=rule,
                status=AlertStatus(status),
                severity=_severity(labels.get("severity")),
                perspective=_perspective(labels.get("perspective"), source.perspective),
                location=location,
                summary=annotations.get("summary")
                or annotations.get("description")
                or annotations.get("message")
                or rule,
                labels=labels,
                annotations=annotations,
                generator_url=generator,
                starts_at=_time(alert.get("startsAt"), f"{where}.startsAt"),
                ends_at=_time(alert.get("endsAt"), f"{where}.endsAt"),
                received=canonical_json(alert),
            )
        )
    return signals


def parse_generic(body: Any, source: AlertSource) -> list[Signal]:
    """Any tool's JSON, through the source's mapping."""
    mapping = source.mapping
    if mapping is None:  # the loader refuses such a source; a payload cannot repair it
        raise Invalid(f"source {source.name} has no mapping", field="source")
    if not isinstance(body, dict | list):
        raise Invalid("expected a JSON object or list", field="body")
    _checked_text(body)
    items = body if mapping.alerts is None and isinstance(body, list) else None
    if items is None:
        selected = search(mapping.alerts, body) if mapping.alerts else body
        items = selected if isinstance(selected, list) else [selected] if selected else None
    if not items:
        raise Invalid(f"the mapping's alerts ({mapping.alerts!r}) selects nothing", field="alerts")
    if len(items) > MAX_ALERTS:
        raise Invalid(f"at most {MAX_ALERTS} alerts per payload", field="alerts")
    signals = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]"
        key = search(mapping.dedup_key, item)
        if key is None or isinstance(key, dict | list) or key == "":
            raise Invalid(
                f"the mapping's dedup_key ({mapping.dedup_key!r}) finds nothing", field=where
            )
        summary = search(mapping.summary, item)
        if not isinstance(summary, str) or not summary.strip():
            raise Invalid(f"the mapping's summary ({mapping.summary!r}) finds no text", field=where)
        state = str(search(mapping.status, item))
        if state in mapping.firing_values:
            status = AlertStatus.FIRING
        elif state in mapping.resolved_values:
            status = AlertStatus.RESOLVED
        else:
            known = ", ".join((*mapping.firing_values, *mapping.resolved_values))
            raise Invalid(f"status {state[:40]!r} is not one of {known}", field=f"{where}.status")
        labels = _string_map(search(mapping.labels, item), f"{where}.labels")
        service = search(mapping.service, item)
        if service is not None:
            labels["service"] = str(service)
        word = search(mapping.severity, item)
        word = None if word is None else str(word)
        severity = mapping.severity_values.get(word or "") or _severity(word)
        rule = str(search(mapping.rule, item) or source.name)
        location = search(mapping.location, item)
        location = None if location is None else str(location)
        fingerprint = str(key)
        _bounded({"fingerprint": fingerprint, "rule": rule, "location": location}, where)
        when = _time(search(mapping.time, item), f"{where}.time")
        signals.append(
            Signal(
                fingerprint=fingerprint,
                rule_name=rule,
                status=status,
                severity=severity,
                perspective=_perspective(search(mapping.perspective, item), source.perspective),
                location=location,
                summary=summary.strip()[:2000],
                labels=labels,
                annotations={},
                generator_url=None,
                starts_at=when if status is AlertStatus.FIRING else None,
                ends_at=when if status is AlertStatus.RESOLVED else None,
                received=canonical_json(item),
            )
        )
    return signals


def parse(body: Any, source: AlertSource) -> list[Signal]:
    return (
        parse_alertmanager(body, source)
        if source.kind == "alertmanager"
        else parse_generic(body, source)
    )
