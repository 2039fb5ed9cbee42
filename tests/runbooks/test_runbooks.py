"""Runbooks through the API, with the worker running automated steps against a real HTTP
automation receiver that verifies every signature."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select

from govsvc.app import create_app
from govsvc.audit.models import AuditEvent
from govsvc.runbooks import automation
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL, StatementCounter, build_runtime
from tests.graphql import helpers
from tests.outbox.receiver import Answer, Receiver, Slow
from tests.runbooks.conftest import Unit

ERRORS = "errors { field message code }"
STEP = (
    "id key kind state attempts outputStatus outputBody error finishedBy note justification"
    " approvalReason approvedBy evidence { id } attemptLog { attempt statusCode body error }"
)
EXECUTION = f"id state runbookId version digest startedBy abortReason steps {{ {STEP} }}"
REASON = "the proxy fleet is healthy again after the rollback"
OUTAGE = {"unavailable": True, "durationMinutes": 20}


async def incident(gql: GraphQL, edge: Unit, **fields: Any) -> str:
    created = await helpers.incident(gql, edge.service, title="Edge errors", **fields)
    return str(created["id"])


async def start(client: GraphQL, incident_id: str, runbook: str) -> dict[str, Any]:
    data = await client(
        "mutation($i: RunbookStartInput!) { runbookStart(input: $i)"
        f" {{ execution {{ {EXECUTION} }} {ERRORS} }} }}",
        {"i": {"incidentId": incident_id, "runbookId": runbook}},
    )
    payload: dict[str, Any] = data["runbookStart"]
    return payload


async def started(client: GraphQL, incident_id: str, runbook: str = "edge-restart") -> str:
    payload = await start(client, incident_id, runbook)
    assert payload["errors"] == [], payload
    return str(payload["execution"]["id"])


async def execution(client: GraphQL, execution_id: str) -> dict[str, Any]:
    data = await client(
        f"query($id: ID!) {{ node(id: $id) {{ ... on RunbookExecution {{ {EXECUTION} }} }} }}",
        {"id": execution_id},
    )
    found: dict[str, Any] = data["node"]
    return found


async def step_of(client: GraphQL, execution_id: str, key: str) -> dict[str, Any]:
    found = await execution(client, execution_id)
    return next(s for s in found["steps"] if s["key"] == key)


async def act(client: GraphQL, name: str, **values: Any) -> dict[str, Any]:
    """Run a step or execution mutation; answer its payload."""
    kind = "Step" if name.startswith("runbookStep") else "Execution"
    selection = f"step {{ {STEP} }}" if kind == "Step" else f"execution {{ {EXECUTION} }}"
    input_type = name[0].upper() + name[1:] + "Input"
    data = await client(
        f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} {ERRORS} }} }}",
        {"i": values},
    )
    payload: dict[str, Any] = data[name]
    return payload


async def ok(client: GraphQL, name: str, **values: Any) -> dict[str, Any]:
    payload = await act(client, name, **values)
    assert payload["errors"] == [], payload
    return payload


async def states(client: GraphQL, execution_id: str) -> list[str]:
    return [s["state"] for s in (await execution(client, execution_id))["steps"]]


async def timeline(gql: GraphQL, incident_id: str) -> list[str]:
    data = await gql(
        "query($id: ID!) { node(id: $id) { ... on Incident { latestTimeline(limit: 50)"
        " { kind text } } } }",
        {"id": incident_id},
    )
    return [e["text"] for e in data["node"]["latestTimeline"] if e["kind"] == "runbook"]


async def audit_actions(runtime: Runtime) -> list[str]:
    async with runtime.db.read() as session:
        rows = await session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.resource_type == "runbook_execution")
            .order_by(AuditEvent.seq)
        )
        return list(rows.scalars())


async def test_runbooks_for_lists_the_matching_runbooks_and_why(gql: GraphQL, edge: Unit) -> None:
    incident_id = await incident(gql, edge, tags=["security"])
    data = await edge.responder(
        "query($i: ID!) { runbooksFor(incidentId: $i) { runbookId version matchedOn"
        " steps { key kind request { url secretEnv } } } }",
        {"i": incident_id},
    )
    found = {m["runbookId"]: m for m in data["runbooksFor"]}
    assert set(found) == {"edge-restart", "edge-gated", "security-containment"}
    assert found["edge-restart"]["matchedOn"] == ["service edge-api"]
    assert found["security-containment"]["matchedOn"] == ["tag security"]
    assert [s["kind"] for s in found["edge-restart"]["steps"]] == ["MANUAL", "AUTOMATED", "MANUAL"]


async def test_a_runbook_runs_to_completion_with_a_signed_call(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    incident_id = await incident(gql, edge)
    execution_id = await started(edge.responder, incident_id)
    assert await states(edge.responder, execution_id) == ["WAITING", "PENDING", "PENDING"]
    look = await step_of(edge.responder, execution_id, "look")
    # nothing automated is due yet: the worker has nothing to do
    assert await automation.run_due(runtime) == 0
    await ok(edge.responder, "runbookStepComplete", stepId=look["id"], note="dashboards red in EU")
    assert await states(edge.responder, execution_id) == ["SUCCEEDED", "QUEUED", "PENDING"]

    assert await automation.run_due(runtime) == 1

    (seen,) = receiver.seen
    assert seen.signature_ok
    assert seen.path == "/automation/edge/restart"
    assert seen.event == "runbook.step"
    assert seen.attempt == "1"
    body = json.loads(seen.body)
    assert body["service"] == "edge-api"
    assert body["step"] == "restart"
    assert body["incident"].startswith("INC-")
    restart = await step_of(edge.responder, execution_id, "restart")
    assert (restart["state"], restart["outputStatus"], restart["outputBody"]) == (
        "SUCCEEDED",
        200,
        "ok",
    )
    assert restart["finishedBy"] == "system:runbooks"
    assert await states(edge.responder, execution_id) == ["SUCCEEDED", "SUCCEEDED", "WAITING"]
    confirm = await step_of(edge.responder, execution_id, "confirm")
    await ok(edge.responder, "runbookStepComplete", stepId=confirm["id"], note="recovered")
    assert (await execution(edge.responder, execution_id))["state"] == "COMPLETED"

    entries = await timeline(gql, incident_id)
    assert any("started by responder@edge.example" in t for t in entries)
    assert any("'Restart the proxy fleet' succeeded (attempt 1, HTTP 200)" in t for t in entries)
    assert any(t.endswith("completed") for t in entries)
    actions = await audit_actions(runtime)
    assert actions[0] == "runbook.start"
    assert {"runbook.step_complete", "runbook.step_run", "runbook.complete"} <= set(actions)


async def _at_automated_step(gql: GraphQL, edge: Unit, **fields: Any) -> tuple[str, str]:
    incident_id = await incident(gql, edge, **fields)
    execution_id = await started(edge.responder, incident_id)
    look = await step_of(edge.responder, execution_id, "look")
    await ok(edge.responder, "runbookStepComplete", stepId=look["id"], note="looked")
    return execution_id, (await step_of(edge.responder, execution_id, "restart"))["id"]


async def test_a_failed_call_waits_for_a_person_and_a_retry_runs_it_again(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    execution_id, step_id = await _at_automated_step(gql, edge)
    receiver.will(Answer(500))
    await automation.run_due(runtime)
    failed = await step_of(edge.responder, execution_id, "restart")
    assert (failed["state"], failed["outputStatus"], failed["error"]) == ("FAILED", 500, "HTTP 500")
    # a failure is never re-sent by the machine
    assert await automation.run_due(runtime) == 0
    assert len(receiver.seen) == 1

    await ok(edge.responder, "runbookStepRetry", stepId=step_id)
    await automation.run_due(runtime)
    done = await step_of(edge.responder, execution_id, "restart")
    assert done["state"] == "SUCCEEDED"
    assert done["attempts"] == 2
    assert [(a["attempt"], a["statusCode"]) for a in done["attemptLog"]] == [(1, 500), (2, 200)]
    # the same idempotency key on both attempts: the endpoint can tell a repeat
    assert [s.attempt for s in receiver.seen] == ["1", "2"]
    assert len(set(receiver.keys_seen())) == 1
    # only a failed step is retried
    again = await act(edge.responder, "runbookStepRetry", stepId=step_id)
    assert again["errors"][0]["code"] == "CONFLICT"


async def test_a_call_past_its_timeout_fails_and_says_so(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    execution_id, _ = await _at_automated_step(gql, edge)
    receiver.will(Slow(1.5))
    await automation.run_due(runtime)
    failed = await step_of(edge.responder, execution_id, "restart")
    assert failed["state"] == "FAILED"
    assert failed["error"] == "timeout after 0.5 s"
    assert failed["attemptLog"][0]["statusCode"] is None


async def test_a_receiver_refuses_a_bad_signature_and_the_step_fails(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver, monkeypatch: Any
) -> None:
    execution_id, _ = await _at_automated_step(gql, edge)
    monkeypatch.setenv("GOVSVC_TEST_RUNBOOK_SECRET", "not-the-receivers-secret-at-all")
    await automation.run_due(runtime)
    (seen,) = receiver.seen
    assert not seen.signature_ok
    failed = await step_of(edge.responder, execution_id, "restart")
    assert (failed["state"], failed["outputStatus"]) == ("FAILED", 401)


async def test_a_missing_secret_sends_nothing(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver, monkeypatch: Any
) -> None:
    execution_id, _ = await _at_automated_step(gql, edge)
    monkeypatch.delenv("GOVSVC_TEST_RUNBOOK_SECRET")
    await automation.run_due(runtime)
    assert receiver.seen == []
    failed = await step_of(edge.responder, execution_id, "restart")
    assert failed["error"] == "not sent: $GOVSVC_TEST_RUNBOOK_SECRET is not set"


async def test_a_high_severity_holds_the_automated_step_until_a_commander_approves(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    execution_id, step_id = await _at_automated_step(gql, edge, impact=OUTAGE)
    held = await step_of(edge.responder, execution_id, "restart")
    assert held["state"] == "AWAITING_APPROVAL"
    assert held["approvalReason"].startswith("policy: SEV1 incidents need an approval")
    assert await automation.run_due(runtime) == 0
    assert receiver.seen == []
    # taking it over by hand does not go round the approval
    bypass = await act(edge.responder, "runbookStepTakeOver", stepId=step_id, note="by hand")
    assert bypass["errors"][0]["code"] == "APPROVAL_REQUIRED"
    # a responder may not approve
    refused = await edge.responder.errors(
        "mutation($i: RunbookStepApproveInput!) { runbookStepApprove(input: $i) { step { id } } }",
        {"i": {"stepId": step_id}},
    )
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
    approved = await ok(edge.commander, "runbookStepApprove", stepId=step_id, note="go")
    assert approved["step"]["state"] == "QUEUED"
    assert approved["step"]["approvedBy"] == "incident_commander@edge.example"
    await automation.run_due(runtime)
    assert len(receiver.seen) == 1
    assert (await step_of(edge.responder, execution_id, "restart"))["state"] == "SUCCEEDED"


async def test_an_approval_gate_blocks_the_automated_step_behind_it(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    incident_id = await incident(gql, edge)
    execution_id = await started(edge.responder, incident_id, "edge-gated")
    assert await states(edge.responder, execution_id) == ["WAITING", "PENDING"]
    assert await automation.run_due(runtime) == 0
    gate = await step_of(edge.responder, execution_id, "sign-off")
    # completing is not approving, and skipping a gate takes the right to approve it
    wrong = await act(edge.responder, "runbookStepComplete", stepId=gate["id"], note="done")
    assert wrong["errors"][0]["code"] == "CONFLICT"
    skip = await edge.responder.errors(
        "mutation($i: RunbookStepSkipInput!) { runbookStepSkip(input: $i) { step { id } } }",
        {"i": {"stepId": gate["id"], "justification": REASON}},
    )
    assert skip[0]["extensions"]["code"] == "FORBIDDEN"
    await ok(edge.commander, "runbookStepApprove", stepId=gate["id"])
    assert await automation.run_due(runtime) == 1
    assert receiver.seen[0].path == "/automation/edge/drain"
    assert (await execution(edge.responder, execution_id))["state"] == "COMPLETED"


async def test_pause_holds_automated_steps_until_resumed(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    execution_id, _step_id = await _at_automated_step(gql, edge)
    paused = await ok(edge.responder, "runbookPause", executionId=execution_id, reason="hold on")
    assert paused["execution"]["state"] == "PAUSED"
    assert await automation.run_due(runtime) == 0
    assert receiver.seen == []
    again = await act(edge.responder, "runbookPause", executionId=execution_id, reason="x")
    assert again["errors"][0]["code"] == "CONFLICT"
    await ok(edge.responder, "runbookResume", executionId=execution_id)
    assert await automation.run_due(runtime) == 1
    assert (await step_of(edge.responder, execution_id, "restart"))["state"] == "SUCCEEDED"
    assert {"runbook.pause", "runbook.resume"} <= set(await audit_actions(runtime))


async def test_skip_needs_a_justification_and_moves_on(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver
) -> None:
    execution_id, step_id = await _at_automated_step(gql, edge)
    before = await audit_actions(runtime)
    short = await act(edge.responder, "runbookStepSkip", stepId=step_id, justification="no")
    assert short["errors"] == [
        {
            "field": "justification",
            "message": "say why in at least 20 characters",
            "code": "JUSTIFICATION_REQUIRED",
        }
    ]
    assert await audit_actions(runtime) == before
    skipped = await ok(edge.responder, "runbookStepSkip", stepId=step_id, justification=REASON)
    assert (skipped["step"]["state"], skipped["step"]["justification"]) == ("SKIPPED", REASON)
    assert await automation.run_due(runtime) == 0
    assert receiver.seen == []
    assert await states(edge.responder, execution_id) == ["SUCCEEDED", "SKIPPED", "WAITING"]
    entries = await timeline(gql, await _incident_of(gql, execution_id))
    assert any(f"skipped by responder@edge.example: {REASON}" in t for t in entries)


async def _incident_of(gql: GraphQL, execution_id: str) -> str:
    data = await gql(
        "query($id: ID!) { node(id: $id) { ... on RunbookExecution { incident { id } } } }",
        {"id": execution_id},
    )
    return str(data["node"]["incident"]["id"])


async def test_abort_cancels_what_is_left(gql: GraphQL, edge: Unit, runtime: Runtime) -> None:
    execution_id, step_id = await _at_automated_step(gql, edge)
    aborted = await ok(
        edge.responder, "runbookAbort", executionId=execution_id, reason="wrong runbook"
    )
    assert aborted["execution"]["state"] == "ABORTED"
    assert aborted["execution"]["abortReason"] == "wrong runbook"
    assert await states(edge.responder, execution_id) == ["SUCCEEDED", "CANCELLED", "CANCELLED"]
    assert await automation.run_due(runtime) == 0
    late = await act(edge.responder, "runbookStepRetry", stepId=step_id)
    assert late["errors"][0]["code"] == "CONFLICT"
    # once aborted, the runbook may be started again on the incident
    await started(edge.responder, await _incident_of(gql, execution_id))


async def test_a_person_takes_over_an_automated_step_with_evidence(
    gql: GraphQL, edge: Unit, runtime: Runtime, receiver: Receiver, http: Any, admin_token: str
) -> None:
    execution_id, step_id = await _at_automated_step(gql, edge)
    receiver.will(Answer(500))
    await automation.run_due(runtime)
    incident_id = await _incident_of(gql, execution_id)
    response = await http.post(
        "/evidence",
        params={"title": "restart log", "kind": "log_export", "incidentId": incident_id},
        content=b"restarted by hand at 10:02\n",
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 201, response.text
    evidence_id = response.json()["evidence"]["id"]
    taken = await ok(
        edge.responder,
        "runbookStepTakeOver",
        stepId=step_id,
        note="restarted the fleet from the console",
        evidenceId=evidence_id,
    )
    step = taken["step"]
    assert (step["state"], step["note"], step["finishedBy"]) == (
        "TAKEN_OVER",
        "restarted the fleet from the console",
        "responder@edge.example",
    )
    assert step["evidence"] == {"id": evidence_id}
    assert await states(edge.responder, execution_id) == ["SUCCEEDED", "TAKEN_OVER", "WAITING"]
    assert "runbook.step_take_over" in await audit_actions(runtime)


async def test_two_workers_run_an_automated_step_exactly_once(
    gql: GraphQL, edge: Unit, runtime: Runtime, second_runtime: Runtime, receiver: Receiver
) -> None:
    execution_id, _ = await _at_automated_step(gql, edge)
    ran = await asyncio.gather(
        *(automation.run_due(rt) for _ in range(3) for rt in (runtime, second_runtime))
    )
    assert sum(ran) == 1
    assert len(receiver.seen) == 1
    done = await step_of(edge.responder, execution_id, "restart")
    assert (done["state"], done["attempts"]) == ("SUCCEEDED", 1)


async def test_refusals_change_nothing(gql: GraphQL, edge: Unit, runtime: Runtime) -> None:
    incident_id = await incident(gql, edge)
    unknown = await start(edge.responder, incident_id, "no-such-runbook")
    assert unknown["errors"][0]["code"] == "NOT_FOUND"
    other = await start(edge.responder, incident_id, "security-containment")
    assert other["errors"][0]["code"] == "INVALID"
    assert "does not match this incident" in other["errors"][0]["message"]
    assert await audit_actions(runtime) == []
    await started(edge.responder, incident_id)
    twice = await start(edge.responder, incident_id, "edge-restart")
    assert twice["errors"][0]["code"] == "CONFLICT"
    # a viewer of the incident may not see runbooks; nor run them
    denied = await edge.viewer.errors(
        "query($i: ID!) { runbooksFor(incidentId: $i) { runbookId } }", {"i": incident_id}
    )
    assert denied[0]["extensions"]["code"] == "FORBIDDEN"
    assert (
        await edge.viewer.errors(
            "mutation($i: RunbookStartInput!) { runbookStart(input: $i) { errors { code } } }",
            {"i": {"incidentId": incident_id, "runbookId": "edge-restart"}},
        )
    )[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await audit_actions(runtime)).count("runbook.start") == 1


async def test_a_version_changed_after_it_ran_is_refused(
    gql: GraphQL, edge: Unit, settings: Settings
) -> None:
    incident_id = await incident(gql, edge)
    first = await started(edge.responder, incident_id)
    await ok(edge.responder, "runbookAbort", executionId=first, reason="trying again")
    # someone edits version 1 in place instead of adding version 2, and the service restarts
    path = settings.policies_dir / "runbooks" / "edge-restart.yaml"
    path.write_text(path.read_text().replace("five minutes", "ten minutes"))
    edited = build_runtime(settings)
    transport = httpx.ASGITransport(app=create_app(settings, edited))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://govsvc.test") as http:
            refused = await start(GraphQL(http, edge.responder.token), incident_id, "edge-restart")
    finally:
        await edited.db.dispose()
    assert refused["errors"][0]["code"] == "CONFLICT"
    assert "immutable once in effect" in refused["errors"][0]["message"]
    assert "edge-restart.yaml" in refused["errors"][0]["message"]


async def test_listing_executions_with_steps_and_attempts_costs_the_same_for_more(
    gql: GraphQL, edge: Unit, runtime: Runtime, sql_statements: StatementCounter
) -> None:
    query = (
        "query($i: ID!) { runbookExecutions(incidentId: $i) { id incident { id }"
        " steps { id execution { id } attemptLog { attempt } evidence { id } } } }"
    )

    async def cost(executions: int) -> int:
        incident_id = await incident(gql, edge)
        for _ in range(executions):
            execution_id = await started(edge.responder, incident_id)
            await ok(edge.responder, "runbookAbort", executionId=execution_id, reason="again")
        sql_statements.reset()
        data = await gql(query, {"i": incident_id})
        assert len(data["runbookExecutions"]) == executions
        return sql_statements.count

    assert await cost(1) == await cost(4)
