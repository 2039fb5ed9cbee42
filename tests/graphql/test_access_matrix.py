"""The two-unit access matrix: every entry point, tried against the other unit's objects.

Two sibling units, alpha and bravo, are filled through the API with one of everything
(incident, timeline, decisions, status updates for every audience, post-mortem, evidence,
legal holds, regulator records, control mappings, an audit pack), bravo's free text marked
with BRAVO-SECRET. An intruder holds *every* role in alpha (admin included) and nothing in
bravo; a machine holds alert_source in alpha. For every query, mutation, HTTP route and the
subscription, each of them asks about bravo's objects and, separately, about made-up ids of
the same kinds. The rule under test is the service's promise:

- a forbidden object looks exactly like a missing one (same response, after masking what
  legitimately differs between two requests: request ids, fresh ids, timestamps);
- nothing of bravo's ever appears in an answer (no marker, no bravo id);
- nothing of bravo's changes (no audit event lands in bravo).

The schema is enumerated, so a new query or mutation fails here until it joins the matrix.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLUnionType,
    is_leaf_type,
)
from sqlalchemy import select
from strawberry import relay

from govsvc.audit.models import AuditEvent
from govsvc.graphql.schema import build_schema
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from govsvc.worker import run_worker
from tests.alerts import helpers as alert_helpers
from tests.chat import helpers as chat_helpers
from tests.conftest import GraphQL
from tests.graphql import helpers

MARKER = "BRAVO-SECRET"
ERRORS = "errors { field message code }"


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


# ---------------------------------------------------------------------------- the world


@dataclass
class Unit:
    """One unit's objects, by kind: global ids."""

    code: str
    ids: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> str:
        return self.ids[kind]


async def _data(gql: GraphQL, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    data = await gql(query, variables)
    (payload,) = data.values()
    assert not payload.get("errors"), payload
    result: dict[str, Any] = payload
    return result


async def _seed_unit(gql: GraphQL, http: httpx.AsyncClient, token: str, code: str) -> Unit:
    """One of everything in a unit, its free text marked with the unit's name."""
    mark = f"{code.upper()}-SECRET"
    unit = Unit(code)
    unit.ids["unit"] = await helpers.unit(gql, code)
    unit.ids["service"] = await helpers.service(gql, f"{code}-api", unit["unit"])
    unit.ids["team"] = await helpers.team(gql, f"{code}-team", unit["unit"])
    unit.ids["person"], _ = await helpers.person_with_token(
        gql, f"member@{code}.example", "responder", unit["unit"]
    )
    grants = await gql(
        "query($p: ID!) { grants(principalId: $p) { edges { node { id } } } }",
        {"p": unit["person"]},
    )
    unit.ids["grant"] = grants["grants"]["edges"][0]["node"]["id"]
    incident = await helpers.incident(
        gql,
        unit["service"],
        title=f"{mark} checkout outage",
        summary=f"{mark} summary",
        detectedAt=_ago(hours=30),
        tags=["security", "personal-data-exposure"],
    )
    unit.ids["incident"] = incident["id"]
    i = unit["incident"]
    entry = await _data(
        gql,
        "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i)"
        f" {{ entry {{ id }} {ERRORS} }} }}",
        {"i": {"incidentId": i, "text": f"{mark} rolled back"}},
    )
    unit.ids["timeline"] = entry["entry"]["id"]
    await _data(
        gql,
        "mutation($i: IncidentDecisionRecordInput!) { incidentDecisionRecord(input: $i)"
        f" {{ decision {{ decision }} {ERRORS} }} }}",
        {"i": {"incidentId": i, "decision": f"{mark} fail over", "rationale": mark}},
    )
    dispute = await _data(
        gql,
        "mutation($i: ClassificationDisputeOpenInput!) { classificationDisputeOpen(input: $i)"
        f" {{ dispute {{ id }} {ERRORS} }} }}",
        {"i": {"incidentId": i, "teamId": unit["team"], "position": f"{mark} is worse"}},
    )
    unit.ids["dispute"] = dispute["dispute"]["id"]
    await _data(
        gql,
        "mutation($i: IncidentRoleAssignInput!) { incidentRoleAssign(input: $i)"
        f" {{ role {ERRORS} }} }}",
        {"i": {"incidentId": i, "role": "INCIDENT_COMMANDER", "personId": unit["person"]}},
    )
    for audience in ("INTERNAL", "EXECUTIVE", "REGULATOR"):
        update = await _data(
            gql,
            "mutation($i: StatusUpdateDraftInput!) { statusUpdateDraft(input: $i)"
            f" {{ update {{ id }} {ERRORS} }} }}",
            {
                "i": {
                    "incidentId": i,
                    "audience": audience,
                    "status": "investigating",
                    "body": f"{mark} {audience.lower()} draft",
                }
            },
        )
        unit.ids[f"update_{audience.lower()}"] = update["update"]["id"]
    started = await _data(
        gql,
        "mutation($i: RunbookStartInput!) { runbookStart(input: $i)"
        f" {{ execution {{ id steps {{ id }} }} {ERRORS} }} }}",
        {"i": {"incidentId": i, "runbookId": "security-containment"}},
    )
    unit.ids["runbook_execution"] = started["execution"]["id"]
    unit.ids["runbook_step"] = started["execution"]["steps"][0]["id"]
    await _data(
        gql,
        "mutation($i: RunbookStepCompleteInput!) { runbookStepComplete(input: $i)"
        f" {{ step {{ id }} {ERRORS} }} }}",
        {"i": {"stepId": unit["runbook_step"], "note": f"{mark} snapshots taken"}},
    )
    await _data(
        gql,
        "mutation($i: PostMortemWriteInput!) { postMortemWrite(input: $i)"
        f" {{ postMortem {{ state }} {ERRORS} }} }}",
        {"i": {"incidentId": i, "sections": {"summary": f"{mark} what happened"}}},
    )
    response = await http.post(
        "/evidence",
        params={"title": f"{mark} log", "kind": "log_export", "incidentId": i},
        content=f"{mark} auth.log\n".encode() * 20,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    unit.ids["evidence"] = response.json()["evidence"]["id"]
    hold_query = (
        "mutation($i: LegalHoldPlaceInput!) { legalHoldPlace(input: $i)"
        f" {{ legalHold {{ id }} {ERRORS} }} }}"
    )
    hold = await _data(
        gql,
        hold_query,
        {"i": {"matter": f"{mark} matter", "reason": mark, "scope": "INCIDENT", "incidentId": i}},
    )
    unit.ids["hold"] = hold["legalHold"]["id"]
    matter = await _data(
        gql,
        hold_query,
        {
            "i": {
                "matter": f"{mark} named items",
                "reason": mark,
                "scope": "MATTER",
                "evidenceIds": [unit["evidence"]],
            }
        },
    )
    unit.ids["matter_hold"] = matter["legalHold"]["id"]
    await _data(
        gql,
        "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i)"
        f" {{ controlKey {ERRORS} }} }}",
        {"i": {"controlKey": "gdpr:Art. 33", "targetId": i, "confirm": True}},
    )
    await _data(
        gql,
        "mutation($i: RegulatoryTriggerRecordInput!) { regulatoryTriggerRecord(input: $i)"
        f" {{ {ERRORS} }} }}",
        {"i": {"incidentId": i, "kind": "BECAME_AWARE", "occurredAt": _ago(hours=29)}},
    )
    pack = await _data(
        gql,
        "mutation($i: AuditPackCreateInput!) { auditPackCreate(input: $i)"
        f" {{ auditPack {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "framework": "gdpr",
                "periodStart": _ago(days=3),
                "periodEnd": _ago(hours=-1),
                "businessUnitIds": [unit["unit"]],
            }
        },
    )
    unit.ids["pack"] = pack["auditPack"]["id"]
    await _seed_oncall(gql, unit)
    return unit


