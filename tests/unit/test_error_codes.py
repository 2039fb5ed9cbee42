"""Every refusal a domain's use cases can raise has a code in that domain's GraphQL enum.

`graphql.errors.refusal` maps a use case's `ErrorCode` to the domain's enum by name; a code the
enum lacks would reach the client as a vaguer INVALID. This reads the domain packages' source
for the codes they raise and checks each enum holds them all (and that a new enum is mapped).
"""

from __future__ import annotations

import ast
import importlib
import logging
import pkgutil
from enum import Enum
from pathlib import Path

import pytest
import strawberry

import govsvc.graphql
from govsvc.errors import ErrorCode, Invalid, NotFound, ServiceError
from govsvc.graphql.errors import UserError, refusal

ROOT = Path(govsvc.graphql.__file__).parents[1]

# The packages whose use cases answer through each domain's error type. Shared helpers they all
# call (validation, incident_for, get_service) raise INVALID and NOT_FOUND, which every enum has.
DOMAINS: dict[str, list[str]] = {
    "IncidentErrorCode": ["incidents"],
    "CommsErrorCode": ["comms"],
    "CommandErrorCode": ["command"],
    "ComplianceErrorCode": ["compliance"],
    "EvidenceErrorCode": ["evidence"],
    "RetentionErrorCode": ["retention"],
    "OrgErrorCode": ["org"],
    "AccessErrorCode": ["grants"],
    "OutboxErrorCode": ["outbox"],
    "AlertErrorCode": ["alerts"],
    "RunbookErrorCode": ["runbooks"],
    "OnCallErrorCode": ["oncall"],
}
_BY_CLASS = {"Invalid": "INVALID", "NotFound": "NOT_FOUND", "AlreadyExists": "ALREADY_EXISTS"}
_BY_CLASS["Conflict"] = "CONFLICT"


def _domain_enums() -> dict[str, type[Enum]]:
    found: dict[str, type[Enum]] = {}
    for module in pkgutil.iter_modules(govsvc.graphql.__path__):
        loaded = importlib.import_module(f"govsvc.graphql.{module.name}")
        for name, value in vars(loaded).items():
            if (
                isinstance(value, type)
                and issubclass(value, Enum)
                and name.endswith("ErrorCode")
                and value.__module__ == loaded.__name__
            ):
                found[name] = value
    return found


def _raised_codes(package: str) -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ErrorCode"
            ):
                codes.add(node.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _BY_CLASS
            ):
                codes.add(_BY_CLASS[node.func.id])
    return codes


def test_every_domain_error_enum_is_mapped_to_its_packages() -> None:
    enums = _domain_enums()
    assert "IncidentErrorCode" in enums
    assert set(enums) <= set(DOMAINS), "map the new enum to its packages in DOMAINS"


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_a_domain_enum_holds_every_code_its_use_cases_raise(name: str) -> None:
    enums = _domain_enums()
    assert name in enums, f"{name} is mapped in DOMAINS but no GraphQL module declares it"
    declared = {member.value for member in enums[name]}
    raised = set().union(*(_raised_codes(package) for package in DOMAINS[name]))
    assert raised <= declared, f"{name} lacks {sorted(raised - declared)}"
    assert {"INVALID", "NOT_FOUND"} <= declared
    assert declared <= {code.value for code in ErrorCode}, "a code no use case can raise"


@strawberry.enum
class _ShortCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"


@strawberry.type
class _ShortError(UserError):
    code: _ShortCode


def test_a_refusal_keeps_field_message_and_code() -> None:
    error = refusal(_ShortError, NotFound("no such incident", field="incidentId"))
    assert (error.field, error.message, error.code) == (
        "incidentId",
        "no such incident",
        _ShortCode.NOT_FOUND,
    )


def test_a_code_the_domain_lacks_goes_out_as_invalid_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="govsvc.graphql"):
        error = refusal(
            _ShortError, ServiceError("tag unknown", field="add", code=ErrorCode.UNKNOWN_TAG)
        )
    assert (error.field, error.message, error.code) == ("add", "tag unknown", _ShortCode.INVALID)
    assert "_ShortCode has no code UNKNOWN_TAG" in caplog.text
    assert refusal(_ShortError, Invalid("bad")).code is _ShortCode.INVALID
