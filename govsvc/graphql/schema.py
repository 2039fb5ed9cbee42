"""The schema, assembled from each domain's queries and mutations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from govsvc.graphql.access import AccessMutation, AccessQuery
from govsvc.graphql.alerts import AlertMutation, AlertQuery
from govsvc.graphql.audit import AuditQuery
from govsvc.graphql.command import CommandMutation, CommandQuery
from govsvc.graphql.comms import CommsMutation, CommsQuery
from govsvc.graphql.compliance import ComplianceMutation, ComplianceQuery
from govsvc.graphql.errors import MaskUnexpectedErrors
from govsvc.graphql.evidence import EvidenceMutation, EvidenceQuery
from govsvc.graphql.incidents import IncidentMutation, IncidentQuery
from govsvc.graphql.live import Subscription
from govsvc.graphql.nodes import NodeQuery
from govsvc.graphql.oncall import OnCallMutation, OnCallQuery
from govsvc.graphql.org import OrgMutation, OrgQuery
from govsvc.graphql.outbox import OutboxMutation, OutboxQuery
from govsvc.graphql.retention import RetentionMutation, RetentionQuery
from govsvc.graphql.runbooks import RunbookMutation, RunbookQuery
from govsvc.graphql.scalars import DATETIME
from govsvc.graphql.text_guard import RefuseUnstorableText
from govsvc.settings import Settings


@strawberry.type
class Query(
    NodeQuery,
    OrgQuery,
    AccessQuery,
    IncidentQuery,
    CommsQuery,
    CommandQuery,
    EvidenceQuery,
    RetentionQuery,
    ComplianceQuery,
    OutboxQuery,
    AuditQuery,
    AlertQuery,
    RunbookQuery,
    OnCallQuery,
):
    pass


@strawberry.type
class Mutation(
    OrgMutation,
    AccessMutation,
    IncidentMutation,
    CommsMutation,
    CommandMutation,
    EvidenceMutation,
    RetentionMutation,
    ComplianceMutation,
    OutboxMutation,
    AlertMutation,
    RunbookMutation,
    OnCallMutation,
):
    pass


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    introspection: bool

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.graphql_max_depth,
            settings.graphql_max_aliases,
            settings.graphql_max_tokens,
            introspection=settings.is_dev,
        )


NO_LIMITS = Limits(max_depth=0, max_aliases=0, max_tokens=0, introspection=True)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The executable schema; limits come from settings, introspection only in dev."""
    return _schema(Limits.of(settings) if settings else NO_LIMITS)


# Each configuration is built once per process and shared: it holds no per-request state.
@cache
def _schema(limits: Limits) -> strawberry.Schema:
    # Factories, not instances: strawberry builds fresh extensions for every request.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        MaskUnexpectedErrors,
        RefuseUnstorableText,
    ]
    if limits.max_depth:
        extensions.append(lambda: QueryDepthLimiter(max_depth=limits.max_depth))
    if limits.max_aliases:
        extensions.append(lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases))
    if limits.max_tokens:
        extensions.append(lambda: MaxTokensLimiter(max_token_count=limits.max_tokens))
    if not limits.introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: DATETIME}),
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
