"""Authorization over HTTP: who sees and changes what, through grants on the unit tree.

A small organisation is built through GraphQL as the bootstrapped admin:

    group ─┬─ payments   (service pay-api)
           └─ retail     (service shop-web)

with incidents of every sensitivity in both children, created interleaved so that a page
filtered after fetching would come back short. People get grants and API tokens through the
API too, and every assertion is made with their own token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from strawberry import relay

from govsvc.db import utcnow
from govsvc.grants.models import Grant
from govsvc.runtime import Runtime
from tests.conftest import GraphQL

# (unit, sensitivity, title) in creation order: ids ascend down this list.
INCIDENTS = [
    ("payments", "INTERNAL", "p-int-1"),
    ("retail", "INTERNAL", "r-int-1"),
    ("payments", "RESTRICTED", "p-res-1"),
    ("payments", "CONFIDENTIAL", "p-conf-1"),
    ("retail", "CONFIDENTIAL", "r-conf-1"),
    ("payments", "INTERNAL", "p-int-2"),
    ("retail", "RESTRICTED", "r-res-1"),
    ("payments", "RESTRICTED", "p-res-2"),
    ("payments", "CONFIDENTIAL", "p-conf-2"),
    ("retail", "INTERNAL", "r-int-2"),
    ("payments", "INTERNAL", "p-int-3"),
]
PAYMENTS_UP_TO_CONFIDENTIAL = ["p-int-3", "p-conf-2", "p-int-2", "p-conf-1", "p-int-1"]
RETAIL_UP_TO_CONFIDENTIAL = ["r-int-2", "r-conf-1", "r-int-1"]
MADE_UP_INCIDENT = relay.to_base64("Incident", 987_654)

NOT_FOUND_INCIDENT = [{"field": "incidentId", "message": "no such incident", "code": "NOT_FOUND"}]


@dataclass(frozen=True)
class Org:
    units: dict[str, str]  # code -> global id
    services: dict[str, str]
    incidents: dict[str, str]  # title -> global id


@dataclass(frozen=True)
class Member:
    person_id: str
    grant_id: str
    gql: GraphQL


# --------------------------------------------------------------------------- building blocks


async def create_unit(gql: GraphQL, code: str, parent_id: str | None = None) -> str:
    data = await gql(
        """mutation($input: BusinessUnitCreateInput!) {
             businessUnitCreate(input: $input) { businessUnit { id } errors { code message } }
           }""",
        {"input": {"code": code, "name": code.title(), "parentId": parent_id}},
    )
    payload = data["businessUnitCreate"]
    assert payload["errors"] == []
    unit_id: str = payload["businessUnit"]["id"]
    return unit_id


async def create_service(gql: GraphQL, code: str, unit_id: str) -> str:
    data = await gql(
        """mutation($input: ServiceCreateInput!) {
             serviceCreate(input: $input) { service { id } errors { code message } }
           }""",
        {
            "input": {
                "code": code,
                "name": code,
                "businessUnitId": unit_id,
                "tier": 2,
                "availabilityTargetPct": 99.9,
            }
        },
    )
    payload = data["serviceCreate"]
    assert payload["errors"] == []
    service_id: str = payload["service"]["id"]
    return service_id


INCIDENT_CREATE = """
mutation($input: IncidentCreateInput!) {
  incidentCreate(input: $input) {
    incident { id title sensitivity businessUnit { code } }
    errors { field message code }
  }
}"""


async def create_incident(gql: GraphQL, service_id: str, title: str, sensitivity: str) -> str:
    data = await gql(
        INCIDENT_CREATE,
        {"input": {"title": title, "serviceId": service_id, "sensitivity": sensitivity}},
    )
    payload = data["incidentCreate"]
    assert payload["errors"] == []
    incident_id: str = payload["incident"]["id"]
    return incident_id


GRANT_CREATE = """
mutation($input: GrantCreateInput!) {
  grantCreate(input: $input) {
    grant { id role expiresAt businessUnit { code } principal { email } }
    errors { field message code }
  }
}"""

GRANT_REVOKE = """
mutation($id: ID!) {
  grantRevoke(input: {id: $id}) { grant { id revokedAt revokedBy } errors { field code } }
}"""


async def create_person(gql: GraphQL, email: str) -> str:
    data = await gql(
        """mutation($input: PersonCreateInput!) {
             personCreate(input: $input) { person { id } errors { code message } }
           }""",
        {"input": {"email": email, "name": email.split("@")[0]}},
    )
    assert data["personCreate"]["errors"] == []
    person_id: str = data["personCreate"]["person"]["id"]
    return person_id


async def create_machine(gql: GraphQL, handle: str) -> str:
    data = await gql(
        """mutation($input: MachineCreateInput!) {
             machineCreate(input: $input) { machine { id } errors { code message } }
           }""",
        {"input": {"handle": handle, "name": handle}},
    )
    assert data["machineCreate"]["errors"] == []
    machine_id: str = data["machineCreate"]["machine"]["id"]
    return machine_id


async def grant(
    gql: GraphQL,
    principal_id: str,
    role: str,
    unit_id: str | None = None,
    *,
    expires_at: str | None = None,
) -> str:
    data = await gql(
        GRANT_CREATE,
        {
            "input": {
                "principalId": principal_id,
                "role": role,
                "businessUnitId": unit_id,
                "expiresAt": expires_at,
            }
        },
    )
    payload = data["grantCreate"]
    assert payload["errors"] == [], payload
    grant_id: str = payload["grant"]["id"]
    return grant_id


async def token_for(gql: GraphQL, principal_id: str) -> GraphQL:
    data = await gql(
        """mutation($input: ApiTokenCreateInput!) {
             apiTokenCreate(input: $input) { token errors { code message } }
           }""",
        {"input": {"principalId": principal_id, "expiresInSeconds": 3600}},
    )
    assert data["apiTokenCreate"]["errors"] == []
    return gql.as_(data["apiTokenCreate"]["token"])


async def member(
    gql: GraphQL, email: str, role: str, unit_id: str | None, *, expires_at: str | None = None
) -> Member:
    """A person holding one grant, with a GraphQL client on their own token."""
    person_id = await create_person(gql, email)
    grant_id = await grant(gql, person_id, role, unit_id, expires_at=expires_at)
    return Member(person_id, grant_id, await token_for(gql, person_id))


def pk(global_id: str) -> int:
    return int(relay.from_base64(global_id)[1])


INCIDENT_TITLES = """
query($first: Int, $after: String) {
  incidents(first: $first, after: $after) {
    edges { node { title } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def incident_titles(gql: GraphQL) -> list[str]:
    """Every incident the caller may read, newest first, across as many pages as it takes."""
    titles: list[str] = []
    after = None
    while True:
        data = await gql(INCIDENT_TITLES, {"first": 50, "after": after})
        titles += [e["node"]["title"] for e in data["incidents"]["edges"]]
        if not data["incidents"]["pageInfo"]["hasNextPage"]:
            return titles
        after = data["incidents"]["pageInfo"]["endCursor"]


async def codes(gql: GraphQL, field: str) -> list[str]:
    data = await gql(f"{{ {field}(first: 50) {{ edges {{ node {{ code }} }} }} }}")
    return [e["node"]["code"] for e in data[field]["edges"]]


async def incident_state(gql: GraphQL, incident_id: str) -> dict[str, Any]:
    """Everything a forbidden mutation must leave alone, read as the admin."""
    data = await gql(
        """query($id: ID!, $audit: AuditEventFilter) {
             node(id: $id) {
               ... on Incident {
                 status severity severityOverridden tags updatedAt
                 statusChanges { toStatus } classifications { severity }
                 timeline(first: 50) { edges { node { text } } }
               }
             }
             auditEvents(filter: $audit, first: 50) { edges { node { seq } } }
           }""",
        {
            "id": incident_id,
            "audit": {"resourceType": "incident", "resourceId": str(pk(incident_id))},
        },
    )
    state: dict[str, Any] = data["node"]
    state["audit_events"] = len(data["auditEvents"]["edges"])
    return state


def forbidden(errors: list[dict[str, Any]]) -> bool:
    return [e.get("extensions", {}).get("code") for e in errors] == ["FORBIDDEN"]


# --------------------------------------------------------------------------- the organisation


@pytest.fixture
async def org(gql: GraphQL) -> Org:
    group = await create_unit(gql, "group")
    units = {
        "group": group,
        "payments": await create_unit(gql, "payments", group),
        "retail": await create_unit(gql, "retail", group),
    }
    services = {
        "payments": await create_service(gql, "pay-api", units["payments"]),
        "retail": await create_service(gql, "shop-web", units["retail"]),
    }
    incidents = {
        title: await create_incident(gql, services[unit], title, sensitivity)
        for unit, sensitivity, title in INCIDENTS
    }
    return Org(units, services, incidents)


# --------------------------------------------------------------------------- reads


async def test_a_responder_sees_their_units_incidents_up_to_confidential(
    gql: GraphQL, org: Org
) -> None:
    # given a responder in payments
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])

    # when
    titles = await incident_titles(alice.gql)

    # then: payments up to confidential, newest first; no retail, nothing restricted
    assert titles == PAYMENTS_UP_TO_CONFIDENTIAL
    assert await codes(alice.gql, "services") == ["pay-api"]
    assert await codes(alice.gql, "businessUnits") == ["payments"]


async def test_a_grant_on_the_parent_unit_covers_both_children(gql: GraphQL, org: Org) -> None:
    # given a responder in group
    bob = await member(gql, "bob@example.com", "responder", org.units["group"])

    # when
    titles = await incident_titles(bob.gql)

    # then
    assert sorted(titles) == sorted(PAYMENTS_UP_TO_CONFIDENTIAL + RETAIL_UP_TO_CONFIDENTIAL)
    assert await codes(bob.gql, "services") == ["pay-api", "shop-web"]
    assert await codes(bob.gql, "businessUnits") == ["group", "payments", "retail"]


async def test_an_incident_commander_also_sees_restricted_but_only_in_their_unit(
    gql: GraphQL, org: Org
) -> None:
    # given an incident commander in retail (inherits responder, and reads restricted)
    cleo = await member(gql, "cleo@example.com", "incident_commander", org.units["retail"])

    # when
    titles = await incident_titles(cleo.gql)

    # then
    assert titles == ["r-int-2", "r-res-1", "r-conf-1", "r-int-1"]


NODE = """
query($id: ID!) {
  node(id: $id) { id ... on Incident { title } }
}"""


async def test_node_of_a_forbidden_incident_is_null_exactly_like_a_made_up_id(
    gql: GraphQL, org: Org
) -> None:
    # given a responder in payments
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])

    # when
    visible = await alice.gql.post(NODE, {"id": org.incidents["p-int-1"]})
    too_sensitive = await alice.gql.post(NODE, {"id": org.incidents["p-res-1"]})
    other_unit = await alice.gql.post(NODE, {"id": org.incidents["r-int-1"]})
    made_up = await alice.gql.post(NODE, {"id": MADE_UP_INCIDENT})

    # then
    assert visible.json() == {
        "data": {"node": {"id": org.incidents["p-int-1"], "title": "p-int-1"}}
    }
    assert made_up.status_code == 200
    assert made_up.json() == {"data": {"node": None}}
    assert too_sensitive.status_code == other_unit.status_code == made_up.status_code
    assert too_sensitive.json() == other_unit.json() == made_up.json()


