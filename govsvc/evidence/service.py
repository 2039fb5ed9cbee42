"""Use cases of evidence: collect (stream into WORM storage), version, freeze an incident's
record, extend retention, shred. Bytes first, then the row: a row never exists without its
object, and every object has an intent on record.

Collecting writes its storage intent durably (it outlives a rollback) before the first byte goes
out, so nothing may touch `uc.session` before it: everything read beforehand goes through a read
of its own (`uc.db.read()`), and the use case's own transaction starts with the evidence row."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from govsvc import validation
from govsvc.audit.chain import canonical_json
from govsvc.audit.log import record
from govsvc.authz.sensitivity import Sensitivity
from govsvc.db import utcnow
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.evidence import crypto, recovery
from govsvc.evidence.access import evidence_for
from govsvc.evidence.hold_access import covering_new
from govsvc.evidence.models import (
    EvidenceItem,
    EvidenceKind,
    EvidenceLink,
    EvidenceState,
    StorageIntent,
)
from govsvc.evidence.streams import Hashing, HashMismatch
from govsvc.incidents.common import incident_for
from govsvc.org.models import BusinessUnit
from govsvc.org.units import load_unit_tree
from govsvc.storage import IntegrityMismatch, StoredObject
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.policies import Policies

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
MIN_REASON = 10


@dataclass(frozen=True)
class NewEvidence:
    """What a collector says about the bytes they hand over."""

    title: str
    kind: EvidenceKind
    content_type: str = "application/octet-stream"
    incident_id: int | None = None
    business_unit_id: int | None = None
    sensitivity: Sensitivity | None = None
    source_system: str = ""
    description: str = ""
    collected_at: datetime | None = None
    frameworks: Sequence[str] = field(default_factory=tuple)
    encrypt: bool = False
    expected_sha256: str | None = None
    previous_id: int | None = None


@dataclass(frozen=True)
class _Placement:
    unit_id: int
    unit_code: str
    sensitivity: Sensitivity
    incident_ids: list[int]
    legal_hold: bool


def _check(policies: Policies, new: NewEvidence) -> tuple[str, list[str], datetime]:
    title = validation.text(new.title, field="title", max_length=300)
    known = policies.retention.frameworks | set(policies.retention.always)
    frameworks = sorted({f.strip().lower() for f in new.frameworks})
    unknown = [f for f in frameworks if f not in known]
    if unknown:
        raise Invalid(
            f"unknown framework {unknown[0]!r}; known: {', '.join(sorted(known))}",
            field="frameworks",
        )
    if new.expected_sha256 is not None and not _SHA256.match(new.expected_sha256):
        raise Invalid("sha256 must be 64 hexadecimal characters", field="sha256")
    if not re.match(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$", new.content_type):
        raise Invalid("not a media type", field="contentType")
    collected = new.collected_at or utcnow()
    if collected.tzinfo is None or collected > utcnow() + timedelta(minutes=5):
        raise Invalid("collection time must be a past time with a UTC offset", field="collectedAt")
    return title, frameworks, collected


async def _place(uc: UseCase, new: NewEvidence) -> _Placement:
    """Where the item will live (unit, sensitivity, links) and whether a hold already covers it.
    Read apart from the use case's transaction: the durable intent is written after it."""
    caller = uc.caller
    async with uc.db.read() as session:
        incident_ids: list[int] = []
        if new.previous_id is not None:
            previous = await evidence_for(session, caller, new.previous_id, "read")
            unit_id = previous.business_unit_id
            sensitivity = Sensitivity(previous.sensitivity)
            incident_ids = list(
                (
                    await session.execute(
                        select(EvidenceLink.target_id).where(
                            EvidenceLink.evidence_id == previous.id,
                            EvidenceLink.target_type == "incident",
                        )
                    )
                ).scalars()
            )
        elif new.incident_id is not None:
            incident = await incident_for(session, caller, new.incident_id, "read")
            unit_id, sensitivity = incident.business_unit_id, Sensitivity(incident.sensitivity)
            incident_ids = [incident.id]
        elif new.business_unit_id is not None:
            unit_id, sensitivity = new.business_unit_id, Sensitivity.INTERNAL
        else:
            raise Invalid("attach evidence to an incident or a business unit", field="incidentId")
        sensitivity = new.sensitivity or sensitivity
        unit_code = (
            await session.execute(select(BusinessUnit.code).where(BusinessUnit.id == unit_id))
        ).scalar_one_or_none()
        if unit_code is None:
            raise NotFound("no such business unit", field="businessUnitId")
        caller.access.require("create", "evidence", unit_id=unit_id, sensitivity=sensitivity)
        tree = await load_unit_tree(session)
        held = await covering_new(
            session, incident_ids=incident_ids, unit_lineage=tree.ancestors_or_self(unit_id)
        )
        return _Placement(unit_id, unit_code, sensitivity, incident_ids, held)