async def _alert_machine(gql: GraphQL) -> tuple[str, str]:
    """The `alertmanager` machine, without grants yet, and its token."""
    machine = await gql(
        "mutation($i: MachineCreateInput!) { machineCreate(input: $i) {"
        " machine { id } errors { code } } }",
        {"i": {"handle": "alertmanager", "name": "Alertmanager"}},
    )
    machine_id: str = machine["machineCreate"]["machine"]["id"]
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) {"
        " token errors { code } } }",
        {"i": {"principalId": machine_id}},
    )
    return machine_id, minted["apiTokenCreate"]["token"]


async def _grant(gql: GraphQL, principal_id: str, role: str, unit_id: str) -> str:
    granted = await gql(
        "mutation($i: GrantCreateInput!) { grantCreate(input: $i) {"
        " grant { id } errors { code } } }",
        {"i": {"principalId": principal_id, "role": role, "businessUnitId": unit_id}},
    )
    assert granted["grantCreate"]["errors"] == [], granted
    grant_id: str = granted["grantCreate"]["grant"]["id"]
    return grant_id


async def _send_alert(
    http: httpx.AsyncClient, token: str, name: str, service_code: str, mark: str
) -> dict[str, Any]:
    element = alert_helpers.alert(name, service=service_code, note=f"{mark} label")
    element["annotations"] = {"summary": f"{mark} {name} on {service_code}"}
    response = await alert_helpers.post(http, token, alert_helpers.batch(element))
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _seed_alerts(gql: GraphQL, http: httpx.AsyncClient, token: str, unit: Unit) -> None:
    """A unit's alerts, posted as Alertmanager posts them by a machine sending into the unit:
    one on a tier-1 service of the unit (it opens an incident), one naming no known service
    (unrouted: no unit's, an administrator's of every unit), and a silence on the service."""
    mark = f"{unit.code.upper()}-SECRET"
    code = f"{unit.code}-edge"
    unit.ids["alert_service"] = await helpers.service(gql, code, unit["unit"], tier=1)
    routed = await _send_alert(http, token, "EdgeDown", code, mark)
    assert (routed["new"], routed["unrouted"], routed["incidentsOpened"]) == (1, 0, 1), routed
    (unit.ids["alert"],) = routed["alerts"]
    unit.ids["payload"] = routed["payload"]
    found = await gql(
        "query($id: ID!) { node(id: $id) { ... on Alert { incident { id } } } }",
        {"id": unit["alert"]},
    )
    unit.ids["alert_incident"] = found["node"]["incident"]["id"]
    stray = await _send_alert(http, token, "DiskFull", f"{unit.code}-nowhere", mark)
    assert stray["unrouted"] == 1, stray
    (unit.ids["unrouted_alert"],) = stray["alerts"]
    unit.ids["unrouted_payload"] = stray["payload"]
    silence = await _data(
        gql,
        "mutation($i: AlertSilenceCreateInput!) { alertSilenceCreate(input: $i)"
        f" {{ silence {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "serviceId": unit["alert_service"],
                "endsAt": _ago(hours=-2),
                "reason": f"{mark} maintenance",
            }
        },
    )
    unit.ids["silence"] = silence["silence"]["id"]


async def _seed_oncall(gql: GraphQL, unit: Unit) -> None:
    """A schedule of the unit's member with an override and a feed, an escalation policy the
    service points at, and the incident paged through it."""
    schedule = await _data(
        gql,
        "mutation($i: ScheduleCreateInput!) { scheduleCreate(input: $i)"
        f" {{ schedule {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "businessUnitId": unit["unit"],
                "name": f"{unit.code.upper()}-SECRET rota",
                "layers": [
                    {
                        "name": "primary",
                        "timeZone": "Europe/Berlin",
                        "rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
                        "start": "2026-01-05T09:00",
                        "memberIds": [unit["person"]],
                    }
                ],
            }
        },
    )
    unit.ids["schedule"] = schedule["schedule"]["id"]
    override = await _data(
        gql,
        "mutation($i: ScheduleOverrideCreateInput!) { scheduleOverrideCreate(input: $i)"
        f" {{ override {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "scheduleId": unit["schedule"],
                "personId": unit["person"],
                "startsAt": _ago(days=-1),
                "endsAt": _ago(days=-2),
                "reason": f"{unit.code.upper()}-SECRET swap",
            }
        },
    )
    unit.ids["override"] = override["override"]["id"]
    feed = await _data(
        gql,
        "mutation($i: OnCallFeedCreateInput!) { onCallFeedCreate(input: $i)"
        f" {{ feed {{ id }} url {ERRORS} }} }}",
        {"i": {"scheduleId": unit["schedule"]}},
    )
    unit.ids["feed"] = feed["feed"]["id"]
    policy = await _data(
        gql,
        "mutation($i: EscalationPolicyCreateInput!) { escalationPolicyCreate(input: $i)"
        f" {{ policy {{ id }} {ERRORS} }} }}",
        {
            "i": {
                "businessUnitId": unit["unit"],
                "name": f"{unit.code.upper()}-SECRET ladder",
                "levels": [
                    {
                        "timeoutSeconds": 300,
                        "targets": [{"kind": "schedule", "id": unit["schedule"]}],
                    }
                ],
            }
        },
    )
    unit.ids["escalation_policy"] = policy["policy"]["id"]
    await _data(
        gql,
        "mutation($i: ServiceEscalationPolicySetInput!) { serviceEscalationPolicySet(input: $i)"
        f" {{ serviceId {ERRORS} }} }}",
        {"i": {"serviceId": unit["service"], "policyId": unit["escalation_policy"]}},
    )
    paged = await _data(
        gql,
        "mutation($i: IncidentPageInput!) { incidentPage(input: $i)"
        f" {{ pages {{ id state }} {ERRORS} }} }}",
        {"i": {"incidentId": unit["incident"], "policyId": unit["escalation_policy"]}},
    )
    (page,) = paged["pages"]
    assert page["state"] == "sent", page
    unit.ids["page"] = page["id"]


