"""Small builders over the public GraphQL API, for tests that need an organisation."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL


async def unit(gql: GraphQL, code: str, parent_id: str | None = None) -> str:
    data = await gql(
        "mutation($i: BusinessUnitCreateInput!) { businessUnitCreate(input: $i) {"
        " businessUnit { id } errors { field message code } } }",
        {"i": {"code": code, "name": code.title(), "parentId": parent_id}},
    )
    payload = data["businessUnitCreate"]
    assert payload["errors"] == [], payload
    return str(payload["businessUnit"]["id"])


async def service(gql: GraphQL, code: str, unit_id: str, **sla: Any) -> str:
    values = {
        "tier": 1,
        "availabilityTargetPct": 99.9,
        "latencyThresholdMs": 300,
        "latencyOutageMs": 5000,
        **sla,
    }
    data = await gql(
        "mutation($i: ServiceCreateInput!) { serviceCreate(input: $i) {"
        " service { id } errors { field message code } } }",
        {"i": {"code": code, "name": code.title(), "businessUnitId": unit_id, **values}},
    )
    payload = data["serviceCreate"]
    assert payload["errors"] == [], payload
    return str(payload["service"]["id"])


async def team(gql: GraphQL, code: str, unit_id: str) -> str:
    data = await gql(
        "mutation($i: TeamCreateInput!) { teamCreate(input: $i) { team { id } errors { code } } }",
        {"i": {"code": code, "name": code.title(), "businessUnitId": unit_id}},
    )
    return str(data["teamCreate"]["team"]["id"])


async def incident(gql: GraphQL, service_id: str, **fields: Any) -> dict[str, Any]:
    values = {"title": "Checkout errors", "serviceId": service_id, **fields}
    data = await gql(
        "mutation($i: IncidentCreateInput!) { incidentCreate(input: $i) {"
        " incident { id reference severity impactKind status classificationPolicyVersion"
        " severityOverridden tags }"
        " errors { field message code } } }",
        {"i": values},
    )
    payload = data["incidentCreate"]
    assert payload["errors"] == [], payload
    result: dict[str, Any] = payload["incident"]
    return result


async def person_with_token(
    gql: GraphQL, email: str, role: str | None = None, unit_id: str | None = None
) -> tuple[str, str]:
    """A person, optionally granted a role, and an API token for them: (person id, token)."""
    data = await gql(
        "mutation($i: PersonCreateInput!) { personCreate(input: $i) {"
        " person { id } errors { code } } }",
        {"i": {"email": email, "name": email.split("@")[0].title()}},
    )
    person_id = str(data["personCreate"]["person"]["id"])
    if role:
        granted = await gql(
            "mutation($i: GrantCreateInput!) { grantCreate(input: $i) {"
            " grant { id } errors { code message } } }",
            {"i": {"principalId": person_id, "role": role, "businessUnitId": unit_id}},
        )
        assert granted["grantCreate"]["errors"] == [], granted
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) {"
        " token errors { code } } }",
        {"i": {"principalId": person_id}},
    )
    return person_id, str(minted["apiTokenCreate"]["token"])
