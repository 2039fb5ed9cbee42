"""Builders for on-call tests, over the public GraphQL API."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL

ERRORS = "errors { field message code }"
SCHEDULE_FIELDS = (
    "id name version layers { name timeZone rrule start windows { start end days }"
    " members { id email } }"
)
SHIFT = "start end source layer overrideId person { id email }"


async def person(
    gql: GraphQL, email: str, *, time_zone: str = "UTC", jurisdiction: str | None = None
) -> str:
    data = await gql(
        "mutation($i: PersonCreateInput!) { personCreate(input: $i) {"
        f" person {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "email": email,
                "name": email.split("@")[0].title(),
                "timeZone": time_zone,
                "jurisdiction": jurisdiction,
            }
        },
    )
    assert data["personCreate"]["errors"] == [], data
    return str(data["personCreate"]["person"]["id"])


def layer(
    name: str,
    members: list[str],
    *,
    time_zone: str = "Europe/Berlin",
    rrule: str = "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
    start: str = "2027-03-15T09:00",
    windows: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "timeZone": time_zone,
        "rrule": rrule,
        "start": start,
        "memberIds": members,
        "windows": windows or [],
    }


async def create_schedule(
    gql: GraphQL, unit_id: str, layers: list[dict[str, Any]], name: str = "Primary"
) -> dict[str, Any]:
    """The payload of scheduleCreate (schedule and errors)."""
    data = await gql(
        "mutation($i: ScheduleCreateInput!) { scheduleCreate(input: $i) {"
        f" schedule {{ {SCHEDULE_FIELDS} }} {ERRORS} }} }}",
        {"i": {"businessUnitId": unit_id, "name": name, "layers": layers}},
    )
    payload: dict[str, Any] = data["scheduleCreate"]
    return payload


async def schedule(gql: GraphQL, unit_id: str, layers: list[dict[str, Any]], **kw: Any) -> str:
    payload = await create_schedule(gql, unit_id, layers, **kw)
    assert payload["errors"] == [], payload
    return str(payload["schedule"]["id"])


async def on_call(gql: GraphQL, schedule_id: str, at: str) -> dict[str, Any] | None:
    data = await gql(
        f"query($s: ID!, $at: DateTime) {{ onCall(scheduleId: $s, at: $at) {{ {SHIFT} }} }}",
        {"s": schedule_id, "at": at},
    )
    found: dict[str, Any] | None = data["onCall"]
    return found


async def override(
    gql: GraphQL, schedule_id: str, person_id: str, start: str, end: str
) -> dict[str, Any]:
    data = await gql(
        "mutation($i: ScheduleOverrideCreateInput!) { scheduleOverrideCreate(input: $i) {"
        f" override {{ id startsAt endsAt person {{ id }} }} {ERRORS} }} }}",
        {
            "i": {
                "scheduleId": schedule_id,
                "personId": person_id,
                "startsAt": start,
                "endsAt": end,
                "reason": "swap with a colleague",
            }
        },
    )
    payload: dict[str, Any] = data["scheduleOverrideCreate"]
    return payload


async def policy(
    gql: GraphQL, unit_id: str, levels: list[dict[str, Any]], *, repeats: int = 0
) -> str:
    data = await gql(
        "mutation($i: EscalationPolicyCreateInput!) { escalationPolicyCreate(input: $i) {"
        f" policy {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "businessUnitId": unit_id,
                "name": "Checkout",
                "repeats": repeats,
                "levels": levels,
            }
        },
    )
    assert data["escalationPolicyCreate"]["errors"] == [], data
    return str(data["escalationPolicyCreate"]["policy"]["id"])


async def point_service(gql: GraphQL, service_id: str, policy_id: str | None) -> dict[str, Any]:
    data = await gql(
        "mutation($i: ServiceEscalationPolicySetInput!) { serviceEscalationPolicySet(input: $i)"
        f" {{ serviceId policyId {ERRORS} }} }}",
        {"i": {"serviceId": service_id, "policyId": policy_id}},
    )
    payload: dict[str, Any] = data["serviceEscalationPolicySet"]
    return payload
