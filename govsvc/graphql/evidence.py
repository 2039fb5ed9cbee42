"""GraphQL of evidence: items in WORM storage, their upload, freezing, retention and erasure.
Legal holds and disposition are in govsvc.graphql.retention."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from enum import Enum
from typing import Any, Self

import strawberry
from strawberry import relay
from strawberry.file_uploads import Upload

from govsvc.authz.sensitivity import Sensitivity as SensitivityEnum
from govsvc.evidence import models, queries
from govsvc.evidence import service as evidence_service
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.incident_types import Incident, Sensitivity
from govsvc.graphql.relay import (
    connection,
    decode_cursor,
    decode_filter,
    decode_id,
    decode_optional,
    global_id,
)
from govsvc.graphql.resolvers import load_nodes, mutate, read
from govsvc.incidents import queries as incident_queries
from govsvc.pagination import page_size

strawberry.enum(models.EvidenceKind, name="EvidenceKind")
EvidenceKind = models.EvidenceKind
strawberry.enum(models.EvidenceState, name="EvidenceState")
EvidenceState = models.EvidenceState


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
        page = await read(
            info,
            lambda uc: queries.list_evidence(
                uc,
                size=page_size(first, cap=_cap(info)),
                after_id=decode_cursor(after),
                incident_id=decode_filter(f.incident_id, "Incident"),
                kinds=[str(k) for k in f.kinds or ()],
                states=[str(s_) for s_ in f.states or ()],
            ),
        )
        return connection(page, EvidenceItem.from_model)


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


@strawberry.enum(description="Why an evidence mutation refused its input.")
class EvidenceErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    JUSTIFICATION_REQUIRED = "JUSTIFICATION_REQUIRED"
    GONE = "GONE"


@strawberry.type(description="Why an evidence mutation refused its input.")
class EvidenceError(UserError):
    code: EvidenceErrorCode


@strawberry.type
class EvidencePayload:
    evidence: EvidenceItem | None = None
    errors: list[EvidenceError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, item: models.EvidenceItem) -> EvidencePayload:
        return cls(evidence=EvidenceItem.from_model(item))


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


async def _chunks(upload: Any, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    try:
        while chunk := await upload.read(size):
            yield chunk
    finally:
        await upload.close()  # the spooled temporary file is ours to close


@strawberry.type
class EvidenceMutation:
    @strawberry.mutation(
        description="Upload evidence (GraphQL multipart request); streamed to "
        "WORM storage. For very large files POST /evidence."
    )
    async def evidence_upload(self, info: Info, input: EvidenceUploadInput) -> EvidencePayload:
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

        return await mutate(
            info,
            EvidencePayload,
            lambda uc: evidence_service.collect(uc, new(), _chunks(input.file)),
            ok=EvidencePayload.of,
        )

    @strawberry.mutation(
        description="Freeze the incident's timeline and decision log into "
        "evidence (canonical JSON)."
    )
    async def evidence_freeze_incident(
        self, info: Info, input: EvidenceFreezeIncidentInput
    ) -> EvidencePayload:
        return await mutate(
            info,
            EvidencePayload,
            lambda uc: evidence_service.freeze_incident_record(
                uc,
                incident_id=decode_id(input.incident_id, "Incident", field="incidentId"),
                frameworks=input.frameworks,
            ),
            ok=EvidencePayload.of,
        )

    @strawberry.mutation(description="Keep evidence longer; retention is never shortened.")
    async def evidence_retention_extend(
        self, info: Info, input: EvidenceRetentionExtendInput
    ) -> EvidencePayload:
        until: datetime = input.retain_until
        return await mutate(
            info,
            EvidencePayload,
            lambda uc: evidence_service.extend_retention(
                uc,
                evidence_id=decode_id(input.evidence_id, "EvidenceItem", field="evidenceId"),
                retain_until=until,
                reason=input.reason,
            ),
            ok=EvidencePayload.of,
        )

    @strawberry.mutation(description="Erase encrypted evidence by destroying its key.")
    async def evidence_shred(self, info: Info, input: EvidenceShredInput) -> EvidencePayload:
        return await mutate(
            info,
            EvidencePayload,
            lambda uc: evidence_service.shred(
                uc,
                evidence_id=decode_id(input.evidence_id, "EvidenceItem", field="evidenceId"),
                reason=input.reason,
            ),
            ok=EvidencePayload.of,
        )