async def test_nodes_of_forbidden_incidents_are_null_in_place(gql: GraphQL, org: Org) -> None:
    # given a responder in payments
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])
    ids = [org.incidents[t] for t in ("p-conf-1", "r-conf-1", "p-res-2", "p-int-2")]

    # when
    data = await alice.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Incident { title } } }",
        {"ids": [*ids, MADE_UP_INCIDENT]},
    )

    # then
    assert data["nodes"] == [{"title": "p-conf-1"}, None, None, {"title": "p-int-2"}, None]


async def test_list_pages_are_filtered_in_the_query_never_short(gql: GraphQL, org: Org) -> None:
    # given a responder in payments, whose 5 incidents are interleaved with 6 hidden ones
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])

    # when paging two at a time
    pages: list[list[str]] = []
    has_next: list[bool] = []
    after = None
    while True:
        data = await alice.gql(INCIDENT_TITLES, {"first": 2, "after": after})
        pages.append([e["node"]["title"] for e in data["incidents"]["edges"]])
        has_next.append(data["incidents"]["pageInfo"]["hasNextPage"])
        if not has_next[-1]:
            break
        after = data["incidents"]["pageInfo"]["endCursor"]

    # then: full pages of visible items, a short one only at the end, nothing hidden counted
    assert pages == [["p-int-3", "p-conf-2"], ["p-int-2", "p-conf-1"], ["p-int-1"]]
    assert has_next == [True, True, False]


