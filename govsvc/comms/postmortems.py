"""Post-mortems: sections, sensitivity, authors and reviewers, states; and their public
versions, derived by a reviewed redaction that fails closed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.authz.access import readable
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.command.models import IncidentRole
from govsvc.comms import redact
from govsvc.comms.models import (
    SECTIONS,
    PostMortem,
    PostMortemState,
    PublicPostMortem,
)
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.evidence import service as evidence_service
from govsvc.evidence.models import EvidenceKind
from govsvc.incidents.common import incident_for, timeline_note, unit_code
from govsvc.outbox.enqueue import enqueue
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    pass

_NEXT = {
    PostMortemState.DRAFT: {PostMortemState.IN_REVIEW},
    PostMortemState.IN_REVIEW: {PostMortemState.DRAFT, PostMortemState.APPROVED},
    PostMortemState.APPROVED: {PostMortemState.DRAFT, PostMortemState.PUBLISHED},
    PostMortemState.PUBLISHED: set(),
}


def text_of(pm: PostMortem) -> str:
    """The whole document as one text, sections in their fixed order."""
    sections = json.loads(pm.sections)
    return "\n\n".join(
        f"## {name.replace('_', ' ').capitalize()}\n{sections[name]}"
        for name in SECTIONS
        if sections.get(name)
    )


def _clean_sections(values: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise Invalid(
            f"unknown section {unknown[0]!r}; sections: {', '.join(SECTIONS)}", field="sections"
        )
    return {
        k: validation.text(v, field=f"sections.{k}", max_length=100_000, allow_empty=True)
        for k, v in values.items()
    }


async def _own_responder(session: AsyncSession, caller: Caller, incident_id: int) -> bool:
    """The people-scoped exception: those who held a role on the incident may read its
    post-mortem, whatever its sensitivity."""
    if caller.principal_id is None:
        return False
    found = await session.execute(
        select(IncidentRole.id)
        .where(
            IncidentRole.incident_id == incident_id,
            IncidentRole.principal_id == caller.principal_id,
        )
        .limit(1)
    )
    return found.first() is not None


async def post_mortem_for(
    session: AsyncSession, caller: Caller, incident_id: int, action: str
) -> PostMortem:
    """The post-mortem of an incident, if the caller may see it and do `action`."""
    pm = (
        await session.execute(select(PostMortem).where(PostMortem.incident_id == incident_id))
    ).scalar_one_or_none()
    if pm is None:
        raise NotFound("no post-mortem for this incident", field="incidentId")
    visible = (
        await session.execute(
            select(PostMortem.id).where(
                PostMortem.id == pm.id,
                readable(
                    caller.access,
                    "post_mortem",
                    PostMortem.business_unit_id,
                    PostMortem.sensitivity,
                ),
            )
        )
    ).first() is not None
    own = await _own_responder(session, caller, incident_id)
    if not visible and not (own and action == "read"):
        raise NotFound("no post-mortem for this incident", field="incidentId")
    if action != "read":
        caller.access.require(
            action,
            "post_mortem",
            unit_id=pm.business_unit_id,
            sensitivity=Sensitivity(pm.sensitivity),
        )
    return pm


async def write(
    uc: UseCase,
    *,
    incident_id: int,
    sections: Mapping[str, str],
    sensitivity: Sensitivity | None = None,
    reviewers: Sequence[str] | None = None,
    customers: Sequence[str] | None = None,
) -> PostMortem:
    """Create the post-mortem or revise its sections (only while a draft or in review)."""
    clean = _clean_sections(sections)
    session = uc.session
    incident = await incident_for(session, uc.caller, incident_id, "read")
    pm = (
        await session.execute(select(PostMortem).where(PostMortem.incident_id == incident.id))
    ).scalar_one_or_none()
    if pm is None:
        level = sensitivity or Sensitivity(incident.sensitivity)
        uc.caller.access.require(
            "write", "post_mortem", unit_id=incident.business_unit_id, sensitivity=level
        )
        pm = PostMortem(
            incident_id=incident.id,
            business_unit_id=incident.business_unit_id,
            sensitivity=level.value,
            state=PostMortemState.DRAFT.value,
            sections=json.dumps(clean),
            authors=json.dumps([uc.caller.actor]),
            reviewers=json.dumps(list(reviewers or [])),
            customers=json.dumps(list(customers or [])),
        )
        session.add(pm)
        action = "post_mortem.create"
    else:
        pm = await post_mortem_for(session, uc.caller, incident.id, "write")
        if pm.state not in (PostMortemState.DRAFT.value, PostMortemState.IN_REVIEW.value):
            raise Invalid(
                f"the post-mortem is {pm.state}; it can no longer be edited",
                field="incidentId",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        merged = {**json.loads(pm.sections), **clean}
        pm.sections = json.dumps(merged)
        pm.revision += 1
        authors = json.loads(pm.authors)
        if uc.caller.actor not in authors:
            pm.authors = json.dumps([*authors, uc.caller.actor])
        if sensitivity is not None:
            pm.sensitivity = sensitivity.value
        if reviewers is not None:
            pm.reviewers = json.dumps(list(reviewers))
        if customers is not None:
            pm.customers = json.dumps(list(customers))
        pm.updated_at = utcnow()
        action = "post_mortem.revise"
    await session.flush()
    await record(
        session,
        uc.caller,
        action,
        resource_type="post_mortem",
        resource_id=pm.id,
        unit=await unit_code(session, incident.business_unit_id),
        payload={
            "incident": incident.id,
            "revision": pm.revision,
            "sections": sorted(clean),
            "sensitivity": pm.sensitivity,
        },
    )
    return pm


async def move(uc: UseCase, *, incident_id: int, state: PostMortemState) -> PostMortem:
    """Submit for review, send back, approve (not by an author)."""
    session = uc.session
    action = "approve" if state is PostMortemState.APPROVED else "write"
    pm = await post_mortem_for(session, uc.caller, incident_id, action)
    current = PostMortemState(pm.state)
    if state is PostMortemState.PUBLISHED or state not in _NEXT[current]:
        raise Invalid(
            f"cannot move a post-mortem from {current.value} to {state.value}",
            field="state",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if state is PostMortemState.APPROVED:
        if uc.caller.actor in json.loads(pm.authors):
            raise Invalid(
                "an author cannot approve their own post-mortem",
                field="state",
                code=ErrorCode.APPROVAL_REQUIRED,
            )
        pm.approved_by = uc.caller.actor
    pm.state = state.value
    await record(
        session,
        uc.caller,
        "post_mortem.state",
        resource_type="post_mortem",
        resource_id=pm.id,
        payload={"from": current.value, "to": state.value},
    )
    return pm


async def read(uc: UseCase, *, incident_id: int) -> PostMortem:
    """Read a post-mortem; reading a restricted one is itself audited."""
    session = uc.session
    pm = await post_mortem_for(session, uc.caller, incident_id, "read")
    if pm.sensitivity == Sensitivity.RESTRICTED.value:
        await record(
            session,
            uc.caller,
            "post_mortem.read",
            resource_type="post_mortem",
            resource_id=pm.id,
            payload={"revision": pm.revision},
        )
    return pm


async def public_version(uc: UseCase, *, incident_id: int) -> PublicPostMortem:
    """The published public version of an incident's post-mortem, for anyone who may read the
    incident (it is public already; the query only needs to know which incident)."""
    incident = await incident_for(uc.session, uc.caller, incident_id, "read")
    public = (
        await uc.session.execute(
            select(PublicPostMortem)
            .where(PublicPostMortem.incident_id == incident.id)
            .order_by(PublicPostMortem.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if public is None:
        raise NotFound("no public post-mortem for this incident", field="incidentId")
    return public


async def redaction_preview(uc: UseCase, *, incident_id: int) -> list[redact.SpanView]:
    """Every span the redaction would take out, with type, score and recognizer."""
    session = uc.session
    pm = await post_mortem_for(session, uc.caller, incident_id, "publish")
    incident = await incident_for(session, uc.caller, incident_id, "read")
    return await redact.preview(uc.runtime, session, incident, pm, text_of(pm))


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def publish(
    uc: UseCase, *, incident_id: int, spans: Sequence[redact.SpanView]
) -> PublicPostMortem:
    """Publish the public version: apply the reviewed spans, re-scan, refuse while anything
    from the roster or any secret remains (fail closed), freeze, announce.

    In two steps on purpose: the frozen copy goes to WORM storage (a durable write of its
    intent, committed on its own) before `uc.session` records anything, so everything before
    the freeze reads through its own read transaction, not through `uc.session`."""
    async with uc.db.read() as session:
        pm = await post_mortem_for(session, uc.caller, incident_id, "publish")
        incident = await incident_for(session, uc.caller, incident_id, "read")
        if pm.state != PostMortemState.APPROVED.value:
            raise Invalid(
                "only an approved post-mortem is published",
                field="incidentId",
                code=ErrorCode.ILLEGAL_TRANSITION,
            )
        source, revision = text_of(pm), pm.revision
        public_text = await redact.apply(uc.runtime, session, incident, pm, source, spans)
        remaining = await redact.leaks(uc.runtime, session, incident, public_text, pm)
    if remaining:
        raise Invalid(
            "the public text still holds " + ", ".join(remaining) + "; mark those spans too",
            field="spans",
            code=ErrorCode.REDACTION_REQUIRED,
        )
    source_sha = hashlib.sha256(source.encode()).hexdigest()
    frozen = await evidence_service.collect(
        uc.on_behalf("freeze"),
        evidence_service.NewEvidence(
            title=f"{incident.reference} public post-mortem (from revision {pm.revision}, "
            f"source sha256 {source_sha[:16]})",
            kind=EvidenceKind.DOCUMENT,
            content_type="text/markdown; charset=utf-8",
            incident_id=incident.id,
            source_system="govsvc",
        ),
        _one(public_text.encode()),
    )
    session = uc.session
    pm = await post_mortem_for(session, uc.caller, incident_id, "publish")
    if pm.state != PostMortemState.APPROVED.value or pm.revision != revision:
        raise Invalid(
            "the post-mortem changed while it was being published",
            field="incidentId",
            code=ErrorCode.CONFLICT,
        )
    incident = await incident_for(session, uc.caller, incident_id, "read")
    public = PublicPostMortem(
        post_mortem_id=pm.id,
        incident_id=incident.id,
        title=f"Post-incident report {incident.reference}",
        text=public_text,
        sha256=hashlib.sha256(public_text.encode()).hexdigest(),
        source_revision=pm.revision,
        source_sha256=source_sha,
        decisions=json.dumps([s.as_json() for s in spans]),
        reviewed_by=uc.caller.actor,
        evidence_id=frozen.id,
    )
    session.add(public)
    pm.state = PostMortemState.PUBLISHED.value
    session.add(timeline_note(incident, uc.caller, "comms", "public post-mortem published"))
    await session.flush()
    await enqueue(
        session,
        event_type="post_mortem.public",
        idempotency_key=f"public-post-mortem-{public.id}",
        kinds={"status_page"},
        payload={
            "incident_reference": incident.reference,
            "title": public.title,
            "text": public_text,
            "sha256": public.sha256,
            "severity": incident.severity,
            "status": incident.status,
            "url": "",
        },
    )
    await record(
        session,
        uc.caller,
        "post_mortem.publish",
        resource_type="post_mortem",
        resource_id=pm.id,
        payload={
            "public": public.id,
            "sha256": public.sha256,
            "source_sha256": source_sha,
            "spans": len(spans),
            "evidence": frozen.id,
        },
    )
    return public
