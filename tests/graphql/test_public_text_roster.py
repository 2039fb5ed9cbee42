"""Who public text must never name, kept by the organisation: people's chat handles and the
organisation-wide customer list, used by public status updates and post-mortems alike."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
DRAFT = (
    "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i) {"
    f" update {{ state body }} {ERRORS} }} }}"
)
PERSON_CREATE = (
    "mutation($i: PersonCreateInput!) { personCreate(input: $i) {"
    f" person {{ id handles }} {ERRORS} }} }}"
)
PERSON_UPDATE = (
    "mutation($i: PersonUpdateInput!) { personUpdate(input: $i) {"
    f" person {{ id handles }} {ERRORS} }} }}"
)
CUSTOMER_ADD = (
    "mutation($i: CustomerAddInput!) { customerAdd(input: $i) {"
    f" customer {{ id name addedBy }} {ERRORS} }} }}"
)
CUSTOMER_REMOVE = (
    "mutation($i: CustomerRemoveInput!) { customerRemove(input: $i) {"
    f" customer {{ id name }} {ERRORS} }} }}"
)
AUDIT = (
    "query($f: AuditEventFilter) { auditEvents(filter: $f, first: 20) {"
    " edges { node { action payload } } } }"
)


async def _public_update(gql: GraphQL, body: str) -> dict[str, Any]:
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id, publicName="Card payments")
    incident_id = (await helpers.incident(gql, service_id))["id"]
    data = await gql(
        DRAFT,
        {
            "i": {
                "incidentId": incident_id,
                "audience": "PUBLIC",
                "status": "investigating",
                "body": body,
            }
        },
    )
    payload: dict[str, Any] = data["statusUpdateDraft"]
    return payload


async def test_a_persons_chat_handle_written_bare_is_refused_in_public_text(
    gql: GraphQL,
) -> None:
    # given a person whose chat id is known
    created = await gql(
        PERSON_CREATE,
        {"i": {"email": "k.mensah@example.com", "name": "Kofi Mensah", "handles": ["@kmensah42"]}},
    )
    assert created["personCreate"]["errors"] == []
    assert created["personCreate"]["person"]["handles"] == ["kmensah42"]
    # when a public update names them by their handle alone, without "@"
    payload = await _public_update(gql, "The rollback was run by kmensah42 at 14:10 UTC.")
    # then it is refused, and the message does not repeat the handle
    assert payload["update"] is None
    assert payload["errors"][0]["code"] == "REDACTION_REQUIRED"
    assert "kmensah42" not in payload["errors"][0]["message"]


async def test_handles_are_changed_audited_and_bad_ones_refused_without_change(
    gql: GraphQL,
) -> None:
    created = await gql(
        PERSON_CREATE,
        {"i": {"email": "zoe@example.com", "name": "Zoë Ångström", "handles": ["zoe.a"]}},
    )
    person_id = created["personCreate"]["person"]["id"]
    # when the handles are replaced
    changed = await gql(PERSON_UPDATE, {"i": {"id": person_id, "handles": ["@zoe.angstrom", "za"]}})
    # then they are stored without "@", and the change is in the audit log
    assert changed["personUpdate"] == {
        "person": {"id": person_id, "handles": ["zoe.angstrom", "za"]},
        "errors": [],
    }
    events = (await gql(AUDIT, {"f": {"action": "principal.update"}}))["auditEvents"]["edges"]
    assert events[-1]["node"]["payload"]["handles"] == [["zoe.a"], ["zoe.angstrom", "za"]]
    # when a handle is not a handle, it is a typed error and nothing changes
    refused = await gql(PERSON_UPDATE, {"i": {"id": person_id, "handles": ["zoe angstrom!"]}})
    assert refused["personUpdate"]["person"] is None
    assert refused["personUpdate"]["errors"][0]["field"] == "handles"
    assert refused["personUpdate"]["errors"][0]["code"] == "INVALID"
    again = await gql(
        "query($id: ID!) { node(id: $id) { ... on Person { handles } } }", {"id": person_id}
    )
    assert again["node"]["handles"] == ["zoe.angstrom", "za"]


async def test_the_organisations_customers_are_kept_out_of_public_updates(gql: GraphQL) -> None:
    # given a customer on the organisation's list (not declared on any post-mortem)
    added = await gql(CUSTOMER_ADD, {"i": {"name": "Globex Corporation"}})
    assert added["customerAdd"]["errors"] == []
    assert added["customerAdd"]["customer"]["name"] == "Globex Corporation"
    # when a public update names it
    payload = await _public_update(
        gql, "Payments for Globex failed between 14:02 and 14:40 UTC; all are now retried."
    )
    # then it is refused
    assert payload["update"] is None
    assert payload["errors"][0]["code"] == "REDACTION_REQUIRED"
    assert "Globex" not in payload["errors"][0]["message"]


async def test_the_customer_list_is_managed_by_administrators_and_audited(gql: GraphQL) -> None:
    unit_id = await helpers.unit(gql, "payments")
    _, lead = await helpers.person_with_token(gql, "lead@example.com", "comms_lead", unit_id)
    # given two customers
    first = (await gql(CUSTOMER_ADD, {"i": {"name": "Initech"}}))["customerAdd"]["customer"]
    await gql(CUSTOMER_ADD, {"i": {"name": "Acme Widgets GmbH"}})
    # then the list shows them by name, and a second "initech" is refused
    listed = await gql("{ customers { name addedBy } }")
    assert [c["name"] for c in listed["customers"]] == ["Acme Widgets GmbH", "Initech"]
    twice = await gql(CUSTOMER_ADD, {"i": {"name": "initech"}})
    assert twice["customerAdd"]["errors"][0]["code"] == "ALREADY_EXISTS"
    # when someone who does not manage the organisation tries, they are refused
    for query, variables in (
        (CUSTOMER_ADD, {"i": {"name": "Umbrella"}}),
        (CUSTOMER_REMOVE, {"i": {"id": first["id"]}}),
        ("{ customers { name } }", None),
    ):
        errors = await gql.as_(lead).errors(query, variables)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    # when a customer is removed, it is gone from the list, and both acts are audited
    removed = await gql(CUSTOMER_REMOVE, {"i": {"id": first["id"]}})
    assert removed["customerRemove"]["customer"]["name"] == "Initech"
    missing = await gql(CUSTOMER_REMOVE, {"i": {"id": first["id"]}})
    assert missing["customerRemove"]["errors"][0]["code"] == "NOT_FOUND"
    assert [c["name"] for c in (await gql("{ customers { name } }"))["customers"]] == [
        "Acme Widgets GmbH"
    ]
    adds = (await gql(AUDIT, {"f": {"resourceType": "customer"}}))["auditEvents"]["edges"]
    assert [(e["node"]["action"], e["node"]["payload"]["name"]) for e in adds] == [
        ("customer.add", "Initech"),
        ("customer.add", "Acme Widgets GmbH"),
        ("customer.remove", "Initech"),
    ]
