"""Chat in, through real signed requests: Slack slash commands and Events API, Teams outgoing
webhooks. Every command runs as the person the chat handle names; refusals record nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from strawberry import relay

from govsvc.alerts.models import Alert
from govsvc.audit.models import AuditEvent
from govsvc.chat.models import ChatMessage, ChatTimelineEntry
from govsvc.command.models import IncidentRole
from govsvc.incidents.models import DecisionEntry, TimelineEntry
from govsvc.runbooks.models import RunbookExecution
from govsvc.runtime import Runtime
from tests.chat import helpers
from tests.chat.helpers import Room
from tests.conftest import GraphQL, StatementCounter
from tests.graphql import helpers as gql_helpers


@pytest.fixture
async def room(gql: GraphQL, http: httpx.AsyncClient) -> Room:
    world = await helpers.room(gql, http, "alpha")
    for email, handles in (
        ("kofi.mensah@alpha.example", ["kofi.mensah", "U0KOFI"]),
        ("ama.owusu@alpha.example", ["ama.owusu"]),
    ):
        world.people[handles[0]] = await helpers.chat_person(
            gql, email, handles, world.unit, "responder", "incident_commander"
        )
    return world


async def _count(runtime: Runtime, model: Any) -> int:
    async with runtime.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _state(runtime: Runtime) -> tuple[int, ...]:
    """What a refusal must leave alone."""
    return tuple(
        [
            await _count(runtime, m)
            for m in (ChatMessage, ChatTimelineEntry, TimelineEntry, AuditEvent, DecisionEntry)
        ]
    )


async def _messages(runtime: Runtime) -> list[ChatMessage]:
    async with runtime.db.read() as session:
        return list((await session.execute(select(ChatMessage).order_by(ChatMessage.id))).scalars())


async def _timeline_from_chat(runtime: Runtime, message_id: int) -> list[TimelineEntry]:
    async with runtime.db.read() as session:
        return list(
            (
                await session.execute(
                    select(TimelineEntry)
                    .join(
                        ChatTimelineEntry, ChatTimelineEntry.timeline_entry_id == TimelineEntry.id
                    )
                    .where(ChatTimelineEntry.chat_message_id == message_id)
                    .order_by(TimelineEntry.id)
                )
            ).scalars()
        )


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["errors"] == [], body
    return body


def _refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    (error,) = body["errors"]
    return dict(error)


# ---------------------------------------------------------------------------- commands


async def test_a_slack_note_lands_on_the_timeline_with_its_provenance(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    reply = _ok(await helpers.slash(http, f"note {room.ref} rolled back to 4.2", trigger="13345.2"))
    assert reply["text"] == f"Noted on {room.ref}."
    assert reply["response_type"] == "in_channel"
    (message,) = await _messages(runtime)
    assert (message.source, message.channel, message.message_id, message.author_handle) == (
        "slack",
        "C0INCIDENT",
        "13345.2",
        "kofi.mensah",
    )
    assert (message.kind, message.command, message.incident_id) == (
        "command",
        "note",
        room.incident_number,
    )
    (entry,) = await _timeline_from_chat(runtime, message.id)
    assert (entry.text, entry.author, entry.kind) == (
        "rolled back to 4.2",
        "kofi.mensah@alpha.example",
        "note",
    )
    async with runtime.db.read() as session:
        audit = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "chat.command"))
        ).scalar_one()
    assert audit.actor == "kofi.mensah@alpha.example"
    assert audit.business_unit == "alpha"
    assert '"source":"slack"' in audit.payload


async def test_ack_from_slack_acknowledges_as_the_mapped_person(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    reply = _ok(await helpers.slash(http, f"ack ALERT-{room.alert_number} looking"))
    assert reply["text"].startswith(f"Acknowledged ALERT-{room.alert_number}")
    async with runtime.db.read() as session:
        alert = await session.get(Alert, room.alert_number)
    assert alert is not None
    assert alert.acknowledged_by == "kofi.mensah@alpha.example"
    (message,) = await _messages(runtime)
    assert (message.command, message.alert_id) == ("ack", room.alert_number)
    # Twice is a conflict of the use case: refused, and nothing more recorded.
    again = _refusal(await helpers.slash(http, f"ack ALERT-{room.alert_number}"))
    assert again["code"] == "CONFLICT"
    assert len(await _messages(runtime)) == 1


async def test_decide_from_teams_records_the_decision_and_its_timeline_entry(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    reply = _ok(
        await helpers.teams(
            http, f"decide {room.ref} fail over to eu-west because the primary is degraded"
        )
    )
    assert reply["type"] == "message"
    assert reply["text"] == f"Decision recorded on {room.ref}: fail over to eu-west"
    async with runtime.db.read() as session:
        decision = (await session.execute(select(DecisionEntry))).scalar_one()
    assert (decision.decision, decision.rationale) == (
        "fail over to eu-west",
        "the primary is degraded",
    )
    (message,) = await _messages(runtime)
    assert (message.source, message.channel, message.author_handle) == (
        "teams",
        "19:incident-room@thread.skype",
        "Kofi Mensah",
    )
    assert message.text.startswith("<at>govsvc</at>")
    (entry,) = await _timeline_from_chat(runtime, message.id)
    assert entry.kind == "decision"


async def test_role_from_slack_assigns_the_person_named_by_handle(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    reply = _ok(await helpers.slash(http, f"role {room.ref} commander @ama.owusu"))
    assert reply["text"] == f"Ama Owusu is now incident commander of {room.ref}."
    async with runtime.db.read() as session:
        term = (await session.execute(select(IncidentRole))).scalar_one()
    assert (term.role, term.assigned_by) == ("incident_commander", "kofi.mensah@alpha.example")
    unknown = _refusal(await helpers.slash(http, f"role {room.ref} scribe @nobody.here"))
    assert unknown["code"] == "UNKNOWN_CHAT_USER"


async def test_runbook_from_slack_starts_an_execution(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    reply = _ok(await helpers.slash(http, f"runbook {room.ref} security-containment"))
    assert reply["text"] == f"Runbook security-containment started on {room.ref}."
    async with runtime.db.read() as session:
        execution = (await session.execute(select(RunbookExecution))).scalar_one()
    assert execution.incident_id == room.incident_number
    missing = _refusal(await helpers.slash(http, f"runbook {room.ref} no-such-book"))
    assert missing["code"] == "NOT_FOUND"


# ---------------------------------------------------------------------------- refusals


async def test_an_unknown_chat_user_is_refused_and_nothing_recorded(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await _state(runtime)
    slack = _refusal(
        await helpers.slash(http, f"note {room.ref} x", user="stranger", user_id="U0X")
    )
    assert slack["code"] == "UNKNOWN_CHAT_USER"
    teams = _refusal(await helpers.teams(http, f"note {room.ref} x", name="Some Stranger"))
    assert teams["code"] == "UNKNOWN_CHAT_USER"
    event = await helpers.slack_event(
        http, helpers.mention(f"note {room.ref} x", ts="1.1", user="U0X"), event_id="Ev0UNKNOWN"
    )
    assert event.json()["errors"][0]["code"] == "UNKNOWN_CHAT_USER"
    assert await _state(runtime) == before


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("reboot everything", "UNKNOWN_COMMAND", "command"),
        ("", "UNKNOWN_COMMAND", "command"),
        ("note", "INVALID", "incidentId"),
        ("note INC-x hello", "INVALID", "incidentId"),
        ("note {ref}", "INVALID", "text"),
        ("decide {ref} fail over", "INVALID", "text"),
        ("role {ref} janitor @ama.owusu", "INVALID", "role"),
        ("role {ref} commander", "INVALID", "text"),
        ("runbook {ref}", "INVALID", "runbookId"),
        ("ack nothing", "INVALID", "alertId"),
    ],
)
async def test_bad_commands_are_refused_and_nothing_recorded(
    room: Room, http: httpx.AsyncClient, runtime: Runtime, text: str, code: str, field: str
) -> None:
    before = await _state(runtime)
    error = _refusal(await helpers.slash(http, text.format(ref=room.ref)))
    assert (error["code"], error["field"]) == (code, field), error
    assert await _state(runtime) == before


async def test_stale_and_badly_signed_requests_are_refused(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await _state(runtime)
    stale = await helpers.slash(http, f"note {room.ref} old", at=int(time.time()) - 6 * 60)
    assert stale.status_code == 401, stale.text
    assert "stale" in stale.json()["errors"][0]["message"]
    future = await helpers.slash(http, f"note {room.ref} early", at=int(time.time()) + 6 * 60)
    assert future.status_code == 401
    forged = await helpers.slash(http, f"note {room.ref} forged", secret="not-the-secret")
    assert forged.status_code == 401
    # A body changed after signing.
    body = b"channel_id=C1&trigger_id=t&user_name=kofi.mensah&text=note+" + room.ref.encode()
    headers = helpers.slack_headers(body)
    tampered = await http.post("/chat/slack/commands", content=body + b"+x", headers=headers)
    assert tampered.status_code == 401
    unsigned = await http.post("/chat/slack/events", content=b'{"type": "url_verification"}')
    assert unsigned.status_code == 401
    teams = await helpers.teams(http, f"note {room.ref} forged", secret="c29tZS1vdGhlci1rZXk=")
    assert teams.status_code == 401
    no_header = await http.post("/chat/teams", content=b"{}")
    assert no_header.status_code == 401
    assert await _state(runtime) == before


async def test_url_verification_answers_the_challenge(http: httpx.AsyncClient) -> None:
    envelope = {
        "token": "t",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    response = await helpers.slack_event(http, {}, event_id="", envelope=envelope)
    assert response.status_code == 200
    assert response.json() == {"challenge": envelope["challenge"]}


# ---------------------------------------------------------------------------- events


async def test_a_replayed_event_is_recorded_once(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    event = helpers.mention(f"note {room.ref} DNS flushed", ts="1712345678.000100")
    first = _ok(await helpers.slack_event(http, event, event_id="Ev0001"))
    assert (first["text"], first["replayed"]) == (f"Noted on {room.ref}.", False)
    again = _ok(await helpers.slack_event(http, event, event_id="Ev0001"))
    assert (again["text"], again["replayed"]) == (f"Noted on {room.ref}.", True)
    # The same message as a channel message event (another event id) is the same message.
    as_message = {**event, "type": "message", "channel_type": "channel"}
    third = _ok(await helpers.slack_event(http, as_message, event_id="Ev0002"))
    assert third["replayed"] is True
    (message,) = await _messages(runtime)
    assert (message.message_id, message.event_id, message.author_handle) == (
        "1712345678.000100",
        "Ev0001",
        "U0KOFI",
    )
    assert len(await _timeline_from_chat(runtime, message.id)) == 1


async def test_chatter_and_bots_are_ignored(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await _state(runtime)
    for n, event in enumerate(
        [
            {
                "type": "message",
                "user": "U0KOFI",
                "text": "anyone seen the dashboard?",
                "ts": "2.1",
                "channel": "C0INCIDENT",
            },
            {
                "type": "message",
                "bot_id": "B0",
                "text": f"govsvc note {room.ref} x",
                "ts": "2.2",
                "channel": "C0INCIDENT",
            },
            {"type": "reaction_added", "user": "U0KOFI", "reaction": "eyes"},
            {
                "type": "message",
                "subtype": "message_deleted",
                "deleted_ts": "9.9",
                "channel": "C0INCIDENT",
                "event_ts": "9.10",
            },
        ]
    ):
        body = _ok(await helpers.slack_event(http, event, event_id=f"EvIgnored{n}"))
        assert body["ignored"] is True, body
    assert await _state(runtime) == before


async def test_an_edit_appends_a_correction_and_keeps_the_original(
    room: Room, http: httpx.AsyncClient, runtime: Runtime, gql: GraphQL
) -> None:
    ts = "1712345678.000200"
    _ok(
        await helpers.slack_event(
            http, helpers.mention(f"note {room.ref} cause: bad deploy", ts=ts), event_id="Ev1"
        )
    )
    (original,) = await _messages(runtime)
    (entry,) = await _timeline_from_chat(runtime, original.id)
    edited = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": "C0INCIDENT",
        "ts": "1712345690.000300",
        "event_ts": "1712345690.000300",
        "message": {
            "type": "message",
            "user": "U0KOFI",
            "text": f"<@U0GOVSVC> note {room.ref} cause: expired certificate",
            "ts": ts,
            "edited": {"user": "U0KOFI", "ts": "1712345690.000000"},
        },
        "previous_message": {"type": "message", "user": "U0KOFI", "text": original.text, "ts": ts},
    }
    reply = _ok(await helpers.slack_event(http, edited, event_id="Ev2"))
    assert reply["text"] == "1 correction(s) appended"
    assert _ok(await helpers.slack_event(http, edited, event_id="Ev2"))["replayed"] is True
    # A link unfurl arrives as another change with the same words: nothing to correct.
    unfurled = {**edited, "ts": "1712345691.1", "event_ts": "1712345691.1"}
    assert _ok(await helpers.slack_event(http, unfurled, event_id="Ev3"))["ignored"] is True
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": "C0INCIDENT",
        "ts": "1712345700.000400",
        "event_ts": "1712345700.000400",
        "deleted_ts": ts,
    }
    assert (
        _ok(await helpers.slack_event(http, deleted, event_id="Ev4"))["text"]
        == "1 correction(s) appended"
    )

    messages = await _messages(runtime)
    assert [(m.kind, m.corrects_id) for m in messages] == [
        ("command", None),
        ("edit", original.id),
        ("delete", original.id),
    ]
    assert messages[0].text == original.text  # never rewritten
    async with runtime.db.read() as session:
        entries = list(
            (
                await session.execute(
                    select(TimelineEntry)
                    .where(
                        TimelineEntry.incident_id == room.incident_number,
                        TimelineEntry.kind.in_(["note", "correction"]),
                    )
                    .order_by(TimelineEntry.id)
                )
            ).scalars()
        )
    assert [(e.kind, e.corrects_id) for e in entries] == [
        ("note", None),
        ("correction", entry.id),
        ("correction", entry.id),
    ]
    assert entries[0].text == "cause: bad deploy"
    assert entries[1].text.endswith(
        f"it now reads: <@U0GOVSVC> note {room.ref} cause: expired certificate"
    )
    assert "deleted in Slack" in entries[2].text
    assert [e.id for e in await _timeline_from_chat(runtime, messages[1].id)] == [entries[1].id]


# ---------------------------------------------------------------------------- access


async def test_a_person_without_rights_in_the_unit_finds_nothing(
    room: Room, gql: GraphQL, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    other = await helpers.room(gql, http, "bravo", alert=False)
    await helpers.chat_person(
        gql, "efua@bravo.example", ["efua"], other.unit, "responder", "incident_commander"
    )
    before = await _state(runtime)
    for text in (
        "note {} hello",
        "decide {} x because y",
        "role {} scribe @efua",
        "runbook {} security-containment",
    ):
        theirs = _refusal(await helpers.slash(http, text.format(room.ref), user="efua"))
        made_up = _refusal(await helpers.slash(http, text.format("INC-999999"), user="efua"))
        assert theirs == made_up, (text, theirs, made_up)
        assert theirs["code"] == "NOT_FOUND"
    alert = _refusal(await helpers.slash(http, f"ack ALERT-{room.alert_number}", user="efua"))
    assert alert == _refusal(await helpers.slash(http, "ack ALERT-999999", user="efua"))
    assert await _state(runtime) == before
    # Their own unit's incident works.
    _ok(await helpers.slash(http, f"note {other.ref} on it", user="efua"))


# ---------------------------------------------------------------------------- reading it back

TIMELINE = """
query($id: ID!) { node(id: $id) { ... on Incident { timeline(first: 50) { edges { node {
  kind text corrects { id }
  chatMessage { source channel messageId eventId kind authorHandle text person { email } }
} } } } } }
"""


async def test_the_timeline_shows_which_entries_came_from_chat(
    room: Room, http: httpx.AsyncClient, gql: GraphQL
) -> None:
    await gql(
        "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i)"
        " { entry { id } } }",
        {"i": {"incidentId": room.incident, "text": "typed in the portal"}},
    )
    ts = "1712345678.000900"
    note = helpers.mention(f"note {room.ref} from the channel", ts=ts)
    _ok(await helpers.slack_event(http, note, event_id="EvRead1"))
    deleted = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": "C0INCIDENT",
        "ts": "1712345999.1",
        "event_ts": "1712345999.1",
        "deleted_ts": ts,
    }
    _ok(await helpers.slack_event(http, deleted, event_id="EvRead2"))
    data = await gql(TIMELINE, {"id": room.incident})
    nodes = [e["node"] for e in data["node"]["timeline"]["edges"]]
    by_text = {n["text"]: n for n in nodes}
    assert by_text["typed in the portal"]["chatMessage"] is None
    assert by_text["from the channel"]["chatMessage"] == {
        "source": "SLACK",
        "channel": "C0INCIDENT",
        "messageId": ts,
        "eventId": "EvRead1",
        "kind": "COMMAND",
        "authorHandle": "U0KOFI",
        "text": f"<@U0GOVSVC> note {room.ref} from the channel",
        "person": {"email": "kofi.mensah@alpha.example"},
    }
    (correction,) = [n for n in nodes if n["kind"] == "correction"]
    assert correction["chatMessage"]["kind"] == "DELETE"
    assert correction["chatMessage"]["messageId"] == "1712345999.1"
    assert correction["corrects"] is not None


LIST = """
query($first: Int!) { incidents(first: $first) { edges { node {
  latestTimeline(limit: 3) { text chatMessage { source authorHandle person { email } } }
} } } }
"""


async def test_chat_provenance_in_lists_takes_the_same_statements_at_any_page_size(
    room: Room, http: httpx.AsyncClient, gql: GraphQL, sql_statements: StatementCounter
) -> None:
    service = await gql_helpers.service(gql, "alpha-more", room.unit)
    for n in range(20):
        created = await gql_helpers.incident(gql, service, title=f"outage {n}")
        number = int(relay.from_base64(created["id"])[1])
        _ok(await helpers.slash(http, f"note INC-{number} n{n}"))
    counts = []
    for first in (3, 20):
        sql_statements.reset()
        data = await gql(LIST, {"first": first})
        edges = data["incidents"]["edges"]
        assert len(edges) == first
        assert all(
            entry["chatMessage"]["person"]["email"] == "kofi.mensah@alpha.example"
            for edge in edges
            for entry in edge["node"]["latestTimeline"]
            if entry["text"].startswith("n")
        )
        counts.append(sql_statements.count)
    assert counts[0] == counts[1], "\n".join(s[:90] for s in sql_statements.statements)


async def test_unstorable_text_and_overlong_ids_are_refused(
    room: Room, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await _state(runtime)
    nul = await helpers.slack_event(
        http, helpers.mention(f"note {room.ref} a\u0000b", ts="3.1"), event_id="EvNul"
    )
    assert nul.json()["errors"][0]["code"] == "INVALID"
    long_channel = helpers.mention(f"note {room.ref} x", ts="3.2", channel="C" * 300)
    overlong = await helpers.slack_event(http, long_channel, event_id="EvLong")
    assert (overlong.json()["errors"][0]["code"], overlong.json()["errors"][0]["field"]) == (
        "INVALID",
        "channel",
    )
    assert await _state(runtime) == before


async def test_slacks_certificate_check_is_answered(http: httpx.AsyncClient) -> None:
    body = b"ssl_check=1&token=legacy-verification-token"
    response = await http.post(
        "/chat/slack/commands",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            **helpers.slack_headers(body),
        },
    )
    assert response.status_code == 200


async def test_a_person_who_may_see_but_not_act_is_refused_forbidden(
    room: Room, gql: GraphQL, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    """An auditor reads alpha's alerts but may not acknowledge one: FORBIDDEN, nothing kept."""
    await helpers.chat_person(gql, "abena@alpha.example", ["abena"], room.unit, "auditor")
    before = await _state(runtime)
    refused = _refusal(await helpers.slash(http, f"ack ALERT-{room.alert_number}", user="abena"))
    assert refused["code"] == "FORBIDDEN"
    assert await _state(runtime) == before
    async with runtime.db.read() as session:
        alert = await session.get(Alert, room.alert_number)
    assert alert is not None
    assert alert.acknowledged_at is None
