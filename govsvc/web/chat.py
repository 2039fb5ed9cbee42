"""Chat in over plain HTTP, where Slack and Teams post:

POST /chat/slack/commands   a Slack slash command (/govsvc ..., form-encoded)
POST /chat/slack/events     Slack's Events API (JSON): url_verification, commands in messages
                            that mention the app or start with "govsvc", and edits and
                            deletions of recorded messages (message_changed, message_deleted)
POST /chat/teams            a Teams outgoing webhook (JSON activity)

Slack requests are verified with slack_sdk's SignatureVerifier against
GOVSVC_SLACK_SIGNING_SECRET, and refused (401) when the timestamp is more than five minutes
away; Teams requests by HMAC-SHA256 of the body under GOVSVC_TEAMS_SECRET. A verified request
answers 200 with a short text for the chat (a refusal too, with `errors`, so the chat shows
it): the command ran as the person whose handle the chat user is, or nothing was recorded."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from govsvc.auth.authenticate import unauthenticated
from govsvc.chat import service
from govsvc.chat.commands import addressed
from govsvc.chat.models import ChatSource
from govsvc.chat.signatures import verify_slack, verify_teams
from govsvc.errors import Invalid, ServiceError, Unauthenticated
from govsvc.runtime import Runtime
from govsvc.web.errors import read_body, refused, too_large

_TAG = re.compile(r"<(?!at>|/at>)[^>]*>")


class ChatEndpoints:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def slack_command(self, request: Request) -> Response:
        async def handle(body: bytes) -> Response:
            form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
            if form.get("ssl_check") == "1":
                return Response(status_code=200)  # Slack checking the certificate
            user_id, user_name = form.get("user_id", ""), form.get("user_name", "")
            reply = await service.receive_command(
                self.runtime,
                service.Inbound(
                    source=ChatSource.SLACK,
                    channel=_required(form, "channel_id"),
                    message_id=_required(form, "trigger_id"),
                    author=user_name or user_id,
                    author_ids=tuple(i for i in (user_name, user_id) if i),
                    text=form.get("text", ""),
                    request_id=_request_id(request),
                ),
            )
            return JSONResponse(
                {
                    "response_type": "in_channel" if reply.ok else "ephemeral",
                    "text": reply.text,
                    "errors": reply.errors(),
                }
            )

        return await self._slack(request, handle)

    async def slack_event(self, request: Request) -> Response:
        async def handle(body: bytes) -> Response:
            envelope = _json(body)
            if envelope.get("type") == "url_verification":
                return JSONResponse({"challenge": str(envelope.get("challenge", ""))})
            event = envelope.get("event")
            if envelope.get("type") != "event_callback" or not isinstance(event, dict):
                return _ignored("not an event callback")
            event_id = envelope.get("event_id")
            reply = await self._slack_event(
                event, str(event_id) if event_id else None, _request_id(request)
            )
            if reply is None:
                return _ignored("nothing for govsvc in this event")
            return JSONResponse(
                {
                    "ok": reply.ok,
                    "text": reply.text,
                    "replayed": reply.replayed,
                    "ignored": reply.ignored,
                    "errors": reply.errors(),
                }
            )

        return await self._slack(request, handle)

    async def _slack_event(
        self, event: dict[str, Any], event_id: str | None, request_id: str | None
    ) -> service.Reply | None:
        kind, subtype = event.get("type"), event.get("subtype")
        channel = str(event.get("channel") or "")
        if kind != "message" and kind != "app_mention":
            return None
        if subtype in {"message_changed", "message_deleted"}:
            if subtype == "message_changed":
                changed = event.get("message")
                if not isinstance(changed, dict):
                    return None
                original, text = str(changed.get("ts") or ""), str(changed.get("text") or "")
                author = str(changed.get("user") or "")
            else:
                original, text, author = str(event.get("deleted_ts") or ""), None, ""
            own_id = str(event.get("event_ts") or event.get("ts") or "")
            if not (channel and original and own_id):
                return None
            return await service.receive_change(
                self.runtime,
                service.Change(
                    source=ChatSource.SLACK,
                    channel=channel,
                    original_message_id=original,
                    message_id=own_id,
                    event_id=event_id,
                    text=text,
                    author_ids=(author,) if author else (),
                    request_id=request_id,
                ),
            )
        text = str(event.get("text") or "")
        if subtype is not None or event.get("bot_id") or not (channel and event.get("ts")):
            return None  # bots (our own replies included), joins, topics...
        if kind == "message" and not addressed(text):
            return None  # people talking among themselves
        user = str(event.get("user") or "")
        return await service.receive_command(
            self.runtime,
            service.Inbound(
                source=ChatSource.SLACK,
                channel=channel,
                message_id=str(event["ts"]),
                author=user,
                author_ids=(user,) if user else (),
                text=text,
                event_id=event_id,
                request_id=request_id,
            ),
        )

    async def teams(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            if body is None:
                return too_large(self.runtime.settings.chat_max_bytes)
            verify_teams(
                self.runtime.settings.teams_secret.get_secret_value(),
                body=body,
                authorization=request.headers.get("authorization"),
            )
            activity = _json(body)
            found = activity.get("from")
            sender: dict[str, Any] = found if isinstance(found, dict) else {}
            name = str(sender.get("name") or "")
            ids = [name, name.replace(" ", "."), sender.get("aadObjectId"), sender.get("id")]
            reply = await service.receive_command(
                self.runtime,
                service.Inbound(
                    source=ChatSource.TEAMS,
                    channel=_teams_channel(activity),
                    message_id=_required(activity, "id"),
                    author=name or str(sender.get("id") or ""),
                    author_ids=tuple(dict.fromkeys(str(i) for i in ids if i)),
                    text=html.unescape(_TAG.sub("", str(activity.get("text") or ""))),
                    request_id=_request_id(request),
                ),
            )
        except Unauthenticated as error:
            return unauthenticated(error)
        except ServiceError as error:
            return refused(error)
        return JSONResponse({"type": "message", "text": reply.text, "errors": reply.errors()})

    async def _slack(self, request: Request, handle: Any) -> Response:
        try:
            body = await self._body(request)
            if body is None:
                return too_large(self.runtime.settings.chat_max_bytes)
            verify_slack(
                self.runtime.settings.slack_signing_secret.get_secret_value(),
                body=body,
                timestamp=request.headers.get("x-slack-request-timestamp"),
                signature=request.headers.get("x-slack-signature"),
            )
            response: Response = await handle(body)
        except Unauthenticated as error:
            return unauthenticated(error)
        except ServiceError as error:
            return refused(error)
        return response

    async def _body(self, request: Request) -> bytes | None:
        limit = self.runtime.settings.chat_max_bytes
        if int(request.headers.get("content-length") or 0) > limit:
            return None
        return await read_body(request, limit)


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("the body is not JSON", field="body") from None
    if not isinstance(parsed, dict):
        raise Invalid("the body is not a JSON object", field="body")
    return parsed


def _required(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if not value or not isinstance(value, str | int):
        raise Invalid(f"missing {name}", field=name)
    return str(value)[:200]


def _teams_channel(activity: dict[str, Any]) -> str:
    data = activity.get("channelData")
    if isinstance(data, dict):
        channel = data.get("channel")
        if isinstance(channel, dict) and channel.get("id"):
            return str(channel["id"])[:200]
        if data.get("teamsChannelId"):
            return str(data["teamsChannelId"])[:200]
    conversation = activity.get("conversation")
    if isinstance(conversation, dict) and conversation.get("id"):
        # A reply chain's id carries the root message: the channel is the part before it.
        return str(conversation["id"]).split(";", 1)[0][:200]
    raise Invalid("missing conversation", field="conversation")


def _ignored(why: str) -> Response:
    return JSONResponse({"ok": True, "ignored": True, "text": why, "errors": []})


def _request_id(request: Request) -> str | None:
    state: dict[str, Any] = request.scope.get("state", {})
    value = state.get("request_id")
    return str(value) if value is not None else None
