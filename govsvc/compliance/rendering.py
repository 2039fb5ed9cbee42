"""Renderings of a coverage report for the tools that read audit packs: JSON, OSCAL
assessment-results (compliance-trestle), and a README on how to verify (the report for people,
HTML and PDF from one source, is in report.py). Every rendering is a pure function of its
inputs, so packs are reproducible byte for byte."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from jinja2 import Environment, select_autoescape
from trestle.oscal import assessment_results as oscal_ar
from trestle.oscal import common as oscal

from govsvc.audit.chain import format_time
from govsvc.compliance.coverage import Coverage, CoverageStatus
from govsvc.compliance.report import STATUS_LABELS, display_status

# Stable UUIDs (v5) in OSCAL documents: the same pack inputs give the same identifiers.
_NAMESPACE = uuid.UUID("0b1d1a4e-8f4e-4c5b-9b2f-6f7673766300")


def coverage_json(report: Coverage) -> dict[str, Any]:
    counts = {s.value: 0 for s in CoverageStatus}
    for entry in report.controls:
        counts[entry.status.value] += 1
    return {
        "framework": report.framework,
        "period": {
            "start": format_time(report.period_start),
            "end": format_time(report.period_end),
        },
        "summary": counts,
        "left_out": report.left_out,
        "incidents": [
            {
                "reference": i.reference,
                "title": i.title,
                "severity": i.severity,
                "status": i.status,
                "detected_at": format_time(i.detected_at),
            }
            for i in report.incidents
        ],
        "controls": [
            {
                "key": entry.control.key,
                "id": entry.control.id,
                "title": entry.control.title,
                "objective": entry.control.objective,
                "status": entry.status.value,
                "incidents": [i.reference for i in entry.incidents],
                "evidence": [
                    {
                        "id": e.id,
                        "title": e.title,
                        "kind": e.kind,
                        "sha256": e.sha256,
                        "collected_at": format_time(e.collected_at),
                        "collected_by": e.collected_by,
                        "state": e.state,
                    }
                    for e in entry.evidence
                ],
                "gaps": entry.gaps,
            }
            for entry in report.controls
        ],
    }


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


# Where the OSCAL document sits in the pack: its links are relative to it.
OSCAL_PATH = "oscal/assessment-results.json"
PLAN_PATH = "manifest.json"  # the pack's signed request stands in for the assessment plan


def _from_oscal(path: str) -> str:
    return "../" + path


def oscal_assessment_results(
    coverage: dict[str, Any],
    request: dict[str, Any],
    *,
    evidence_paths: dict[int, str],
    as_of: str,
) -> bytes:
    """OSCAL 1.x assessment-results: one finding per control objective, each observation
    pointing at its evidence, whose hashes sit in back-matter resources. Every href resolves
    inside the pack; the reviewed controls are the ones asked for (all only when all were)."""
    seed = [coverage["framework"], coverage["period"]["start"], coverage["period"]["end"]]
    when = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    plan_id = _uuid(*seed, "assessment-plan")
    resources: list[oscal.Resource] = [
        oscal.Resource(
            uuid=plan_id,
            title="Assessment plan: the audit pack's request",
            description=f"govsvc assessed {coverage['framework']} over "
            f"{request['period_start']} to {request['period_end']}; the request (framework, "
            "period, controls, business units) is in the signed manifest.",
            rlinks=[oscal.Rlink(href=_from_oscal(PLAN_PATH), media_type="application/json")],
        )
    ]
    observations: list[oscal.Observation] = []
    findings: list[oscal.Finding] = []
    for control in coverage["controls"]:
        related = []
        for item in control["evidence"]:
            resource_id = _uuid(*seed, "resource", str(item["id"]))
            if resource_id not in {r.uuid for r in resources}:
                resources.append(_evidence_resource(resource_id, item, evidence_paths))
            observation_id = _uuid(*seed, "observation", control["key"], str(item["id"]))
            observations.append(
                oscal.Observation(
                    uuid=observation_id,
                    title=f"{control['id']}: {item['title']}",
                    description=f"{item['kind']} collected {item['collected_at']}",
                    methods=["EXAMINE"],
                    collected=item["collected_at"],
                    relevant_evidence=[
                        oscal.RelevantEvidence(href=f"#{resource_id}", description=item["title"])
                    ],
                )
            )
            related.append(oscal.RelatedObservation(observation_uuid=observation_id))
        satisfied = control["status"] == CoverageStatus.EVIDENCED.value
        shown, why = display_status(control)
        findings.append(
            oscal.Finding(
                uuid=_uuid(*seed, "finding", control["key"]),
                title=control["title"],
                description=why
                or "; ".join(control["gaps"])
                or "Evidenced for every incident in scope.",
                target=oscal.FindingTarget(
                    type="objective-id",
                    target_id=_oscal_id(control["id"]),
                    status=oscal.ObjectiveStatus(
                        state="satisfied" if satisfied else "not-satisfied",
                        # OSCAL's reasons: pass, fail, other (not applicable in the period).
                        reason="pass" if satisfied else "other" if why else "fail",
                        remarks=STATUS_LABELS[shown],
                    ),
                ),
                related_observations=related or None,
            )
        )
    document = oscal_ar.AssessmentResults(
        uuid=_uuid(*seed, "assessment-results"),
        metadata=oscal.Metadata(
            title=f"{coverage['framework']} assessment results, "
            f"{coverage['period']['start'][:10]} to "
            f"{coverage['period']['end'][:10]}",
            last_modified=when,
            version="1",
            oscal_version="1.1.2",
        ),
        import_ap=oscal_ar.ImportAp(href=f"#{plan_id}"),
        results=[
            oscal_ar.Result(
                uuid=_uuid(*seed, "result"),
                title="govsvc control coverage",
                description=f"Coverage of {coverage['framework']} computed by govsvc for "
                f"{request['period_start']} to {request['period_end']}.",
                start=datetime.fromisoformat(coverage["period"]["start"].replace("Z", "+00:00")),
                end=when,
                reviewed_controls=oscal.ReviewedControls(
                    control_selections=[_selection(coverage, request)]
                ),
                observations=observations or None,
                findings=findings or None,
            )
        ],
        back_matter=oscal.BackMatter(resources=resources),
    )
    return (document.oscal_serialize_json(pretty=True, wrapped=True) + "\n").encode()


def _evidence_resource(
    resource_id: str, item: dict[str, Any], evidence_paths: dict[int, str]
) -> oscal.Resource:
    digest = [oscal.Hash(algorithm="SHA-256", value=item["sha256"])]
    if item["id"] not in evidence_paths:  # shredded or disposed: no bytes to link to
        return oscal.Resource(
            uuid=resource_id,
            title=item["title"],
            description=f"{item['state']}: its bytes are not in the pack",
            remarks=f"SHA-256 {item['sha256']}",
        )
    link = oscal.Rlink(href=_from_oscal(evidence_paths[item["id"]]), hashes=digest)
    return oscal.Resource(uuid=resource_id, title=item["title"], rlinks=[link])


def _selection(coverage: dict[str, Any], request: dict[str, Any]) -> Any:
    if not request["controls"]:
        return oscal.ControlSelectionsAll(include_all=oscal.IncludeAll())
    return oscal.ControlSelections(
        description="Only the controls asked for were assessed.",
        include_controls=[
            oscal.SelectControlById(control_id=_oscal_id(c["id"])) for c in coverage["controls"]
        ],
    )


def _oscal_id(control_id: str) -> str:
    # OSCAL tokens allow letters, digits, '.', '-', '_'; keep the framework's id recognisable.
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in control_id)


def readme(request: dict[str, Any]) -> str:
    return f"""govsvc audit pack
