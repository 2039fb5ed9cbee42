"""The one error type of the organisation's mutations (units, services, teams, people,
customers), shared by govsvc.graphql.org and govsvc.graphql.customers."""

from __future__ import annotations

from enum import Enum

import strawberry

from govsvc.graphql.errors import UserError


@strawberry.enum(description="Why an organisation mutation refused its input.")
class OrgErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    CONFLICT = "CONFLICT"


@strawberry.type(description="Why an organisation mutation refused its input.")
class OrgError(UserError):
    code: OrgErrorCode
