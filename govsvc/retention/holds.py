"""Legal holds: placed by legal with a reason and a scope (an incident, a business unit, or a
matter naming items), mirrored onto the stored objects, and lifted on the record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.authz.access import readable
from govsvc.caller import Caller
from govsvc.db import after_commit, utcnow
from govsvc.errors import ErrorCode, Forbidden, Invalid, NotFound
from govsvc.evidence.hold_access import holds_allowed, units_of
from govsvc.evidence.models import (
    EvidenceItem,
    EvidenceLink,
    EvidenceState,
    HoldScope,
    LegalHold,
    LegalHoldItem,
)
from govsvc.incidents.common import incident_for, unit_code
from govsvc.org import reads as org_reads
from govsvc.org import service as org_service
from govsvc.org.units import load_unit_tree
from govsvc.pagination import Page, fetch_page

if TYPE_CHECKING:
    from govsvc.usecase import UseCase

MIN_REASON = 10


async def items_in_scope(session: AsyncSession, hold: LegalHold) -> list[EvidenceItem]:
    if hold.scope == HoldScope.INCIDENT.value:
        query = select(EvidenceItem).join(
            EvidenceLink,
            and_(
                EvidenceLink.evidence_id == EvidenceItem.id,
                EvidenceLink.target_type == "incident",
                EvidenceLink.target_id == hold.scope_id,
            ),
        )
    elif hold.scope == HoldScope.BUSINESS_UNIT.value:
        assert hold.scope_id is not None  # noqa: S101 - a unit hold always names its unit
        units = (await load_unit_tree(session)).descendants_or_self(hold.scope_id)
        query = select(EvidenceItem).where(EvidenceItem.business_unit_id.in_(sorted(units)))
    else:
        query = select(EvidenceItem).join(
            LegalHoldItem,
            and_(LegalHoldItem.evidence_id == EvidenceItem.id, LegalHoldItem.hold_id == hold.id),
        )
    query = query.where(EvidenceItem.state == EvidenceState.ACTIVE.value)
    return list((await session.execute(query.order_by(EvidenceItem.id))).scalars().unique())


async def _still_held(session: AsyncSession, item: EvidenceItem, *, besides: int) -> bool:
    """Is `item` covered by an active hold other than hold `besides`?"""
    for hold in (
        await session.execute(
            select(LegalHold).where(LegalHold.lifted_at.is_(None), LegalHold.id != besides)
        )
    ).scalars():
        if item.id in {i.id for i in await items_in_scope(session, hold)}:
            return True
    return False


async def place(
    uc: UseCase,
    *,
    matter: str,
    reason: str,
    scope: HoldScope,
    incident_id: int | None = None,
    business_unit_id: int | None = None,
    evidence_ids: Iterable[int] = (),
) -> LegalHold:
    """Place a hold: nothing in scope can be disposed of until it is lifted."""
    matter = validation.text(matter, field="matter")
    reason = validation.text(reason, field="reason", max_length=5000)
    if len(reason) < MIN_REASON:
        raise Invalid(
            "say why the hold is placed", field="reason", code=ErrorCode.JUSTIFICATION_REQUIRED
        )
    session, caller = uc.session, uc.caller
    scope_id, unit_id = await _scope(
        session, caller, scope, incident_id, business_unit_id, list(evidence_ids)
    )
    caller.access.require("place", "legal_hold", unit_id=unit_id)
    hold = LegalHold(
        matter=matter,
        reason=reason,
        scope=scope.value,
        scope_id=scope_id,
        placed_by=caller.actor,
    )
    session.add(hold)
    await session.flush()
    session.add_all(LegalHoldItem(hold_id=hold.id, evidence_id=e) for e in evidence_ids)
    await session.flush()
    items = await items_in_scope(session, hold)
    # Objects first: if the commit fails, the store holds more than the database says,
    # which keeps evidence; never the other way round.
    for item in items:
        await uc.store.set_legal_hold(item.storage_key, item.storage_version, on=True)
        item.legal_hold = True
    await record(
        session,
        caller,
        "legal_hold.place",
        resource_type="legal_hold",
        resource_id=hold.id,
        unit=await _audit_unit(session, hold),
        payload={
            "matter": matter,
            "reason": reason,
            "scope": scope.value,
            "scope_id": scope_id,
            "evidence": [i.id for i in items],
        },
    )
    return hold


async def _scope(
    session: AsyncSession,
    caller: Caller,
    scope: HoldScope,
    incident_id: int | None,
    business_unit_id: int | None,
    evidence_ids: list[int],
) -> tuple[int | None, int | None]:
    """The hold's scope id and the unit its authority is checked in."""
    if scope is HoldScope.INCIDENT:
        if incident_id is None:
            raise Invalid("name the incident", field="incidentId")
        incident = await incident_for(session, caller, incident_id, "read")
        return incident.id, incident.business_unit_id
    if scope is HoldScope.BUSINESS_UNIT:
        if business_unit_id is None:
            raise Invalid("name the business unit", field="businessUnitId")
        # A unit the caller may not see is refused as missing, not as forbidden: the refusal
        # must not tell whether it exists.
        unit = await org_reads.one(
            session, caller, org_service.UNITS, business_unit_id, field="businessUnitId"
        )
        return unit.id, unit.id
    if not evidence_ids:
        raise Invalid("a matter hold names the evidence it covers", field="evidenceIds")
    visible = (
        (
            await session.execute(
                select(EvidenceItem).where(
                    EvidenceItem.id.in_(evidence_ids),
                    readable(
                        caller.access,
                        "evidence",
                        EvidenceItem.business_unit_id,
                        EvidenceItem.sensitivity,
                    ),
                )
            )
        )
        .scalars()
        .all()
    )
    if len(visible) != len(set(evidence_ids)):
        raise NotFound("no such evidence", field="evidenceIds")
    for item in visible:
        caller.access.require("place", "legal_hold", unit_id=item.business_unit_id)
    return None, None


