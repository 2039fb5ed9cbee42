"""The access model, table-driven against the real policies/ files.

Casbin decides what a role may do to a resource type up to which sensitivity; `Access` adds which
grants cover an object (a grant in a unit covers that unit and its children); `Scope.where` turns
the same answer into the WHERE clause of list queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine

from govsvc.authz.access import Access, GrantView, Scope, UnitTree, readable
from govsvc.authz.policy import ANY_UNIT, AccessPolicy
from govsvc.authz.sensitivity import Sensitivity
from govsvc.errors import Forbidden

POLICIES = Path(__file__).parents[2] / "policies"

INTERNAL, CONFIDENTIAL, RESTRICTED = (
    Sensitivity.INTERNAL,
    Sensitivity.CONFIDENTIAL,
    Sensitivity.RESTRICTED,
)

# The unit tree every test uses:  group -> payments -> cards,  group -> retail;  lab stands alone.
GROUP, PAYMENTS, RETAIL, CARDS, LAB = 1, 2, 3, 4, 5
TREE = {
    GROUP: (None, "group"),
    PAYMENTS: (GROUP, "payments"),
    RETAIL: (GROUP, "retail"),
    CARDS: (PAYMENTS, "cards"),
    LAB: (None, "lab"),
}

# The organisation, incidents and the audit log, with their actions (and one never asked: delete).
RESOURCES = ["business_unit", "service", "team", "person", "incident", "audit_event", "grant"]
ACTIONS = [
    "read",
    "create",
    "update",
    "classify",
    "dispute",
    "override_severity",
    "resolve_dispute",
    "override_role_conflict",
    "manage",
    "delete",
]
# Every other resource type policy.csv names (status updates are read per audience), and the
# actions it names for them; `test_the_table_covers_every_resource_type_and_action` checks.
AUDIENCES = ["public", "customer", "internal", "executive", "regulator"]
MORE_RESOURCES = [
    "evidence",
    "legal_hold",
    "disposition",
    "control_mapping",
    "audit_pack",
    "post_mortem",
    *(f"status_update.{audience}" for audience in AUDIENCES),
    "alert",
    "alert_silence",
    "runbook",
    "schedule",
    "escalation_policy",
    "page",
]
MORE_ACTIONS = [
    "record_regulatory",
    "extend_retention",
    "shred",
    "place",
    "lift",
    "decide",
    "write",
    "publish",
    "approve",
    "read_draft",
    "ingest",
    "acknowledge",
    "mark_noise",
    "execute",
]
# What the code asks about that no line of policy.csv names: only admin's wildcard allows it.
ADMIN_ONLY = [
    ("manage", "customer"),
    ("manage", "template"),
    ("manage", "token"),
    ("manage", "webhook"),
    ("read", "webhook"),
    ("run", "retention_sweep"),
    ("route", "alert"),
]


def _policy_lines() -> list[tuple[str, str, str, str]]:
    """(role, resource type, action, sensitivity) of every `p` line of policy.csv."""
    lines = []
    for line in (POLICIES / "policy.csv").read_text().splitlines():
        fields = [field.strip() for field in line.split(",")]
        if fields[0] == "p":
            role, _unit, resource, action, sensitivity = fields[1:]
            lines.append((role, resource, action, sensitivity))
    return lines


# Every question worth asking, as (resource type, action): the organisation's and incidents'
# above, crossed; each pair a line of policy.csv names; and the admin-only ones. The model
# matches types and actions exactly (or admin's "*"), so no other question can be answered yes
# for anyone but admin.
ALL_QUESTIONS = sorted(
    {(resource, action) for resource in RESOURCES for action in ACTIONS}
    | {(resource, action) for _, resource, action, _ in _policy_lines() if resource != "*"}
    | {(resource, action) for action, resource in ADMIN_ONLY}
)


ALL_ROLES = {
    "admin",
    "incident_commander",
    "responder",
    "comms_lead",
    "compliance_officer",
    "auditor",
    "legal",
    "executive",
    "viewer",
    "alert_source",
    "status_publisher",
}


@pytest.fixture(scope="module")
def policy() -> AccessPolicy:
    return AccessPolicy(POLICIES)


def units() -> UnitTree:
    return UnitTree(
        {unit: parent for unit, (parent, _) in TREE.items()},
        {unit: code for unit, (_, code) in TREE.items()},
    )


def access(policy: AccessPolicy, *grants: tuple[str, int | None]) -> Access:
    return Access(policy, [GrantView(role, unit) for role, unit in grants], units())


# --- the role table: what each role may do where a grant covers the object -------------------


class Rule(NamedTuple):
    role: str
    action: str
    resource: str
    sensitivity: Sensitivity
    allowed: bool  # when one of the role's grants covers the object's unit


RULES: list[Rule] = [
    # admin: everything, up to restricted
    Rule("admin", "read", "incident", RESTRICTED, True),
    Rule("admin", "override_severity", "incident", RESTRICTED, True),
    Rule("admin", "manage", "grant", INTERNAL, True),
    Rule("admin", "manage", "business_unit", INTERNAL, True),
    Rule("admin", "read", "audit_event", RESTRICTED, True),
    # viewer: reads the organisation and internal incidents, nothing more
    Rule("viewer", "read", "business_unit", INTERNAL, True),
    Rule("viewer", "read", "service", INTERNAL, True),
    Rule("viewer", "read", "team", INTERNAL, True),
    Rule("viewer", "read", "person", INTERNAL, True),
    Rule("viewer", "read", "incident", INTERNAL, True),
    Rule("viewer", "read", "incident", CONFIDENTIAL, False),
    Rule("viewer", "create", "incident", INTERNAL, False),
    Rule("viewer", "update", "incident", INTERNAL, False),
    Rule("viewer", "dispute", "incident", INTERNAL, False),
    Rule("viewer", "read", "audit_event", INTERNAL, False),
    Rule("viewer", "read", "grant", INTERNAL, False),
    Rule("viewer", "manage", "service", INTERNAL, False),
    # responder: works incidents up to confidential
    Rule("responder", "read", "incident", CONFIDENTIAL, True),
    Rule("responder", "read", "incident", RESTRICTED, False),
    Rule("responder", "create", "incident", CONFIDENTIAL, True),
    Rule("responder", "create", "incident", RESTRICTED, False),
    Rule("responder", "update", "incident", CONFIDENTIAL, True),
    Rule("responder", "classify", "incident", INTERNAL, True),
    Rule("responder", "dispute", "incident", CONFIDENTIAL, True),
    Rule("responder", "override_severity", "incident", INTERNAL, False),
    Rule("responder", "resolve_dispute", "incident", INTERNAL, False),
    Rule("responder", "override_role_conflict", "incident", INTERNAL, False),
    Rule("responder", "read", "service", INTERNAL, True),  # inherited from viewer
    Rule("responder", "manage", "grant", INTERNAL, False),
    # incident_commander: everything a responder may, up to restricted, and settles severities
    Rule("incident_commander", "read", "incident", RESTRICTED, True),
    Rule("incident_commander", "update", "incident", RESTRICTED, True),
    Rule("incident_commander", "create", "incident", RESTRICTED, True),
    Rule("incident_commander", "classify", "incident", RESTRICTED, True),
    Rule("incident_commander", "override_severity", "incident", RESTRICTED, True),
    Rule("incident_commander", "resolve_dispute", "incident", RESTRICTED, True),
    Rule("incident_commander", "override_role_conflict", "incident", RESTRICTED, True),
    Rule("incident_commander", "dispute", "incident", RESTRICTED, True),
    Rule("incident_commander", "read", "team", INTERNAL, True),  # viewer, through responder
    Rule("incident_commander", "read", "audit_event", INTERNAL, False),
    Rule("incident_commander", "manage", "grant", INTERNAL, False),
    # comms_lead: reads and updates (for communications), never classifies
    Rule("comms_lead", "read", "incident", CONFIDENTIAL, True),
    Rule("comms_lead", "read", "incident", RESTRICTED, False),
    Rule("comms_lead", "update", "incident", CONFIDENTIAL, True),
    Rule("comms_lead", "dispute", "incident", CONFIDENTIAL, True),
    Rule("comms_lead", "create", "incident", INTERNAL, False),
    Rule("comms_lead", "classify", "incident", INTERNAL, False),
    Rule("comms_lead", "override_severity", "incident", INTERNAL, False),
    # executive: reads up to confidential, changes nothing
    Rule("executive", "read", "incident", CONFIDENTIAL, True),
    Rule("executive", "read", "incident", RESTRICTED, False),
    Rule("executive", "update", "incident", INTERNAL, False),
    Rule("executive", "read", "audit_event", INTERNAL, False),
    # compliance_officer: reads everything incl. the audit log and grants, changes nothing
    Rule("compliance_officer", "read", "incident", RESTRICTED, True),
    Rule("compliance_officer", "read", "audit_event", RESTRICTED, True),
    Rule("compliance_officer", "read", "grant", RESTRICTED, True),
    Rule("compliance_officer", "update", "incident", INTERNAL, False),
    Rule("compliance_officer", "manage", "grant", INTERNAL, False),
    # auditor: read-only, like compliance (see also the exhaustive read-only test below)
    Rule("auditor", "read", "incident", RESTRICTED, True),
    Rule("auditor", "read", "audit_event", RESTRICTED, True),
    Rule("auditor", "read", "grant", RESTRICTED, True),
    Rule("auditor", "read", "business_unit", INTERNAL, True),  # inherited from viewer
    Rule("auditor", "update", "incident", INTERNAL, False),
    Rule("auditor", "create", "incident", INTERNAL, False),
    Rule("auditor", "manage", "grant", INTERNAL, False),
    # legal: reads incidents and the audit log, not grants
    Rule("legal", "read", "incident", RESTRICTED, True),
    Rule("legal", "read", "audit_event", RESTRICTED, True),
    Rule("legal", "read", "grant", INTERNAL, False),
    Rule("legal", "update", "incident", INTERNAL, False),
    # alert_source (a machine): opens and reads internal incidents on services it can see
    Rule("alert_source", "read", "service", INTERNAL, True),
    Rule("alert_source", "create", "incident", INTERNAL, True),
    Rule("alert_source", "read", "incident", INTERNAL, True),
    Rule("alert_source", "create", "incident", CONFIDENTIAL, False),
    Rule("alert_source", "read", "incident", CONFIDENTIAL, False),
    Rule("alert_source", "update", "incident", INTERNAL, False),
    Rule("alert_source", "read", "business_unit", INTERNAL, False),  # not a viewer
    Rule("alert_source", "read", "person", INTERNAL, False),
    Rule("alert_source", "read", "team", INTERNAL, False),
    # status_publisher (a machine): reads services, nothing else
    Rule("status_publisher", "read", "service", INTERNAL, True),
    Rule("status_publisher", "read", "service", CONFIDENTIAL, False),
    Rule("status_publisher", "read", "incident", INTERNAL, False),
    Rule("status_publisher", "read", "business_unit", INTERNAL, False),
    # --- evidence: responders and commanders collect it; compliance, audit and legal read it;
    # only compliance and legal extend its retention or shred it
    Rule("admin", "shred", "evidence", RESTRICTED, True),
    Rule("responder", "read", "evidence", CONFIDENTIAL, True),
    Rule("responder", "read", "evidence", RESTRICTED, False),
    Rule("responder", "create", "evidence", CONFIDENTIAL, True),
    Rule("responder", "create", "evidence", RESTRICTED, False),
    Rule("responder", "shred", "evidence", INTERNAL, False),
    Rule("incident_commander", "read", "evidence", RESTRICTED, True),
    Rule("incident_commander", "create", "evidence", RESTRICTED, True),
    Rule("incident_commander", "extend_retention", "evidence", INTERNAL, False),
    Rule("incident_commander", "shred", "evidence", INTERNAL, False),
    Rule("comms_lead", "read", "evidence", INTERNAL, True),
    Rule("comms_lead", "read", "evidence", CONFIDENTIAL, False),
    Rule("comms_lead", "create", "evidence", INTERNAL, False),
    Rule("compliance_officer", "read", "evidence", RESTRICTED, True),
    Rule("compliance_officer", "create", "evidence", RESTRICTED, True),
    Rule("compliance_officer", "extend_retention", "evidence", RESTRICTED, True),
    Rule("compliance_officer", "shred", "evidence", RESTRICTED, True),
    Rule("auditor", "read", "evidence", RESTRICTED, True),
    Rule("auditor", "create", "evidence", INTERNAL, False),
    Rule("auditor", "extend_retention", "evidence", INTERNAL, False),
    Rule("auditor", "shred", "evidence", INTERNAL, False),
    Rule("legal", "read", "evidence", RESTRICTED, True),
    Rule("legal", "extend_retention", "evidence", RESTRICTED, True),
    Rule("legal", "shred", "evidence", RESTRICTED, True),
    Rule("legal", "create", "evidence", INTERNAL, False),
    Rule("executive", "read", "evidence", INTERNAL, False),
    Rule("viewer", "read", "evidence", INTERNAL, False),
    Rule("alert_source", "create", "evidence", INTERNAL, False),
    Rule("status_publisher", "read", "evidence", INTERNAL, False),
    # --- legal holds: legal places and lifts them; compliance and audit may see them
    Rule("admin", "lift", "legal_hold", RESTRICTED, True),
    Rule("legal", "place", "legal_hold", RESTRICTED, True),
    Rule("legal", "lift", "legal_hold", RESTRICTED, True),
    Rule("legal", "read", "legal_hold", RESTRICTED, True),
    Rule("compliance_officer", "read", "legal_hold", RESTRICTED, True),
    Rule("compliance_officer", "place", "legal_hold", INTERNAL, False),
    Rule("compliance_officer", "lift", "legal_hold", INTERNAL, False),
    Rule("auditor", "read", "legal_hold", RESTRICTED, True),
    Rule("auditor", "place", "legal_hold", INTERNAL, False),
    Rule("incident_commander", "read", "legal_hold", INTERNAL, False),
    Rule("incident_commander", "place", "legal_hold", INTERNAL, False),
    Rule("responder", "read", "legal_hold", INTERNAL, False),
    Rule("viewer", "read", "legal_hold", INTERNAL, False),
    # --- disposition records: kept for compliance and audit only
    Rule("admin", "read", "disposition", RESTRICTED, True),
    Rule("compliance_officer", "read", "disposition", RESTRICTED, True),
    Rule("auditor", "read", "disposition", RESTRICTED, True),
    Rule("legal", "read", "disposition", INTERNAL, False),
    Rule("incident_commander", "read", "disposition", INTERNAL, False),
    Rule("viewer", "read", "disposition", INTERNAL, False),
    # --- control mappings: compliance and incident commanders decide what applies
    Rule("admin", "decide", "control_mapping", RESTRICTED, True),
    Rule("compliance_officer", "decide", "control_mapping", RESTRICTED, True),
    Rule("incident_commander", "decide", "control_mapping", RESTRICTED, True),
    Rule("responder", "decide", "control_mapping", INTERNAL, False),  # not inherited upwards
    Rule("auditor", "decide", "control_mapping", INTERNAL, False),
    Rule("legal", "decide", "control_mapping", INTERNAL, False),
    # --- regulator notifications on an incident: commanders, compliance and legal
    Rule("admin", "record_regulatory", "incident", RESTRICTED, True),
    Rule("incident_commander", "record_regulatory", "incident", RESTRICTED, True),
    Rule("compliance_officer", "record_regulatory", "incident", RESTRICTED, True),
    Rule("legal", "record_regulatory", "incident", RESTRICTED, True),
    Rule("responder", "record_regulatory", "incident", INTERNAL, False),
    Rule("comms_lead", "record_regulatory", "incident", INTERNAL, False),
    Rule("auditor", "record_regulatory", "incident", INTERNAL, False),
    # --- audit packs: compliance officers and auditors assemble and read them
    Rule("admin", "create", "audit_pack", RESTRICTED, True),
    Rule("compliance_officer", "create", "audit_pack", RESTRICTED, True),
    Rule("compliance_officer", "read", "audit_pack", RESTRICTED, True),
    Rule("auditor", "create", "audit_pack", RESTRICTED, True),
    Rule("auditor", "read", "audit_pack", RESTRICTED, True),
    Rule("legal", "create", "audit_pack", INTERNAL, False),
    Rule("legal", "read", "audit_pack", INTERNAL, False),
    Rule("incident_commander", "create", "audit_pack", INTERNAL, False),
    Rule("viewer", "read", "audit_pack", INTERNAL, False),
    # --- post-mortems: written by responders, comms leads and commanders; approved by
    # commanders and legal; published by comms leads and commanders
    Rule("admin", "approve", "post_mortem", RESTRICTED, True),
    Rule("responder", "read", "post_mortem", CONFIDENTIAL, True),
    Rule("responder", "read", "post_mortem", RESTRICTED, False),
    Rule("responder", "write", "post_mortem", CONFIDENTIAL, True),
    Rule("responder", "publish", "post_mortem", INTERNAL, False),
    Rule("responder", "approve", "post_mortem", INTERNAL, False),
    Rule("comms_lead", "read", "post_mortem", CONFIDENTIAL, True),
    Rule("comms_lead", "write", "post_mortem", CONFIDENTIAL, True),
    Rule("comms_lead", "write", "post_mortem", RESTRICTED, False),
    Rule("comms_lead", "publish", "post_mortem", CONFIDENTIAL, True),
    Rule("comms_lead", "approve", "post_mortem", INTERNAL, False),
    Rule("incident_commander", "read", "post_mortem", RESTRICTED, True),
    Rule("incident_commander", "write", "post_mortem", RESTRICTED, True),
    Rule("incident_commander", "approve", "post_mortem", RESTRICTED, True),
    Rule("incident_commander", "publish", "post_mortem", RESTRICTED, True),
    Rule("legal", "read", "post_mortem", RESTRICTED, True),
    Rule("legal", "approve", "post_mortem", RESTRICTED, True),
    Rule("legal", "write", "post_mortem", INTERNAL, False),
    Rule("legal", "publish", "post_mortem", INTERNAL, False),
    Rule("compliance_officer", "read", "post_mortem", RESTRICTED, True),
    Rule("compliance_officer", "write", "post_mortem", INTERNAL, False),
    Rule("auditor", "read", "post_mortem", RESTRICTED, True),
    Rule("auditor", "approve", "post_mortem", INTERNAL, False),
    Rule("executive", "read", "post_mortem", CONFIDENTIAL, True),
    Rule("executive", "read", "post_mortem", RESTRICTED, False),
    Rule("executive", "write", "post_mortem", INTERNAL, False),
    Rule("viewer", "read", "post_mortem", INTERNAL, False),
    Rule("alert_source", "read", "post_mortem", INTERNAL, False),
    # --- status updates, per audience: `read` published ones, `read_draft` the rest, `write`
    # (drafts are read by those who write or approve them; machines read none)
    Rule("admin", "read_draft", "status_update.regulator", RESTRICTED, True),
    Rule("viewer", "read", "status_update.public", RESTRICTED, True),
    Rule("viewer", "read", "status_update.customer", RESTRICTED, True),
    Rule("viewer", "read", "status_update.internal", INTERNAL, False),
    Rule("viewer", "read", "status_update.executive", INTERNAL, False),
    Rule("viewer", "read", "status_update.regulator", INTERNAL, False),
    Rule("viewer", "read_draft", "status_update.public", INTERNAL, False),
    Rule("viewer", "write", "status_update.public", INTERNAL, False),
    Rule("responder", "read", "status_update.public", RESTRICTED, True),  # viewer's
    Rule("responder", "read", "status_update.internal", RESTRICTED, True),
    Rule("responder", "write", "status_update.internal", RESTRICTED, True),
    Rule("responder", "read_draft", "status_update.internal", RESTRICTED, True),
    Rule("responder", "read", "status_update.executive", INTERNAL, False),
    Rule("responder", "read", "status_update.regulator", INTERNAL, False),
    Rule("responder", "write", "status_update.public", INTERNAL, False),
    Rule("responder", "write", "status_update.customer", INTERNAL, False),
    Rule("responder", "write", "status_update.executive", INTERNAL, False),
    Rule("responder", "read_draft", "status_update.public", INTERNAL, False),
    Rule("responder", "read_draft", "status_update.customer", INTERNAL, False),
    Rule("incident_commander", "read", "status_update.internal", RESTRICTED, True),  # responder's
    Rule("incident_commander", "write", "status_update.internal", RESTRICTED, True),
    Rule("incident_commander", "read", "status_update.executive", RESTRICTED, True),
    Rule("incident_commander", "read", "status_update.regulator", RESTRICTED, True),
    Rule("incident_commander", "write", "status_update.executive", RESTRICTED, True),
    Rule("incident_commander", "write", "status_update.public", RESTRICTED, True),
    Rule("incident_commander", "write", "status_update.customer", RESTRICTED, True),
    Rule("incident_commander", "write", "status_update.regulator", RESTRICTED, True),
    Rule("incident_commander", "read_draft", "status_update.executive", RESTRICTED, True),
    Rule("incident_commander", "read_draft", "status_update.public", RESTRICTED, True),
    Rule("incident_commander", "read_draft", "status_update.customer", RESTRICTED, True),
    Rule("incident_commander", "read_draft", "status_update.regulator", RESTRICTED, True),
    Rule("comms_lead", "read", "status_update.internal", RESTRICTED, True),
    Rule("comms_lead", "read", "status_update.executive", RESTRICTED, True),
    Rule("comms_lead", "read", "status_update.regulator", RESTRICTED, True),
    *(
        Rule("comms_lead", action, f"status_update.{audience}", RESTRICTED, True)
        for action in ("write", "read_draft")
        for audience in AUDIENCES
    ),
    Rule("executive", "read", "status_update.internal", RESTRICTED, True),
    Rule("executive", "read", "status_update.executive", RESTRICTED, True),
    Rule("executive", "read", "status_update.regulator", INTERNAL, False),
    Rule("executive", "write", "status_update.executive", INTERNAL, False),
    Rule("executive", "write", "status_update.internal", INTERNAL, False),
    Rule("executive", "read_draft", "status_update.executive", INTERNAL, False),
    Rule("compliance_officer", "read", "status_update.internal", RESTRICTED, True),
    Rule("compliance_officer", "read", "status_update.regulator", RESTRICTED, True),
    Rule("compliance_officer", "read", "status_update.executive", INTERNAL, False),
    Rule("compliance_officer", "write", "status_update.regulator", INTERNAL, False),
    Rule("compliance_officer", "read_draft", "status_update.regulator", INTERNAL, False),
    Rule("auditor", "read", "status_update.internal", RESTRICTED, True),
    Rule("auditor", "read", "status_update.executive", RESTRICTED, True),
    Rule("auditor", "read", "status_update.regulator", RESTRICTED, True),
    Rule("auditor", "read_draft", "status_update.regulator", INTERNAL, False),
    Rule("auditor", "read_draft", "status_update.internal", INTERNAL, False),
    Rule("legal", "read", "status_update.internal", RESTRICTED, True),
    Rule("legal", "read", "status_update.regulator", RESTRICTED, True),
    Rule("legal", "read_draft", "status_update.public", RESTRICTED, True),
    Rule("legal", "read_draft", "status_update.customer", RESTRICTED, True),
    Rule("legal", "read_draft", "status_update.regulator", RESTRICTED, True),
    Rule("legal", "read", "status_update.executive", INTERNAL, False),
    Rule("legal", "read_draft", "status_update.internal", INTERNAL, False),
    Rule("legal", "write", "status_update.regulator", INTERNAL, False),
    Rule("alert_source", "read", "status_update.public", INTERNAL, False),
    Rule("status_publisher", "read", "status_update.public", INTERNAL, False),
    Rule("status_publisher", "read", "status_update.customer", INTERNAL, False),
    # --- alerts: machines send them; responders read, acknowledge and mark noise; commanders
    # silence; compliance and audit read; viewers, executives and status publishers do not
    Rule("alert_source", "ingest", "alert", INTERNAL, True),
    Rule("alert_source", "read", "alert", INTERNAL, False),
    Rule("alert_source", "acknowledge", "alert", INTERNAL, False),
    Rule("status_publisher", "ingest", "alert", INTERNAL, False),
    Rule("responder", "ingest", "alert", INTERNAL, False),
    Rule("responder", "read", "alert", INTERNAL, True),
    Rule("responder", "acknowledge", "alert", INTERNAL, True),
    Rule("responder", "mark_noise", "alert", INTERNAL, True),
    Rule("responder", "read", "alert_silence", INTERNAL, True),
    Rule("responder", "write", "alert_silence", INTERNAL, False),
    Rule("incident_commander", "write", "alert_silence", INTERNAL, True),
    Rule("incident_commander", "acknowledge", "alert", INTERNAL, True),
    Rule("compliance_officer", "read", "alert", INTERNAL, True),
    Rule("compliance_officer", "acknowledge", "alert", INTERNAL, False),
    Rule("compliance_officer", "read", "alert_silence", INTERNAL, True),
    Rule("auditor", "read", "alert", INTERNAL, True),
    Rule("auditor", "read", "alert_silence", INTERNAL, True),
    Rule("auditor", "write", "alert_silence", INTERNAL, False),
    Rule("viewer", "read", "alert", INTERNAL, False),
    Rule("executive", "read", "alert", INTERNAL, False),
    Rule("comms_lead", "acknowledge", "alert", INTERNAL, False),
    Rule("legal", "read", "alert", INTERNAL, False),
    Rule("viewer", "mark_noise", "alert", INTERNAL, False),
    Rule("viewer", "read", "alert_silence", INTERNAL, False),
    Rule("responder", "read", "alert", CONFIDENTIAL, False),
    # on-call: viewers read schedules and escalation policies, commanders write them;
    # responders see and acknowledge pages, commanders page by hand.
    Rule("viewer", "read", "schedule", INTERNAL, True),
    Rule("viewer", "write", "schedule", INTERNAL, False),
    Rule("responder", "read", "schedule", INTERNAL, True),
    Rule("responder", "write", "schedule", INTERNAL, False),
    Rule("incident_commander", "write", "schedule", INTERNAL, True),
    Rule("alert_source", "read", "schedule", INTERNAL, False),
    Rule("viewer", "read", "escalation_policy", INTERNAL, True),
    Rule("responder", "write", "escalation_policy", INTERNAL, False),
    Rule("incident_commander", "write", "escalation_policy", INTERNAL, True),
    Rule("alert_source", "read", "escalation_policy", INTERNAL, False),
    Rule("responder", "read", "page", INTERNAL, True),
    Rule("responder", "acknowledge", "page", INTERNAL, True),
    Rule("responder", "create", "page", INTERNAL, False),
    Rule("incident_commander", "create", "page", INTERNAL, True),
    Rule("incident_commander", "acknowledge", "page", INTERNAL, True),
    Rule("compliance_officer", "read", "page", INTERNAL, True),
    Rule("compliance_officer", "acknowledge", "page", INTERNAL, False),
    Rule("auditor", "read", "page", INTERNAL, True),
    Rule("viewer", "read", "page", INTERNAL, False),
    Rule("status_publisher", "read", "schedule", INTERNAL, False),
    Rule("incident_commander", "route", "alert", INTERNAL, False),
    # --- runbooks: responders read and run them, commanders also approve; compliance and
    # audit read executions; nobody else
    Rule("responder", "read", "runbook", RESTRICTED, True),
    Rule("responder", "execute", "runbook", RESTRICTED, True),
    Rule("responder", "approve", "runbook", INTERNAL, False),
    Rule("incident_commander", "read", "runbook", RESTRICTED, True),
    Rule("incident_commander", "execute", "runbook", RESTRICTED, True),
    Rule("incident_commander", "approve", "runbook", RESTRICTED, True),
    Rule("compliance_officer", "read", "runbook", RESTRICTED, True),
    Rule("compliance_officer", "execute", "runbook", INTERNAL, False),
    Rule("auditor", "read", "runbook", RESTRICTED, True),
    Rule("auditor", "approve", "runbook", INTERNAL, False),
    Rule("viewer", "read", "runbook", INTERNAL, False),
    Rule("executive", "read", "runbook", INTERNAL, False),
    Rule("comms_lead", "execute", "runbook", INTERNAL, False),
    Rule("legal", "read", "runbook", INTERNAL, False),
    Rule("alert_source", "execute", "runbook", INTERNAL, False),
    Rule("status_publisher", "read", "runbook", INTERNAL, False),
    # --- what only admin may touch: customers, templates, tokens, webhooks, retention sweeps
    *(Rule("admin", action, resource, INTERNAL, True) for action, resource in ADMIN_ONLY),
    Rule("compliance_officer", "run", "retention_sweep", INTERNAL, False),
    Rule("legal", "run", "retention_sweep", INTERNAL, False),
    Rule("comms_lead", "manage", "template", INTERNAL, False),
    Rule("comms_lead", "manage", "customer", INTERNAL, False),
    Rule("auditor", "read", "webhook", INTERNAL, False),
    Rule("incident_commander", "manage", "webhook", INTERNAL, False),
    Rule("responder", "manage", "token", INTERNAL, False),
    Rule("status_publisher", "read", "webhook", INTERNAL, False),
]


class Placement(NamedTuple):
    name: str
    grant_unit: int | None
    covers: bool


# Where the grant sits relative to an object in `payments`.
PLACEMENTS = [
    Placement("grant in the object's unit", PAYMENTS, True),
    Placement("grant in its parent", GROUP, True),
    Placement("grant everywhere", None, True),
    Placement("grant in a sibling unit", RETAIL, False),
    Placement("grant in a child unit", CARDS, False),
    Placement("grant in an unrelated tree", LAB, False),
]


def _cases() -> Iterator[object]:
    for rule in RULES:
        for place in PLACEMENTS:
            expected = rule.allowed and place.covers
            yield pytest.param(
                rule,
                place,
                expected,
                id=f"{rule.role} {rule.action} {rule.resource} {rule.sensitivity.value}"
                f" / {place.name} -> {'allow' if expected else 'deny'}",
            )


@pytest.mark.parametrize(("rule", "place", "expected"), list(_cases()))
def test_role_action_resource_unit_sensitivity(
    policy: AccessPolicy, rule: Rule, place: Placement, expected: bool
) -> None:
    # given one grant of the role, placed relative to an object in payments
    caller = access(policy, (rule.role, place.grant_unit))

    # when
    allowed = caller.allows(
        rule.action, rule.resource, unit_id=PAYMENTS, sensitivity=rule.sensitivity
    )

    # then
    assert allowed is expected


def test_the_table_covers_every_role_of_the_policy(policy: AccessPolicy) -> None:
    # given the roles policy.csv defines
    defined = set(policy.roles)

    # when
    tabled = {rule.role for rule in RULES}

    # then every one is in the table, and the table names no other
    assert defined == ALL_ROLES
    assert tabled == defined


def test_the_table_covers_every_resource_type_and_action_of_the_policy() -> None:
    # given every resource type and action a line of policy.csv names (admin's wildcard aside)
    named = {(resource, action) for _, resource, action, _ in _policy_lines() if resource != "*"}

    # when
    allowed = {(rule.resource, rule.action) for rule in RULES if rule.allowed}
    refused = {(rule.resource, rule.action) for rule in RULES if not rule.allowed}

    # then each pair is in the table both for a role that may and for one that may not
    assert named - allowed == set()
    assert named - refused == set()
    assert {resource for resource, _ in named} == {*RESOURCES, *MORE_RESOURCES}
    assert {action for _, action in named} <= {*ACTIONS, *MORE_ACTIONS}
    # and what the table calls admin-only is named by no line indeed
    assert named & {(resource, action) for action, resource in ADMIN_ONLY} == set()


def test_the_table_shows_every_grant_of_every_role_and_a_refusal_of_each_role() -> None:
    # given the (role, resource type, action) each line of policy.csv grants directly
    granted = {(role, resource, action) for role, resource, action, _ in _policy_lines()}
    granted.discard(("admin", "*", "*"))

    # when
    allowed = {(rule.role, rule.resource, rule.action) for rule in RULES if rule.allowed}
    refused_roles = {rule.role for rule in RULES if not rule.allowed}

    # then every grant is tabled as allowed, and every role but admin is refused something
    assert granted - allowed == set()
    assert refused_roles == ALL_ROLES - {"admin"}


def test_a_grant_covers_grandchildren(policy: AccessPolicy) -> None:
    # given a responder in group
    caller = access(policy, ("responder", GROUP))

    # when / then: cards sits under payments, under group
    assert caller.allows("update", "incident", unit_id=CARDS, sensitivity=CONFIDENTIAL)
    assert not caller.allows("update", "incident", unit_id=LAB, sensitivity=CONFIDENTIAL)


def test_the_strongest_covering_grant_wins(policy: AccessPolicy) -> None:
    # given a viewer everywhere who commands incidents in retail only
    caller = access(policy, ("viewer", None), ("incident_commander", RETAIL))

    # when / then
    assert caller.allows("read", "incident", unit_id=RETAIL, sensitivity=RESTRICTED)
    assert caller.allows("read", "incident", unit_id=PAYMENTS, sensitivity=INTERNAL)
    assert not caller.allows("read", "incident", unit_id=PAYMENTS, sensitivity=CONFIDENTIAL)


# --- deny by default ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "unit", "resource", "action", "sensitivity"),
    [
        pytest.param("intern", ANY_UNIT, "incident", "read", "internal", id="unknown role"),
        pytest.param("", ANY_UNIT, "incident", "read", "internal", id="empty role"),
        pytest.param("viewer", ANY_UNIT, "incident", "delete", "internal", id="unknown action"),
        pytest.param("responder", ANY_UNIT, "incident", "", "internal", id="empty action"),
        pytest.param("viewer", ANY_UNIT, "secrets", "read", "internal", id="unknown resource"),
        pytest.param("viewer", ANY_UNIT, "incident", "read", "public", id="unknown sensitivity"),
        pytest.param("admin", ANY_UNIT, "incident", "read", "top-secret", id="admin unknown sens"),
        pytest.param("admin", ANY_UNIT, "incident", "read", "", id="admin empty sensitivity"),
        pytest.param("admin", ANY_UNIT, "incident", "read", "RESTRICTED", id="sens is lowercase"),
        pytest.param("Admin", ANY_UNIT, "incident", "read", "internal", id="role is exact"),
        pytest.param("viewer", "payments", "Incident", "read", "internal", id="type is exact"),
    ],
)
def test_deny_by_default(
    policy: AccessPolicy, role: str, unit: str, resource: str, action: str, sensitivity: str
) -> None:
    # when
    allowed = policy.allows(role, unit, resource, action, sensitivity)

    # then
    assert allowed is False


def test_no_grants_no_access(policy: AccessPolicy) -> None:
    # given someone with no live grant
    nobody = access(policy)

    # when / then
    assert not nobody.allows("read", "incident", unit_id=PAYMENTS)
    assert not nobody.allows("read", "person")
    assert nobody.scope("read", "incident").is_empty
    with pytest.raises(Forbidden):
        nobody.require("read", "business_unit", unit_id=GROUP)


def test_a_grant_in_a_unit_missing_from_the_tree_covers_nothing_else(
    policy: AccessPolicy,
) -> None:
    # given a grant in a unit the tree does not know (deleted, or loaded stale)
    caller = access(policy, ("admin", 99))

    # when / then: it covers no known unit
    assert not caller.allows("read", "incident", unit_id=PAYMENTS)
    assert caller.scope("read", "incident").per_unit == {99: RESTRICTED}


# --- inheritance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "inherits"),
    [
        pytest.param("incident_commander", "responder", id="incident_commander > responder"),
        pytest.param("incident_commander", "viewer", id="incident_commander > viewer (2 steps)"),
        pytest.param("responder", "viewer", id="responder > viewer"),
        pytest.param("comms_lead", "viewer", id="comms_lead > viewer"),
        pytest.param("executive", "viewer", id="executive > viewer"),
        pytest.param("compliance_officer", "viewer", id="compliance_officer > viewer"),
        pytest.param("legal", "viewer", id="legal > viewer"),
        pytest.param("auditor", "viewer", id="auditor > viewer"),
    ],
)
def test_a_role_holds_everything_of_the_role_it_inherits(
    policy: AccessPolicy, role: str, inherits: str
) -> None:
    # given every (resource, action, sensitivity) the inherited role may act on
    facts = [
        (resource, action, sens.value)
        for resource, action in ALL_QUESTIONS
        for sens in Sensitivity
        if policy.allows(inherits, ANY_UNIT, resource, action, sens.value)
    ]
    assert facts, f"{inherits} may do nothing at all?"

    # when / then the inheriting role may do each of them too
    for resource, action, sens in facts:
        assert policy.allows(role, ANY_UNIT, resource, action, sens), (resource, action, sens)


def test_inheritance_goes_one_way(policy: AccessPolicy) -> None:
    # when / then: a responder does not get what only an incident commander has
    assert policy.allows(
        "incident_commander", ANY_UNIT, "incident", "override_severity", "internal"
    )
    assert not policy.allows("responder", ANY_UNIT, "incident", "override_severity", "internal")
    assert not policy.allows("viewer", ANY_UNIT, "incident", "create", "internal")


# --- read-only roles and machines: exhaustive over every known action -----------------------


@pytest.mark.parametrize("role", ["auditor", "compliance_officer", "legal", "executive", "viewer"])
def test_read_only_roles_never_change_anything(policy: AccessPolicy, role: str) -> None:
    # when: every action other than read, on every resource type, at every level
    granted = [
        (resource, action, sens.value)
        for resource in RESOURCES
        for action in ACTIONS
        if action != "read"
        for sens in Sensitivity
        if policy.allows(role, ANY_UNIT, resource, action, sens.value)
    ]

    # then
    assert granted == []


@pytest.mark.parametrize("role", ["executive", "viewer"])
def test_viewers_and_executives_only_ever_read(policy: AccessPolicy, role: str) -> None:
    # when: every action other than read, on every resource type there is, at every level
    granted = [
        (resource, action, sens.value)
        for resource, action in ALL_QUESTIONS
        if action != "read"
        for sens in Sensitivity
        if policy.allows(role, ANY_UNIT, resource, action, sens.value)
    ]

    # then
    assert granted == []


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        pytest.param(
            "alert_source",
            {
                ("service", "read", "internal"),
                ("incident", "create", "internal"),
                ("incident", "read", "internal"),
                ("alert", "ingest", "internal"),
            },
            id="alert_source",
        ),
        pytest.param("status_publisher", {("service", "read", "internal")}, id="status_publisher"),
    ],
)
def test_machine_roles_may_do_exactly_what_policy_csv_says(
    policy: AccessPolicy, role: str, expected: set[tuple[str, str, str]]
) -> None:
    # when: everything the machine role may do, over every resource, action and level
    granted = {
        (resource, action, sens.value)
        for resource, action in ALL_QUESTIONS
        for sens in Sensitivity
        if policy.allows(role, ANY_UNIT, resource, action, sens.value)
    }

    # then
    assert granted == expected


@pytest.mark.parametrize(
    ("role", "resource", "action", "expected"),
    [
        pytest.param("admin", "incident", "read", RESTRICTED, id="admin"),
        pytest.param("incident_commander", "incident", "read", RESTRICTED, id="commander"),
        pytest.param("responder", "incident", "update", CONFIDENTIAL, id="responder"),
        pytest.param("viewer", "incident", "read", INTERNAL, id="viewer"),
        pytest.param("viewer", "incident", "update", None, id="viewer may not update"),
        pytest.param("alert_source", "incident", "create", INTERNAL, id="alert source"),
        pytest.param("status_publisher", "incident", "read", None, id="status publisher"),
    ],
)
def test_highest_sensitivity(
    policy: AccessPolicy, role: str, resource: str, action: str, expected: Sensitivity | None
) -> None:
    # when
    level = policy.highest_sensitivity(role, ANY_UNIT, resource, action)

    # then
    assert level is expected


# --- require / require_everywhere -----------------------------------------------------------


def test_require_raises_forbidden_where_allows_says_no(policy: AccessPolicy) -> None:
    # given a responder in payments
    caller = access(policy, ("responder", PAYMENTS))

    # when / then
    caller.require("update", "incident", unit_id=CARDS, sensitivity=CONFIDENTIAL)
    with pytest.raises(Forbidden, match="not allowed to update incident"):
        caller.require("update", "incident", unit_id=RETAIL, sensitivity=CONFIDENTIAL)
    with pytest.raises(Forbidden):
        caller.require("update", "incident", unit_id=PAYMENTS, sensitivity=RESTRICTED)


def test_require_everywhere_needs_a_grant_that_covers_every_unit(policy: AccessPolicy) -> None:
    # given an admin of group (the root of one tree) and an admin everywhere
    unit_admin = access(policy, ("admin", GROUP))
    global_admin = access(policy, ("admin", None))

    # when / then
    global_admin.require_everywhere("manage", "business_unit")
    with pytest.raises(Forbidden, match="outside a business unit"):
        unit_admin.require_everywhere("manage", "business_unit")


# --- scope: which units, up to which level --------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "action", "resource", "everywhere", "per_unit"),
    [
        pytest.param((), "read", "incident", None, {}, id="no grants: empty"),
        pytest.param(
            (("responder", PAYMENTS),),
            "read",
            "incident",
            None,
            {PAYMENTS: CONFIDENTIAL, CARDS: CONFIDENTIAL},
            id="responder in payments: payments and cards",
        ),
        pytest.param(
            (("responder", GROUP),),
            "read",
            "incident",
            None,
            {
                GROUP: CONFIDENTIAL,
                PAYMENTS: CONFIDENTIAL,
                RETAIL: CONFIDENTIAL,
                CARDS: CONFIDENTIAL,
            },
            id="responder in group: the whole subtree",
        ),
        pytest.param(
            (("responder", GROUP), ("incident_commander", PAYMENTS)),
            "read",
            "incident",
            None,
            {GROUP: CONFIDENTIAL, PAYMENTS: RESTRICTED, RETAIL: CONFIDENTIAL, CARDS: RESTRICTED},
            id="stronger grant lower down raises its subtree only",
        ),
        pytest.param(
            (("incident_commander", PAYMENTS), ("responder", GROUP)),
            "read",
            "incident",
            None,
            {GROUP: CONFIDENTIAL, PAYMENTS: RESTRICTED, RETAIL: CONFIDENTIAL, CARDS: RESTRICTED},
            id="grant order does not matter",
        ),
        pytest.param(
            (("viewer", None), ("incident_commander", RETAIL)),
            "read",
            "incident",
            INTERNAL,
            {RETAIL: RESTRICTED},
            id="everywhere plus one stronger unit",
        ),
        pytest.param(
            (("admin", None),),
            "read",
            "incident",
            RESTRICTED,
            {},
            id="admin everywhere",
        ),
        pytest.param(
            (("auditor", PAYMENTS), ("viewer", None)),
            "update",
            "incident",
            None,
            {},
            id="read-only roles: no update scope",
        ),
        pytest.param(
            (("alert_source", RETAIL),),
            "read",
            "business_unit",
            None,
            {},
            id="machine: no unit scope",
        ),
    ],
)
def test_scope_levels_per_unit(
    policy: AccessPolicy,
    grants: tuple[tuple[str, int | None], ...],
    action: str,
    resource: str,
    everywhere: Sensitivity | None,
    per_unit: dict[int, Sensitivity],
) -> None:
    # given
    caller = access(policy, *grants)

    # when
    scope = caller.scope(action, resource)

    # then
    assert scope.everywhere is everywhere
    assert scope.per_unit == per_unit
    assert scope.is_empty is (everywhere is None and not per_unit)


# --- Scope.where, compiled and run on SQLite ------------------------------------------------

ROWS = [
    (unit * 10 + sens.rank, unit, sens.value) for unit in TREE for sens in Sensitivity
]  # id = unit*10 + rank: 11 = group/internal ... 53 = lab/restricted
metadata = MetaData()
item = Table(
    "item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("unit_id", Integer),
    Column("sensitivity", String(16)),
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            item.insert(), [{"id": i, "unit_id": u, "sensitivity": s} for i, u, s in ROWS]
        )
        # A row in no unit at all must not slip through a per-unit scope.
        connection.execute(item.insert(), [{"id": 99, "unit_id": None, "sensitivity": "internal"}])
    yield engine
    engine.dispose()


def ids_where(engine: Engine, clause: ColumnElement[bool]) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(select(item.c.id).where(clause)).scalars())


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        pytest.param(Scope(None, {}), set(), id="empty scope: nothing"),
        pytest.param(
            Scope(INTERNAL, {}), {11, 21, 31, 41, 51, 99}, id="everywhere internal: all internal"
        ),
        pytest.param(
            Scope(RESTRICTED, {}),
            {i for i, _, _ in ROWS} | {99},
            id="everywhere restricted: everything",
        ),
        pytest.param(Scope(None, {PAYMENTS: CONFIDENTIAL}), {21, 22}, id="one unit, confidential"),
        pytest.param(
            Scope(None, {PAYMENTS: CONFIDENTIAL, RETAIL: INTERNAL, CARDS: RESTRICTED}),
            {21, 22, 31, 41, 42, 43},
            id="three units, three levels",
        ),
        pytest.param(
            Scope(INTERNAL, {RETAIL: RESTRICTED, PAYMENTS: INTERNAL}),
            {11, 21, 31, 32, 33, 41, 51, 99},
            id="everywhere internal plus one restricted unit",
        ),
        pytest.param(
            Scope(CONFIDENTIAL, {RETAIL: INTERNAL}),
            {11, 12, 21, 22, 31, 32, 41, 42, 51, 52, 99},
            id="a weaker unit level does not narrow everywhere",
        ),
    ],
)
def test_scope_where_selects_exactly_the_allowed_rows(
    engine: Engine, scope: Scope, expected: set[int]
) -> None:
    # when
    found = ids_where(engine, scope.where(item.c.unit_id, item.c.sensitivity))

    # then
    assert found == expected


def test_scope_where_without_a_sensitivity_column_filters_by_unit_only(engine: Engine) -> None:
    # given
    scope = Scope(None, {RETAIL: INTERNAL})

    # when
    found = ids_where(engine, scope.where(item.c.unit_id))

    # then
    assert found == {31, 32, 33}


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        pytest.param(
            (("responder", PAYMENTS),), {21, 22, 41, 42}, id="responder in payments (and cards)"
        ),
        pytest.param(
            (("responder", GROUP),),
            {11, 12, 21, 22, 31, 32, 41, 42},
            id="responder in group: group subtree, not lab",
        ),
        pytest.param(
            (("viewer", None), ("legal", CARDS)),
            {11, 21, 31, 41, 42, 43, 51, 99},
            id="viewer everywhere, legal in cards",
        ),
        pytest.param((("status_publisher", None),), set(), id="status publisher: no incidents"),
        pytest.param((("intern", None),), set(), id="unknown role: nothing"),
    ],
)
def test_readable_end_to_end(
    policy: AccessPolicy,
    engine: Engine,
    grants: tuple[tuple[str, int | None], ...],
    expected: set[int],
) -> None:
    # given
    caller = access(policy, *grants)

    # when
    found = ids_where(engine, readable(caller, "incident", item.c.unit_id, item.c.sensitivity))

    # then
    assert found == expected


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        pytest.param((("viewer", RETAIL),), True, id="a unit-scoped viewer reads people"),
        pytest.param((("alert_source", None),), False, id="a machine does not"),
    ],
)
def test_readable_of_a_resource_outside_units(
    policy: AccessPolicy,
    engine: Engine,
    grants: tuple[tuple[str, int | None], ...],
    expected: bool,
) -> None:
    # given
    caller = access(policy, *grants)

    # when
    found = ids_where(engine, readable(caller, "person", None))

    # then: all rows or none
    assert found == ({i for i, _, _ in ROWS} | {99} if expected else set())


def test_unit_tree_survives_a_cycle_in_stored_data() -> None:
    # given parent links that loop (refused on write, but the tree must not hang on bad data)
    tree = UnitTree({1: 2, 2: 1, 3: None}, {1: "a", 2: "b", 3: "c"})

    # when / then
    assert tree.ancestors_or_self(1) == [1, 2]
    assert tree.descendants_or_self(1) == {1, 2}