@dataclass
class World:
    alpha: Unit
    bravo: Unit
    missing: dict[str, str]  # kind -> a made-up id of the same type as bravo's
    intruders: dict[str, GraphQL]  # name -> a client holding alpha rights only
    tokens: dict[str, str]

    def as_missing(self, variables: Any) -> Any:
        """The same variables with every bravo id swapped for a made-up id of its kind."""
        text = json.dumps(variables)
        for kind, bravo_id in self.bravo.ids.items():
            text = text.replace(bravo_id, self.missing[kind])
        return json.loads(text)


ALL_ROLES = [
    "admin",
    "viewer",
    "responder",
    "incident_commander",
    "comms_lead",
    "executive",
    "compliance_officer",
    "legal",
    "auditor",
    "status_publisher",
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Chat is switched on: its routes join the matrix."""
    return chat_helpers.with_chat_secrets(settings)


@pytest.fixture
async def world(gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime) -> World:
    alpha = await _seed_unit(gql, http, admin_token, "alpha")
    bravo = await _seed_unit(gql, http, admin_token, "bravo")
    # The machine is the one policies/alert_sources.yaml names for the alertmanager source. It
    # sends bravo's alerts while it holds alert_source in bravo, then only ever holds it in
    # alpha: the machine intruder below.
    machine_id, machine_token = await _alert_machine(gql)
    in_bravo = await _grant(gql, machine_id, "alert_source", bravo["unit"])
    await _seed_alerts(gql, http, machine_token, bravo)
    revoked = await gql(
        "mutation($i: GrantRevokeInput!) { grantRevoke(input: $i) { errors { code } } }",
        {"i": {"id": in_bravo}},
    )
    assert revoked["grantRevoke"]["errors"] == [], revoked
    await _grant(gql, machine_id, "alert_source", alpha["unit"])
    await _seed_alerts(gql, http, machine_token, alpha)
    # The organisation's customer list is the administrators' alone: an intruder sees none.
    customer = await _data(
        gql,
        "mutation($i: CustomerAddInput!) { customerAdd(input: $i)"
        f" {{ customer {{ id }} {ERRORS} }} }}",
        {"i": {"name": f"{MARKER} Corporation"}},
    )
    bravo.ids["customer"] = customer["customer"]["id"]
    # alpha's service depends on bravo's: alpha's readers must not see that end of the edge.
    await _data(
        gql,
        "mutation($i: ServiceDependencyInput!) { serviceDependencyAdd(input: $i)"
        f" {{ service {{ id }} {ERRORS} }} }}",
        {"i": {"serviceId": alpha["service"], "dependsOnId": bravo["service"]}},
    )
    await run_worker(runtime, once=True)  # builds the packs
    missing = {}
    for number, (kind, global_id) in enumerate(bravo.ids.items()):
        type_name, _ = relay.from_base64(global_id)
        missing[kind] = relay.to_base64(type_name, 900_000 + number)
    intruder_id, intruder_token = await helpers.person_with_token(
        gql, "intruder@alpha.example", "admin", alpha["unit"]
    )
    for role in ALL_ROLES[1:]:
        granted = await gql(
            "mutation($i: GrantCreateInput!) { grantCreate(input: $i) { errors { code } } }",
            {"i": {"principalId": intruder_id, "role": role, "businessUnitId": alpha["unit"]}},
        )
        assert granted["grantCreate"]["errors"] == [], (role, granted)
    tokens = {"intruder": intruder_token, "machine": machine_token}
    intruders = {name: gql.as_(token) for name, token in tokens.items()}
    return World(alpha, bravo, missing, intruders, tokens)


# ---------------------------------------------------------------------------- documents

SCHEMA = build_schema()._schema
MAX_DEPTH = 4


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _callable_without_arguments(gql_field: GraphQLField) -> bool:
    return all(
        not isinstance(arg.type, GraphQLNonNull) or arg.default_value is not None
        for arg in gql_field.args.values()
    )


def selection(
    type_: GraphQLOutputType, depth: int = MAX_DEPTH, skip: frozenset[str] | set[str] = frozenset()
) -> str:
    """Every field reachable without arguments, to a depth: what a curious client would ask."""
    named = _unwrap(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        possibles = SCHEMA.get_possible_types(named)
        # Fields of one name but different types in two fragments may not be merged.
        shapes: dict[str, set[str]] = {}
        for possible in possibles:
            for name, gql_field in possible.fields.items():
                shapes.setdefault(name, set()).add(str(gql_field.type))
        clashing = {name for name, types in shapes.items() if len(types) > 1}
        fragments = [
            f"... on {possible.name} {{ {selection(possible, depth, clashing)} }}"
            for possible in possibles
        ]
        return "__typename " + " ".join(fragments)
    assert isinstance(named, GraphQLObjectType)
    parts = []
    for name, gql_field in named.fields.items():
        if not _callable_without_arguments(gql_field) or name in skip:
            continue
        inner = _unwrap(gql_field.type)
        if is_leaf_type(inner):
            parts.append(name)
        elif depth > 1:
            parts.append(f"{name} {{ {selection(inner, depth - 1)} }}")
    return " ".join(parts) or "__typename"


def _type_text(type_: Any) -> str:
    return str(type_)


def field_document(operation: str, name: str, arguments: dict[str, Any], depth: int) -> str:
    root = SCHEMA.mutation_type if operation == "mutation" else SCHEMA.query_type
    assert root is not None
    gql_field = root.fields[name]
    declared = ", ".join(f"${arg}: {_type_text(gql_field.args[arg].type)}" for arg in arguments)
    passed = ", ".join(f"{arg}: ${arg}" for arg in arguments)
    head = f"{operation}({declared})" if declared else operation
    call = f"{name}({passed})" if passed else name
    inner = selection(gql_field.type, depth)
    body = f"{call} {{ {inner} }}" if inner else call
    return f"{head} {{ {body} }}"


# ---------------------------------------------------------------------------- comparing

_VOLATILE = re.compile(
    r"\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)?"  # timestamps
    r"|[0-9a-f]{64}"  # digests
    r"|[0-9a-f]{32}"  # request ids
)
_VOLATILE_KEYS = {"id", "requestId", "downloadPath", "size", "createdAt", "reference"}


def masked(body: Any) -> Any:
    """What two requests may legitimately differ in, blanked out."""
    if isinstance(body, dict):
        return {k: "*" if k in _VOLATILE_KEYS else masked(v) for k, v in body.items()}
    if isinstance(body, list):
        return [masked(v) for v in body]
    if isinstance(body, str):
        return _VOLATILE.sub("*", body)
    return body


# People and machines are one directory for the whole organisation, not a unit's objects.
DIRECTORY_KINDS = {"person"}
# Ids that are no node's: a payload as received is read by `receivedAlertPayload` alone.
NOT_NODES = {"payload", "unrouted_payload"}


def leaks(world: World, text: str) -> list[str]:
    found = [MARKER] if MARKER in text else []
    return found + [
        kind
        for kind, value in world.bravo.ids.items()
        if value in text and kind not in DIRECTORY_KINDS
    ]


async def post(client: GraphQL, document: str, variables: dict[str, Any]) -> tuple[int, Any]:
    response = await client.post(document, variables)
    return response.status_code, response.json()


async def looks_missing(
    world: World, who: str, document: str, variables: dict[str, Any], problems: list[str]
) -> Any:
    """Ask about bravo and about made-up ids; note every way the two answers tell them apart."""
    client = world.intruders[who]
    status, forbidden = await post(client, document, variables)
    missing_status, missing = await post(client, document, world.as_missing(variables))
    where = f"{who} {document[:160]} {json.dumps(variables)[:200]}"
    leaked = leaks(world, json.dumps(forbidden))
    if leaked:
        problems.append(f"LEAK {leaked} <- {where}\n    {json.dumps(forbidden)[:600]}")
    if status != missing_status or masked(forbidden) != masked(missing):
        problems.append(
            f"TELLS APART <- {where}\n    bravo:   {json.dumps(forbidden)[:600]}"
            f"\n    missing: {json.dumps(missing)[:600]}"
        )
    return forbidden


# ---------------------------------------------------------------------------- queries

ArgBuilder = Callable[[World], dict[str, Any]]

REASON = "a reason long enough to pass validation"
PERIOD = {"periodStart": _ago(days=30), "periodEnd": _ago(hours=-1)}
IN_A_DAY = _ago(days=-1)


def _b(kind: str) -> ArgBuilder:
    return lambda w: {"incidentId": w.bravo[kind]}


# Per query: the argument sets that aim it at bravo (one call each). Plain lists take none.
QUERY_ARGUMENTS: dict[str, list[ArgBuilder]] = {
    "node": [],  # tried per kind below
    "nodes": [
        lambda w: {
            "ids": [v for k, v in w.bravo.ids.items() if k not in DIRECTORY_KINDS | NOT_NODES]
        }
    ],
    "businessUnits": [lambda w: {}],
    "services": [lambda w: {}],
    "teams": [lambda w: {}],
    "people": [lambda w: {}],
    "me": [lambda w: {}],
    "grants": [lambda w: {}, lambda w: {"principalId": w.bravo["person"]}],
    "incidents": [lambda w: {}, lambda w: {"filter": {"serviceId": w.bravo["service"]}}],
    "tagTaxonomy": [lambda w: {}],
    "classificationPolicy": [lambda w: {}],
    "incidentStatus": [
        lambda w, a=a: {"incidentId": w.bravo["incident"], "audience": a}  # type: ignore[misc]
        for a in ("INTERNAL", "EXECUTIVE", "REGULATOR", "PUBLIC")
    ],
    "statusUpdates": [_b("incident")],
    "messageTemplates": [lambda w: {}],
    "templatePreview": [lambda w: {"body": "{{ incident.title }}"}],
    "postMortem": [_b("incident")],
    "postMortemRedactionPreview": [_b("incident")],
    "publicPostMortem": [_b("incident")],
    "customers": [lambda w: {}],
    "knownFacts": [lambda w: {}],
    "auditPack": [lambda w: {"id": w.bravo["pack"]}],
    "notificationClockPreview": [
        lambda w: {"regime": "gdpr", "triggeredAt": "2026-12-24T18:00:00Z"},
    ],
    "evidence": [lambda w: {}, lambda w: {"filter": {"incidentId": w.bravo["incident"]}}],
    "legalHolds": [lambda w: {}],
    "dispositionRecords": [lambda w: {}],
    "frameworks": [lambda w: {}],
    "controlSuggestions": [_b("incident")],
    "controlCoverage": [
        lambda w: {"framework": "gdpr", **PERIOD},
        lambda w: {"framework": "gdpr", **PERIOD, "businessUnitIds": [w.bravo["unit"]]},
    ],
    "notificationClocks": [lambda w: {}, lambda w: {"incidentId": w.bravo["incident"]}],
    "regulatorTimeline": [
        lambda w: {"incidentId": w.bravo["incident"], "regime": "gdpr"},
        lambda w: {"incidentId": w.bravo["incident"], "regime": "gdpr", "redact": False},
    ],
    "schedules": [lambda w: {}],
    "schedule": [lambda w: {"id": w.bravo["schedule"]}],
    "onCall": [lambda w: {"scheduleId": w.bravo["schedule"]}],
    "whoIsOnCall": [lambda w: {"serviceId": w.bravo["service"]}],
    "scheduleViolations": [
        lambda w: {"scheduleId": w.bravo["schedule"], "from": _ago(days=1), "to": _ago(days=-6)}
    ],
    "escalationPolicies": [lambda w: {}],
    "onCallPages": [lambda w: {}, lambda w: {"incidentId": w.bravo["incident"]}],
    "webhookEndpoints": [lambda w: {}],
    "webhookDeliveries": [lambda w: {}],
    "responderLoad": [lambda w: {}, lambda w: {"unitId": w.bravo["unit"]}],
    "auditEvents": [
        lambda w: {},
        lambda w: {"filter": {"resourceType": "incident"}},
    ],
    "alerts": [
        lambda w: {},
        lambda w: {"serviceId": w.bravo["alert_service"]},
        lambda w: {"unrouted": True},
        lambda w: {"status": "FIRING", "source": "alertmanager"},
    ],
    "alertSilences": [lambda w: {}, lambda w: {"activeAt": _ago(minutes=-5)}],
    "alertRuleNoise": [lambda w: {"since": _ago(days=1), "until": _ago(hours=-1)}],
    "alertSources": [lambda w: {}],
    "runbooksFor": [_b("incident")],
    "runbookExecutions": [_b("incident")],
    "receivedAlertPayload": [
        lambda w: {"id": w.bravo["payload"]},
        lambda w: {"id": w.bravo["unrouted_payload"]},
    ],
}


def test_every_query_is_in_the_matrix() -> None:
    assert SCHEMA.query_type is not None
    assert set(SCHEMA.query_type.fields) == set(QUERY_ARGUMENTS)


@pytest.mark.parametrize("who", ["intruder", "machine"])
@pytest.mark.slow  # builds two whole units (`world`)
async def test_no_query_shows_bravo_and_forbidden_looks_missing(world: World, who: str) -> None:
    problems: list[str] = []
    for name, argument_sets in QUERY_ARGUMENTS.items():
        for build in argument_sets:
            arguments = build(world)
            document = field_document("query", name, arguments, MAX_DEPTH)
            answer = await looks_missing(world, who, document, arguments, problems)
            if "INTERNAL_SERVER_ERROR" in json.dumps(answer) or "data" not in answer:
                problems.append(f"BROKEN <- {name}: {json.dumps(answer)[:400]}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", ["intruder", "machine"])
@pytest.mark.slow  # builds two whole units (`world`)
async def test_node_of_any_bravo_object_is_null_like_a_made_up_one(world: World, who: str) -> None:
    problems: list[str] = []
    node = SCHEMA.get_type("Node")
    assert isinstance(node, GraphQLInterfaceType)
    for kind, global_id in world.bravo.ids.items():
        type_name, _ = relay.from_base64(global_id)
        if kind in DIRECTORY_KINDS | NOT_NODES:
            continue
        type_ = SCHEMA.get_type(type_name)
        assert type_ is not None, type_name
        if not isinstance(type_, GraphQLObjectType):
            continue
        if not SCHEMA.is_sub_type(node, type_):
            continue
        document = (
            "query($id: ID!) { node(id: $id) { __typename"
            f" ... on {type_name} {{ {selection(type_, 3)} }} }} }}"
        )
        answer = await looks_missing(world, who, document, {"id": global_id}, problems)
        if answer != {"data": {"node": None}} and kind not in DIRECTORY_KINDS:
            problems.append(f"VISIBLE {kind}: {json.dumps(answer)[:300]}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow  # builds two whole units (`world`)
async def test_the_intruder_sees_their_own_unit(world: World) -> None:
    """The matrix is not vacuous: the same intruder reads alpha's objects."""
    data = await world.intruders["intruder"](
        "query($id: ID!) { node(id: $id) { ... on Incident { title } } }",
        {"id": world.alpha["incident"]},
    )
    assert data["node"]["title"].startswith("ALPHA-SECRET")
    seen = await world.intruders["intruder"](
        "query($a: ID!, $s: ID!) { alert: node(id: $a) { ... on Alert { summary } }"
        " silence: node(id: $s) { ... on AlertSilence { reason } } }",
        {"a": world.alpha["alert"], "s": world.alpha["silence"]},
    )
    assert seen["alert"]["summary"].startswith("ALPHA-SECRET")
    assert seen["silence"]["reason"].startswith("ALPHA-SECRET")


# ---------------------------------------------------------------------------- HTTP routes


async def _get(http: httpx.AsyncClient, token: str, path: str) -> tuple[int, str]:
    response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.text


@pytest.mark.parametrize("who", ["intruder", "machine"])
@pytest.mark.slow  # builds two whole units (`world`)
async def test_downloads_of_bravo_objects_look_missing(
    world: World, http: httpx.AsyncClient, who: str
) -> None:
    token = world.tokens[who]
    for kind, route in (("evidence", "/evidence/{}/content"), ("pack", "/audit-packs/{}/content")):
        _, raw = relay.from_base64(world.bravo[kind])
        _, made_up = relay.from_base64(world.missing[kind])
        status, text = await _get(http, token, route.format(raw))
        missing_status, missing_text = await _get(http, token, route.format(made_up))
        assert status == missing_status == 404, (kind, status, text)
        assert masked(json.loads(text)) == masked(json.loads(missing_text))
        assert MARKER not in text


@pytest.mark.slow  # builds two whole units (`world`)
async def test_the_status_page_shows_nothing_unpublished(
    world: World, http: httpx.AsyncClient
) -> None:
    for path in ("/status", "/status.json", "/status.atom"):
        response = await http.get(path)
        assert response.status_code == 200
        assert MARKER not in response.text
        assert "ALPHA-SECRET" not in response.text


@pytest.mark.slow  # builds two whole units (`world`)
async def test_an_upload_into_bravo_looks_like_one_into_a_missing_incident(
    world: World, http: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await _audit_rows(runtime)
    answers = []
    for incident_id in (world.bravo["incident"], world.missing["incident"]):
        response = await http.post(
            "/evidence",
            params={"title": "planted", "kind": "log_export", "incidentId": incident_id},
            content=b"planted",
            headers={"Authorization": f"Bearer {world.tokens['intruder']}"},
        )
        answers.append((response.status_code, masked(response.json())))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    assert await _audit_rows(runtime) == before


@pytest.mark.slow  # builds two whole units (`world`)
async def test_an_alert_from_alpha_naming_a_bravo_service_stays_unrouted_like_an_unknown_one(
    world: World, http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    """The alpha machine (alert_source in alpha) labels an alert with bravo's service code: it
    must not land in bravo; it waits unrouted, answered exactly as for a code nobody has."""
    before = await _audit_rows(runtime)
    token = world.tokens["machine"]
    answers = []
    for n, code in enumerate(("bravo-edge", "no-such-service")):
        element = alert_helpers.alert("Planted", service=code, fingerprint=f"planted-{n}")
        response = await alert_helpers.post(http, token, alert_helpers.batch(element))
        body = response.json()
        assert response.status_code == 200, body
        assert len(body["alerts"]) == 1
        assert MARKER not in response.text
        answers.append({k: v for k, v in body.items() if k not in {"payload", "alerts"}})
    assert answers[0] == answers[1]
    assert (answers[0]["new"], answers[0]["unrouted"], answers[0]["incidentsOpened"]) == (1, 1, 0)
    planted = [a for a in await alert_helpers.alerts(gql) if a["ruleName"] == "Planted"]
    assert len(planted) == 2
    for found in planted:
        assert (found["detection"], found["service"], found["incident"], found["route"]) == (
            "UNROUTED",
            None,
            None,
            None,
        )
    in_bravo = await alert_helpers.alerts(gql, serviceId=world.bravo["alert_service"])
    assert [a["id"] for a in in_bravo] == [world.bravo["alert"]]
    assert _in_bravo(world, (await _audit_rows(runtime))[len(before) :]) == []

    # The generic route, as a source that does not list this machine: refused alike.
    refusals = []
    for code in ("bravo-edge", "no-such-service"):
        check = {"monitor": "m", "region": "r", "message": "x", "state": "down"}
        body = {"checks": [{**check, "tags": {"service": code}}]}
        response = await alert_helpers.post(
            http, token, body, path="/alerts/generic", source="uptime"
        )
        refusals.append((response.status_code, masked(response.json())))
    assert refusals[0] == refusals[1]
    assert refusals[0][0] == 403


def _chat_commands(incident: int, alert: int, alert_global: str) -> list[str]:
    return [
        f"note INC-{incident} {MARKER} planted",
        f"decide INC-{incident} planted because planted",
        f"role INC-{incident} scribe @chatter",
        f"runbook INC-{incident} security-containment",
        f"ack ALERT-{alert} planted",
        f"ack {alert_global}",
    ]


@pytest.mark.slow  # builds two whole units (`world`)
async def test_chat_commands_on_bravo_look_like_commands_on_made_up_references(
    world: World, http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    """/chat/slack/commands, /chat/slack/events and /chat/teams: a person of alpha holding
    every role there, known in chat, names bravo's incident and alert; each answer equals the
    one for a made-up reference, and nothing lands in bravo or in the chat record."""
    await chat_helpers.chat_person(
        gql, "chatter@alpha.example", ["chatter", "U0CHATTER"], world.alpha["unit"], *ALL_ROLES
    )
    before = await _audit_rows(runtime)
    bravo_commands, missing_commands = (
        _chat_commands(
            int(relay.from_base64(ids["incident"])[1]),
            int(relay.from_base64(ids["alert"])[1]),
            ids["alert"],
        )
        for ids in (world.bravo.ids, world.missing)
    )
    problems = []
    for n, (theirs, made_up) in enumerate(zip(bravo_commands, missing_commands, strict=True)):
        answers = []
        for m, text in enumerate((theirs, made_up)):
            sent = [
                await chat_helpers.slash(http, text, user="chatter", user_id="U0CHATTER"),
                await chat_helpers.slack_event(
                    http,
                    chat_helpers.mention(text, ts=f"1712.{n}{m}", user="U0CHATTER"),
                    event_id=f"EvMatrix{n}{m}",
                ),
                await chat_helpers.teams(http, text, name="chatter"),
            ]
            for response in sent:
                if MARKER in response.text.replace(text, "") or response.status_code != 200:
                    problems.append(f"LEAK or failure <- {text}: {response.text[:300]}")
            answers.append([masked(r.json()) for r in sent])
        if answers[0] != answers[1]:
            problems.append(f"DIFFERS <- {theirs}: {answers[0]} != {answers[1]}")
        if not all(_codes(a) & {"NOT_FOUND"} for a in answers[0]):
            problems.append(f"NOT REFUSED <- {theirs}: {answers[0]}")
    assert not problems, "\n".join(problems)
    after = await _audit_rows(runtime)
    assert _in_bravo(world, after[len(before) :]) == []
    assert after == before  # a refused command records nothing at all
    # Not vacuous: the same person notes on alpha's incident from chat.
    alpha_incident = relay.from_base64(world.alpha["incident"])[1]
    own = await chat_helpers.slash(http, f"note INC-{alpha_incident} fine", user="chatter")
    assert own.json()["errors"] == [], own.text


@pytest.mark.slow  # builds two whole units (`world`)
async def test_an_alert_from_alpha_reusing_a_bravo_fingerprint_leaves_bravo_alone(
    world: World, http: httpx.AsyncClient, gql: GraphQL
) -> None:
    (before,) = await alert_helpers.alerts(gql, serviceId=world.bravo["alert_service"])
    element = alert_helpers.alert(
        "EdgeDown", service="alpha-edge", status="resolved", fingerprint=before["fingerprint"]
    )
    response = await alert_helpers.post(http, world.tokens["machine"], alert_helpers.batch(element))
    assert response.status_code == 200, response.text
    assert world.bravo["alert"] not in response.json()["alerts"]
    (after,) = await alert_helpers.alerts(gql, serviceId=world.bravo["alert_service"])
    assert (after["status"], after["count"], after["summary"]) == (
        before["status"],
        before["count"],
        before["summary"],
    )


@pytest.mark.slow  # builds two whole units (`world`)
async def test_an_alert_from_alpha_on_a_service_depending_on_bravo_stays_out_of_bravo(
    world: World, http: httpx.AsyncClient, gql: GraphQL
) -> None:
    front = await helpers.service(gql, "alpha-front", world.alpha["unit"], tier=1)
    await _data(
        gql,
        "mutation($i: ServiceDependencyInput!) { serviceDependencyAdd(input: $i)"
        f" {{ service {{ id }} {ERRORS} }} }}",
        {"i": {"serviceId": front, "dependsOnId": world.bravo["alert_service"]}},
    )
    incident = (
        "query($id: ID!) { node(id: $id) { ... on Incident {"
        " reference latestTimeline(limit: 20) { text } } } }"
    )
    before = await gql(incident, {"id": world.bravo["alert_incident"]})
    element = alert_helpers.alert("FrontDown", service="alpha-front")
    response = await alert_helpers.post(http, world.tokens["machine"], alert_helpers.batch(element))
    assert response.status_code == 200, response.text
    (alert_id,) = response.json()["alerts"]
    seen = await world.intruders["intruder"](
        "query($id: ID!) { node(id: $id) { ... on Alert { incident { id } events { detail } } } }",
        {"id": alert_id},
    )
    assert before["node"]["reference"] not in json.dumps(seen)
    assert await gql(incident, {"id": world.bravo["alert_incident"]}) == before


@pytest.mark.parametrize("who", ["intruder", "machine"])
@pytest.mark.slow  # builds two whole units (`world`)
async def test_calendar_feeds_answer_to_their_token_alone(
    world: World, http: httpx.AsyncClient, who: str
) -> None:
    """/oncall/{token}.ics: the token is the credential; a caller's own credentials open no
    feed, and a made-up token looks like a revoked or missing one."""
    token = world.tokens[who]
    made_up = "/oncall/gsf_" + "A" * 43 + ".ics"
    with_credentials = await _get(http, token, made_up)
    anonymous = await http.get(made_up)
    assert with_credentials[0] == anonymous.status_code == 404
    assert json.loads(with_credentials[1]) == anonymous.json()
    assert MARKER not in with_credentials[1]


# ---------------------------------------------------------------------------- subscription


@pytest.mark.slow  # builds two whole units (`world`)
async def test_a_subscription_to_a_bravo_incident_looks_like_one_to_a_missing_incident(
    world: World, live_server: str
) -> None:
    import websockets

    async def outcome(incident_id: str) -> Any:
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($i: ID!) { incidentEvents(incidentId: $i) { __typename } }",
                "variables": {"i": incident_id},
            },
        }
        hello = {"type": "connection_init", "payload": {"token": world.tokens["intruder"]}}
        try:
            async with websockets.connect(
                f"ws://{live_server}/graphql",
                subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            ) as ws:
                await ws.send(json.dumps(hello))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps(subscribe))
                return masked(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))
        except websockets.ConnectionClosed as closed:
            return ("closed", closed.rcvd.code if closed.rcvd else None)

    forbidden = await outcome(world.bravo["incident"])
    missing = await outcome(world.missing["incident"])
    assert forbidden == missing
    assert MARKER not in json.dumps(forbidden)


