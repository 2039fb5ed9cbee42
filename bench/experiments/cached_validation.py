"""EXPERIMENT, not a fix: `govsvc serve` with GraphQL parse and validation cached.

    .venv/bin/python bench/run.py --server-wrapper bench/experiments/cached_validation.py

Why: the schema's extensions are per-request factories, and QueryDepthLimiter and
MaxAliasesLimiter each define a new validation-rule class in their constructor, so every request
re-validates its document from scratch (and a ValidationCache could never hit: its key includes
the rule classes). Here the rule classes are made once per schema, and strawberry's ParserCache
and ValidationCache are added; the limits and the introspection ban stay exactly as configured.

It replaces govsvc.graphql.schema._schema before the app imports it, so it tracks that private
function's shape at the time of writing (2026-11-27); if that changes, this wrapper must too.
"""

from __future__ import annotations

import sys
from datetime import datetime
from functools import cache
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from govsvc.graphql import schema as schema_module


@cache
def _schema(limits: Any) -> strawberry.Schema:
    rules: list[Any] = []
    if limits.max_depth:
        rules += QueryDepthLimiter(max_depth=limits.max_depth).validation_rules
    if limits.max_aliases:
        rules += MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules
    if not limits.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Any] = [schema_module.MaskUnexpectedErrors]
    if limits.max_tokens:
        extensions.append(lambda: MaxTokensLimiter(max_token_count=limits.max_tokens))
    extensions += [
        lambda: AddValidationRules(rules),  # the same classes on every request
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    return strawberry.Schema(
        query=schema_module.Query,
        mutation=schema_module.Mutation,
        subscription=getattr(schema_module, "Subscription", None),
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: schema_module.DATETIME}),
    )


schema_module._schema = _schema  # type: ignore[assignment]

if __name__ == "__main__":
    from govsvc.cli import main

    sys.exit(main())
