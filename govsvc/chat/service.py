"""Chat in: a command from Slack or Teams runs the existing use case as the person who typed
it (their Caller is built as authentication builds one, so their rights apply and what they
may not see looks missing), and the message enters the record with its source, channel,
chat message id, author handle and person. An edit or a deletion in chat of a recorded
message appends a correction to the timeline; the original stays as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from govsvc.alerts import service as alert_service
from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.chat.commands import USAGE, Command, Verb, parse
from govsvc.chat.models import ChatMessage, ChatMessageKind, ChatSource, ChatTimelineEntry
from govsvc.command import roles
from govsvc.command.models import IncidentRoleKind
from govsvc.errors import ErrorCode, Forbidden, Invalid, ServiceError
from govsvc.grants.loading import caller_for
from govsvc.incidents import records as incident_records
from govsvc.incidents.common import unit_code, unit_code_or_none
from govsvc.incidents.models import Incident, TimelineEntry
from govsvc.org.models import Principal, PrincipalKind
from govsvc.runbooks import service as runbook_service
from govsvc.text_input import is_storable
from govsvc.usecase import UseCase, writing

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

_T = TypeVar("_T")


@dataclass(frozen=True)
class Inbound:
    """One chat message that may carry a command, as the route read it off a verified request."""

    source: ChatSource
    channel: str
    message_id: str
    author: str  # how the chat names its author (Slack user name or id, Teams name)
    # Every id the chat gives the author, tried in order against people's handles.
    author_ids: tuple[str, ...]
    text: str
    event_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Change:
    """An edit (text) or a deletion (text None) in chat of a message that may be on record."""

    source: ChatSource
    channel: str
    original_message_id: str
    message_id: str  # the change's own id (Slack: the event ts)
    event_id: str | None
    text: str | None
    author_ids: tuple[str, ...] = ()
    request_id: str | None = None


@dataclass(frozen=True)
class Reply:
    text: str
    ok: bool
    code: str | None = None
    field: str | None = None
    message_id: int | None = None  # the chat_message row, when one was recorded
    replayed: bool = False
    ignored: bool = False

    def errors(self) -> list[dict[str, Any]]:
        if self.ok:
            return []
        return [{"field": self.field, "code": self.code, "message": self.text}]


def _refused(error: ServiceError | Forbidden) -> Reply:
    if isinstance(error, Forbidden):
        return Reply(f"Refused: {error}", ok=False, code="FORBIDDEN")
    return Reply(f"Refused: {error.message}", ok=False, code=error.code.value, field=error.field)


# ---------------------------------------------------------------------------- people


def _like(handle: str) -> str:
    escaped = handle.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


async def people_by_handle(session: AsyncSession, handle: str) -> list[Principal]:
    """Active people one of whose handles is `handle` (case does not matter)."""
    wanted = handle.strip().removeprefix("@").casefold()
    if not wanted:
        return []
    rows = (
        await session.execute(
            select(Principal).where(
                Principal.kind == PrincipalKind.PERSON.value,
                Principal.active,
                func.lower(Principal.handles).like(_like(wanted), escape="\\"),
            )
        )
    ).scalars()
    return [p for p in rows if wanted in {h.casefold() for h in json.loads(p.handles)}]


async def person_for(
    session: AsyncSession, author_ids: tuple[str, ...], *, field: str
) -> Principal:
    """The one person the chat names, or UNKNOWN_CHAT_USER."""
    for candidate in author_ids:
        found = await people_by_handle(session, candidate)
        if len(found) > 1:
            raise Invalid(
                f"the chat handle {candidate!r} belongs to several people: fix their handles",
                field=field,
                code=ErrorCode.UNKNOWN_CHAT_USER,
            )
        if found:
            return found[0]
    shown = author_ids[0] if author_ids else "(nobody)"
    raise Invalid(
        f"no person has the chat handle {shown!r}: add it to their handles",
        field=field,
        code=ErrorCode.UNKNOWN_CHAT_USER,
    )


async def _caller(
    session: AsyncSession, runtime: Runtime, person: Principal, request_id: str | None
) -> Caller:
    """The person's Caller, exactly as authentication builds it."""
    return await caller_for(session, runtime.policies.access, person.id, person.email, request_id)