# ---------------------------------------------------------------------------- mutations


def _i(**values: Any) -> ArgBuilder:
    """An input whose string values name bravo's objects as '@kind' and alpha's as '~kind'."""

    def build(w: World) -> dict[str, Any]:
        def resolve(value: Any) -> Any:
            if isinstance(value, str) and value.startswith("@"):
                return w.bravo[value[1:]]
            if isinstance(value, str) and value.startswith("~"):
                return w.alpha[value[1:]]
            if isinstance(value, list):
                return [resolve(v) for v in value]
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        return {"input": resolve(values)}

    return build


PLANTED_LAYER = {
    "name": "planted",
    "timeZone": "UTC",
    "rrule": "FREQ=DAILY",
    "start": "2026-01-05T09:00",
    "memberIds": ["~person"],
}
PLANTED_LEVEL = {"timeoutSeconds": 60, "targets": [{"kind": "person", "id": "~person"}]}

# Per mutation: inputs that aim it at bravo. Mutations on the whole organisation (people,
# machines, tokens, templates, webhooks, sweeps) are aimed at bravo's members or are listed
# with the inputs a unit-scoped intruder would try.
MUTATION_INPUTS: dict[str, list[ArgBuilder]] = {
    "businessUnitCreate": [_i(code="inside-bravo", name="x", parentId="@unit")],
    "businessUnitUpdate": [_i(id="@unit", name="renamed")],
    "serviceCreate": [
        _i(code="planted", name="x", businessUnitId="@unit", tier=1, availabilityTargetPct=99.9)
    ],
    "serviceUpdate": [_i(id="@service", name="renamed")],
    "serviceDependencyAdd": [
        _i(serviceId="@service", dependsOnId="~service"),
        _i(serviceId="~service", dependsOnId="@service"),
    ],
    # alpha's service depends on bravo's (see `world`): removing it needs bravo's in sight.
    "serviceDependencyRemove": [
        _i(serviceId="@service", dependsOnId="~service"),
        _i(serviceId="~service", dependsOnId="@service"),
    ],
    "teamCreate": [_i(code="planted", name="x", businessUnitId="@unit")],
    "teamMemberAdd": [_i(teamId="@team", personId="@person")],
    "teamMemberRemove": [_i(teamId="@team", personId="@person")],
    "personCreate": [_i(email="planted@bravo.example", name="Planted")],
    "personUpdate": [_i(id="@person", active=False)],
    "machineCreate": [_i(handle="planted", name="Planted")],
    "grantCreate": [_i(principalId="~person", role="admin", businessUnitId="@unit")],
    "grantRevoke": [_i(id="@grant")],
    "apiTokenCreate": [_i(principalId="@person")],
    "incidentCreate": [_i(title="planted", serviceId="@service")],
    "incidentReclassify": [_i(incidentId="@incident", impact={"customersAffected": 5})],
    "incidentSeverityOverride": [_i(incidentId="@incident", severity="SEV4", justification=REASON)],
    "incidentStatusChange": [_i(incidentId="@incident", status="RESOLVED")],
    "incidentTag": [_i(incidentId="@incident", add=["security"])],
    "incidentEdit": [_i(incidentId="@incident", title="renamed by an intruder")],
    "incidentTimelineAdd": [
        _i(incidentId="@incident", text="planted"),
        _i(incidentId="@incident", text="planted", correctsId="@timeline"),
    ],
    "incidentDecisionRecord": [_i(incidentId="@incident", decision="x", rationale="y")],
    "classificationDisputeOpen": [_i(incidentId="@incident", teamId="@team", position="x")],
    "classificationDisputeAnswer": [_i(disputeId="@dispute", teamId="@team", response="x")],
    "classificationDisputeResolve": [_i(disputeId="@dispute", resolution="x")],
    "incidentRoleAssign": [
        _i(incidentId="@incident", role="INCIDENT_COMMANDER", personId="@person"),
        _i(
            incidentId="@incident",
            role="SCRIBE",
            personId="~person",
            note="planted",
            override={"justification": REASON},
        ),
    ],
    "incidentRoleRelease": [
        _i(incidentId="@incident", role="INCIDENT_COMMANDER"),
        _i(incidentId="@incident", role="INCIDENT_COMMANDER", personId="@person"),
    ],
    "statusUpdateDraft": [
        _i(incidentId="@incident", audience="INTERNAL", status="x", body="planted")
    ],
    "statusUpdateDecide": [
        _i(updateId="@update_regulator", role="legal", approve=True),
        _i(updateId="@update_executive", role="comms_lead", approve=False),
    ],
    "statusUpdateWithdraw": [_i(updateId="@update_internal")],
    "customerAdd": [_i(name="Planted Corporation")],
    "customerRemove": [_i(id="@customer")],
    "templateCreate": [_i(name="planted", audience="PUBLIC", body="x")],
    "postMortemWrite": [_i(incidentId="@incident", sections={"summary": "planted"})],
    "postMortemMove": [_i(incidentId="@incident", state="IN_REVIEW")],
    "postMortemPublish": [_i(incidentId="@incident", spans=[])],
    "evidenceFreezeIncident": [_i(incidentId="@incident")],
    "evidenceRetentionExtend": [
        _i(evidenceId="@evidence", retainUntil="2099-01-01T00:00:00Z", reason=REASON)
    ],
    "evidenceShred": [_i(evidenceId="@evidence", reason=REASON)],
    "legalHoldPlace": [
        _i(matter="x", reason=REASON, scope="INCIDENT", incidentId="@incident"),
        _i(matter="x", reason=REASON, scope="BUSINESS_UNIT", businessUnitId="@unit"),
        _i(matter="x", reason=REASON, scope="MATTER", evidenceIds=["@evidence"]),
    ],
    "legalHoldLift": [
        _i(holdId="@hold", reason=REASON),
        _i(holdId="@matter_hold", reason=REASON),
    ],
    "retentionSweep": [_i(dryRun=True)],
    "controlMappingDecide": [_i(controlKey="gdpr:Art. 33", targetId="@incident", confirm=False)],
    "regulatoryTriggerRecord": [_i(incidentId="@incident", kind="DETECTED")],
    "regulatoryFactRecord": [_i(incidentId="@incident", name="affected_individuals", value="1")],
    "regulatoryNotificationRecord": [
        _i(incidentId="@incident", regime="gdpr", clock="art33", recipient="x", content="y")
    ],
    "auditPackCreate": [
        _i(framework="gdpr", businessUnitIds=["@unit"], **PERIOD),
    ],
    "webhookEndpointCreate": [
        _i(name="planted", url="http://127.0.0.1:9/x", kind="generic", secret="s" * 32)
    ],
    "webhookDeliveryRetry": [_i(deliveryId="@update_internal")],
    "alertAcknowledge": [_i(alertId="@alert"), _i(alertId="@unrouted_alert", note="x")],
    "alertMarkNoise": [
        _i(alertId="@alert", reason=REASON),
        _i(alertId="@unrouted_alert", reason=REASON),
    ],
    "alertRoute": [
        _i(alertId="@unrouted_alert", serviceId="~alert_service"),
        _i(alertId="@alert", serviceId="~alert_service"),
        _i(alertId="~unrouted_alert", serviceId="@alert_service"),
    ],
    "alertSilenceCreate": [
        _i(serviceId="@alert_service", endsAt=IN_A_DAY, reason=REASON),
        _i(
            serviceId="@alert_service",
            matchers=[{"label": "severity", "op": "=", "value": "critical"}],
            endsAt=IN_A_DAY,
            reason=REASON,
        ),
        # matchers alone silence every unit: a grant covering every unit, which alpha's is not
        _i(
            matchers=[{"label": "service", "op": "=", "value": "bravo-edge"}],
            endsAt=IN_A_DAY,
            reason=REASON,
        ),
    ],
    "alertSilenceCancel": [_i(silenceId="@silence")],
    "runbookStart": [_i(incidentId="@incident", runbookId="security-containment")],
    "runbookPause": [_i(executionId="@runbook_execution", reason="planted")],
    "runbookResume": [_i(executionId="@runbook_execution")],
    "runbookAbort": [_i(executionId="@runbook_execution", reason="planted")],
    "runbookStepComplete": [
        _i(stepId="@runbook_step", note="planted"),
        _i(stepId="~runbook_step", note="planted", evidenceId="@evidence"),
    ],
    "runbookStepApprove": [_i(stepId="@runbook_step")],
    "runbookStepSkip": [_i(stepId="@runbook_step", justification=REASON)],
    "runbookStepRetry": [_i(stepId="@runbook_step")],
    "runbookStepTakeOver": [
        _i(stepId="@runbook_step", note="planted"),
        _i(stepId="~runbook_step", note="planted", evidenceId="@evidence"),
    ],
    "scheduleCreate": [_i(businessUnitId="@unit", name="planted", layers=[PLANTED_LAYER])],
    "scheduleUpdate": [
        _i(scheduleId="@schedule", name="renamed"),
        _i(scheduleId="@schedule", layers=[PLANTED_LAYER]),
    ],
    "scheduleOverrideCreate": [
        _i(
            scheduleId="@schedule",
            personId="~person",
            startsAt=_ago(days=-10),
            endsAt=_ago(days=-11),
            reason=REASON,
        )
    ],
    "scheduleOverrideRemove": [_i(overrideId="@override")],
    "onCallFeedCreate": [_i(scheduleId="@schedule")],
    "onCallFeedRevoke": [_i(feedId="@feed")],
    "escalationPolicyCreate": [
        _i(businessUnitId="@unit", name="planted", levels=[PLANTED_LEVEL]),
        _i(
            businessUnitId="~unit",
            name="planted",
            levels=[{"timeoutSeconds": 60, "targets": [{"kind": "schedule", "id": "@schedule"}]}],
        ),
    ],
    "escalationPolicyUpdate": [
        _i(policyId="@escalation_policy", name="renamed"),
        _i(policyId="@escalation_policy", levels=[PLANTED_LEVEL]),
    ],
    "serviceEscalationPolicySet": [
        _i(serviceId="@service", policyId="~escalation_policy"),
        _i(serviceId="@service"),
        _i(serviceId="~service", policyId="@escalation_policy"),
    ],
    "incidentPage": [
        _i(incidentId="@incident", policyId="@escalation_policy"),
        _i(incidentId="~incident", policyId="@escalation_policy"),
    ],
    "pageAcknowledge": [_i(pageId="@page")],
}