async def test_a_full_last_page_does_not_promise_hidden_items(gql: GraphQL, org: Org) -> None:
    # given a responder in retail: three visible incidents, the oldest item overall is hidden
    dan = await member(gql, "dan@example.com", "responder", org.units["retail"])

    # when
    first = await dan.gql(INCIDENT_TITLES, {"first": 3})

    # then
    assert [e["node"]["title"] for e in first["incidents"]["edges"]] == RETAIL_UP_TO_CONFIDENTIAL
    assert first["incidents"]["pageInfo"]["hasNextPage"] is False


# --------------------------------------------------------------------------- mutations

STATUS_CHANGE = """
mutation($id: ID!) {
  incidentStatusChange(input: {incidentId: $id, status: INVESTIGATING}) {
    incident { status }
    errors { field message code }
  }
}"""


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("r-int-1", id="incident in another unit"),
        pytest.param("p-res-1", id="restricted incident in own unit"),
    ],
)
async def test_a_mutation_on_an_invisible_incident_is_not_found_like_a_missing_one(
    gql: GraphQL, org: Org, target: str
) -> None:
    # given a responder in payments, and the incident as it stands
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])
    before = await incident_state(gql, org.incidents[target])

    # when
    hidden = await alice.gql.post(STATUS_CHANGE, {"id": org.incidents[target]})
    missing = await alice.gql.post(STATUS_CHANGE, {"id": MADE_UP_INCIDENT})

    # then: the same payload error, word for word; nothing changed
    assert hidden.json() == missing.json()
    assert hidden.json() == {
        "data": {"incidentStatusChange": {"incident": None, "errors": NOT_FOUND_INCIDENT}}
    }
    assert await incident_state(gql, org.incidents[target]) == before


