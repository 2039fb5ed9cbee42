"""Incidents through the public API: classification, lifecycle, tags, timeline, decisions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"


async def _checkout(gql: GraphQL, **sla: Any) -> str:
    unit_id = await helpers.unit(gql, "payments")
    return await helpers.service(gql, "checkout", unit_id, **sla)


async def test_a_new_incident_is_classified_under_the_current_policy(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    # when
    created = await helpers.incident(
        gql, service_id, impact={"unavailable": True, "durationMinutes": 20}, tags=["deployment"]
    )
    # then
    assert created["severity"] == "SEV1"
    assert created["impactKind"] == "OUTAGE"
    assert created["status"] == "DETECTED"
    assert created["tags"] == ["deployment"]
    policy = (await gql("{ classificationPolicy { current versions } }"))["classificationPolicy"]
    assert created["classificationPolicyVersion"] == policy["current"]
    history = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { classifications {"
        " kind policyVersion ruleId reasons severity } } } }",
        {"id": created["id"]},
    )
    [first] = history["node"]["classifications"]
    assert first["kind"] == "COMPUTED"
    assert first["ruleId"]
    assert any("outage" in reason for reason in first["reasons"])


@pytest.mark.parametrize(
    ("impact", "expected_kind"),
    [
        ({"latencyP99Ms": 250}, "NONE"),  # under the 300 ms threshold
        ({"latencyP99Ms": 300}, "NONE"),  # at the threshold is still within SLA
        ({"latencyP99Ms": 800}, "DEGRADATION"),  # slow: a performance issue
        ({"latencyP99Ms": 5000}, "OUTAGE"),  # at the outage latency: an outage
        ({"availabilityPct": 99.95}, "NONE"),  # above target
        ({"availabilityPct": 99.0}, "OUTAGE"),  # below the 99.9 target
    ],
)
async def test_slowness_is_judged_against_the_service_sla(
    gql: GraphQL, impact: dict[str, Any], expected_kind: str
) -> None:
    # given
    service_id = await _checkout(gql)
    # when
    created = await helpers.incident(gql, service_id, impact=impact)
    # then
    assert created["impactKind"] == expected_kind


async def test_reclassification_under_an_older_policy_records_that_version(gql: GraphQL) -> None:
    # given a tier-1 outage of 20 minutes, which the policy versions judge differently
    service_id = await _checkout(gql)
    created = await helpers.incident(
        gql, service_id, impact={"unavailable": True, "durationMinutes": 20}
    )
    versions = (await gql("{ classificationPolicy { versions } }"))["classificationPolicy"]
    older = versions["versions"][0]
    assert older != created["classificationPolicyVersion"]
    # when
    data = await gql(
        "mutation($i: IncidentReclassifyInput!) { incidentReclassify(input: $i) {"
        f" incident {{ severity classificationPolicyVersion }} {ERRORS} }} }}",
        {"i": {"incidentId": created["id"], "policyVersion": older}},
    )
    # then
    reclassified = data["incidentReclassify"]["incident"]
    assert reclassified["classificationPolicyVersion"] == older
    assert reclassified["severity"] == "SEV2"
    assert created["severity"] == "SEV1"


async def test_an_unknown_policy_version_is_refused_and_changes_nothing(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    created = await helpers.incident(gql, service_id)
    # when
    data = await gql(
        "mutation($i: IncidentReclassifyInput!) { incidentReclassify(input: $i) {"
        f" incident {{ id }} {ERRORS} }} }}",
        {"i": {"incidentId": created["id"], "policyVersion": "1999.1"}},
    )
    # then
    assert data["incidentReclassify"]["incident"] is None
    assert data["incidentReclassify"]["errors"][0]["code"] == "UNKNOWN_POLICY_VERSION"
    assert data["incidentReclassify"]["errors"][0]["field"] == "policyVersion"
    history = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { classifications { kind } } } }",
        {"id": created["id"]},
    )
    assert len(history["node"]["classifications"]) == 1


async def test_a_severity_override_needs_a_justification_and_is_audited(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    created = await helpers.incident(gql, service_id)
    mutation = (
        "mutation($i: IncidentSeverityOverrideInput!) { incidentSeverityOverride("
        f"input: $i) {{ incident {{ severity severityOverridden }} {ERRORS} }} }}"
    )
    # when the justification is too thin
    refused = await gql(
        mutation,
        {"i": {"incidentId": created["id"], "severity": "SEV1", "justification": "because"}},
    )
    # then
    assert refused["incidentSeverityOverride"]["errors"][0]["code"] == "JUSTIFICATION_REQUIRED"
    # when it is explained
    reason = "Card payments fail for a regulated customer segment; treat as SEV1."
    done = await gql(
        mutation, {"i": {"incidentId": created["id"], "severity": "SEV1", "justification": reason}}
    )
    # then
    assert done["incidentSeverityOverride"]["incident"] == {
        "severity": "SEV1",
        "severityOverridden": True,
    }
    pk = created["id"]
    events = await gql(
        "query($f: AuditEventFilter) { auditEvents(filter: $f) { edges { node { action payload"
        " } } } }",
        {"f": {"action": "incident.override_severity"}},
    )
    [event] = events["auditEvents"]["edges"]
    assert event["node"]["payload"]["justification"] == reason
    assert event["node"]["payload"]["to"] == "SEV1"
    history = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { classifications"
        " { kind justification } } } }",
        {"id": pk},
    )
    assert [c["kind"] for c in history["node"]["classifications"]] == ["COMPUTED", "OVERRIDE"]


async def test_the_status_lifecycle_keeps_each_transition_and_refuses_illegal_ones(
    gql: GraphQL,
) -> None:
    # given
    service_id = await _checkout(gql)
    created = await helpers.incident(gql, service_id)
    mutation = (
        "mutation($i: IncidentStatusChangeInput!) { incidentStatusChange(input: $i) {"
        f" incident {{ status }} {ERRORS} }} }}"
    )

    async def move(status: str) -> dict[str, Any]:
        data = await gql(mutation, {"i": {"incidentId": created["id"], "status": status}})
        result: dict[str, Any] = data["incidentStatusChange"]
        return result

    # when / then: detected cannot jump to closed
    refused = await move("CLOSED")
    assert refused["incident"] is None
    assert refused["errors"][0]["code"] == "ILLEGAL_TRANSITION"
    # when / then: the usual path
    for status in ("INVESTIGATING", "IDENTIFIED", "MONITORING", "RESOLVED", "CLOSED"):
        assert (await move(status))["incident"] == {"status": status}
    # then closed is final
    assert (await move("INVESTIGATING"))["errors"][0]["code"] == "ILLEGAL_TRANSITION"
    changes = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { statusChanges {"
        " fromStatus toStatus changedAt changedBy } } } }",
        {"id": created["id"]},
    )
    path = [(c["fromStatus"], c["toStatus"]) for c in changes["node"]["statusChanges"]]
    assert path == [
        (None, "DETECTED"),
        ("DETECTED", "INVESTIGATING"),
        ("INVESTIGATING", "IDENTIFIED"),
        ("IDENTIFIED", "MONITORING"),
        ("MONITORING", "RESOLVED"),
        ("RESOLVED", "CLOSED"),
    ]
    times = [c["changedAt"] for c in changes["node"]["statusChanges"]]
    assert all(t.endswith("Z") for t in times)
    assert times[1:] == sorted(times[1:])


async def test_tags_come_from_the_taxonomy(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    created = await helpers.incident(gql, service_id, tags=["dns"])
    mutation = (
        "mutation($i: IncidentTagInput!) { incidentTag(input: $i) {"
        f" incident {{ tags }} {ERRORS} }} }}"
    )
    # when an unknown tag is among known ones
    refused = await gql(
        mutation, {"i": {"incidentId": created["id"], "add": ["network", "made-up-tag"]}}
    )
    # then nothing changes
    assert refused["incidentTag"]["errors"][0]["code"] == "UNKNOWN_TAG"
    current = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { tags } } }", {"id": created["id"]}
    )
    assert current["node"]["tags"] == ["dns"]
    # when
    done = await gql(
        mutation, {"i": {"incidentId": created["id"], "add": [" Network "], "remove": ["dns"]}}
    )
    # then
    assert done["incidentTag"]["incident"]["tags"] == ["network"]


async def test_a_timeline_correction_is_a_new_entry_and_the_original_stays(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    created = await helpers.incident(gql, service_id)
    add = (
        "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i) {"
        f" entry {{ id text kind corrects {{ id text }} }} {ERRORS} }} }}"
    )
    original = await gql(
        add, {"i": {"incidentId": created["id"], "text": "Rolled back release 41"}}
    )
    original_id = original["incidentTimelineAdd"]["entry"]["id"]
    # when
    corrected = await gql(
        add,
        {
            "i": {
                "incidentId": created["id"],
                "text": "Rolled back release 42, not 41",
                "correctsId": original_id,
            }
        },
    )
    # then
    entry = corrected["incidentTimelineAdd"]["entry"]
    assert entry["kind"] == "correction"
    assert entry["corrects"] == {"id": original_id, "text": "Rolled back release 41"}
    timeline = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { timeline(first: 50)"
        " { edges { node { text } } } } } }",
        {"id": created["id"]},
    )
    texts = [e["node"]["text"] for e in timeline["node"]["timeline"]["edges"]]
    assert "Rolled back release 41" in texts
    assert "Rolled back release 42, not 41" in texts


async def test_a_correction_must_point_into_the_same_incident(gql: GraphQL) -> None:
    # given two incidents
    service_id = await _checkout(gql)
    first = await helpers.incident(gql, service_id)
    second = await helpers.incident(gql, service_id)
    add = (
        "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i) {"
        f" entry {{ id }} {ERRORS} }} }}"
    )
    entry = await gql(add, {"i": {"incidentId": first["id"], "text": "note"}})
    entry_id = entry["incidentTimelineAdd"]["entry"]["id"]
    # when
    refused = await gql(
        add, {"i": {"incidentId": second["id"], "text": "fix", "correctsId": entry_id}}
    )
    # then
    assert refused["incidentTimelineAdd"]["errors"][0] == {
        "field": "correctsId",
        "message": "no such timeline entry on this incident",
        "code": "NOT_FOUND",
    }


async def test_the_decision_log_keeps_rationale_and_alternatives(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    created = await helpers.incident(gql, service_id)
    # when
    data = await gql(
        "mutation($i: IncidentDecisionRecordInput!) { incidentDecisionRecord(input: $i) {"
        f" decision {{ decision rationale alternatives decidedBy {{ email }} decidedAt }}"
        f" {ERRORS} }} }}",
        {
            "i": {
                "incidentId": created["id"],
                "decision": "Fail over to eu-west-2",
                "rationale": "Primary region's database is unrecoverable within the SLA.",
                "alternatives": ["Wait for the vendor fix", "Restore from backup"],
                "decidedAt": "2026-11-26T09:30:00+01:00",
            }
        },
    )
    # then
    decision = data["incidentDecisionRecord"]["decision"]
    assert decision["alternatives"] == ["Wait for the vendor fix", "Restore from backup"]
    assert decision["decidedBy"] == {"email": "admin@govsvc.local"}
    assert decision["decidedAt"] == "2026-11-26T08:30:00.000000Z"
    log = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { decisions { decision }"
        " latestTimeline(limit: 1) { kind text } } } }",
        {"id": created["id"]},
    )
    assert log["node"]["decisions"] == [{"decision": "Fail over to eu-west-2"}]
    assert log["node"]["latestTimeline"][0]["kind"] == "decision"


async def test_a_classification_dispute_is_raised_answered_resolved_and_on_the_timeline(
    gql: GraphQL,
) -> None:
    # given
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    support = await helpers.team(gql, "support", unit_id)
    engineering = await helpers.team(gql, "engineering", unit_id)
    created = await helpers.incident(gql, service_id, impact={"latencyP99Ms": 800})
    body = (
        " dispute { id state disputedSeverity proposedSeverity response resolution"
        f" resolvedSeverity raisedByTeam {{ code }} responseTeam {{ code }} }} {ERRORS}"
    )
    # when support disputes
    opened = await gql(
        "mutation($i: ClassificationDisputeOpenInput!) { classificationDisputeOpen(input: $i) {"
        + body
        + " } }",
        {
            "i": {
                "incidentId": created["id"],
                "teamId": support,
                "position": "Customers cannot pay: this is an outage for them.",
                "proposedSeverity": "SEV1",
            }
        },
    )
    dispute = opened["classificationDisputeOpen"]["dispute"]
    # then a second dispute waits for this one
    again = await gql(
        "mutation($i: ClassificationDisputeOpenInput!) { classificationDisputeOpen(input: $i) {"
        f" dispute {{ id }} {ERRORS} }} }}",
        {"i": {"incidentId": created["id"], "teamId": engineering, "position": "Me too"}},
    )
    assert again["classificationDisputeOpen"]["errors"][0]["code"] == "CONFLICT"
    # when the same team tries to answer itself
    answer = (
        "mutation($i: ClassificationDisputeAnswerInput!) { classificationDisputeAnswer("
        "input: $i) {" + body + " } }"
    )
    self_answer = await gql(
        answer, {"i": {"disputeId": dispute["id"], "teamId": support, "response": "Agreed"}}
    )
    assert self_answer["classificationDisputeAnswer"]["errors"][0]["field"] == "teamId"
    # when engineering answers
    answered = await gql(
        answer,
        {
            "i": {
                "disputeId": dispute["id"],
                "teamId": engineering,
                "response": "Latency is within 3x of SLA; degraded.",
            }
        },
    )
    assert answered["classificationDisputeAnswer"]["dispute"]["state"] == "ANSWERED"
    # when someone with authority resolves it
    resolved = await gql(
        "mutation($i: ClassificationDisputeResolveInput!) { classificationDisputeResolve("
        "input: $i) {" + body + " } }",
        {
            "i": {
                "disputeId": dispute["id"],
                "severity": "SEV2",
                "resolution": "Checkout slowness blocks payments: SEV2 per comms policy.",
            }
        },
    )
    # then
    final = resolved["classificationDisputeResolve"]["dispute"]
    assert final["state"] == "RESOLVED"
    assert final["resolvedSeverity"] == "SEV2"
    assert final["responseTeam"] == {"code": "engineering"}
    incident = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { severity"
        " classifications { kind } timeline(first: 50) { edges { node { kind"
        " text } } } } } }",
        {"id": created["id"]},
    )
    assert incident["node"]["severity"] == "SEV2"
    assert incident["node"]["classifications"][-1]["kind"] == "DISPUTE_RESOLUTION"
    dispute_entries = [
        e["node"]["text"]
        for e in incident["node"]["timeline"]["edges"]
        if e["node"]["kind"] == "dispute"
    ]
    assert len(dispute_entries) == 3


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"title": "  "}, "title", "INVALID"),
        ({"title": "x" * 201}, "title", "INVALID"),
        ({"detectedAt": "2099-01-01T00:00:00Z"}, "detectedAt", "INVALID"),
        ({"impact": {"customersAffected": -1}}, "impact.customersAffected", "INVALID"),
        ({"impact": {"availabilityPct": 120.0}}, "impact.availabilityPct", "INVALID"),
        ({"serviceId": "U2VydmljZTo5OTk="}, "serviceId", "NOT_FOUND"),
        ({"serviceId": "not-an-id"}, "serviceId", "NOT_FOUND"),
        ({"serviceId": "VGVhbTox"}, "serviceId", "NOT_FOUND"),  # a Team's id, not a Service's
    ],
)
async def test_bad_incident_input_is_refused_with_a_typed_error_and_nothing_is_written(
    gql: GraphQL, fields: dict[str, Any], field: str, code: str
) -> None:
    # given
    service_id = await _checkout(gql)
    before = await gql("{ auditEvents(first: 100) { edges { node { seq } } } }")
    # when
    data = await gql(
        "mutation($i: IncidentCreateInput!) { incidentCreate(input: $i) {"
        f" incident {{ id }} {ERRORS} }} }}",
        {"i": {"title": "Checkout errors", "serviceId": service_id, **fields}},
    )
    # then
    payload = data["incidentCreate"]
    assert payload["incident"] is None
    assert (payload["errors"][0]["field"], payload["errors"][0]["code"]) == (field, code)
    assert (await gql("{ incidents { edges { node { id } } } }"))["incidents"]["edges"] == []
    after = await gql("{ auditEvents(first: 100) { edges { node { seq } } } }")
    assert after == before


async def test_a_time_without_offset_is_a_validation_error(gql: GraphQL) -> None:
    # given
    service_id = await _checkout(gql)
    # when
    errors = await gql.errors(
        "mutation($i: IncidentCreateInput!) { incidentCreate(input: $i) { incident { id } } }",
        {"i": {"title": "t", "serviceId": service_id, "detectedAt": "2026-11-27T09:30:00"}},
    )
    # then
    assert "offset" in errors[0]["message"]


EDIT = (
    "mutation($i: IncidentEditInput!) { incidentEdit(input: $i) {"
    f" incident {{ title summary timeline {{ edges {{ node {{ kind text }} }} }} }} {ERRORS} }} }}"
)


async def test_an_edit_corrects_title_and_summary_and_leaves_a_trace(gql: GraphQL) -> None:
    # given
    created = await helpers.incident(gql, await _checkout(gql), title="Checkout down")
    # when
    done = await gql(
        EDIT,
        {"i": {"incidentId": created["id"], "title": "Checkout slow", "summary": "p99 at 4 s"}},
    )
    # then the new text stands, the timeline says what was edited and the audit log keeps both
    incident = done["incidentEdit"]["incident"]
    assert done["incidentEdit"]["errors"] == []
    assert (incident["title"], incident["summary"]) == ("Checkout slow", "p99 at 4 s")
    kinds = [e["node"]["kind"] for e in incident["timeline"]["edges"]]
    assert kinds.count("edit") == 1
    events = await gql(
        'query { auditEvents(filter: { action: "incident.edit" }) { edges { node { payload } } } }'
    )
    [event] = events["auditEvents"]["edges"]
    assert event["node"]["payload"]["title"] == {"from": "Checkout down", "to": "Checkout slow"}
    # when nothing changes, nothing is recorded
    again = await gql(EDIT, {"i": {"incidentId": created["id"], "title": "Checkout slow"}})
    assert again["incidentEdit"]["errors"] == []
    events = await gql(
        'query { auditEvents(filter: { action: "incident.edit" }) { edges { node { payload } } } }'
    )
    assert len(events["auditEvents"]["edges"]) == 1


async def test_an_edit_refuses_an_empty_title_and_unknown_incidents(gql: GraphQL) -> None:
    # given
    created = await helpers.incident(gql, await _checkout(gql), title="Checkout down")
    # when the title is blank
    blank = await gql(EDIT, {"i": {"incidentId": created["id"], "title": "   "}})
    # then it is refused, on the field, and nothing changed
    [error] = blank["incidentEdit"]["errors"]
    assert (error["field"], error["code"]) == ("title", "INVALID")
    assert blank["incidentEdit"]["incident"] is None
    current = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { title } } }", {"id": created["id"]}
    )
    assert current["node"]["title"] == "Checkout down"
    # when the incident does not exist
    missing = await gql(EDIT, {"i": {"incidentId": "SW5jaWRlbnQ6OTk5OTk=", "title": "x"}})
    assert missing["incidentEdit"]["errors"][0]["code"] == "NOT_FOUND"
