"""Regulator clocks over the public API: facts the regimes name can be recorded and settle their
clocks, unknown facts keep clocks waiting in view, a late notification needs its reasons where
the law says so, the regulator timeline, and deadline previews for drills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import GraphQL
from tests.graphql import helpers

ERRORS = "errors { field message code }"
CLOCK_FIELDS = "clock state sentAt pendingFacts reasonsRequired reasonsGiven lateReason"
FACT = (
    "mutation($i: RegulatoryFactRecordInput!) { regulatoryFactRecord(input: $i) {"
    f" clocks {{ {CLOCK_FIELDS} }} {ERRORS} }} }}"
)
TRIGGER = (
    "mutation($i: RegulatoryTriggerRecordInput!) { regulatoryTriggerRecord(input: $i) {"
    f" clocks {{ {CLOCK_FIELDS} }} {ERRORS} }} }}"
)
NOTIFY = (
    "mutation($i: RegulatoryNotificationRecordInput!) { regulatoryNotificationRecord(input: $i)"
    f" {{ clocks {{ {CLOCK_FIELDS} }} {ERRORS} }} }}"
)
CLOCKS = f"query($id: ID) {{ notificationClocks(incidentId: $id) {{ regime {CLOCK_FIELDS} }} }}"


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def _incident(gql: GraphQL, control: str, **fields: Any) -> str:
    unit_id = await helpers.unit(gql, "clinic")
    service_id = await helpers.service(gql, "records", unit_id)
    created = await helpers.incident(gql, service_id, detectedAt=_ago(hours=100), **fields)
    decided = await gql(
        "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
        f" state {ERRORS} }} }}",
        {"i": {"controlKey": control, "targetId": created["id"]}},
    )
    assert decided["controlMappingDecide"]["errors"] == []
    return str(created["id"])


def _by_clock(clocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["clock"]: c for c in clocks}


async def test_the_hipaa_media_clock_settles_on_the_fact_the_regime_names(gql: GraphQL) -> None:
    # given a HIPAA breach whose media clock waits for the most residents of one State
    incident_id = await _incident(gql, "hipaa:164.404")
    before = _by_clock((await gql(CLOCKS, {"id": incident_id}))["notificationClocks"])
    assert before["media"]["pendingFacts"] == ["max_residents_affected_in_a_state"]
    # when that fact is recorded by the name the regime uses
    recorded = await gql(
        FACT,
        {
            "i": {
                "incidentId": incident_id,
                "name": "max_residents_affected_in_a_state",
                "value": "800",
            }
        },
    )
    # then the clock applies for certain
    assert recorded["regulatoryFactRecord"]["errors"] == []
    after = _by_clock(recorded["regulatoryFactRecord"]["clocks"])
    assert after["media"]["pendingFacts"] == []
    assert after["media"]["state"] == "OPEN"
    # and a count below the threshold rules it out
    below = await gql(
        FACT,
        {
            "i": {
                "incidentId": incident_id,
                "name": "max_residents_affected_in_a_state",
                "value": "12",
            }
        },
    )
    assert "media" not in _by_clock(below["regulatoryFactRecord"]["clocks"])


async def test_the_known_facts_are_listed_with_their_kinds(gql: GraphQL) -> None:
    data = await gql("{ knownFacts { name kind levels } }")
    by_name = {f["name"]: f for f in data["knownFacts"]}
    assert by_name["max_residents_affected_in_a_state"]["kind"] == "count"
    assert by_name["risk_to_individuals"]["levels"] == ["unlikely", "risk", "high_risk"]
    assert "affected_residents_max_state" not in by_name


async def test_a_fact_no_regime_names_is_refused_and_changes_nothing(gql: GraphQL) -> None:
    # given
    incident_id = await _incident(gql, "hipaa:164.404")
    # when
    refused = await gql(
        FACT,
        {"i": {"incidentId": incident_id, "name": "affected_residents_max_state", "value": "800"}},
    )
    # then
    [error] = refused["regulatoryFactRecord"]["errors"]
    assert (error["field"], error["code"]) == ("name", "INVALID")
    assert "max_residents_affected_in_a_state" in error["message"]
    events = await gql(
        '{ auditEvents(filter: {action: "incident.regulatory_fact"}) { edges { node { seq } } } }'
    )
    assert events["auditEvents"]["edges"] == []


async def test_an_unknown_number_affected_keeps_both_hhs_clocks_waiting(gql: GraphQL) -> None:
    # given a HIPAA breach with nobody counted yet (customersAffected left at its default)
    incident_id = await _incident(gql, "hipaa:164.404")
    # when
    clocks = _by_clock((await gql(CLOCKS, {"id": incident_id}))["notificationClocks"])
    # then the 500-or-more clock is kept in view, waiting for the count, not dropped as zero
    assert clocks["hhs-500-or-more"]["state"] == "WAITING"
    assert clocks["hhs-500-or-more"]["pendingFacts"] == ["affected_individuals"]
    assert clocks["hhs-fewer-than-500"]["state"] == "WAITING"
    # and once counted, exactly one of them stays
    counted = await gql(
        FACT, {"i": {"incidentId": incident_id, "name": "affected_individuals", "value": "1200"}}
    )
    after = _by_clock(counted["regulatoryFactRecord"]["clocks"])
    assert after["hhs-500-or-more"]["state"] == "OPEN"
    assert "hhs-fewer-than-500" not in after


async def _gdpr_breach_aware_80_hours_ago(gql: GraphQL) -> str:
    incident_id = await _incident(gql, "gdpr:Art. 33", tags=["personal-data-exposure"])
    await gql(
        TRIGGER,
        {"i": {"incidentId": incident_id, "kind": "BECAME_AWARE", "occurredAt": _ago(hours=80)}},
    )
    await gql(
        FACT, {"i": {"incidentId": incident_id, "name": "risk_to_individuals", "value": "risk"}}
    )
    return incident_id


def _notice(incident_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "i": {
            "incidentId": incident_id,
            "regime": "gdpr",
            "clock": "supervisory-authority",
            "recipient": "Data Protection Commission",
            "summary": "Initial notification",
            "content": "Art. 33 notification: nature of the breach ...",
            **fields,
        }
    }


async def test_a_late_gdpr_notification_without_reasons_is_refused_and_nothing_is_stored(
    gql: GraphQL,
) -> None:
    # given a breach 80 hours past awareness: the 72-hour clock is missed
    incident_id = await _gdpr_breach_aware_80_hours_ago(gql)
    evidence_before = await gql("{ evidence { edges { node { id } } } }")
    # when it is recorded as sent now, without reasons (and with only blanks)
    for reason in (None, "   "):
        refused = await gql(NOTIFY, _notice(incident_id, lateReason=reason))
        # then it is refused with a typed error naming the field and the law
        [error] = refused["regulatoryNotificationRecord"]["errors"]
        assert (error["field"], error["code"]) == ("lateReason", "JUSTIFICATION_REQUIRED")
        assert "GDPR Art. 33(1)" in error["message"]
    # and nothing was stored: no notification, no frozen content, no audit event
    clock = _by_clock((await gql(CLOCKS, {"id": incident_id}))["notificationClocks"])
    assert clock["supervisory-authority"]["sentAt"] is None
    assert await gql("{ evidence { edges { node { id } } } }") == evidence_before
    events = await gql(
        '{ auditEvents(filter: {action: "incident.regulatory_notification"}) {'
        " edges { node { seq } } } }"
    )
    assert events["auditEvents"]["edges"] == []


async def test_a_late_gdpr_notification_with_reasons_shows_them_on_the_clock(gql: GraphQL) -> None:
    # given
    incident_id = await _gdpr_breach_aware_80_hours_ago(gql)
    # when
    sent = await gql(
        NOTIFY, _notice(incident_id, lateReason="Forensic confirmation took until today")
    )
    # then
    assert sent["regulatoryNotificationRecord"]["errors"] == []
    clock = _by_clock(sent["regulatoryNotificationRecord"]["clocks"])["supervisory-authority"]
    assert clock["state"] == "MISSED"
    assert clock["reasonsRequired"] is True
    assert clock["reasonsGiven"] is True
    assert clock["lateReason"] == "Forensic confirmation took until today"


async def test_a_notification_in_time_needs_no_reasons(gql: GraphQL) -> None:
    # given a breach we became aware of 80 hours ago, notified 10 hours after awareness
    incident_id = await _gdpr_breach_aware_80_hours_ago(gql)
    # when
    sent = await gql(NOTIFY, _notice(incident_id, sentAt=_ago(hours=70)))
    # then
    assert sent["regulatoryNotificationRecord"]["errors"] == []
    clock = _by_clock(sent["regulatoryNotificationRecord"]["clocks"])["supervisory-authority"]
    assert (clock["state"], clock["reasonsGiven"], clock["lateReason"]) == ("MET", False, None)
    # and a late follow-up of a clock met in time needs none either (information in phases)
    follow_up = await gql(NOTIFY, _notice(incident_id, summary="Second phase"))
    assert follow_up["regulatoryNotificationRecord"]["errors"] == []


TIMELINE = (
    'query($id: ID!, $r: Boolean!) { regulatorTimeline(incidentId: $id, regime: "gdpr",'
    " redact: $r) { entries { at kind text source auditSeq } } }"
)


async def test_the_regulator_timeline_redacts_what_people_wrote_never_our_labels(
    gql: GraphQL,
) -> None:
    # given a late notification with reasons, whose summary names someone on the team
    incident_id = await _gdpr_breach_aware_80_hours_ago(gql)
    await helpers.person_with_token(gql, "maria.garcia@example.com")
    await gql(
        NOTIFY,
        _notice(
            incident_id,
            summary="Filed by Maria Garcia",
            lateReason="Forensic confirmation took until today",
        ),
    )
    # when
    redacted = (await gql(TIMELINE, {"id": incident_id, "r": True}))["regulatorTimeline"]
    # then the labels stay as written and only the free text is redacted
    [notice] = [e for e in redacted["entries"] if e["kind"] == "notification"]
    assert "Notification (supervisory-authority) sent to " in notice["text"]
    assert "Reasons for the delay: Forensic confirmation took until today" in notice["text"]
    assert "[content sha256 " in notice["text"]
    assert "Maria" not in notice["text"]
    # and the detection is there once
    detections = [e for e in redacted["entries"] if "detected" in e["text"].lower()]
    assert len(detections) == 1, detections
    assert detections[0]["auditSeq"] is not None


PREVIEW = (
    "query($r: String!, $at: DateTime!, $t: TriggerKind, $f: [RegulatoryFactInput!]) {"
    " notificationClockPreview(regime: $r, triggeredAt: $at, trigger: $t, facts: $f) {"
    " clocks { clock state startedAt dueAt pendingFacts assumedSent explanation }"
    " errors { field message code } } }"
)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def _preview(gql: GraphQL, regime: str, at: str, **more: Any) -> dict[str, dict[str, Any]]:
    data = await gql(PREVIEW, {"r": regime, "at": at, **more})
    assert data["notificationClockPreview"]["errors"] == [], data
    return {p["clock"]: p for p in data["notificationClockPreview"]["clocks"]}


@pytest.mark.parametrize(
    ("regime", "at", "facts", "clock", "due"),
    [
        pytest.param(
            "sec-8k",
            "2026-11-25T15:00:00-05:00",
            [],
            "form-8k-item-1-05",
            "2026-12-03T04:59:59Z",
            id="sec: the day before Thanksgiving, which is not a business day",
        ),
        pytest.param(
            "sec-8k",
            "2026-12-26T10:00:00-05:00",
            [],
            "form-8k-item-1-05",
            "2027-01-01T04:59:59Z",
            id="sec: a Saturday, the fourth business day ending on New Year's Eve",
        ),
        pytest.param(
            "hipaa",
            "2027-01-01T03:00:00Z",
            [{"name": "affected_individuals", "value": "20"}],
            "hhs-fewer-than-500",
            "2027-03-02T04:59:59Z",
            id="hipaa: still 2026 in New York, so 60 days after 2026-12-31",
        ),
        pytest.param(
            "gdpr",
            "2027-03-26T12:00:00Z",
            [{"name": "risk_to_individuals", "value": "risk"}],
            "supervisory-authority",
            "2027-03-29T12:00:00Z",
            id="gdpr: 72 real hours across the EU change to summer time",
        ),
        pytest.param(
            "nis2",
            "2027-01-31T10:00:00Z",
            [],
            "final-report",
            "2027-03-03T10:00:00Z",
            id="nis2: a month after the notification due 3 February",
        ),
    ],
)
async def test_a_deadline_preview_reckons_awkward_dates(
    gql: GraphQL, regime: str, at: str, facts: list[dict[str, str]], clock: str, due: str
) -> None:
    # when
    previews = await _preview(gql, regime, at, f=facts)
    # then
    assert _instant(previews[clock]["dueAt"]) == _instant(due), previews[clock]["explanation"]


async def test_a_preview_follows_chains_waits_for_unknown_facts_and_records_nothing(
    gql: GraphQL,
) -> None:
    # given
    before = await gql("{ auditEvents { edges { node { seq } } } }")
    # when DORA is previewed from classification alone
    dora = await _preview(gql, "dora", "2027-06-01T08:00:00Z", t="CLASSIFIED_MAJOR")
    # then each report follows the previous one sent at its deadline
    assert _instant(dora["initial-notification"]["dueAt"]) == _instant("2027-06-01T12:00:00Z")
    assert dora["intermediate-report"]["assumedSent"] == ["dora/initial-notification"]
    assert _instant(dora["intermediate-report"]["dueAt"]) == _instant("2027-06-04T12:00:00Z")
    assert _instant(dora["final-report"]["dueAt"]) == _instant("2027-07-04T12:00:00Z")
    # and HIPAA without a count shows every clock, waiting for it
    hipaa = await _preview(gql, "hipaa", "2027-06-01T08:00:00Z")
    assert hipaa["hhs-500-or-more"]["state"] == "WAITING"
    assert hipaa["hhs-500-or-more"]["pendingFacts"] == ["affected_individuals"]
    # and nothing was recorded
    assert await gql("{ auditEvents { edges { node { seq } } } }") == before


async def test_a_preview_refuses_an_unknown_regime_or_fact(gql: GraphQL) -> None:
    # refusals of what was asked are answers in data (schemathesis: no server errors)
    data = await gql(PREVIEW, {"r": "ccpa", "at": "2027-06-01T08:00:00Z"})
    assert data["notificationClockPreview"]["clocks"] == []
    [unknown] = data["notificationClockPreview"]["errors"]
    assert (unknown["code"], unknown["field"]) == ("NOT_FOUND", "regime")
    data = await gql(
        PREVIEW,
        {
            "r": "hipaa",
            "at": "2027-06-01T08:00:00Z",
            "f": [{"name": "affected_residents_max_state", "value": "800"}],
        },
    )
    [bad] = data["notificationClockPreview"]["errors"]
    assert bad["field"] == "name"
    _, token = await helpers.person_with_token(gql, "nobody@example.com")
    denied = await gql.as_(token).errors(PREVIEW, {"r": "gdpr", "at": "2027-06-01T08:00:00Z"})
    assert denied[0]["extensions"]["code"] == "FORBIDDEN"