@pytest.mark.parametrize(
    ("role", "mutation", "variables"),
    [
        pytest.param("executive", STATUS_CHANGE, {}, id="executive changes status"),
        pytest.param("auditor", STATUS_CHANGE, {}, id="auditor changes status"),
        pytest.param("viewer", STATUS_CHANGE, {}, id="viewer changes status"),
        pytest.param(
            "responder",
            """mutation($id: ID!, $why: String!) {
                 incidentSeverityOverride(input: {incidentId: $id, severity: SEV1,
                                                  justification: $why}) {
                   incident { severity } errors { code }
                 }
               }""",
            {"why": "customers report total loss of card payments"},
            id="responder overrides severity",
        ),
        pytest.param(
            "comms_lead",
            """mutation($id: ID!) {
                 incidentReclassify(input: {incidentId: $id}) {
                   incident { severity } errors { code }
                 }
               }""",
            {},
            id="comms lead reclassifies",
        ),
        pytest.param(
            "executive",
            """mutation($id: ID!) {
                 incidentTimelineAdd(input: {incidentId: $id, text: "we are on it"}) {
                   entry { id } errors { code }
                 }
               }""",
            {},
            id="executive writes to the timeline",
        ),
    ],
)
async def test_a_mutation_on_a_visible_incident_the_role_may_not_change_is_forbidden(
    gql: GraphQL, org: Org, role: str, mutation: str, variables: dict[str, Any]
) -> None:
    # given someone in payments who can read the internal incident p-int-1
    someone = await member(gql, "someone@example.com", role, org.units["payments"])
    incident = org.incidents["p-int-1"]
    assert (await someone.gql(NODE, {"id": incident}))["node"] is not None
    before = await incident_state(gql, incident)

    # when
    response = await someone.gql.post(mutation, {"id": incident, **variables})

    # then: a top-level FORBIDDEN error, no data, no change, no audit event
    body = response.json()
    assert body["data"] is None
    assert forbidden(body["errors"]), body
    assert await incident_state(gql, incident) == before


async def test_a_responder_may_change_a_visible_incident(gql: GraphQL, org: Org) -> None:
    # given a responder in payments (the control for the refusals above)
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])

    # when
    data = await alice.gql(STATUS_CHANGE, {"id": org.incidents["p-conf-1"]})

    # then
    assert data["incidentStatusChange"] == {"incident": {"status": "INVESTIGATING"}, "errors": []}


async def test_a_viewer_cannot_create_incidents(gql: GraphQL, org: Org) -> None:
    # given a viewer in payments, who can see the service
    vera = await member(gql, "vera@example.com", "viewer", org.units["payments"])
    before = await incident_titles(gql)

    # when
    errors = await vera.gql.errors(
        INCIDENT_CREATE,
        {"input": {"title": "viewer was here", "serviceId": org.services["payments"]}},
    )

    # then
    assert forbidden(errors)
    assert await incident_titles(gql) == before


