"""The chat grammar, the same for Slack and Teams (pure: no database):

    ack <alert>                               acknowledge an alert (ALERT-7, 7, or its id)
    note <incident> <text>                    add a timeline note (INC-12 or 12)
    decide <incident> <decision> because <rationale>
    role <incident> <role> @handle            commander, deputy, comms, scribe, ops, sme, ...
    runbook <incident> <runbook id>           start a runbook
    help

A leading "/govsvc", "govsvc" or a bot mention ("<@U0BOT>", "<at>govsvc</at>") is dropped.
Anything else is refused: UNKNOWN_COMMAND for an unknown verb, INVALID for bad arguments."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum

from govsvc.errors import ErrorCode, Invalid

KEYWORD = "govsvc"
MAX_TEXT = 20_000


class Verb(StrEnum):
    ACK = "ack"
    NOTE = "note"
    DECIDE = "decide"
    ROLE = "role"
    RUNBOOK = "runbook"
    HELP = "help"


USAGE = (
    "usage: ack <alert> | note <INC-n> <text> | decide <INC-n> <decision> because <rationale>"
    " | role <INC-n> <role> @handle | runbook <INC-n> <runbook id>"
)

# Role words people type, to the role names of govsvc.command (kept as text: pure module).
ROLE_WORDS = {
    "commander": "incident_commander",
    "ic": "incident_commander",
    "incident_commander": "incident_commander",
    "deputy": "deputy_commander",
    "deputy_commander": "deputy_commander",
    "comms": "comms_lead",
    "comms_lead": "comms_lead",
    "scribe": "scribe",
    "ops": "operations_lead",
    "operations_lead": "operations_lead",
    "sme": "subject_matter_expert",
    "expert": "subject_matter_expert",
    "subject_matter_expert": "subject_matter_expert",
    "coordinator": "coordinator",
}


@dataclass(frozen=True)
class Command:
    verb: Verb
    incident_id: int | None = None
    alert_id: int | None = None
    text: str = ""
    rationale: str = ""
    role: str | None = None
    handle: str | None = None
    runbook_id: str | None = None


_MENTION = re.compile(r"^\s*(?:<@[A-Za-z0-9._-]+(?:\|[^>]*)?>|<at>[^<]*</at>)\s*")
_INCIDENT = re.compile(r"^(?:INC-)?(\d{1,12})$", re.IGNORECASE)
_ALERT = re.compile(r"^(?:ALERT-)?(\d{1,12})$", re.IGNORECASE)
_HANDLE = re.compile(r"^@?([A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?)$")
_SLACK_USER = re.compile(r"^<@([A-Za-z0-9]+)(?:\|([^>]*))?>$")
_BECAUSE = re.compile(r"\s+because\s+", re.IGNORECASE)


def strip_address(text: str) -> str:
    """The command without what addressed it to govsvc."""
    text = text.strip()
    while True:
        stripped = _MENTION.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    first, _, rest = text.partition(" ")
    if first.lower() in {KEYWORD, f"/{KEYWORD}"}:
        text = rest
    return text.strip()


def addressed(text: str) -> bool:
    """Whether a plain channel message speaks to govsvc (mentions it or starts with its name)."""
    text = text.strip()
    if _MENTION.match(text):
        return True
    first = text.partition(" ")[0].lower()
    return first in {KEYWORD, f"/{KEYWORD}"}


def parse(text: str) -> Command:
    body = strip_address(text)
    if len(body) > MAX_TEXT:
        raise Invalid(f"longer than {MAX_TEXT} characters", field="text")
    word, _, rest = body.partition(" ")
    try:
        verb = Verb(word.lower())
    except ValueError:
        shown = word[:40] or "(nothing)"
        raise Invalid(
            f"unknown command {shown!r}; {USAGE}", field="command", code=ErrorCode.UNKNOWN_COMMAND
        ) from None
    rest = rest.strip()
    if verb is Verb.HELP:
        return Command(verb)
    if verb is Verb.ACK:
        alert, _, note = rest.partition(" ")
        return Command(verb, alert_id=_alert(alert), text=note.strip())
    reference, _, rest = rest.partition(" ")
    incident_id = _incident(reference)
    rest = rest.strip()
    if verb is Verb.NOTE:
        if not rest:
            raise Invalid(f"say what to note; {USAGE}", field="text")
        return Command(verb, incident_id=incident_id, text=rest)
    if verb is Verb.DECIDE:
        decision, found, rationale = (p.strip() for p in _partition_because(rest))
        if not found or not decision or not rationale:
            raise Invalid(f"decide <INC-n> <decision> because <rationale>; {USAGE}", field="text")
        return Command(verb, incident_id=incident_id, text=decision, rationale=rationale)
    if verb is Verb.ROLE:
        words = rest.split()
        if len(words) != 2:
            raise Invalid(f"role <INC-n> <role> @handle; {USAGE}", field="text")
        role = ROLE_WORDS.get(words[0].lower().replace("-", "_"))
        if role is None:
            raise Invalid(
                f"unknown role {words[0][:40]!r}: one of {', '.join(sorted(ROLE_WORDS))}",
                field="role",
            )
        return Command(verb, incident_id=incident_id, role=role, handle=_handle(words[1]))
    words = rest.split()
    if len(words) != 1:
        raise Invalid(f"runbook <INC-n> <runbook id>; {USAGE}", field="runbookId")
    return Command(verb, incident_id=incident_id, runbook_id=words[0])


def _partition_because(text: str) -> tuple[str, str, str]:
    match = _BECAUSE.search(text)
    if match is None:
        return text, "", ""
    return text[: match.start()], match.group(0), text[match.end() :]


def _incident(reference: str) -> int:
    match = _INCIDENT.match(reference.strip())
    if match is None:
        raise Invalid(f"name the incident as INC-<number>; {USAGE}", field="incidentId")
    return int(match.group(1))


def _alert(reference: str) -> int:
    reference = reference.strip()
    match = _ALERT.match(reference)
    if match is not None:
        return int(match.group(1))
    try:  # the alert's global id, as the API and notifications show it
        decoded = base64.b64decode(reference, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    kind, _, number = decoded.partition(":")
    if kind == "Alert" and number.isdigit() and len(number) <= 12:
        return int(number)
    raise Invalid(f"name the alert as ALERT-<number> or its id; {USAGE}", field="alertId")


def _handle(word: str) -> str:
    slack = _SLACK_USER.match(word)
    if slack is not None:  # Slack writes a mention as <@U123|name>
        return slack.group(1)
    match = _HANDLE.match(word)
    if match is None:
        raise Invalid(f"{word[:40]!r} is not a chat handle", field="handle")
    return match.group(1)
