"""GraphQL of evidence, legal holds and disposition."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry import relay
from strawberry.file_uploads import Upload

from govsvc.authz.sensitivity import Sensitivity as SensitivityEnum
from govsvc.evidence import models, queries
from govsvc.evidence import service as evidence_service
from govsvc.graphql.context import Info
from govsvc.graphql.errors import LegacyUserError
from govsvc.graphql.incident_types import Incident, Sensitivity
from govsvc.graphql.relay import (
    connection,
    decode_cursor,
    decode_filter,
    decode_id,
    decode_optional,
    global_id,
)
from govsvc.graphql.resolvers import load_nodes, mutate_legacy, read_legacy
from govsvc.incidents import queries as incident_queries
from govsvc.pagination import page_size
from govsvc.retention import disposition, holds

strawberry.enum(models.EvidenceKind, name="EvidenceKind")
EvidenceKind = models.EvidenceKind
strawberry.enum(models.EvidenceState, name="EvidenceState")
EvidenceState = models.EvidenceState
strawberry.enum(models.HoldScope, name="HoldScope")
HoldScope = models.HoldScope


def _cap(info: Info) -> int:
    return info.context.runtime.settings.graphql_max_page


@strawberry.type(description="An immutable artifact in WORM storage; a new version is a new item.")
class EvidenceItem(relay.Node):
    id: relay.NodeID[int]
    title: str
    kind: EvidenceKind
    description: str
    sha256: str = strawberry.field(description="SHA-256 of the evidence bytes (hex).")
    size: int = strawberry.field(description="Bytes.")
    content_type: str
    encrypted: bool = strawberry.field(description="Stored envelope-encrypted (erasable).")
    sensitivity: Sensitivity
    source_system: str
    collected_at: datetime
    collected_by: str
    frameworks: list[str]
    retention_rule: str
    retention_reason: str
    retain_until: datetime
    legal_hold: bool
    state: EvidenceState
    storage: str = strawberry.field(description="Backend, key and version of the stored object.")
    download_path: str = strawberry.field(description="GET this path (with your token).")
    previous_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, e: models.EvidenceItem) -> Self:
        return cls(
            id=e.id,
            title=e.title,
            kind=models.EvidenceKind(e.kind),
            description=e.description,
            sha256=e.sha256,
            size=e.size,
            content_type=e.content_type,
            encrypted=e.encrypted,
            sensitivity=SensitivityEnum(e.sensitivity),
            source_system=e.source_system,
            collected_at=e.collected_at,
            collected_by=e.collected_by,
            frameworks=json.loads(e.frameworks),
            retention_rule=e.retention_rule,
            retention_reason=e.retention_reason,
            retain_until=e.retain_until,
            legal_hold=e.legal_hold,
            state=models.EvidenceState(e.state),
            storage=f"{e.storage_kind}:{e.storage_key}@{e.storage_version}",
            download_path=f"/evidence/{global_id('EvidenceItem', e.id)}/content",
            previous_pk=e.previous_id,
        )

    @strawberry.field(description="The version this item supersedes.")
    async def previous(self, info: Info) -> EvidenceItem | None:
        if self.previous_pk is None:
            return None
        item = await info.context.loader(queries.evidence_by_id).load(self.previous_pk)
        return EvidenceItem.from_model(item) if item else None

    @strawberry.field(description="Incidents this evidence supports (those you may see).")
    async def incidents(self, info: Info) -> list[Incident]:
        ids = await info.context.loader(queries.incident_links, default=list).load(self.id)
        found = await info.context.loader(incident_queries.incidents_by_id).load_many(ids)
        return [Incident.from_model(i) for i in found if i is not None]

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.evidence_by_id, cls.from_model)


@strawberry.type
class LegalHold(relay.Node):
    id: relay.NodeID[int]
    matter: str
    reason: str
    scope: HoldScope
    placed_by: str
    placed_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None
    lift_reason: str | None

    @classmethod
    def from_model(cls, h: models.LegalHold) -> Self:
        return cls(
            id=h.id,
            matter=h.matter,
            reason=h.reason,
            scope=models.HoldScope(h.scope),
            placed_by=h.placed_by,
            placed_at=h.placed_at,
            lifted_by=h.lifted_by,
            lifted_at=h.lifted_at,
            lift_reason=h.lift_reason,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, queries.holds_by_id, cls.from_model)


@strawberry.type(description="Evidence that left at the end of its retention: kept for ever.")
class DispositionRecord:
    evidence_id: strawberry.ID
    title: str
    sha256: str
    retention_rule: str
    retain_until: datetime
    disposed_at: datetime
    run: int

    @classmethod
    def from_model(cls, r: models.DispositionRecord) -> Self:
        return cls(
            evidence_id=strawberry.ID(global_id("EvidenceItem", r.evidence_id)),
            title=r.title,
            sha256=r.sha256,
            retention_rule=r.retention_rule,
            retain_until=r.retain_until,
            disposed_at=r.disposed_at,
            run=r.run_id,
        )


@strawberry.type
class DispositionRecordEdge:
    cursor: str
    node: DispositionRecord


@strawberry.input
class EvidenceFilter:
    incident_id: strawberry.ID | None = None
    kinds: list[EvidenceKind] | None = None
    states: list[EvidenceState] | None = None


@strawberry.type
class EvidenceQuery:
    @strawberry.field(description="Evidence you may read, newest first.")
    async def evidence(
        self,
        info: Info,
        filter: EvidenceFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[EvidenceItem]:
        f = filter or EvidenceFilter()
        page = await read_legacy(
            info,
            lambda s, c: queries.list_evidence(
                s,
                c,
                size=page_size(first, cap=_cap(info)),
                after_id=decode_cursor(after),
                incident_id=decode_filter(f.incident_id, "Incident"),
                kinds=[str(k) for k in f.kinds or ()],
                states=[str(s_) for s_ in f.states or ()],
            ),
        )
        return connection(page, EvidenceItem.from_model)

    @strawberry.field(description="Legal holds, newest first.")
    async def legal_holds(
        self,
        info: Info,
        active_only: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[LegalHold]:
        page = await read_legacy(
            info,
            lambda s, c: holds.list_holds(
                s,
                c,
                active_only=active_only,
                size=page_size(first, cap=_cap(info)),
                after_id=decode_cursor(after),
            ),
        )
        return connection(page, LegalHold.from_model)

    @strawberry.field(description="Disposition records, newest first.")
    async def disposition_records(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> list[DispositionRecord]:
        page = await read_legacy(
            info,
            lambda s, c: queries.list_dispositions(
                s, c, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return [DispositionRecord.from_model(r) for r in page.items]


# ---------------------------------------------------------------------------- mutations


@strawberry.input(description="Evidence about an incident (or a business unit) with its file.")
class EvidenceUploadInput:
    file: Upload
    title: str
    kind: EvidenceKind
    incident_id: strawberry.ID | None = None
    business_unit_id: strawberry.ID | None = None
    sensitivity: Sensitivity | None = None
    source_system: str = ""
    description: str = ""
    collected_at: datetime | None = None
    frameworks: list[str] = strawberry.field(default_factory=list)
    encrypt: bool = strawberry.field(
        default=False, description="Envelope-encrypt (personal data: erasable)."
    )
    sha256: str | None = strawberry.field(
        default=None, description="Refuse the upload unless it hashes to this."
    )
    previous_id: strawberry.ID | None = strawberry.field(
        default=None, description="The item this one is a new version of."
    )


@strawberry.type
class EvidenceUploadError(LegacyUserError):
    pass


@strawberry.type
class EvidencePayload:
    evidence: EvidenceItem | None = None
    errors: list[EvidenceUploadError] = strawberry.field(default_factory=list)


@strawberry.input
class EvidenceFreezeIncidentInput:
    incident_id: strawberry.ID
    frameworks: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class EvidenceRetentionExtendInput:
    evidence_id: strawberry.ID
    retain_until: datetime
    reason: str


@strawberry.input
class EvidenceShredInput:
    evidence_id: strawberry.ID
    reason: str


@strawberry.input
class LegalHoldPlaceInput:
    matter: str
    reason: str
    scope: HoldScope
    incident_id: strawberry.ID | None = None
    business_unit_id: strawberry.ID | None = None
    evidence_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class LegalHoldLiftInput:
    hold_id: strawberry.ID
    reason: str


@strawberry.type
class LegalHoldError(LegacyUserError):
    pass


@strawberry.type
class LegalHoldPayload:
    legal_hold: LegalHold | None = None
    errors: list[LegalHoldError] = strawberry.field(default_factory=list)


@strawberry.input
class RetentionSweepInput:
    dry_run: bool = True


@strawberry.type
class RetentionSweepError(LegacyUserError):
    pass


@strawberry.type
class RetentionSweepPayload:
    dry_run: bool
    disposed_evidence_ids: list[strawberry.ID]
    kept: list[str] = strawberry.field(description="Items that stayed, and why.")
    errors: list[RetentionSweepError] = strawberry.field(default_factory=list)


async def _chunks(upload: Any, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    try:
        while chunk := await upload.read(size):
            yield chunk
    finally:
        await upload.close()  # the spooled temporary file is ours to close


def _evidence_payload() -> dict[str, Any]:
    return {
        "ok": lambda e: EvidencePayload(evidence=EvidenceItem.from_model(e)),
        "refused": lambda e: EvidencePayload(errors=e),
        "error_type": EvidenceUploadError,
    }


def _hold_payload() -> dict[str, Any]:
    return {
        "ok": lambda h: LegalHoldPayload(legal_hold=LegalHold.from_model(h)),
        "refused": lambda e: LegalHoldPayload(errors=e),
        "error_type": LegalHoldError,
    }


@strawberry.type
class EvidenceMutation:
    @strawberry.mutation(
        description="Upload evidence (GraphQL multipart request); streamed to "
        "WORM storage. For very large files POST /evidence."
    )
    async def evidence_upload(self, info: Info, input: EvidenceUploadInput) -> EvidencePayload:
        rt, caller = info.context.runtime, info.context.caller
        collected: datetime | None = input.collected_at

        def new() -> evidence_service.NewEvidence:
            return evidence_service.NewEvidence(
                title=input.title,
                kind=input.kind,
                content_type=getattr(input.file, "content_type", None)
                or "application/octet-stream",
                incident_id=decode_optional(input.incident_id, "Incident", field="incidentId"),
                business_unit_id=decode_optional(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                sensitivity=input.sensitivity,
                source_system=input.source_system,
                description=input.description,
                collected_at=collected,
                frameworks=input.frameworks,
                encrypt=input.encrypt,
                expected_sha256=input.sha256,
                previous_id=decode_optional(input.previous_id, "EvidenceItem", field="previousId"),
            )

        return await mutate_legacy(
            lambda: evidence_service.collect(rt, caller, new(), _chunks(input.file)),
            **_evidence_payload(),
        )

    @strawberry.mutation(
        description="Freeze the incident's timeline and decision log into "
        "evidence (canonical JSON)."
    )
    async def evidence_freeze_incident(
        self, info: Info, input: EvidenceFreezeIncidentInput
    ) -> EvidencePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: evidence_service.freeze_incident_record(
                rt,
                caller,
                incident_id=decode_id(input.incident_id, "Incident", field="incidentId"),
                frameworks=input.frameworks,
            ),
            **_evidence_payload(),
        )

    @strawberry.mutation(description="Keep evidence longer; retention is never shortened.")
    async def evidence_retention_extend(
        self, info: Info, input: EvidenceRetentionExtendInput
    ) -> EvidencePayload:
        rt, caller = info.context.runtime, info.context.caller
        until: datetime = input.retain_until
        return await mutate_legacy(
            lambda: evidence_service.extend_retention(
                rt,
                caller,
                evidence_id=decode_id(input.evidence_id, "EvidenceItem", field="evidenceId"),
                retain_until=until,
                reason=input.reason,
            ),
            **_evidence_payload(),
        )

    @strawberry.mutation(description="Erase encrypted evidence by destroying its key.")
    async def evidence_shred(self, info: Info, input: EvidenceShredInput) -> EvidencePayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: evidence_service.shred(
                rt,
                caller,
                evidence_id=decode_id(input.evidence_id, "EvidenceItem", field="evidenceId"),
                reason=input.reason,
            ),
            **_evidence_payload(),
        )

    @strawberry.mutation(description="Place a legal hold: nothing in scope is disposed of.")
    async def legal_hold_place(self, info: Info, input: LegalHoldPlaceInput) -> LegalHoldPayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: holds.place(
                rt,
                caller,
                matter=input.matter,
                reason=input.reason,
                scope=input.scope,
                incident_id=decode_optional(input.incident_id, "Incident", field="incidentId"),
                business_unit_id=decode_optional(
                    input.business_unit_id, "BusinessUnit", field="businessUnitId"
                ),
                evidence_ids=[
                    decode_id(e, "EvidenceItem", field="evidenceIds") for e in input.evidence_ids
                ],
            ),
            **_hold_payload(),
        )

    @strawberry.mutation
    async def legal_hold_lift(self, info: Info, input: LegalHoldLiftInput) -> LegalHoldPayload:
        rt, caller = info.context.runtime, info.context.caller
        return await mutate_legacy(
            lambda: holds.lift(
                rt,
                caller,
                hold_id=decode_id(input.hold_id, "LegalHold", field="holdId"),
                reason=input.reason,
            ),
            **_hold_payload(),
        )

    @strawberry.mutation(description="Run disposition now (admins); dryRun lists what would go.")
    async def retention_sweep(
        self, info: Info, input: RetentionSweepInput
    ) -> RetentionSweepPayload:
        rt, caller = info.context.runtime, info.context.caller

        return await mutate_legacy(
            lambda: disposition.sweep(rt, caller, dry_run=input.dry_run),
            ok=lambda r: RetentionSweepPayload(
                dry_run=input.dry_run,
                disposed_evidence_ids=[
                    strawberry.ID(global_id("EvidenceItem", c.evidence_id)) for c in r.disposed
                ],
                kept=[f"{global_id('EvidenceItem', c.evidence_id)}: {why}" for c, why in r.skipped],
            ),
            refused=lambda e: RetentionSweepPayload(
                dry_run=input.dry_run, disposed_evidence_ids=[], kept=[], errors=e
            ),
            error_type=RetentionSweepError,
        )