async def test_a_responder_creates_incidents_only_up_to_their_sensitivity_and_unit(
    gql: GraphQL, org: Org
) -> None:
    # given a responder in payments
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])

    # when
    confidential = await alice.gql(
        INCIDENT_CREATE,
        {
            "input": {
                "title": "card auth slow",
                "serviceId": org.services["payments"],
                "sensitivity": "CONFIDENTIAL",
            }
        },
    )
    restricted = await alice.gql.errors(
        INCIDENT_CREATE,
        {
            "input": {
                "title": "card data leak",
                "serviceId": org.services["payments"],
                "sensitivity": "RESTRICTED",
            }
        },
    )
    elsewhere = await alice.gql(
        INCIDENT_CREATE,
        {"input": {"title": "shop down", "serviceId": org.services["retail"]}},
    )

    # then
    assert confidential["incidentCreate"]["incident"]["businessUnit"] == {"code": "payments"}
    assert forbidden(restricted)
    assert elsewhere["incidentCreate"] == {
        "incident": None,
        "errors": [{"field": "serviceId", "message": "no such service", "code": "NOT_FOUND"}],
    }
    titles = await incident_titles(gql)
    assert "card auth slow" in titles
    assert "card data leak" not in titles
    assert "shop down" not in titles


async def test_machine_roles_do_only_what_the_policy_gives_them(gql: GraphQL, org: Org) -> None:
    # given an alert source and a status page publisher, both everywhere
    alerts_id = await create_machine(gql, "alertmanager")
    await grant(gql, alerts_id, "alert_source")
    alerts = await token_for(gql, alerts_id)
    status_id = await create_machine(gql, "statuspage")
    await grant(gql, status_id, "status_publisher")
    status = await token_for(gql, status_id)

    # when
    opened = await alerts(
        INCIDENT_CREATE,
        {"input": {"title": "alert: 5xx burst", "serviceId": org.services["retail"]}},
    )
    confidential = await alerts.errors(
        INCIDENT_CREATE,
        {
            "input": {
                "title": "alert: secret",
                "serviceId": org.services["retail"],
                "sensitivity": "CONFIDENTIAL",
            }
        },
    )
    status_change = await alerts.errors(STATUS_CHANGE, {"id": org.incidents["r-int-1"]})

    # then: the alert source opens and reads internal incidents, and no more
    assert opened["incidentCreate"]["errors"] == []
    assert forbidden(confidential)
    assert forbidden(status_change)
    assert await incident_titles(alerts) == [
        "alert: 5xx burst",
        "p-int-3",
        "r-int-2",
        "p-int-2",
        "r-int-1",
        "p-int-1",
    ]
    assert await codes(alerts, "services") == ["pay-api", "shop-web"]
    assert await codes(alerts, "businessUnits") == []
    # and the status publisher reads services only
    assert await codes(status, "services") == ["pay-api", "shop-web"]
    assert await incident_titles(status) == []
    assert await codes(status, "businessUnits") == []


# --------------------------------------------------------------------------- grants


async def test_a_non_admin_cannot_create_grants(gql: GraphQL, org: Org) -> None:
    # given a responder everywhere and a colleague
    eve = await member(gql, "eve@example.com", "responder", None)
    colleague = await create_person(gql, "colleague@example.com")

    # when
    in_unit = await eve.gql.errors(
        GRANT_CREATE,
        {
            "input": {
                "principalId": colleague,
                "role": "admin",
                "businessUnitId": org.units["payments"],
            }
        },
    )
    everywhere = await eve.gql.errors(
        GRANT_CREATE, {"input": {"principalId": eve.person_id, "role": "admin"}}
    )

    # then
    assert forbidden(in_unit)
    assert forbidden(everywhere)
    data = await gql(
        "query($p: ID!) { grants(principalId: $p) { edges { node { id } } } }", {"p": colleague}
    )
    assert data["grants"]["edges"] == []
    me = await eve.gql("{ me { roles } }")
    assert me["me"]["roles"] == ["responder"]