async def collect(uc: UseCase, new: NewEvidence, content: AsyncIterable[bytes]) -> EvidenceItem:
    """Stream evidence into WORM storage and record it, hash and retention included."""
    title, frameworks, collected = _check(uc.policies, new)
    placement = await _place(uc, new)
    decision = uc.policies.retention.decide(
        kind=new.kind.value, frameworks=frameworks, start=collected
    )
    # Object Lock needs a future date; evidence already past its period leaves at next sweep.
    retain_until = max(decision.retain_until, utcnow() + timedelta(seconds=1))
    key = f"evidence/{uuid.uuid4()}"
    # Durable: the object about to be stored outlives any rollback of the use case.
    async with uc.db.write(durable=True) as session:
        session.add(
            StorageIntent(storage_key=key, purpose="evidence", requested_by=uc.caller.actor)
        )
    data_key = crypto.new_data_key() if new.encrypt else None
    # Sealed evidence needs our own hash and size of the plaintext. For the rest the store hashes
    # what it stores (and checks expected_sha256): hashing it here as well would be wasted work.
    hashing = Hashing(content, expected=new.expected_sha256) if data_key else None
    body = crypto.encrypt(data_key, hashing) if data_key and hashing else content
    try:
        stored = await uc.store.put(
            key,
            body,
            retain_until=retain_until,
            content_type="application/octet-stream" if data_key else new.content_type,
            expected_sha256=None if data_key else new.expected_sha256,
            legal_hold=placement.legal_hold,
        )
    except (HashMismatch, IntegrityMismatch) as error:
        await _intent_failed(uc, key, str(error))
        raise Invalid(
            f"the upload does not match the given sha256 ({error})",
            field="sha256",
            code=ErrorCode.CONFLICT,
        ) from None
    except BaseException as error:
        abandoned = await _intent_failed(uc, key, f"{type(error).__name__}: {error}")
        if abandoned and isinstance(error, Exception):
            # Recovery took it for dead and removed its temp file or multipart upload under it.
            raise _abandoned() from None
        raise
    sha256 = hashing.sha256 if hashing else stored.sha256
    size = hashing.size if hashing else stored.size
    try:
        return await _record(
            uc,
            new,
            placement,
            stored,
            key=key,
            title=title,
            frameworks=frameworks,
            collected=collected,
            sha256=sha256,
            size=size,
            wrapped=crypto.wrap(uc.runtime.master_key, data_key) if data_key else None,
            rule=decision.rule_id,
            reason=decision.reason,
        )
    except _Abandoned as late:
        # Stored after recovery had looked: delete what may go, record what stays locked. The
        # call is refused, so its transaction (which holds the intent's lock) ends here and the
        # record of what stays is written durably.
        await uc.session.rollback()
        await recovery.clean_up(uc, late.intent_id, key)
        raise _abandoned() from None


class _Abandoned(Exception):
    """Recovery failed the upload's intent while the upload was still running."""

    def __init__(self, intent_id: int):
        super().__init__(f"storage intent {intent_id} was abandoned")
        self.intent_id = intent_id


def _abandoned() -> Invalid:
    return Invalid(
        "the upload took longer than the upload grace period "
        "(GOVSVC_EVIDENCE_UPLOAD_GRACE_SECONDS) and was abandoned; send it again",
        field="body",
        code=ErrorCode.CONFLICT,
    )


async def _intent_failed(uc: UseCase, key: str, failure: str) -> bool:
    """Record the failure; True when recovery had already failed the intent (kept as it is)."""
    async with uc.db.write(durable=True) as session:
        intent = (
            await session.execute(
                select(StorageIntent).where(StorageIntent.storage_key == key).with_for_update()
            )
        ).scalar_one()
        if intent.failed_at is not None:
            return True
        intent.failed_at = utcnow()
        intent.failure = failure[:2000]
        return False