# Mutations a unit-scoped caller may run: they must still answer alike for bravo and missing.
ALLOWED = {"auditPackCreate"}
# People are one directory: a person's existence is no secret, so only leaks are checked.
ON_THE_DIRECTORY = {"personUpdate", "apiTokenCreate", "teamMemberAdd", "teamMemberRemove"}

# evidenceUpload takes a multipart file: tried over HTTP in the upload test above.
NOT_IN_GRAPHQL_MATRIX = {"evidenceUpload"}


def test_every_mutation_is_in_the_matrix() -> None:
    assert SCHEMA.mutation_type is not None
    assert set(SCHEMA.mutation_type.fields) == set(MUTATION_INPUTS) | NOT_IN_GRAPHQL_MATRIX


async def _audit_rows(runtime: Runtime) -> list[tuple[str, str, str | None, str]]:
    async with runtime.db.read() as session:
        rows = (await session.execute(select(AuditEvent).order_by(AuditEvent.seq))).scalars()
        return [(row.action, row.resource_id, row.business_unit, row.resource_type) for row in rows]


# Alert and silence audit events name no unit: bravo's are recognised by their resource.
BRAVO_RESOURCES = {
    "alert": ("alert", "unrouted_alert"),
    "alert_silence": ("silence",),
    "alert_payload": ("payload", "unrouted_payload"),
}


