"""GraphQL of the audit log, for auditors and compliance officers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from govsvc.audit import service as audit_service
from govsvc.audit.models import AuditEvent as AuditEventModel
from govsvc.graphql.context import Info
from govsvc.graphql.relay import INT64_MAX, connection, decode_cursor
from govsvc.graphql.resolvers import load_nodes, read
from govsvc.pagination import page_size


@strawberry.type(description="One link of the tamper-evident audit chain.")
class AuditEvent(relay.Node):
    id: relay.NodeID[int] = strawberry.field(description="Global ID over the sequence number.")
    seq: int
    at: datetime
    actor: str
    action: str
    resource_type: str
    resource_id: str
    business_unit: str | None
    request_id: str | None
    payload: JSON
    prev_hash: str
    hash: str

    @classmethod
    def from_model(cls, e: AuditEventModel) -> Self:
        return cls(
            id=e.seq,
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            resource_type=e.resource_type,
            resource_id=e.resource_id,
            business_unit=e.business_unit,
            request_id=e.request_id,
            payload=json.loads(e.payload),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, audit_service.events_by_seq, cls.from_model)


@strawberry.input
class AuditEventFilter:
    resource_type: str | None = None
    resource_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit events in chain order, filtered.")
    async def audit_events(
        self,
        info: Info,
        filter: AuditEventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[AuditEvent]:
        f = filter or AuditEventFilter()
        since: datetime | None = f.since
        until: datetime | None = f.until
        where = audit_service.EventFilter(
            resource_type=f.resource_type,
            resource_id=f.resource_id,
            actor=f.actor,
            action=f.action,
            since=since,
            until=until,
        )
        cap = info.context.runtime.settings.graphql_max_page
        after_seq = decode_cursor(after, max_key=INT64_MAX)  # the sequence is 64-bit
        page = await read(
            info,
            lambda uc: audit_service.list_events(
                uc, where=where, size=page_size(first, cap=cap), after_seq=after_seq
            ),
        )
        return connection(page, AuditEvent.from_model, key=lambda e: e.seq)
