"""Builders for command tests: people in teams, incidents of a given severity, role calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from govsvc.audit.models import AuditEvent
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
ASSIGN = (
    "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i) {"
    " role holder { role note overrodeConflict person { email } }"
    " conflicts { rule description held hidden } backups { email } " + ERRORS + " } }"
)
RELEASE = (
    "mutation($i: IncidentRoleReleaseInput!) { incidentRoleRelease(input: $i) {"
    " role holder { role endReason endNote endedAt person { email } } " + ERRORS + " } }"
)
ROLES = """
query($id: ID!) { node(id: $id) { ... on Incident {
  reference severity
  commander { email }
  roles { role note person { email } endedAt }
  roleHistory { role person { email } endedAt endReason endNote handedOverTo { email } }
  commandModel { model source rule reason }
  decisions { decision rationale alternatives decidedBy { email } }
  latestTimeline(limit: 10) { kind text }
} } }
"""
REASON = "the only database specialist awake in this time zone"


async def person(gql: GraphQL, email: str, *teams: str) -> str:
    person_id, _ = await helpers.person_with_token(gql, email)
    for team_id in teams:
        added = await gql(
            "mutation($i: TeamMembershipInput!) { teamMemberAdd(input: $i) { errors { code } } }",
            {"i": {"teamId": team_id, "personId": person_id}},
        )
        assert added["teamMemberAdd"]["errors"] == [], added
    return person_id


async def incident(gql: GraphQL, service_id: str, severity: str | None = None) -> dict[str, Any]:
    created = await helpers.incident(gql, service_id)
    if severity and created["severity"] != severity:
        changed = await gql(
            "mutation($i: IncidentSeverityOverrideInput!) { incidentSeverityOverride(input: $i)"
            " { incident { severity } errors { code } } }",
            {"i": {"incidentId": created["id"], "severity": severity, "justification": REASON}},
        )
        assert changed["incidentSeverityOverride"]["incident"]["severity"] == severity, changed
        created["severity"] = severity
    return created


async def assign(gql: GraphQL, incident_id: str, role: str, person_id: str, **more: Any) -> Any:
    data = await gql(
        ASSIGN, {"i": {"incidentId": incident_id, "role": role, "personId": person_id, **more}}
    )
    return data["incidentRoleAssign"]


async def assigned(gql: GraphQL, incident_id: str, role: str, person_id: str, **more: Any) -> Any:
    payload = await assign(gql, incident_id, role, person_id, **more)
    assert payload["errors"] == [], payload
    return payload


async def roles(gql: GraphQL, incident_id: str) -> Any:
    return (await gql(ROLES, {"id": incident_id}))["node"]


async def audit_count(runtime: Runtime) -> int:
    async with runtime.db.read() as session:
        count: int = (
            await session.execute(select(func.count()).select_from(AuditEvent))
        ).scalar_one()
        return count


async def audit_actions(runtime: Runtime) -> list[str]:
    async with runtime.db.read() as session:
        rows = await session.execute(select(AuditEvent.action).order_by(AuditEvent.seq))
        return list(rows.scalars())
