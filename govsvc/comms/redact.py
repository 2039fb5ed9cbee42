"""The bridge from communication to the redaction engine: who is on the roster for an
incident, and what the engine proposes, applies and still finds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.comms.models import PostMortem
from govsvc.incidents.models import Incident
from govsvc.org import customers as customer_list
from govsvc.org.models import Principal, Service, Team

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

if TYPE_CHECKING:  # the engine (spaCy, numpy) loads only when something is redacted
    from govsvc.redaction import Roster, Span


@dataclass(frozen=True)
class SpanView:
    start: int
    end: int
    entity_type: str
    text: str
    score: float
    recognizer: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def roster_for(
    session: AsyncSession, incident: Incident, pm: PostMortem | None
) -> tuple[Roster, list[str]]:
    """Everyone and everything that must never leak, and the words that must survive."""
    from govsvc.redaction import Roster, RosterPerson

    people = (
        await session.execute(select(Principal.name, Principal.email, Principal.handles))
    ).all()
    teams = list((await session.execute(select(Team.name))).scalars())
    # The organisation's list, for every public text, and the post-mortem's own additions.
    customers = [
        *await customer_list.customer_names(session),
        *(json.loads(pm.customers) if pm is not None else []),
    ]
    services = [
        n
        for row in (
            await session.execute(select(Service.name, Service.code, Service.public_name))
        ).all()
        for n in row
        if n
    ]
    roster = Roster(
        people=tuple(
            RosterPerson(
                name=name,
                emails=(email,) if "@" in email else (),
                handles=tuple(json.loads(handles)),
            )
            for name, email, handles in people
        ),
        teams=tuple(teams),
        customers=tuple(dict.fromkeys(customers)),
    )
    return roster, services


async def preview(
    runtime: Runtime, session: AsyncSession, incident: Incident, pm: PostMortem | None, text: str
) -> list[SpanView]:
    roster, allow = await roster_for(session, incident, pm)
    spans = await anyio.to_thread.run_sync(
        lambda: runtime.redactor.preview(text, roster, extra_allow=allow)
    )
    return [_view(s) for s in spans]


async def apply(
    runtime: Runtime,
    session: AsyncSession,
    incident: Incident,
    pm: PostMortem | None,
    text: str,
    spans: list[SpanView] | Any,
) -> str:
    from govsvc.redaction import Span

    roster, _ = await roster_for(session, incident, pm)
    chosen = [
        Span(
            start=s.start,
            end=s.end,
            entity_type=s.entity_type,
            text=text[s.start : s.end],
            score=s.score,
            recognizer=s.recognizer,
        )
        for s in spans
        if 0 <= s.start < s.end <= len(text)
    ]
    redacted = await anyio.to_thread.run_sync(lambda: runtime.redactor.apply(text, chosen, roster))
    result: str = redacted.text
    return result


async def leaks(
    runtime: Runtime,
    session: AsyncSession,
    incident: Incident,
    text: str,
    pm: PostMortem | None = None,
) -> list[str]:
    """What the fail-closed re-scan still finds, described without repeating it."""
    roster, _ = await roster_for(session, incident, pm)
    found = await anyio.to_thread.run_sync(lambda: runtime.redactor.leaks(text, roster))
    return sorted({f"{s.entity_type} at {s.start}" for s in found})


def _view(span: Span) -> SpanView:
    return SpanView(
        start=span.start,
        end=span.end,
        entity_type=span.entity_type,
        text=span.text,
        score=span.score,
        recognizer=span.recognizer,
    )