=================

Framework: {request["framework"]}
Period:    {request["period_start"]} to {request["period_end"]}

Contents
  manifest.json        every file with its SHA-256 and size; signed in manifest.sig (Ed25519)
  coverage.json        each control objective: status, incidents, evidence, named gaps
  report.html/.pdf     the same for people
  oscal/               OSCAL assessment-results (evidence hashes in back-matter)
  incidents/           each incident's record: classification, status, timeline, decisions
  evidence/            the evidence bytes; index.json maps controls to items
  audit/events.jsonl   audit events about these incidents and evidence in the period
  audit/proofs.json    RFC 6962 inclusion proofs of those events
  audit/tree-head.json the signed Merkle tree head the proofs lead to
  audit/public-key.pem the Ed25519 key that signed the head and the manifest

Verify offline (no database, no network):  govsvc pack verify <this file>
Compare the key id with the one your organisation published to trust the signature.
"""


_TIMELINE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ t.incident }}: {{ t.regime }} timeline
</title><style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}</style>
</head><body><h1>{{ t.incident }}: timeline for {{ t.regime }}</h1><table>
<tr><th>When (UTC)</th><th>What</th><th>Source</th><th>Audit event</th></tr>
{% for e in t.entries %}<tr><td>{{ e.at }}</td><td>{{ e.text }}</td><td>{{ e.source }}</td>
<td>{{ e.audit_seq if e.audit_seq is not none else "" }}</td></tr>{% endfor %}
</table></body></html>
""")


def timeline_html(document: dict[str, Any]) -> str:
    return _TIMELINE.render(t=document)
