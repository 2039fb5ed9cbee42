"""Which evidence a caller may see: the unit and sensitivity of each item, in the query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import readable
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.errors import NotFound
from govsvc.evidence.models import EvidenceItem


def readable_evidence(caller: Caller) -> Any:
    return readable(
        caller.access, "evidence", EvidenceItem.business_unit_id, EvidenceItem.sensitivity
    )


async def evidence_for(
    session: AsyncSession, caller: Caller, evidence_id: int, action: str, *, lock: bool = False
) -> EvidenceItem:
    """The item if the caller may see it and do `action` to it; NotFound when unseen."""
    query = select(EvidenceItem).where(EvidenceItem.id == evidence_id, readable_evidence(caller))
    if lock:
        query = query.with_for_update()
    item = (await session.execute(query)).scalar_one_or_none()
    if item is None:
        raise NotFound("no such evidence", field="evidenceId")
    caller.access.require(
        action, "evidence", unit_id=item.business_unit_id, sensitivity=Sensitivity(item.sensitivity)
    )
    return item