async def test_a_unit_admin_grants_only_within_their_unit(gql: GraphQL, org: Org) -> None:
    # given an admin of payments and a colleague
    pat = await member(gql, "pat@example.com", "admin", org.units["payments"])
    colleague = await create_person(gql, "colleague@example.com")

    # when
    inside = await pat.gql(
        GRANT_CREATE,
        {
            "input": {
                "principalId": colleague,
                "role": "responder",
                "businessUnitId": org.units["payments"],
            }
        },
    )
    sibling = await pat.gql(
        GRANT_CREATE,
        {
            "input": {
                "principalId": colleague,
                "role": "responder",
                "businessUnitId": org.units["retail"],
            }
        },
    )
    everywhere = await pat.gql.errors(
        GRANT_CREATE, {"input": {"principalId": colleague, "role": "responder"}}
    )

    # then: inside works; retail is invisible to them; everywhere is beyond them
    assert inside["grantCreate"]["errors"] == []
    assert inside["grantCreate"]["grant"]["businessUnit"] == {"code": "payments"}
    assert sibling["grantCreate"] == {
        "grant": None,
        "errors": [
            {"field": "businessUnitId", "message": "no such business unit", "code": "NOT_FOUND"}
        ],
    }
    assert forbidden(everywhere)


async def test_a_unit_admin_cannot_mint_tokens_to_act_as_someone_else(
    gql: GraphQL, org: Org
) -> None:
    # given an admin of payments, and the global admin's principal
    pat = await member(gql, "pat@example.com", "admin", org.units["payments"])
    me = await gql("{ me { person { id } } }")
    global_admin = me["me"]["person"]["id"]

    # when the unit admin asks for a token of the global admin
    errors = await pat.gql.errors(
        """mutation($input: ApiTokenCreateInput!) {
             apiTokenCreate(input: $input) { token errors { code } }
           }""",
        {"input": {"principalId": global_admin, "expiresInSeconds": 600}},
    )

    # then: refused; a token would have been a way out of their unit
    assert forbidden(errors)


async def test_an_unknown_role_is_a_payload_error(gql: GraphQL, org: Org) -> None:
    # given a person
    person = await create_person(gql, "newbie@example.com")

    # when the admin grants a role the policy does not define
    data = await gql(
        GRANT_CREATE,
        {"input": {"principalId": person, "role": "superuser", "businessUnitId": None}},
    )

    # then
    payload = data["grantCreate"]
    assert payload["grant"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("role", "UNKNOWN_ROLE")]
    assert "incident_commander" in payload["errors"][0]["message"]  # the known roles are named
    listed = await gql(
        "query($p: ID!) { grants(principalId: $p) { edges { node { id } } } }", {"p": person}
    )
    assert listed["grants"]["edges"] == []


async def test_a_time_boxed_auditor_grant_stops_working_after_it_expires(
    gql: GraphQL, org: Org, runtime: Runtime
) -> None:
    # given an auditor whose grant (everywhere) ends in an hour; the API refuses past expiries
    expires = (utcnow() + timedelta(hours=1)).isoformat()
    ada = await member(gql, "ada@example.com", "auditor", None, expires_at=expires)
    past = await gql(
        GRANT_CREATE,
        {
            "input": {
                "principalId": ada.person_id,
                "role": "auditor",
                "expiresAt": (utcnow() - timedelta(minutes=1)).isoformat(),
            }
        },
    )
    assert [(e["field"], e["code"]) for e in past["grantCreate"]["errors"]] == [
        ("expiresAt", "INVALID")
    ]
    assert len(await incident_titles(ada.gql)) == len(INCIDENTS)  # restricted ones too
    events = await ada.gql("{ auditEvents(first: 1) { edges { node { seq } } } }")
    assert events["auditEvents"]["edges"] != []

    # when the end of the grant passes (moved into the past in the database: the API refuses it)
    async with runtime.db.write() as session:
        await session.execute(
            update(Grant)
            .where(Grant.id == pk(ada.grant_id))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    # then the same token reads nothing and holds no role, but still sees its own past grant
    assert await incident_titles(ada.gql) == []
    events = await ada.gql("{ auditEvents(first: 1) { edges { node { seq } } } }")
    assert events["auditEvents"]["edges"] == []
    me = await ada.gql("{ me { roles grants { id role expiresAt } } }")
    assert me["me"]["roles"] == []
    assert [g["id"] for g in me["me"]["grants"]] == [ada.grant_id]


async def test_revoking_a_grant_removes_access_immediately(gql: GraphQL, org: Org) -> None:
    # given a responder in payments, working
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])
    assert await incident_titles(alice.gql) == PAYMENTS_UP_TO_CONFIDENTIAL

    # when the admin revokes the grant
    data = await gql(GRANT_REVOKE, {"id": alice.grant_id})

    # then the very next request with the same token sees and may do nothing
    revoked = data["grantRevoke"]
    assert revoked["errors"] == []
    assert revoked["grant"]["revokedBy"] == "admin@govsvc.local"
    assert revoked["grant"]["revokedAt"] is not None
    assert await incident_titles(alice.gql) == []
    assert await codes(alice.gql, "services") == []
    missing = await alice.gql(STATUS_CHANGE, {"id": org.incidents["p-int-1"]})
    assert missing["incidentStatusChange"]["errors"] == NOT_FOUND_INCIDENT
    assert (await alice.gql("{ me { roles } }"))["me"]["roles"] == []