def _in_bravo(world: World, rows: list[tuple[str, str, str | None, str]]) -> list[Any]:
    _, bravo_unit = relay.from_base64(world.bravo["unit"])
    resources = {
        (resource_type, relay.from_base64(world.bravo[kind])[1])
        for resource_type, kinds in BRAVO_RESOURCES.items()
        for kind in kinds
    }
    return [
        row
        for row in rows
        if row[2] in {bravo_unit, world.bravo.code} or (row[3], row[1]) in resources
    ]


def _codes(body: Any) -> set[str]:
    text = json.dumps(body)
    return set(re.findall(r'"code": "([A-Z_]+)"', text))


@pytest.mark.parametrize("who", ["intruder", "machine"])
@pytest.mark.slow  # builds two whole units (`world`)
async def test_no_mutation_touches_bravo_and_forbidden_looks_missing(
    world: World, runtime: Runtime, who: str
) -> None:
    before = await _audit_rows(runtime)
    problems: list[str] = []
    for name, input_sets in MUTATION_INPUTS.items():
        for build in input_sets:
            arguments = build(world)
            document = field_document("mutation", name, arguments, 2)
            if name in ON_THE_DIRECTORY:
                answer = (await post(world.intruders[who], document, arguments))[1]
                if leaks(world, json.dumps(answer)):
                    problems.append(f"LEAK <- {who} {name}: {json.dumps(answer)[:400]}")
            else:
                answer = await looks_missing(world, who, document, arguments, problems)
            if name not in ALLOWED and not _codes(answer) & {"NOT_FOUND", "FORBIDDEN"}:
                problems.append(f"NOT REFUSED <- {who} {name}: {json.dumps(answer)[:400]}")
    assert not problems, "\n".join(problems)
    after = await _audit_rows(runtime)
    touched = _in_bravo(world, after[len(before) :])
    assert touched == [], touched
