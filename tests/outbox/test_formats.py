"""Bodies per endpoint kind: the event as is for generic hooks, Slack and Teams webhook shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from govsvc.errors import Invalid
from govsvc.outbox import formats
from govsvc.outbox.models import EndpointKind
from tests.outbox.helpers import CHAT_PAYLOAD

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _event(payload: dict[str, Any] | None = None) -> formats.Event:
    return formats.Event("incident.status_changed", "inc-42-v3", AT, payload or CHAT_PAYLOAD)


@pytest.mark.parametrize("kind", [EndpointKind.GENERIC, EndpointKind.STATUS_PAGE])
def test_generic_and_status_page_bodies_are_the_payload_plus_the_envelope(
    kind: EndpointKind,
) -> None:
    # when
    body = formats.render(kind, _event({"incident": 42, "note": "naïve ✓"}))
    # then
    assert json.loads(body) == {
        "incident": 42,
        "note": "naïve ✓",
        "event_type": "incident.status_changed",
        "idempotency_key": "inc-42-v3",
        "occurred_at": "2026-03-01T09:30:15.123Z",
    }
    # and the bytes are canonical: every retry signs and sends exactly the same
    assert body == formats.render(kind, _event({"note": "naïve ✓", "incident": 42}))
    assert b" " not in body.replace("naïve ✓".encode(), b"")


def test_a_slack_body_is_an_incoming_webhook_message() -> None:
    # when
    body = json.loads(formats.render(EndpointKind.SLACK, _event()))
    # then: a plain-text fallback and Block Kit blocks, nothing else
    assert set(body) == {"text", "blocks"}
    assert body["text"] == ("[SEV2] Payments API degraded — investigating (INC-2026-0042)")
    header, summary, facts, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Payments API degraded"},
    }
    assert summary["type"] == "section"
    assert summary["text"]["type"] == "mrkdwn"
    # Slack's control characters are escaped, so a payload cannot inject links or mentions
    assert summary["text"]["text"] == (
        "Card payments fail for some customers in the EU. &lt;b&gt;We are on it&lt;/b&gt; "
        "&amp; updating."
    )
    assert [f["text"] for f in facts["fields"]] == [
        "*Severity*\nSEV2",
        "*Status*\ninvestigating",
        "*Incident*\nINC-2026-0042",
        "*Updated*\n2026-03-01T09:30:15.123Z",
    ]
    assert actions["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "View incident"},
            "url": "https://status.example.com/incidents/42",
        }
    ]


def test_slack_limits_are_respected() -> None:
    # given a title and text longer than Slack accepts
    payload = {**CHAT_PAYLOAD, "title": "T" * 400, "text": "x" * 5000}
    # when
    body = json.loads(formats.render(EndpointKind.SLACK, _event(payload)))
    # then they are cut, visibly, instead of being refused by Slack
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert body["blocks"][0]["text"]["text"].endswith("…")
    assert len(body["blocks"][1]["text"]["text"]) == 3000


def test_a_teams_body_is_an_adaptive_card_in_the_attachments_envelope() -> None:
    # when
    body = json.loads(formats.render(EndpointKind.TEAMS, _event()))
    # then
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["version"] == "1.4"
    title, text, facts = card["body"]
    assert (title["type"], title["text"], title["weight"]) == (
        "TextBlock",
        "Payments API degraded",
        "Bolder",
    )
    assert text["text"] == CHAT_PAYLOAD["text"]
    assert text["wrap"] is True
    assert facts["type"] == "FactSet"
    assert {f["title"]: f["value"] for f in facts["facts"]} == {
        "Severity": "SEV2",
        "Status": "investigating",
        "Incident": "INC-2026-0042",
        "Updated": "2026-03-01T09:30:15.123Z",
    }
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "View incident",
            "url": "https://status.example.com/incidents/42",
        }
    ]


@pytest.mark.parametrize("kind", [EndpointKind.SLACK, EndpointKind.TEAMS])
@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"title": None}, "title"),
        ({"severity": ""}, "severity"),
        ({"status": 3}, "status"),
        ({"url": "javascript:alert(1)"}, "http(s)"),
    ],
)
def test_chat_payloads_without_their_fields_are_unsendable(
    kind: EndpointKind, change: dict[str, Any], complaint: str
) -> None:
    # given
    payload = {k: v for k, v in {**CHAT_PAYLOAD, **change}.items() if v is not None}
    # when
    with pytest.raises(formats.Unsendable) as refused:
        formats.render(kind, _event(payload))
    # then
    assert complaint in str(refused.value)


def test_generic_payloads_are_free_form_but_may_not_forge_the_envelope() -> None:
    # when / then
    formats.check(EndpointKind.GENERIC, {"anything": [1, 2, 3]})
    with pytest.raises(Invalid, match="idempotency_key"):
        formats.check(EndpointKind.GENERIC, {"idempotency_key": "mine"})
