"""The schema, assembled from each domain's queries and mutations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from govsvc.audit.schema import AuditQuery
from govsvc.authz.schema import AccessMutation, AccessQuery
from govsvc.graphql.errors import MaskUnexpectedErrors
from govsvc.graphql.scalars import DATETIME
from govsvc.incidents.schema import IncidentMutation, IncidentQuery
from govsvc.org.schema import OrgMutation, OrgQuery
from govsvc.settings import Settings


@strawberry.type
class Query(OrgQuery, AccessQuery, IncidentQuery, AuditQuery):
    node: relay.Node = relay.node(description="Any object by its global ID; null if not visible.")
    nodes: list[relay.Node | None] = relay.node()


@strawberry.type
class Mutation(OrgMutation, AccessMutation, IncidentMutation):
    pass


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The executable schema; limits come from settings, introspection only in dev."""
    # Factories, not instances: strawberry builds fresh extensions for every request.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [MaskUnexpectedErrors]
    if settings is not None:
        limits = settings
        extensions += [
            lambda: QueryDepthLimiter(max_depth=limits.graphql_max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=limits.graphql_max_aliases),
            lambda: MaxTokensLimiter(max_token_count=limits.graphql_max_tokens),
        ]
        if not settings.is_dev:
            extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: DATETIME}),
    )


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