async def test_each_grant_creation_and_revocation_is_audited(gql: GraphQL, org: Org) -> None:
    # given a grant in payments, one in retail, and an auditor of payments
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])
    dan = await member(gql, "dan@example.com", "responder", org.units["retail"])
    ada = await member(gql, "ada@example.com", "auditor", org.units["payments"])

    # when both responder grants are revoked
    await gql(GRANT_REVOKE, {"id": alice.grant_id})
    await gql(GRANT_REVOKE, {"id": dan.grant_id})

    # then the admin sees every creation and revocation, in order, with who and what
    query = """
      query($f: AuditEventFilter) {
        auditEvents(filter: $f, first: 50) {
          edges { node { action actor resourceType resourceId businessUnit payload } }
        }
      }"""
    data = await gql(query, {"f": {"resourceType": "grant"}})
    mine = {str(pk(m.grant_id)) for m in (alice, dan, ada)}  # not the bootstrap admin's
    events = [e["node"] for e in data["auditEvents"]["edges"] if e["node"]["resourceId"] in mine]
    assert [(e["action"], e["resourceId"], e["businessUnit"]) for e in events] == [
        ("grant.create", str(pk(alice.grant_id)), "payments"),
        ("grant.create", str(pk(dan.grant_id)), "retail"),
        ("grant.create", str(pk(ada.grant_id)), "payments"),
        ("grant.revoke", str(pk(alice.grant_id)), "payments"),
        ("grant.revoke", str(pk(dan.grant_id)), "retail"),
    ]
    assert {e["actor"] for e in events} == {"admin@govsvc.local"}
    assert events[0]["payload"]["principal"] == "alice@example.com"
    assert events[0]["payload"]["role"] == "responder"
    assert events[3]["payload"]["role"] == "responder"
    # and the auditor of payments sees exactly the payments part, revocation included
    scoped = await ada.gql(query, {"f": {"resourceType": "grant"}})
    assert [
        (e["node"]["action"], e["node"]["resourceId"]) for e in scoped["auditEvents"]["edges"]
    ] == [
        ("grant.create", str(pk(alice.grant_id))),
        ("grant.create", str(pk(ada.grant_id))),
        ("grant.revoke", str(pk(alice.grant_id))),
    ]


# --------------------------------------------------------------------------- moves

SERVICE_MOVE = """
mutation($id: ID!, $unit: ID!) {
  serviceUpdate(input: {id: $id, businessUnitId: $unit}) {
    service { businessUnit { code } } errors { field code }
  }
}"""

UNIT_MOVE = """
mutation($id: ID!, $parent: ID) {
  businessUnitUpdate(input: {id: $id, parentId: $parent}) {
    businessUnit { code parent { code } } errors { field message code }
  }
}"""


async def test_moving_a_service_moves_who_can_see_it(gql: GraphQL, org: Org) -> None:
    # given responders in payments and in retail
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])
    dan = await member(gql, "dan@example.com", "responder", org.units["retail"])

    # when the admin moves shop-web from retail to payments
    data = await gql(SERVICE_MOVE, {"id": org.services["retail"], "unit": org.units["payments"]})
    assert data["serviceUpdate"] == {
        "service": {"businessUnit": {"code": "payments"}},
        "errors": [],
    }
    opened = await alice.gql(
        INCIDENT_CREATE,
        {"input": {"title": "shop-web after the move", "serviceId": org.services["retail"]}},
    )

    # then the service, and incidents opened on it from now on, belong to payments
    assert await codes(alice.gql, "services") == ["pay-api", "shop-web"]
    assert await codes(dan.gql, "services") == []
    assert opened["incidentCreate"]["incident"]["businessUnit"] == {"code": "payments"}
    assert "shop-web after the move" in await incident_titles(alice.gql)
    assert "shop-web after the move" not in await incident_titles(dan.gql)
    # pins today's behaviour: incidents keep the unit they were opened in
    assert await incident_titles(dan.gql) == RETAIL_UP_TO_CONFIDENTIAL


