"""The body each kind of endpoint expects, built from one event.

Generic receivers and status pages get the event's own JSON with `event_type`,
`idempotency_key` and `occurred_at` added. Slack gets an incoming-webhook message (`text` as
the notification fallback, Block Kit `blocks` for display); Teams gets an Adaptive Card in the
`attachments` envelope that Teams Workflows webhooks accept. Chat bodies need a payload with
`title`, `text`, `severity`, `status`, `incident_reference` and `url`; `check` refuses others
when the event is enqueued, rather than dead-lettering them later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from govsvc.errors import Invalid
from govsvc.outbox.models import EndpointKind

CHAT_FIELDS = ("title", "text", "severity", "status", "incident_reference", "url")
RESERVED_FIELDS = frozenset({"event_type", "idempotency_key", "occurred_at"})
# Limits of the receiving platforms; longer text is cut rather than refused by them.
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FIELD_MAX = 2000
TEAMS_TEXT_MAX = 4000
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class Event:
    event_type: str
    idempotency_key: str
    occurred_at: datetime
    payload: dict[str, Any]


def canonical_json(value: Any) -> str:
    """One text per value (sorted keys, no spaces, no NaN), so every retry sends the same bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check(kind: EndpointKind, payload: dict[str, Any]) -> None:
    """Refuse a payload this kind of endpoint could never be sent."""
    reserved = RESERVED_FIELDS & payload.keys()
    if reserved:
        raise Invalid(f"payload may not set {', '.join(sorted(reserved))}", field="payload")
    if kind in (EndpointKind.SLACK, EndpointKind.TEAMS):
        missing = [f for f in CHAT_FIELDS if not isinstance(payload.get(f), str) or not payload[f]]
        if missing:
            raise Invalid(
                f"a {kind.value} message needs text fields {', '.join(missing)}", field="payload"
            )
        if urlsplit(payload["url"]).scheme not in ("http", "https"):
            raise Invalid("url must be an http(s) link to the incident", field="payload")


def render(kind: EndpointKind, event: Event) -> bytes:
    """The exact bytes to POST (and sign)."""
    body: dict[str, Any]
    if kind is EndpointKind.SLACK:
        body = slack(event)
    elif kind is EndpointKind.TEAMS:
        body = teams(event)
    else:
        body = {
            **event.payload,
            "event_type": event.event_type,
            "idempotency_key": event.idempotency_key,
            "occurred_at": rfc3339(event.occurred_at),
        }
    return canonical_json(body).encode()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (links, mentions); everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: Event) -> dict[str, Any]:
    p = event.payload
    summary = f"[{p['severity']}] {p['title']} — {p['status']} ({p['incident_reference']})"

    def field(label: str, value: str) -> dict[str, str]:
        return {
            "type": "mrkdwn",
            "text": _cut(f"*{label}*\n{_slack_escape(value)}", SLACK_FIELD_MAX),
        }

    return {
        "text": _cut(_slack_escape(summary), SLACK_TEXT_MAX),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _cut(p["title"], SLACK_HEADER_MAX)},
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(_slack_escape(p["text"]), SLACK_TEXT_MAX)},
            },
            {
                "type": "section",
                "fields": [
                    field("Severity", p["severity"]),
                    field("Status", p["status"]),
                    field("Incident", p["incident_reference"]),
                    field("Updated", rfc3339(event.occurred_at)),
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View incident"},
                        "url": p["url"],
                    }
                ],
            },
        ],
    }


def teams(event: Event) -> dict[str, Any]:
    p = event.payload
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": p["title"],
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": _cut(p["text"], TEAMS_TEXT_MAX), "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Severity", "value": p["severity"]},
                    {"title": "Status", "value": p["status"]},
                    {"title": "Incident", "value": p["incident_reference"]},
                    {"title": "Updated", "value": rfc3339(event.occurred_at)},
                ],
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "View incident", "url": p["url"]}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }
