"""Who may see or act on a legal hold (those whose grants cover every business unit it touches),
and whether a hold already covers evidence about to be stored.

A hold has no unit column of its own; its units follow from its scope, so they can never
disagree with what it holds: an incident hold touches the incident's unit, a unit hold that
unit (and, through the tree, its children), a matter hold the unit of every item it names.
A hold whose reason and matter concern unit B must not be read or lifted from unit A, even when
it also names items of A: access is checked on all of its units, in the query itself, so a
forbidden hold looks exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select, true, union
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.authz.access import Access
from govsvc.evidence.models import EvidenceItem, HoldScope, LegalHold, LegalHoldItem
from govsvc.incidents.models import Incident


def _hold_units() -> Select[tuple[int, int]]:
    """(hold id, business unit id) for every unit each hold touches."""
    by_incident = select(LegalHold.id.label("hold_id"), Incident.business_unit_id.label("unit_id"))
    by_incident = by_incident.join(
        Incident,
        and_(LegalHold.scope == HoldScope.INCIDENT.value, Incident.id == LegalHold.scope_id),
    )
    by_unit = select(LegalHold.id, LegalHold.scope_id).where(
        LegalHold.scope == HoldScope.BUSINESS_UNIT.value, LegalHold.scope_id.is_not(None)
    )
    by_item = select(LegalHoldItem.hold_id, EvidenceItem.business_unit_id).join(
        EvidenceItem, EvidenceItem.id == LegalHoldItem.evidence_id
    )
    return union(by_incident, by_unit, by_item)  # type: ignore[return-value]


def holds_allowed(access: Access, action: str) -> ColumnElement[bool]:
    """WHERE clause on LegalHold: the holds the caller may `action` (read, lift) in every unit
    they touch. A hold that touches no unit at all is for grants over every unit only."""
    scope = access.scope(action, "legal_hold")
    if scope.everywhere is not None:
        return true()
    if scope.is_empty:
        return false()
    units = _hold_units().subquery()
    allowed = scope.where(units.c.unit_id)
    of_this_hold = units.c.hold_id == LegalHold.id
    return and_(
        exists(select(units.c.hold_id).where(of_this_hold, allowed)),
        not_(exists(select(units.c.hold_id).where(of_this_hold, not_(allowed)))),
    )


async def units_of(session: AsyncSession, hold_ids: Iterable[int]) -> dict[int, set[int]]:
    """The business units each hold touches."""
    units = _hold_units().subquery()
    rows = await session.execute(
        select(units.c.hold_id, units.c.unit_id).where(units.c.hold_id.in_(set(hold_ids)))
    )
    found: dict[int, set[int]] = {}
    for hold_id, unit_id in rows.all():
        found.setdefault(hold_id, set()).add(unit_id)
    return found


async def covering_new(
    session: AsyncSession, *, incident_ids: Sequence[int], unit_lineage: Sequence[int]
) -> bool:
    """Does an active hold already cover evidence about to join these incidents and unit?"""
    found = await session.execute(
        select(LegalHold.id)
        .where(
            LegalHold.lifted_at.is_(None),
            or_(
                and_(
                    LegalHold.scope == HoldScope.INCIDENT.value,
                    LegalHold.scope_id.in_(list(incident_ids)),
                ),
                and_(
                    LegalHold.scope == HoldScope.BUSINESS_UNIT.value,
                    LegalHold.scope_id.in_(list(unit_lineage)),
                ),
            ),
        )
        .limit(1)
    )
    return found.first() is not None