async def _record(
    uc: UseCase,
    new: NewEvidence,
    placement: _Placement,
    stored: StoredObject,
    *,
    key: str,
    title: str,
    frameworks: list[str],
    collected: datetime,
    sha256: str,
    size: int,
    wrapped: bytes | None,
    rule: str,
    reason: str,
) -> EvidenceItem:
    session, caller = uc.session, uc.caller
    intent = (
        await session.execute(
            select(StorageIntent).where(StorageIntent.storage_key == key).with_for_update()
        )
    ).scalar_one()
    if intent.failed_at is not None:
        raise _Abandoned(intent.id)
    item = EvidenceItem(
        title=title,
        kind=new.kind.value,
        description=new.description,
        sha256=sha256,
        size=size,
        content_type=new.content_type,
        storage_kind=uc.store.kind,
        storage_key=key,
        storage_version=stored.version_id,
        stored_sha256=stored.sha256,
        encrypted=wrapped is not None,
        wrapped_key=wrapped,
        business_unit_id=placement.unit_id,
        sensitivity=placement.sensitivity.value,
        source_system=new.source_system,
        collected_at=collected,
        collected_by=caller.actor,
        frameworks=json.dumps(frameworks),
        retention_rule=rule,
        retention_reason=reason,
        retain_until=stored.retain_until,
        legal_hold=stored.legal_hold,
        previous_id=new.previous_id,
    )
    session.add(item)
    await session.flush()
    session.add_all(
        EvidenceLink(
            evidence_id=item.id, target_type="incident", target_id=i, linked_by=caller.actor
        )
        for i in placement.incident_ids
    )
    intent.completed_at = utcnow()
    await record(
        session,
        caller,
        "evidence.collect",
        resource_type="evidence",
        resource_id=item.id,
        unit=placement.unit_code,
        payload={
            "title": title,
            "kind": item.kind,
            "sha256": sha256,
            "size": size,
            "storage": f"{item.storage_kind}:{key}@{stored.version_id}",
            "encrypted": item.encrypted,
            "retention_rule": rule,
            "retain_until": item.retain_until,
            "legal_hold": item.legal_hold,
            "incidents": placement.incident_ids,
            "previous": new.previous_id,
            "frameworks": frameworks,
        },
    )
    return item


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def freeze_incident_record(
    uc: UseCase, *, incident_id: int, frameworks: Sequence[str] = ()
) -> EvidenceItem:
    """Freeze an incident's timeline and decision log, as canonical JSON, into evidence."""
    from govsvc.incidents import export  # incidents know how to describe themselves

    # A read of its own: collecting writes its durable intent before the use case's transaction.
    async with uc.db.read() as session:
        incident = await incident_for(session, uc.caller, incident_id, "read")
        document = await export.incident_record(session, incident)
    data = canonical_json(document).encode()
    new = NewEvidence(
        title=f"{incident.reference} timeline and decision log as of {document['exported_at']}",
        kind=EvidenceKind.TIMELINE_EXPORT,
        content_type="application/json",
        incident_id=incident.id,
        source_system="govsvc",
        frameworks=frameworks,
    )
    return await collect(uc, new, _single(data))


async def extend_retention(
    uc: UseCase, *, evidence_id: int, retain_until: datetime, reason: str
) -> EvidenceItem:
    """Keep an item longer; retention is never shortened, whatever the store would allow."""
    reason = validation.text(reason, field="reason", max_length=2000)
    if len(reason) < MIN_REASON:
        raise Invalid(
            "say why retention is extended", field="reason", code=ErrorCode.JUSTIFICATION_REQUIRED
        )
    # Read apart, and the store before the use case's transaction: no lock is held across the
    # store's call, and if the database write fails the object is kept longer, never shorter.
    async with uc.db.read() as session:
        item = await evidence_for(session, uc.caller, evidence_id, "extend_retention")
    if item.state != EvidenceState.ACTIVE.value:
        raise Invalid(
            f"the evidence is {item.state}", field="evidenceId", code=ErrorCode.ILLEGAL_TRANSITION
        )
    if retain_until <= item.retain_until:
        raise Invalid(
            f"retention can only be extended beyond {item.retain_until.isoformat()}",
            field="retainUntil",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    stored = await uc.store.extend_retention(item.storage_key, item.storage_version, retain_until)
    session, caller = uc.session, uc.caller
    item = await evidence_for(session, caller, evidence_id, "extend_retention", lock=True)
    before = item.retain_until
    item.retain_until = max(stored.retain_until, item.retain_until)
    item.retention_reason = f"{item.retention_reason}; extended: {reason}"
    await record(
        session,
        caller,
        "evidence.extend_retention",
        resource_type="evidence",
        resource_id=item.id,
        payload={"from": before, "to": item.retain_until, "reason": reason},
    )
    return item


async def shred(uc: UseCase, *, evidence_id: int, reason: str) -> EvidenceItem:
    """Destroy an encrypted item's key (right to erasure): the locked bytes stay, unreadable."""
    reason = validation.text(reason, field="reason", max_length=2000)
    if len(reason) < MIN_REASON:
        raise Invalid(
            "say why the evidence is erased", field="reason", code=ErrorCode.JUSTIFICATION_REQUIRED
        )
    session, caller = uc.session, uc.caller
    item = await evidence_for(session, caller, evidence_id, "shred", lock=True)
    if not item.encrypted:
        raise Invalid(
            "only evidence stored encrypted can be erased before its retention "
            "ends; it is kept until disposition",
            field="evidenceId",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if item.legal_hold:
        raise Invalid(
            "the evidence is under legal hold",
            field="evidenceId",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    if item.state != EvidenceState.ACTIVE.value:
        raise Invalid(
            f"the evidence is already {item.state}",
            field="evidenceId",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
    item.wrapped_key = None
    item.state = EvidenceState.SHREDDED.value
    await record(
        session,
        caller,
        "evidence.shred",
        resource_type="evidence",
        resource_id=item.id,
        payload={"sha256": item.sha256, "reason": reason},
    )
    return item
