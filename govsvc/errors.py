"""Errors a service function may raise. Expected ones become typed payload errors in GraphQL."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    CONFLICT = "CONFLICT"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    UNKNOWN_TAG = "UNKNOWN_TAG"
    UNKNOWN_POLICY_VERSION = "UNKNOWN_POLICY_VERSION"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    JUSTIFICATION_REQUIRED = "JUSTIFICATION_REQUIRED"
    GONE = "GONE"
    COMMS_LEAD_REQUIRED = "COMMS_LEAD_REQUIRED"
    APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
    REDACTION_REQUIRED = "REDACTION_REQUIRED"
    INTEGRITY = "INTEGRITY"
    TEMPLATE_LIMIT = "TEMPLATE_LIMIT"
    UNKNOWN_CHAT_USER = "UNKNOWN_CHAT_USER"
    UNKNOWN_COMMAND = "UNKNOWN_COMMAND"


class ServiceError(Exception):
    """An expected refusal: bad input or a state that does not allow the change."""

    code: ErrorCode = ErrorCode.INVALID

    def __init__(self, message: str, *, field: str | None = None, code: ErrorCode | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Invalid(ServiceError):
    code = ErrorCode.INVALID


class NotFound(ServiceError):
    """Also what a caller gets for an object they may not see: the two look the same."""

    code = ErrorCode.NOT_FOUND


class AlreadyExists(ServiceError):
    code = ErrorCode.ALREADY_EXISTS


class Conflict(ServiceError):
    code = ErrorCode.CONFLICT


class Forbidden(Exception):
    """The caller may see the object but not do this to it (a top-level FORBIDDEN error)."""


class Unauthenticated(Exception):
    """No valid credential."""


class Unavailable(Exception):
    """Something the service needs (the database) cannot answer now: try again later (503)."""
