"""Status updates, approvals, templates, post-mortem access, and the public status page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ id state number body publishedSha256 template }} {ERRORS} }} }}"
)
DECIDE = (
    "mutation($i: StatusUpdateDecideInput!) { statusUpdateDecide(input: $i) {"
    f" update {{ id state }} {ERRORS} }} }}"
)


async def _setup(gql: GraphQL, **incident: Any) -> tuple[str, str]:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments")
    created = await helpers.incident(gql, service_id, **incident)
    return unit_id, str(created["id"])


async def _draft(gql: GraphQL, **fields: Any) -> dict[str, Any]:
    data = await gql(DRAFT, {"i": {"status": "investigating", **fields}})
    result: dict[str, Any] = data["statusUpdateDraft"]
    return result


async def test_an_internal_update_publishes_at_once_and_becomes_the_current_status(
    gql: GraphQL,
) -> None:
    # given
    _, incident_id = await _setup(gql)
    # when
    first = await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        body="Card payments failing; rolling back 4.2",
    )
    # then
    assert first["errors"] == []
    assert first["update"]["state"] == "PUBLISHED"
    assert len(first["update"]["publishedSha256"]) == 64
    current = await gql(
        "query($id: ID!) { incidentStatus(incidentId: $id, audience: INTERNAL) { id body } }",
        {"id": incident_id},
    )
    assert current["incidentStatus"]["id"] == first["update"]["id"]
    frozen = await gql("{ evidence(filter: {kinds: [DOCUMENT]}) { edges { node { sha256 } } } }")
    assert frozen["evidence"]["edges"][0]["node"]["sha256"] == first["update"]["publishedSha256"]


async def test_a_stale_writer_is_refused(gql: GraphQL) -> None:
    # given a published first update
    _, incident_id = await _setup(gql)
    first = await _draft(gql, incidentId=incident_id, audience="INTERNAL", body="one")
    second = await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        body="two",
        supersedesId=first["update"]["id"],
    )
    assert second["update"]["state"] == "PUBLISHED"
    # when someone writes against the first, not knowing the second
    stale = await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        body="three",
        supersedesId=first["update"]["id"],
    )
    # then
    assert stale["update"] is None
    assert stale["errors"][0]["code"] == "CONFLICT"
    current = await gql(
        "query($id: ID!) { incidentStatus(incidentId: $id, audience: INTERNAL) { body } }",
        {"id": incident_id},
    )
    assert current["incidentStatus"]["body"] == "two"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"eta": "2099-01-01T00:00:00Z"}, "etaConfidence"),  # public ETA without confidence
        ({"etaConfidence": "HIGH"}, "etaConfidence"),  # confidence without an ETA
        ({"body": None}, "body"),  # nothing to say
    ],
)
async def test_bad_updates_are_refused_and_nothing_is_written(
    gql: GraphQL, fields: dict[str, Any], field: str
) -> None:
    _, incident_id = await _setup(gql)
    refused = await _draft(
        gql,
        **{
            "incidentId": incident_id,
            "audience": "PUBLIC",
            "body": "We are looking into it.",
            **fields,
        },
    )
    assert refused["update"] is None
    assert refused["errors"][0]["field"] == field
    listed = await gql(
        "query($id: ID!) { statusUpdates(incidentId: $id) { id } }", {"id": incident_id}
    )
    assert listed["statusUpdates"] == []


async def test_a_regulator_update_needs_legal_approval_by_someone_other_than_the_author(
    gql: GraphQL,
) -> None:
    # given a draft for the regulator, and a lawyer
    unit_id, incident_id = await _setup(gql)
    draft = await _draft(
        gql, incidentId=incident_id, audience="REGULATOR", body="Initial notification under Art. 33"
    )
    assert draft["update"]["state"] == "DRAFT"
    _, lawyer = await helpers.person_with_token(gql, "legal@example.com", "legal", unit_id)
    # when the author tries to approve their own draft
    own = await gql(
        DECIDE, {"i": {"updateId": draft["update"]["id"], "role": "legal", "approve": True}}
    )
    # then (the admin holds no legal grant, and is the author)
    assert own["statusUpdateDecide"]["errors"][0]["code"] == "APPROVAL_REQUIRED"
    # when legal approves
    approved = await gql.as_(lawyer)(
        DECIDE, {"i": {"updateId": draft["update"]["id"], "role": "legal", "approve": True}}
    )
    # then it is published
    assert approved["statusUpdateDecide"]["update"]["state"] == "PUBLISHED"


async def test_a_rejected_draft_stays_on_record(gql: GraphQL) -> None:
    unit_id, incident_id = await _setup(gql)
    draft = await _draft(gql, incidentId=incident_id, audience="REGULATOR", body="Too early")
    _, lawyer = await helpers.person_with_token(gql, "legal@example.com", "legal", unit_id)
    rejected = await gql.as_(lawyer)(
        DECIDE,
        {
            "i": {
                "updateId": draft["update"]["id"],
                "role": "legal",
                "approve": False,
                "comment": "Wait for forensics",
            }
        },
    )
    assert rejected["statusUpdateDecide"]["update"]["state"] == "REJECTED"
    listed = await gql(
        "query($id: ID!) { statusUpdates(incidentId: $id) { state } }", {"id": incident_id}
    )
    assert listed["statusUpdates"] == [{"state": "REJECTED"}]


async def test_templates_are_sandboxed_versioned_and_checked(gql: GraphQL) -> None:
    create = (
        "mutation($i: TemplateCreateInput!) { templateCreate(input: $i) { template {"
        f" name version variables }} {ERRORS} }} }}"
    )
    body = "{{ incident.reference }}: we are {{ incident.status }}. Next update {{ next_update }}."
    first = await gql(
        create, {"i": {"name": "internal-update", "audience": "INTERNAL", "body": body}}
    )
    assert first["templateCreate"]["template"] == {
        "name": "internal-update",
        "version": 1,
        "variables": ["incident", "next_update"],
    }
    second = await gql(
        create,
        {"i": {"name": "internal-update", "audience": "INTERNAL", "body": body + " Thanks."}},
    )
    assert second["templateCreate"]["template"]["version"] == 2
    # a template may not reach into Python internals
    evil = await gql(
        create,
        {"i": {"name": "evil", "audience": "INTERNAL", "body": "{{ incident.__class__.__mro__ }}"}},
    )
    assert evil["templateCreate"]["errors"][0]["field"] in ("body", "variables")
    broken = await gql(
        create, {"i": {"name": "broken", "audience": "INTERNAL", "body": "{% if %}"}}
    )
    assert broken["templateCreate"]["errors"][0]["field"] == "body"
    # rendering from a template
    _, incident_id = await _setup(gql)
    rendered = await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        template="internal-update",
        nextUpdateDue="2099-01-01T10:00:00Z",
    )
    assert rendered["update"]["body"].startswith("INC-1: we are investigating.")
    assert rendered["update"]["template"] == "internal-update@2"
    preview = await gql('{ templatePreview(body: "Hello {{ incident.reference }}") { text } }')
    assert preview == {"templatePreview": {"text": "Hello INC-42"}}


async def test_a_restricted_post_mortem_is_read_only_by_the_right_people_and_audited(
    gql: GraphQL,
) -> None:
    # given a restricted post-mortem, a viewer, and a responder who worked the incident
    unit_id, incident_id = await _setup(gql, sensitivity="RESTRICTED")
    written = await gql(
        "mutation($i: PostMortemWriteInput!) { postMortemWrite(input: $i) { postMortem {"
        f" revision sensitivity }} {ERRORS} }} }}",
        {
            "i": {
                "incidentId": incident_id,
                "sections": {"summary": "A bad deploy.", "rootCause": "Config drift"},
            }
        },
    )
    assert written["postMortemWrite"]["postMortem"] == {"revision": 1, "sensitivity": "RESTRICTED"}
    viewer_id, viewer = await helpers.person_with_token(gql, "v@example.com", "viewer", unit_id)
    worker_id, worker = await helpers.person_with_token(gql, "w@example.com", "viewer", unit_id)
    await gql(
        "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i)"
        f" {{ role {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "role": "SCRIBE", "personId": worker_id}},
    )
    query = "query($id: ID!) { postMortem(incidentId: $id) { text } }"
    # when / then: a viewer sees nothing, as if there were none
    assert await gql.as_(viewer)(query, {"id": incident_id}) == {"postMortem": None}
    # the incident's own responder may read it, and the read is audited
    seen = await gql.as_(worker)(query, {"id": incident_id})
    assert "Config drift" in seen["postMortem"]["text"]
    reads = await gql(
        '{ auditEvents(filter: {action: "post_mortem.read"}) { edges { node { actor } } } }'
    )
    assert [e["node"]["actor"] for e in reads["auditEvents"]["edges"]] == ["w@example.com"]
    assert viewer_id != worker_id


async def test_the_status_page_shows_only_published_public_updates(
    gql: GraphQL, http: httpx.AsyncClient
) -> None:
    # given an internal update (never public) on a service with a public name
    _, incident_id = await _setup(gql)
    await _draft(
        gql,
        incidentId=incident_id,
        audience="INTERNAL",
        body="INTERNAL ONLY: db-prod-7 is down, paging Alice",
    )
    # when
    page = await http.get("/status")
    data = await http.get("/status.json")
    feed = await http.get("/status.atom")
    # then no authentication was needed, and nothing internal shows
    assert page.status_code == data.status_code == feed.status_code == 200
    for response in (page, data, feed):
        assert "INTERNAL ONLY" not in response.text
        assert "Checkout errors" not in response.text  # the internal incident title
    assert data.json()["services"] == [{"name": "Card payments", "state": "operational"}]
    assert feed.headers["content-type"].startswith("application/atom+xml")


async def test_a_sev1_public_update_needs_a_comms_lead_and_two_other_approvers(
    gql: GraphQL,
) -> None:
    # given a SEV1 outage with no comms lead yet
    unit_id, incident_id = await _setup(gql, impact={"unavailable": True, "durationMinutes": 45})
    commander_id, _ = await helpers.person_with_token(
        gql, "ic@example.com", "incident_commander", unit_id
    )
    await gql(
        "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i)"
        f" {{ role {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "role": "INCIDENT_COMMANDER", "personId": commander_id}},
    )
    body = "Card payments are failing. We are investigating."
    # when a public update is drafted and both approvers say yes
    draft = await _draft(gql, incidentId=incident_id, audience="PUBLIC", body=body)
    assert draft["update"]["state"] == "DRAFT"
    _, lawyer = await helpers.person_with_token(gql, "legal@example.com", "legal", unit_id)
    comms_id, comms = await helpers.person_with_token(
        gql, "comms@example.com", "comms_lead", unit_id
    )
    first = await gql.as_(lawyer)(
        DECIDE, {"i": {"updateId": draft["update"]["id"], "role": "legal", "approve": True}}
    )
    assert first["statusUpdateDecide"]["update"]["state"] == "DRAFT"
    held = await gql.as_(comms)(
        DECIDE, {"i": {"updateId": draft["update"]["id"], "role": "comms_lead", "approve": True}}
    )
    # then it is held: nobody is the incident's comms lead, and the commander is told
    assert held["statusUpdateDecide"]["errors"][0]["code"] == "COMMS_LEAD_REQUIRED"
    told = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { latestTimeline("
        "limit: 3) { text } } } }",
        {"id": incident_id},
    )
    assert any("assign a comms lead" in e["text"] for e in told["node"]["latestTimeline"])
    # when a comms lead is assigned, a fresh draft goes through the same approvals
    await gql(
        "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i)"
        f" {{ role {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "role": "COMMS_LEAD", "personId": comms_id}},
    )
    again = await _draft(gql, incidentId=incident_id, audience="PUBLIC", body=body)
    await gql.as_(lawyer)(
        DECIDE, {"i": {"updateId": again["update"]["id"], "role": "legal", "approve": True}}
    )
    # the same person cannot approve twice in two roles
    twice = await gql.as_(lawyer)(
        DECIDE, {"i": {"updateId": again["update"]["id"], "role": "comms_lead", "approve": True}}
    )
    assert twice["statusUpdateDecide"]["errors"][0]["code"] == "APPROVAL_REQUIRED"
    done = await gql.as_(comms)(
        DECIDE, {"i": {"updateId": again["update"]["id"], "role": "comms_lead", "approve": True}}
    )
    assert done["statusUpdateDecide"]["update"]["state"] == "PUBLISHED"