async def lift(uc: UseCase, *, hold_id: int, reason: str) -> LegalHold:
    """Lift a hold; items no other hold covers become disposable again when their time is up."""
    reason = validation.text(reason, field="reason", max_length=5000)
    if len(reason) < MIN_REASON:
        raise Invalid(
            "say why the hold is lifted", field="reason", code=ErrorCode.JUSTIFICATION_REQUIRED
        )
    session, caller = uc.session, uc.caller
    hold = await _visible_hold(session, caller, hold_id)
    await _require_on_every_unit(session, caller, hold, "lift")
    if hold.lifted_at is not None:
        raise Invalid(
            "the hold was already lifted", field="holdId", code=ErrorCode.ILLEGAL_TRANSITION
        )
    hold.lifted_at, hold.lifted_by, hold.lift_reason = utcnow(), caller.actor, reason
    released = []
    for item in await items_in_scope(session, hold):
        if not await _still_held(session, item, besides=hold.id):
            item.legal_hold = False
            released.append(item)
    await record(
        session,
        caller,
        "legal_hold.lift",
        resource_type="legal_hold",
        resource_id=hold.id,
        unit=await _audit_unit(session, hold),
        payload={"matter": hold.matter, "reason": reason, "released": [i.id for i in released]},
    )

    # After the commit: a crash here leaves the store holding on, which only keeps evidence.
    async def release() -> None:
        for item in released:
            await uc.store.set_legal_hold(item.storage_key, item.storage_version, on=False)

    await after_commit(release)
    return hold


async def _visible_hold(session: AsyncSession, caller: Caller, hold_id: int) -> LegalHold:
    """The hold if the caller may read it in every unit it touches; NotFound otherwise."""
    found = await session.execute(
        select(LegalHold).where(LegalHold.id == hold_id, holds_allowed(caller.access, "read"))
    )
    hold = found.scalar_one_or_none()
    if hold is None:
        raise NotFound("no such legal hold", field="holdId")
    return hold


async def _require_on_every_unit(
    session: AsyncSession, caller: Caller, hold: LegalHold, action: str
) -> None:
    allowed = await session.execute(
        select(LegalHold.id).where(LegalHold.id == hold.id, holds_allowed(caller.access, action))
    )
    if allowed.first() is None:
        raise Forbidden(f"not allowed to {action} legal_hold in every unit it covers")


async def _audit_unit(session: AsyncSession, hold: LegalHold) -> str | None:
    """The unit the hold's audit events belong to when it touches exactly one; events of a
    hold across units stay with readers of every unit."""
    units = (await units_of(session, [hold.id])).get(hold.id, set())
    return await unit_code(session, next(iter(units))) if len(units) == 1 else None


async def list_holds(
    uc: UseCase, *, active_only: bool, size: int, after_id: int | None
) -> Page[LegalHold]:
    """Legal holds, newest first, that the caller may read in every unit they touch."""
    query = select(LegalHold).where(holds_allowed(uc.caller.access, "read"))
    if active_only:
        query = query.where(LegalHold.lifted_at.is_(None))
    return await fetch_page(uc.session, query, id_column=LegalHold.id, size=size, after_id=after_id)
