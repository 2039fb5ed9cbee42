"""`node` and `nodes`: any object by global ID; a malformed, unknown or forbidden ID is null."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry import relay

from govsvc.graphql.access import Grant
from govsvc.graphql.alerts import Alert, AlertSilence
from govsvc.graphql.audit import AuditEvent
from govsvc.graphql.compliance import AuditPack
from govsvc.graphql.context import Info
from govsvc.graphql.customers import Customer
from govsvc.graphql.evidence import EvidenceItem
from govsvc.graphql.incidents import ClassificationDispute, Incident, TimelineEntry
from govsvc.graphql.oncall import EscalationPolicy, OnCallPage, Schedule
from govsvc.graphql.org import BusinessUnit, Person, Service, Team
from govsvc.graphql.outbox import WebhookDelivery
from govsvc.graphql.relay import split_global_id
from govsvc.graphql.retention import LegalHold
from govsvc.graphql.runbooks import RunbookExecution, RunbookStep

NODE_TYPES: dict[str, Any] = {
    cls.__name__: cls
    for cls in (
        Alert,
        AlertSilence,
        AuditEvent,
        AuditPack,
        BusinessUnit,
        ClassificationDispute,
        Customer,
        EscalationPolicy,
        EvidenceItem,
        Grant,
        Incident,
        LegalHold,
        OnCallPage,
        Person,
        RunbookExecution,
        RunbookStep,
        Schedule,
        Service,
        Team,
        TimelineEntry,
        WebhookDelivery,
    )
}
MAX_NODES = 100


def _split(global_id: str) -> tuple[Any, str] | None:
    split = split_global_id(global_id)
    node_type = NODE_TYPES.get(split[0]) if split is not None else None
    return (node_type, str(split[1])) if node_type is not None and split is not None else None


async def _resolve(info: Info, ids: list[str]) -> list[relay.Node | None]:
    wanted: dict[Any, list[str]] = {}
    parsed = [_split(global_id) for global_id in ids]
    for entry in parsed:
        if entry is not None:
            wanted.setdefault(entry[0], []).append(entry[1])
    found: dict[tuple[Any, str], Any] = {}
    for node_type, pks in wanted.items():
        nodes = await node_type.resolve_nodes(info=info, node_ids=pks, required=False)
        found.update(((node_type, pk), node) for pk, node in zip(pks, nodes, strict=True))
    return [found.get(entry) if entry is not None else None for entry in parsed]


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID; null if missing or not yours.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        [found] = await _resolve(info, [id])
        return found

    @strawberry.field(description=f"Objects by global ID, in order; at most {MAX_NODES}.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[relay.Node | None]:
        if len(ids) > MAX_NODES:
            raise GraphQLError(
                f"ask for at most {MAX_NODES} ids at a time",
                extensions={"code": "INVALID", "field": "ids"},
            )
        return await _resolve(info, list(ids))