async def test_moving_a_service_needs_rights_in_both_units(gql: GraphQL, org: Org) -> None:
    # given an admin of payments only
    pat = await member(gql, "pat@example.com", "admin", org.units["payments"])

    # when they try to move pay-api into retail, which they cannot see
    data = await pat.gql(
        SERVICE_MOVE, {"id": org.services["payments"], "unit": org.units["retail"]}
    )

    # then
    assert data["serviceUpdate"] == {
        "service": None,
        "errors": [{"field": "businessUnitId", "code": "NOT_FOUND"}],
    }
    assert await codes(pat.gql, "services") == ["pay-api"]


async def test_moving_a_unit_moves_who_can_see_its_incidents(gql: GraphQL, org: Org) -> None:
    # given a responder in payments and one in group
    alice = await member(gql, "alice@example.com", "responder", org.units["payments"])
    bob = await member(gql, "bob@example.com", "responder", org.units["group"])

    # when retail moves under payments
    moved = await gql(UNIT_MOVE, {"id": org.units["retail"], "parent": org.units["payments"]})

    # then the payments grant now covers retail
    assert moved["businessUnitUpdate"] == {
        "businessUnit": {"code": "retail", "parent": {"code": "payments"}},
        "errors": [],
    }
    assert sorted(await incident_titles(alice.gql)) == sorted(
        PAYMENTS_UP_TO_CONFIDENTIAL + RETAIL_UP_TO_CONFIDENTIAL
    )
    assert await codes(alice.gql, "businessUnits") == ["payments", "retail"]

    # when retail becomes a top-level unit
    top = await gql(UNIT_MOVE, {"id": org.units["retail"], "parent": None})

    # then neither payments nor group covers it any more
    assert top["businessUnitUpdate"]["businessUnit"] == {"code": "retail", "parent": None}
    assert await incident_titles(alice.gql) == PAYMENTS_UP_TO_CONFIDENTIAL
    assert await incident_titles(bob.gql) == PAYMENTS_UP_TO_CONFIDENTIAL


@pytest.mark.parametrize(
    ("unit", "new_parent"),
    [
        pytest.param("group", "payments", id="root under its own child"),
        pytest.param("payments", "payments", id="unit under itself"),
    ],
)
async def test_a_unit_move_that_would_make_a_cycle_is_refused(
    gql: GraphQL, org: Org, unit: str, new_parent: str
) -> None:
    # given a responder in group
    bob = await member(gql, "bob@example.com", "responder", org.units["group"])

    # when
    data = await gql(UNIT_MOVE, {"id": org.units[unit], "parent": org.units[new_parent]})

    # then: refused, and the tree and what it grants are as they were
    assert data["businessUnitUpdate"]["businessUnit"] is None
    assert [(e["field"], e["code"]) for e in data["businessUnitUpdate"]["errors"]] == [
        ("parentId", "INVALID")
    ]
    tree = await gql("{ businessUnits { edges { node { code parent { code } } } } }")
    assert [e["node"] for e in tree["businessUnits"]["edges"]] == [
        {"code": "group", "parent": None},
        {"code": "payments", "parent": {"code": "group"}},
        {"code": "retail", "parent": {"code": "group"}},
    ]
    assert len(await incident_titles(bob.gql)) == 8


async def test_a_unit_admin_cannot_move_their_unit_out_from_under_its_parent(
    gql: GraphQL, org: Org
) -> None:
    # given an admin of payments
    pat = await member(gql, "pat@example.com", "admin", org.units["payments"])

    # when they try to make payments top-level (out of group's reach)
    errors = await pat.gql.errors(UNIT_MOVE, {"id": org.units["payments"], "parent": None})

    # then
    assert forbidden(errors)
    tree = await gql("{ businessUnits { edges { node { code parent { code } } } } }")
    assert {"code": "payments", "parent": {"code": "group"}} in [
        e["node"] for e in tree["businessUnits"]["edges"]
    ]
