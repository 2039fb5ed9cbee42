"""Reads of evidence, holds and disposition records, filtered by the caller's rights."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.evidence.access import readable_evidence
from govsvc.evidence.hold_access import holds_allowed
from govsvc.evidence.models import (
    DispositionRecord,
    EvidenceItem,
    EvidenceLink,
    LegalHold,
)
from govsvc.pagination import Page, fetch_page
from govsvc.usecase import UseCase


async def list_evidence(
    uc: UseCase,
    *,
    size: int,
    after_id: int | None,
    incident_id: int | None = None,
    kinds: Sequence[str] = (),
    states: Sequence[str] = (),
) -> Page[EvidenceItem]:
    """Evidence the caller may read, newest first."""
    query = select(EvidenceItem).where(readable_evidence(uc.caller))
    if incident_id is not None:
        query = query.join(
            EvidenceLink,
            and_(
                EvidenceLink.evidence_id == EvidenceItem.id,
                EvidenceLink.target_type == "incident",
                EvidenceLink.target_id == incident_id,
            ),
        )
    if kinds:
        query = query.where(EvidenceItem.kind.in_(list(kinds)))
    if states:
        query = query.where(EvidenceItem.state.in_(list(states)))
    return await fetch_page(
        uc.session, query, id_column=EvidenceItem.id, size=size, after_id=after_id
    )


async def evidence_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, EvidenceItem]:
    rows = await session.execute(
        select(EvidenceItem).where(EvidenceItem.id.in_(set(ids)), readable_evidence(caller))
    )
    return {item.id: item for item in rows.scalars()}


async def incident_links(
    session: AsyncSession, _: Caller, ids: Iterable[int]
) -> dict[int, list[int]]:
    """Incident ids each evidence item supports (items already shown to the caller)."""
    grouped: dict[int, list[int]] = {}
    rows = await session.execute(
        select(EvidenceLink.evidence_id, EvidenceLink.target_id).where(
            EvidenceLink.evidence_id.in_(set(ids)), EvidenceLink.target_type == "incident"
        )
    )
    for evidence_id, incident_id in rows:
        grouped.setdefault(evidence_id, []).append(incident_id)
    return grouped


async def holds_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, LegalHold]:
    rows = await session.execute(
        select(LegalHold).where(LegalHold.id.in_(set(ids)), holds_allowed(caller.access, "read"))
    )
    return {hold.id: hold for hold in rows.scalars()}


async def list_dispositions(
    uc: UseCase, *, size: int, after_id: int | None
) -> Page[DispositionRecord]:
    """What was disposed of, newest first, for those who keep the records of its unit (a
    record names the item and its hash: another unit's are as private as its evidence)."""
    visible = readable(
        uc.caller.access, "disposition", EvidenceItem.business_unit_id, EvidenceItem.sensitivity
    )
    return await fetch_page(
        uc.session,
        select(DispositionRecord)
        .join(EvidenceItem, EvidenceItem.id == DispositionRecord.evidence_id)
        .where(visible),
        id_column=DispositionRecord.id,
        size=size,
        after_id=after_id,
    )
