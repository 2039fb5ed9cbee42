"""GraphQL of retention: legal holds, disposition records and the retention sweep."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.evidence import models, queries
from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.relay import connection, decode_cursor, decode_id, decode_optional, global_id
from govsvc.graphql.resolvers import load_nodes, mutate, read
from govsvc.pagination import page_size
from govsvc.retention import disposition, holds

strawberry.enum(models.HoldScope, name="HoldScope")
HoldScope = models.HoldScope


def _cap(info: Info) -> int:
    return info.context.runtime.settings.graphql_max_page


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
class RetentionQuery:
    @strawberry.field(description="Legal holds, newest first.")
    async def legal_holds(
        self,
        info: Info,
        active_only: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[LegalHold]:
        page = await read(
            info,
            lambda uc: holds.list_holds(
                uc,
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
        page = await read(
            info,
            lambda uc: queries.list_dispositions(
                uc, size=page_size(first, cap=_cap(info)), after_id=decode_cursor(after)
            ),
        )
        return [DispositionRecord.from_model(r) for r in page.items]


# ---------------------------------------------------------------------------- mutations


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


@strawberry.input
class RetentionSweepInput:
    dry_run: bool = True


@strawberry.enum(description="Why a legal hold or retention mutation refused its input.")
class RetentionErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    JUSTIFICATION_REQUIRED = "JUSTIFICATION_REQUIRED"


@strawberry.type(description="Why a legal hold or retention mutation refused its input.")
class RetentionError(UserError):
    code: RetentionErrorCode


@strawberry.type
class LegalHoldPayload:
    legal_hold: LegalHold | None = None
    errors: list[RetentionError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, hold: models.LegalHold) -> LegalHoldPayload:
        return cls(legal_hold=LegalHold.from_model(hold))


@strawberry.type
class RetentionSweepPayload:
    dry_run: bool = False
    disposed_evidence_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    kept: list[str] = strawberry.field(
        default_factory=list, description="Items that stayed, and why."
    )
    errors: list[RetentionError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: disposition.SweepResult) -> RetentionSweepPayload:
        return cls(
            dry_run=result.dry_run,
            disposed_evidence_ids=[
                strawberry.ID(global_id("EvidenceItem", c.evidence_id)) for c in result.disposed
            ],
            kept=[
                f"{global_id('EvidenceItem', c.evidence_id)}: {why}" for c, why in result.skipped
            ],
        )


@strawberry.type
class RetentionMutation:
    @strawberry.mutation(description="Place a legal hold: nothing in scope is disposed of.")
    async def legal_hold_place(self, info: Info, input: LegalHoldPlaceInput) -> LegalHoldPayload:
        return await mutate(
            info,
            LegalHoldPayload,
            lambda uc: holds.place(
                uc,
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
            ok=LegalHoldPayload.of,
        )

    @strawberry.mutation
    async def legal_hold_lift(self, info: Info, input: LegalHoldLiftInput) -> LegalHoldPayload:
        return await mutate(
            info,
            LegalHoldPayload,
            lambda uc: holds.lift(
                uc,
                hold_id=decode_id(input.hold_id, "LegalHold", field="holdId"),
                reason=input.reason,
            ),
            ok=LegalHoldPayload.of,
        )

    @strawberry.mutation(description="Run disposition now (admins); dryRun lists what would go.")
    async def retention_sweep(
        self, info: Info, input: RetentionSweepInput
    ) -> RetentionSweepPayload:
        return await mutate(
            info,
            RetentionSweepPayload,
            lambda uc: disposition.sweep(uc, dry_run=input.dry_run),
            ok=RetentionSweepPayload.of,
        )
