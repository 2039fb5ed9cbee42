"""Refuse a GraphQL request carrying text the databases cannot store, before it runs.

One check for every string argument, variable or literal, of every field: no resolver needs
to remember it, and nothing half-runs."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, StringValueNode, Visitor, visit
from strawberry.extensions import SchemaExtension

from govsvc.text_input import REASON, first_unstorable, is_storable

BAD_USER_INPUT = "BAD_USER_INPUT"


class _FindUnstorableLiteral(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: StringValueNode | None = None

    def enter_string_value(self, node: StringValueNode, *_: object) -> object:
        if not is_storable(node.value):
            self.found = node
            return self.BREAK
        return None


class RefuseUnstorableText(SchemaExtension):
    """A request error (nothing executes) when a variable or a literal holds NUL or an unpaired
    surrogate; PostgreSQL would otherwise fail mid-request with an internal error."""

    def on_validate(self) -> Iterator[None]:
        error = self._refusal()
        if error is not None:
            # Strawberry skips its own validation when errors are already there and answers
            # them as a request error: the operation never runs.
            self.execution_context.pre_execution_errors = [error]
        yield

    def _refusal(self) -> GraphQLError | None:
        variables = self.execution_context.variables or {}
        where = first_unstorable(variables)
        if where is not None:
            return GraphQLError(
                f"variable ${where}: {REASON}",
                extensions={"code": BAD_USER_INPUT, "field": where},
            )
        document = self.execution_context.graphql_document
        if document is None:
            return None
        finder = _FindUnstorableLiteral()
        visit(document, finder)
        if finder.found is not None:
            return GraphQLError(REASON, nodes=[finder.found], extensions={"code": BAD_USER_INPUT})
        return None
