"""Renderings of a coverage report for the people and tools that read audit packs: JSON,
HTML (escaped by Jinja2), PDF (fpdf2), OSCAL assessment-results (compliance-trestle), and a
README on how to verify. Every rendering is a pure function of its inputs, so packs are
reproducible byte for byte."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF, XPos, YPos
from jinja2 import Environment, select_autoescape
from trestle.oscal import assessment_results as oscal_ar
from trestle.oscal import common as oscal

from govsvc.audit.chain import format_time
from govsvc.compliance.coverage import Coverage, CoverageStatus

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
_HTML = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ c.framework }} coverage {{ c.period.start[:10] }} to {{ c.period.end[:10] }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem;
vertical-align:top;text-align:left}.evidenced{background:#e6f4ea}.partially{background:#fff4e5}
.missing{background:#fde8e8}.stale{background:#eee}</style></head><body>
<h1>{{ c.framework }}: control coverage</h1>
<p>Period {{ c.period.start }} to {{ c.period.end }}.
{% for k, v in c.summary.items() %}{{ k }}: {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}.
</p>
{% if c.left_out %}<h2>Left out</h2><ul>{% for x in c.left_out %}<li>{{ x }}</li>
{% endfor %}</ul>{% endif %}
<h2>Control objectives</h2><table><tr><th>Control</th><th>Status</th><th>Incidents</th>
<th>Evidence</th><th>Gaps</th></tr>
{% for ctl in c.controls %}<tr class="{{ ctl.status }}"><td><b>{{ ctl.id }}</b>
{{ ctl.title }}</td><td>{{ ctl.status }}</td><td>{{ ctl.incidents|join(", ") }}</td>
<td>{% for e in ctl.evidence %}{{ e.title }} <small>{{ e.sha256[:12] }}</small><br>
{% endfor %}</td><td>{{ ctl.gaps|join("; ") }}</td></tr>
{% endfor %}</table>
<h2>Incidents</h2>
{% for ref, r in records.items() %}<h3>{{ ref }}: {{ r.incident.title }}</h3>
<p>{{ r.incident.severity }}, {{ r.incident.status }}, detected {{ r.incident.detected_at }}</p>
<table><tr><th>When</th><th>Who</th><th>What</th></tr>
{% for e in r.timeline %}<tr><td>{{ e.occurred_at }}</td><td>{{ e.author }}</td>
<td>{{ e.text }}</td></tr>{% endfor %}</table>
{% if r.decisions %}<h4>Decisions</h4><ul>{% for d in r.decisions %}<li>{{ d.decided_at }}
{{ d.decided_by }}: {{ d.decision }} ({{ d.rationale }})</li>{% endfor %}</ul>{% endif %}
{% endfor %}</body></html>
""")


def html_report(coverage: dict[str, Any], records: dict[str, Any]) -> str:
    return _HTML.render(c=coverage, records=records)


def _latin1(text: str) -> str:
    # The PDF core fonts speak Latin-1; anything else is shown as '?', never dropped silently.
    return text.encode("latin-1", "replace").decode("latin-1")


def _line(pdf: FPDF, height: int, text: str) -> None:
    # Back to the left margin after each paragraph (fpdf2 would otherwise continue at the right).
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def pdf_report(coverage: dict[str, Any], as_of: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(as_of.replace("Z", "+00:00")).astimezone(UTC))
    pdf.set_title(_latin1(f"{coverage['framework']} control coverage"))
    pdf.set_author("govsvc")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    _line(pdf, 10, _latin1(f"{coverage['framework']}: control coverage"))
    pdf.set_font("helvetica", size=10)
    period = coverage["period"]
    summary = ", ".join(f"{k}: {v}" for k, v in coverage["summary"].items())
    _line(pdf, 6, _latin1(f"Period {period['start']} to {period['end']}. {summary}."))
    for note in coverage["left_out"]:
        _line(pdf, 6, _latin1(f"Left out: {note}"))
    for control in coverage["controls"]:
        pdf.ln(2)
        pdf.set_font("helvetica", "B", 11)
        _line(pdf, 6, _latin1(f"{control['id']} {control['title']}: {control['status']}"))
        pdf.set_font("helvetica", size=9)
        if control["incidents"]:
            _line(pdf, 5, _latin1("Incidents: " + ", ".join(control["incidents"])))
        for item in control["evidence"]:
            pdf.multi_cell(
                0,
                5,
                _latin1(
                    f"Evidence: {item['title']} ({item['kind']}, sha256 {item['sha256'][:16]}...)"
                ),
            )
        for gap in control["gaps"]:
            _line(pdf, 5, _latin1(f"Gap: {gap}"))
    return bytes(pdf.output())


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def oscal_assessment_results(
    coverage: dict[str, Any], request: dict[str, Any], *, evidence_paths: dict[int, str]
) -> bytes:
    """OSCAL 1.x assessment-results: one finding per control objective, each observation
    pointing at its evidence, whose hashes sit in back-matter resources."""
    seed = [coverage["framework"], coverage["period"]["start"], coverage["period"]["end"]]
    when = datetime.fromisoformat(coverage["period"]["end"].replace("Z", "+00:00"))
    resources: list[oscal.Resource] = []
    observations: list[oscal.Observation] = []
    findings: list[oscal.Finding] = []
    for control in coverage["controls"]:
        related = []
        for item in control["evidence"]:
            resource_id = _uuid(*seed, "resource", str(item["id"]))
            if resource_id not in {r.uuid for r in resources}:
                resources.append(
                    oscal.Resource(
                        uuid=resource_id,
                        title=item["title"],
                        rlinks=[
                            oscal.Rlink(
                                href=evidence_paths.get(item["id"], f"#{item['id']}"),
                                hashes=[oscal.Hash(algorithm="SHA-256", value=item["sha256"])],
                            )
                        ],
                    )
                )
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
        findings.append(
            oscal.Finding(
                uuid=_uuid(*seed, "finding", control["key"]),
                title=control["title"],
                description="; ".join(control["gaps"]) or "Evidenced for every incident in scope.",
                target=oscal.FindingTarget(
                    type="objective-id",
                    target_id=_oscal_id(control["id"]),
                    status=oscal.ObjectiveStatus(
                        state="satisfied" if satisfied else "not-satisfied",
                        reason=control["status"],
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
        import_ap=oscal_ar.ImportAp(href="#govsvc-audit-pack"),
        results=[
            oscal_ar.Result(
                uuid=_uuid(*seed, "result"),
                title="govsvc control coverage",
                description=f"Coverage of {coverage['framework']} computed by govsvc for "
                f"{request['period_start']} to {request['period_end']}.",
                start=datetime.fromisoformat(coverage["period"]["start"].replace("Z", "+00:00")),
                end=when,
                reviewed_controls=oscal.ReviewedControls(
                    control_selections=[oscal.ControlSelection(include_all=oscal.IncludeAll())]
                ),
                observations=observations or None,
                findings=findings or None,
            )
        ],
        back_matter=oscal.BackMatter(resources=resources) if resources else None,
    )
    return (document.oscal_serialize_json(pretty=True, wrapped=True) + "\n").encode()


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
