"""The schema, assembled from each domain's queries and mutations."""

from __future__ import annotations

import strawberry
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.extensions.base_extension import SchemaExtension
from graphql.validation import NoSchemaIntrospectionCustomRule

from govsvc.audit.schema import AuditQuery
from govsvc.authz.schema import AccessMutation, AccessQuery
from govsvc.graphql.errors import MaskUnexpectedErrors
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
    extensions: list[SchemaExtension | type[SchemaExtension]] = [MaskUnexpectedErrors]
    if settings is not None:
        extensions += [
            QueryDepthLimiter(max_depth=settings.graphql_max_depth),
            MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases),
            MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        ]
        if not settings.is_dev:
            extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions)


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"
