"""Who may read an audit pack: only someone who could read everything in it.

A pack holds incidents, evidence and audit events from the business units it covers, so reading
it is reading them. When a pack is built, what it holds is recorded (`AuditPack.covers`: the
distinct unit and sensitivity of each kind of thing); a reader must hold `read` on audit packs
and be able to read each of those entries. A pack not built yet (or made before this was
recorded) says nothing about its contents: only the person it is built for, or a reader of
everything everywhere, may see it. A pack you may not read is missing, exactly like an absent
one, wherever it is asked for (GraphQL `auditPack`, `node`, the download route)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc.audit.log import record
from govsvc.authz.access import Access
from govsvc.authz.policy import ANY_UNIT
from govsvc.authz.sensitivity import Sensitivity
from govsvc.caller import Caller
from govsvc.compliance.models import AuditPack, AuditPackState
from govsvc.errors import Conflict, NotFound

if TYPE_CHECKING:
    from govsvc.usecase import UseCase

# What a pack's contents are read as; each must be readable for the pack to be.
CONTENT_TYPES = ("incident", "evidence", "audit_event")


def covers_json(
    *,
    incidents: Iterable[tuple[int, str]],
    evidence: Iterable[tuple[int, str]],
    event_units: Iterable[str | None],
) -> str:
    """The canonical record of what a pack holds: (unit id, sensitivity) of its incidents and
    evidence, the unit codes its audit events name (None: an event outside any unit)."""
    entries: list[dict[str, Any]] = [
        {"type": "incident", "unit": unit, "sensitivity": level}
        for unit, level in sorted(set(incidents))
    ]
    entries += [
        {"type": "evidence", "unit": unit, "sensitivity": level}
        for unit, level in sorted(set(evidence))
    ]
    codes = set(event_units)
    entries += [
        {"type": "audit_event", "unit_code": code}
        for code in sorted(codes, key=lambda c: (c is not None, c or ""))
    ]
    return json.dumps(entries, sort_keys=True)


def _reads_everything_everywhere(access: Access) -> bool:
    top = Sensitivity.RESTRICTED.value
    return all(
        any(
            g.unit_id is None and access.policy.allows(g.role, ANY_UNIT, kind, "read", top)
            for g in access.grants
        )
        for kind in CONTENT_TYPES
    )


def _reads_entry(access: Access, entry: dict[str, Any]) -> bool:
    if entry["type"] == "audit_event":
        # As the audit log itself decides (govsvc.audit.service.readable_events).
        scope = access.scope("read", "audit_event")
        if scope.everywhere is not None:
            return True
        code = entry["unit_code"]
        codes = {access.units.code_of.get(u) for u in scope.per_unit}
        return code is not None and code in codes
    return access.allows(
        "read",
        entry["type"],
        unit_id=int(entry["unit"]),
        sensitivity=Sensitivity(entry["sensitivity"]),
    )


def may_read(caller: Caller, pack: AuditPack) -> bool:
    """Could this caller read everything the pack holds?"""
    access = caller.access
    if not access.allows("read", "audit_pack"):
        return False
    if pack.covers is None:
        mine = caller.principal_id is not None and caller.principal_id == pack.requested_by_id
        return mine or _reads_everything_everywhere(access)
    return all(_reads_entry(access, entry) for entry in json.loads(pack.covers))


async def pack_for(session: AsyncSession, caller: Caller, pack_id: int) -> AuditPack:
    """The pack if the caller may read it; NotFound otherwise, as for a pack that is not there."""
    pack = await session.get(AuditPack, pack_id)
    if pack is None or not may_read(caller, pack):
        raise NotFound("no such audit pack", field="id")
    return pack


async def audit_pack(uc: UseCase, *, pack_id: int) -> AuditPack:
    """An audit pack and how far its build has got, if the caller may read it."""
    return await pack_for(uc.session, uc.caller, pack_id)


@dataclass(frozen=True)
class Download:
    """What to stream for a ready pack: where its bytes are and what they must hash to."""

    pack_id: int
    storage_key: str
    storage_version: str
    sha256: str
    size: int | None


async def download(uc: UseCase, *, pack_id: int) -> Download:
    """Hand out a ready pack's bytes (audited: reading a pack is reading everything in it);
    a pack not ready yet is a conflict, one the caller may not read is missing."""
    pack = await pack_for(uc.session, uc.caller, pack_id)
    key, version, digest = pack.storage_key, pack.storage_version, pack.sha256
    if pack.state != AuditPackState.READY.value or not (key and version and digest):
        raise Conflict(
            f"the audit pack is {pack.state} ({pack.progress:.0%}); it can be "
            "downloaded once ready",
            field="id",
        )
    await record(
        uc.session,
        uc.caller,
        "audit_pack.download",
        resource_type="audit_pack",
        resource_id=pack.id,
        payload={"sha256": digest},
    )
    return Download(pack.id, key, version, digest, pack.size)


async def packs_by_id(
    session: AsyncSession, caller: Caller, ids: Iterable[int]
) -> dict[int, AuditPack]:
    """Batch lookup for `node`/`nodes` (a per-request loader): the packs the caller may read."""
    rows = (await session.execute(select(AuditPack).where(AuditPack.id.in_(set(ids))))).scalars()
    return {p.id: p for p in rows if may_read(caller, p)}
