"""The body each kind of endpoint expects, built from one event.

Generic receivers and status pages get the event's own JSON with `event_type`,
`idempotency_key` and `occurred_at` added. Slack gets an incoming-webhook message (`text` as
the notification fallback, Block Kit `blocks` for display) built and validated with slack_sdk's
Block Kit models; Teams gets an Adaptive Card in the `attachments` envelope that Teams Workflows
webhooks accept. Chat bodies need `title`, `text`, `severity`, `status` and
`incident_reference`; `url` is optional (no button without it).

A payload a chat platform cannot show is not the enqueuing change's problem: the outbox is
asynchronous, so `render` raises `Unsendable` and the deliverer dead-letters it with the reason.
Only what is wrong with the event itself (a forged envelope) is refused at enqueue time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from govsvc.errors import Invalid
from govsvc.outbox.models import EndpointKind

CHAT_FIELDS = ("title", "text", "severity", "status", "incident_reference")
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


class Unsendable(Exception):
    """This event cannot be shown by this kind of endpoint; retrying would not help."""


def check(kind: EndpointKind, payload: dict[str, Any]) -> None:
    """Refuse an event no endpoint could be sent (it would forge the envelope)."""
    reserved = RESERVED_FIELDS & payload.keys()
    if reserved:
        raise Invalid(f"payload may not set {', '.join(sorted(reserved))}", field="payload")


def render(kind: EndpointKind, event: Event) -> bytes:
    """The exact bytes to POST (and sign); `Unsendable` when this kind cannot show the event."""
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


def _chat_fields(kind: EndpointKind, payload: dict[str, Any]) -> dict[str, str]:
    missing = [f for f in CHAT_FIELDS if not isinstance(payload.get(f), str) or not payload[f]]
    if missing:
        raise Unsendable(f"a {kind.value} message needs text fields {', '.join(missing)}")
    url = payload.get("url") or ""
    if not isinstance(url, str) or (url and urlsplit(url).scheme not in ("http", "https")):
        raise Unsendable("url must be an http(s) link to the incident")
    return {**{f: payload[f] for f in CHAT_FIELDS}, "url": url}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (links, mentions); everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(event: Event) -> dict[str, Any]:
    p = _chat_fields(EndpointKind.SLACK, event.payload)
    summary = f"[{p['severity']}] {p['title']} — {p['status']} ({p['incident_reference']})"

    def field(label: str, value: str) -> MarkdownTextObject:
        return MarkdownTextObject(text=_cut(f"*{label}*\n{_slack_escape(value)}", SLACK_FIELD_MAX))

    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_cut(p["title"], SLACK_HEADER_MAX))),
        SectionBlock(text=MarkdownTextObject(text=_cut(_slack_escape(p["text"]), SLACK_TEXT_MAX))),
        SectionBlock(
            fields=[
                field("Severity", p["severity"]),
                field("Status", p["status"]),
                field("Incident", p["incident_reference"]),
                field("Updated", rfc3339(event.occurred_at)),
            ]
        ),
    ]
    if p["url"]:
        blocks.append(
            ActionsBlock(
                elements=[ButtonElement(text=PlainTextObject(text="View incident"), url=p["url"])]
            )
        )
    try:
        # to_dict validates each block against Slack's rules (lengths, counts, required parts).
        rendered = [block.to_dict() for block in blocks]
    except SlackObjectFormationError as error:
        raise Unsendable(f"Slack would refuse this message: {error}") from None
    return {"text": _cut(_slack_escape(summary), SLACK_TEXT_MAX), "blocks": rendered}


def teams(event: Event) -> dict[str, Any]:
    p = _chat_fields(EndpointKind.TEAMS, event.payload)
    card: dict[str, Any] = {
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
    }
    if p["url"]:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "View incident", "url": p["url"]}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }
