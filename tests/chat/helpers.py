"""Requests signed exactly as Slack and Teams sign them, and a unit to talk about."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr
from strawberry import relay

from govsvc.settings import Settings
from tests.alerts import helpers as alert_helpers
from tests.conftest import GraphQL
from tests.graphql import helpers

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAMS_SECRET = base64.b64encode(b"teams-outgoing-webhook-key-0123456789").decode()


def with_chat_secrets(settings: Settings) -> Settings:
    """The suite's settings, with Slack's signing secret and a Teams webhook token."""
    return settings.model_copy(
        update={
            "slack_signing_secret": SecretStr(SLACK_SECRET),
            "teams_secret": SecretStr(TEAMS_SECRET),
        }
    )


def slack_headers(
    body: bytes, *, secret: str = SLACK_SECRET, at: int | None = None
) -> dict[str, str]:
    """Slack's signature: v0= hex HMAC-SHA256 of "v0:<timestamp>:<body>" under the secret."""
    timestamp = str(int(time.time()) if at is None else at)
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


async def slash(
    http: httpx.AsyncClient,
    text: str,
    *,
    user: str = "kofi.mensah",
    user_id: str = "U0KOFI",
    channel: str = "C0INCIDENT",
    trigger: str | None = None,
    at: int | None = None,
    secret: str = SLACK_SECRET,
) -> httpx.Response:
    body = urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0GOVSVC",
            "channel_id": channel,
            "channel_name": "incident-room",
            "user_id": user_id,
            "user_name": user,
            "command": "/govsvc",
            "text": text,
            "trigger_id": trigger or f"trigger.{time.monotonic_ns()}",
            "response_url": "https://hooks.slack.invalid/commands/1",
        }
    ).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **slack_headers(body, secret=secret, at=at),
    }
    return await http.post("/chat/slack/commands", content=body, headers=headers)


async def slack_event(
    http: httpx.AsyncClient,
    event: dict[str, Any],
    *,
    event_id: str,
    at: int | None = None,
    envelope: dict[str, Any] | None = None,
) -> httpx.Response:
    payload = envelope or {
        "token": "legacy-verification-token",
        "team_id": "T0GOVSVC",
        "api_app_id": "A0GOVSVC",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": event,
    }
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **slack_headers(body, at=at)}
    return await http.post("/chat/slack/events", content=body, headers=headers)


def mention(
    text: str, *, ts: str, user: str = "U0KOFI", channel: str = "C0INCIDENT"
) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@U0GOVSVC> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }


def teams_signature(body: bytes, secret: str = TEAMS_SECRET) -> str:
    """Teams: base64 HMAC-SHA256 of the body under the base64-decoded security token."""
    return base64.b64encode(
        hmac.new(base64.b64decode(secret), body, hashlib.sha256).digest()
    ).decode()


async def teams(
    http: httpx.AsyncClient,
    text: str,
    *,
    name: str = "Kofi Mensah",
    activity_id: str | None = None,
    secret: str = TEAMS_SECRET,
) -> httpx.Response:
    activity = {
        "type": "message",
        "id": activity_id or str(time.monotonic_ns()),
        "timestamp": "2026-12-08T01:00:00.000Z",
        "serviceUrl": "https://smba.trafficmanager.invalid/emea/",
        "channelId": "msteams",
        "from": {
            "id": "29:1abc",
            "name": name,
            "aadObjectId": "6a4c2f7e-0000-4000-8000-00000000k0f1",
        },
        "conversation": {"isGroup": True, "id": "19:incident-room@thread.skype;messageid=1"},
        "recipient": None,
        "textFormat": "plain",
        "text": f"<at>govsvc</at>&nbsp;{text}",
        "channelData": {
            "teamsChannelId": "19:incident-room@thread.skype",
            "channel": {"id": "19:incident-room@thread.skype"},
        },
    }
    body = json.dumps(activity).encode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"HMAC {teams_signature(body, secret)}",
    }
    return await http.post("/chat/teams", content=body, headers=headers)


@dataclass
class Room:
    """A unit with a service, an incident, an alert, and people known by chat handle."""

    unit: str
    incident: str  # global id
    incident_number: int
    alert_number: int
    people: dict[str, str] = field(default_factory=dict)  # handle -> person global id

    @property
    def ref(self) -> str:
        return f"INC-{self.incident_number}"


async def chat_person(
    gql: GraphQL, email: str, handles: list[str], unit_id: str, *roles: str
) -> str:
    created = await gql(
        "mutation($i: PersonCreateInput!) { personCreate(input: $i) {"
        " person { id } errors { code message } } }",
        {
            "i": {
                "email": email,
                "name": email.split("@")[0].replace(".", " ").title(),
                "handles": handles,
            }
        },
    )
    person_id = str(created["personCreate"]["person"]["id"])
    for role in roles:
        granted = await gql(
            "mutation($i: GrantCreateInput!) { grantCreate(input: $i) {"
            " errors { code message } } }",
            {"i": {"principalId": person_id, "role": role, "businessUnitId": unit_id}},
        )
        assert granted["grantCreate"]["errors"] == [], granted
    return person_id


async def room(gql: GraphQL, http: httpx.AsyncClient, code: str, *, alert: bool = True) -> Room:
    unit_id = await helpers.unit(gql, code)
    service_id = await helpers.service(gql, f"{code}-api", unit_id)
    incident = await helpers.incident(
        gql,
        service_id,
        title=f"{code} checkout outage",
        tags=["security", "personal-data-exposure"],
    )
    _, incident_pk = relay.from_base64(incident["id"])
    if not alert:
        return Room(unit_id, incident["id"], int(incident_pk), 0)
    await helpers.service(gql, f"{code}-edge", unit_id, tier=1)
    # The machine policies/alert_sources.yaml names for Alertmanager.
    token = await alert_helpers.machine_token(gql, "alertmanager", unit_id)
    sent = await alert_helpers.post(
        http, token, alert_helpers.batch(alert_helpers.alert("EdgeDown", service=f"{code}-edge"))
    )
    assert sent.status_code == 200, sent.text
    (alert_id,) = sent.json()["alerts"]
    _, alert_pk = relay.from_base64(alert_id)
    return Room(unit_id, incident["id"], int(incident_pk), int(alert_pk))