# ---------------------------------------------------------------------------- commands


async def _recorded(
    session: AsyncSession, source: ChatSource, channel: str, message_id: str, event_id: str | None
) -> ChatMessage | None:
    same_message = (ChatMessage.channel == channel) & (ChatMessage.message_id == message_id)
    query = select(ChatMessage).where(
        ChatMessage.source == source.value,
        or_(same_message, ChatMessage.event_id == event_id) if event_id else same_message,
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def receive_command(runtime: Runtime, inbound: Inbound) -> Reply:
    """Run the command a chat message carries, as its author, and keep the message. A message
    delivered again (same event id, or same channel and message id) answers as the first time
    and records nothing; a refusal records nothing."""
    try:
        _storable(
            channel=inbound.channel,
            message_id=inbound.message_id,
            event_id=inbound.event_id or "",
            user=inbound.author,
            text=inbound.text,
        )
        seen = await _seen(runtime, inbound)
        if seen is not None:
            return seen
        async with runtime.db.read() as session:
            person = await person_for(session, inbound.author_ids, field="user")
            caller = await _caller(session, runtime, person, inbound.request_id)
        command = parse(inbound.text)
        if command.verb is Verb.HELP:
            return Reply(USAGE, ok=True)
        try:
            async with writing(runtime, caller) as uc:
                return await _run(uc, inbound, person, command)
        except IntegrityError:
            # The same message delivered twice at once: the other delivery recorded it.
            seen = await _seen(runtime, inbound)
            if seen is None:
                raise
            return seen
    except (ServiceError, Forbidden) as error:
        return _refused(error)


async def _seen(runtime: Runtime, inbound: Inbound) -> Reply | None:
    """The first answer, when this message (or this event) is already on record."""
    async with runtime.db.read() as session:
        seen = await _recorded(
            session, inbound.source, inbound.channel, inbound.message_id, inbound.event_id
        )
    if seen is None:
        return None
    return Reply(seen.reply, ok=True, message_id=seen.id, replayed=True)


MAX_ID = 200


def _storable(**values: str) -> None:
    """Ids fit their columns and no text holds what a database cannot store (e.g. NUL)."""
    for name, value in values.items():
        if not is_storable(value):
            raise Invalid("holds characters that cannot be stored", field=name)
        if name != "text" and len(value) > MAX_ID:
            raise Invalid(f"longer than {MAX_ID} characters", field=name)


async def _run(uc: UseCase, inbound: Inbound, person: Principal, command: Command) -> Reply:
    message = ChatMessage(
        source=inbound.source.value,
        channel=inbound.channel,
        message_id=inbound.message_id,
        event_id=inbound.event_id,
        kind=ChatMessageKind.COMMAND.value,
        author_handle=inbound.author,
        principal_id=person.id,
        text=inbound.text,
        command=command.verb.value,
        incident_id=command.incident_id,
        alert_id=command.alert_id,
    )
    with _new_timeline_entries(uc.session) as made:
        text, unit = await _execute(uc, command)
        uc.session.add(message)
        await uc.session.flush()
    message.reply = text
    for entry in made:
        uc.session.add(ChatTimelineEntry(timeline_entry_id=entry.id, chat_message_id=message.id))
    await record(
        uc.session,
        uc.caller,
        "chat.command",
        resource_type="incident" if command.incident_id is not None else "alert",
        resource_id=command.incident_id
        if command.incident_id is not None
        else command.alert_id or 0,
        unit=unit,
        payload={
            "chat_message": message.id,
            **_provenance(message),
            "command": command.verb.value,
            "text": inbound.text,
            "timeline_entries": [e.id for e in made],
        },
    )
    await uc.session.flush()
    return Reply(text, ok=True, message_id=message.id)


def _provenance(message: ChatMessage) -> dict[str, Any]:
    return {
        "source": message.source,
        "channel": message.channel,
        "message_id": message.message_id,
        "event_id": message.event_id,
        "author_handle": message.author_handle,
        "person": message.principal_id,
    }


async def _execute(uc: UseCase, command: Command) -> tuple[str, str | None]:
    """Run the use case; the reply's text and the unit the audit event belongs to."""
    if command.verb is Verb.ACK:
        alert_id = _given(command.alert_id, "alertId")
        alert = await alert_service.acknowledge(uc, alert_id=alert_id, note=command.text)
        unit = await unit_code_or_none(uc.session, alert.business_unit_id)
        return f"Acknowledged ALERT-{alert.id} ({alert.rule_name}).", unit
    incident_id = _given(command.incident_id, "incidentId")
    if command.verb is Verb.NOTE:
        entry = await incident_records.add_timeline_entry(
            uc, incident_id=incident_id, text=command.text
        )
        reply = f"Noted on INC-{entry.incident_id}."
    elif command.verb is Verb.DECIDE:
        decision = await incident_records.record_decision(
            uc, incident_id=incident_id, decision=command.text, rationale=command.rationale
        )
        reply = f"Decision recorded on INC-{decision.incident_id}: {decision.decision}"
    elif command.verb is Verb.ROLE:
        role = _given(command.role, "role")
        holder = await person_for(uc.session, (_given(command.handle, "handle"),), field="handle")
        assignment = await roles.assign(
            uc,
            incident_id=incident_id,
            role=IncidentRoleKind(role),
            principal_id=holder.id,
            note="assigned from chat",
        )
        reply = f"{holder.name} is now {role.replace('_', ' ')} of INC-{incident_id}."
        if assignment.handed_over_from:
            reply += " (handed over)"
    else:
        execution = await runbook_service.start_runbook(
            uc, incident_id=incident_id, runbook_id=_given(command.runbook_id, "runbookId")
        )
        reply = f"Runbook {execution.runbook_id} started on INC-{incident_id}."
    incident = _given(await uc.session.get(Incident, incident_id), "incidentId")
    return reply, await unit_code(uc.session, incident.business_unit_id)


def _given(value: _T | None, field: str) -> _T:
    """What the parser guarantees for the verb (a parser bug refuses, it never runs)."""
    if value is None:
        raise Invalid(f"missing {field}; {USAGE}", field=field)
    return value


@contextmanager
def _new_timeline_entries(session: AsyncSession) -> Iterator[list[TimelineEntry]]:
    """The timeline entries this session inserts inside the block, whichever use case wrote
    them (a decision writes its own entry; a role hand-over another)."""
    made: list[TimelineEntry] = []

    def inserted(_session: Session, instance: object) -> None:
        if isinstance(instance, TimelineEntry):
            made.append(instance)

    target = session.sync_session
    event.listen(target, "pending_to_persistent", inserted)
    try:
        yield made
    finally:
        event.remove(target, "pending_to_persistent", inserted)


# ---------------------------------------------------------------------------- corrections


async def receive_change(runtime: Runtime, change: Change) -> Reply:
    """An edit or deletion in chat. On a message we recorded, append a correction to each
    timeline entry it made (the entries stay) and keep the change as a message of its own;
    anything else is ignored. Delivered again, it records nothing more."""
    try:
        _storable(
            channel=change.channel,
            message_id=change.message_id,
            original=change.original_message_id,
            event_id=change.event_id or "",
            text=change.text or "",
        )
        async with runtime.db.read() as session:
            source = change.source
            if change.event_id is not None:
                again = await _recorded(
                    session, source, change.channel, change.message_id, change.event_id
                )
                if again is not None:
                    return Reply(again.reply, ok=True, message_id=again.id, replayed=True)
            original = (
                await session.execute(
                    select(ChatMessage).where(
                        ChatMessage.source == source.value,
                        ChatMessage.channel == change.channel,
                        ChatMessage.message_id == change.original_message_id,
                        ChatMessage.kind == ChatMessageKind.COMMAND.value,
                    )
                )
            ).scalar_one_or_none()
            if original is None:
                return Reply("not a message on record", ok=True, ignored=True)
            latest = (
                await session.execute(
                    select(ChatMessage.text)
                    .where(
                        or_(ChatMessage.id == original.id, ChatMessage.corrects_id == original.id)
                    )
                    .order_by(ChatMessage.id.desc())
                    .limit(1)
                )
            ).scalar_one()
            if change.text is not None and change.text.strip() == latest.strip():
                # Slack says "changed" when it unfurls a link: the words are the same.
                return Reply("the text did not change", ok=True, ignored=True)
            person = _given(await session.get(Principal, original.principal_id), "user")
            entries = list(
                (
                    await session.execute(
                        select(TimelineEntry)
                        .join(
                            ChatTimelineEntry,
                            ChatTimelineEntry.timeline_entry_id == TimelineEntry.id,
                        )
                        .where(ChatTimelineEntry.chat_message_id == original.id)
                        .order_by(TimelineEntry.id)
                    )
                ).scalars()
            )
            caller = await _caller(session, runtime, person, change.request_id)
        # The correction is the record's, not a right of the author's: it lands even if they
        # have since lost access to the incident, as the service acting on their behalf.
        async with writing(runtime, caller.on_behalf("chat correction")) as uc:
            return await _correct(uc, change, original, entries)
    except (ServiceError, Forbidden) as error:
        return _refused(error)


async def _correct(
    uc: UseCase, change: Change, original: ChatMessage, entries: list[TimelineEntry]
) -> Reply:
    deleted = change.text is None
    row = ChatMessage(
        source=change.source.value,
        channel=change.channel,
        message_id=change.message_id,
        event_id=change.event_id,
        kind=(ChatMessageKind.DELETE if deleted else ChatMessageKind.EDIT).value,
        author_handle=original.author_handle,
        principal_id=original.principal_id,
        text=change.text or "",
        incident_id=original.incident_id,
        alert_id=original.alert_id,
        corrects_id=original.id,
    )
    where = f"in {change.source.value.title()}"
    if deleted:
        note = f"Correction: the chat message by @{original.author_handle} was deleted {where}."
    else:
        note = (
            f"Correction: @{original.author_handle} edited the chat message {where}; "
            f"it now reads: {change.text}"
        )
    with _new_timeline_entries(uc.session) as made:
        for entry in entries:
            await incident_records.add_timeline_entry(
                uc, incident_id=entry.incident_id, text=note, corrects_id=entry.id
            )
        uc.session.add(row)
        await uc.session.flush()
    for entry in made:
        uc.session.add(ChatTimelineEntry(timeline_entry_id=entry.id, chat_message_id=row.id))
    reply = (
        f"{len(made)} correction(s) appended"
        if made
        else "change kept; no timeline entry to correct"
    )
    row.reply = reply
    unit = None
    if original.incident_id is not None:
        incident = await uc.session.get(Incident, original.incident_id)
        unit = await unit_code(uc.session, incident.business_unit_id) if incident else None
    await record(
        uc.session,
        uc.caller,
        "chat.correction",
        resource_type="incident" if original.incident_id is not None else "alert",
        resource_id=original.incident_id or original.alert_id or 0,
        unit=unit,
        payload={
            "chat_message": row.id,
            "corrects": original.id,
            **_provenance(row),
            "deleted": deleted,
            "text": change.text,
            "timeline_entries": [e.id for e in made],
        },
    )
    await uc.session.flush()
    return Reply(reply, ok=True, message_id=row.id)
