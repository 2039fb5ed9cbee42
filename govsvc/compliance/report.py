"""The audit pack's report for people: one HTML document (Jinja2, autoescaped), and the PDF an
external auditor files, printed from that same HTML by WeasyPrint (paged media: cover, page
numbers, a verification page). Both are pure functions of their inputs, so packs stay
reproducible byte for byte: the PDF's dates are the pack's as-of time and it has no random ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, select_autoescape

from govsvc.compliance.coverage import CoverageStatus

# How a status reads in the report; a control no incident engaged is not shown as "missing".
NOT_APPLICABLE = "not-applicable"
STATUS_LABELS = {
    CoverageStatus.EVIDENCED.value: "Evidenced",
    CoverageStatus.PARTIALLY.value: "Partially evidenced",
    CoverageStatus.MISSING.value: "Missing",
    CoverageStatus.STALE.value: "Stale",
    NOT_APPLICABLE: "Not applicable in period",
}


@dataclass(frozen=True)
class ReportContext:
    """What the cover says besides the coverage itself."""

    organisation: str
    framework_name: str
    framework_version: str
    prepared_by: str
    as_of: str
    key_id: str
    key_fingerprint: str
    units: list[str]  # the business units asked for; empty: every unit the preparer may read
    controls_selected: list[str]  # control ids asked for; empty: the whole catalog
    controls_in_catalog: int
    excluded: list[str]  # what was left out of the pack, and why
    evidence_paths: dict[int, str]  # evidence id -> its file in the pack


def display_status(control: dict[str, Any]) -> tuple[str, str]:
    """(status class, why) as the report shows a control: a control that no incident in scope
    engaged is not applicable in the period, said with its reason, never a bare red "missing"."""
    if control["status"] == CoverageStatus.MISSING.value and not control["incidents"]:
        return NOT_APPLICABLE, (
            "No incident in scope engaged this control in the period (none was mapped to it), "
            "so there is nothing it should have evidenced."
        )
    return control["status"], ""


def _summary(controls: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    counts = dict.fromkeys(STATUS_LABELS, 0)
    for control in controls:
        counts[display_status(control)[0]] += 1
    return [(status, STATUS_LABELS[status], n) for status, n in counts.items()]


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _when(timestamp: str | None) -> str:
    """An RFC 3339 time as people read it: to the second, in UTC (the JSON keeps it exact)."""
    if not timestamp:
        return ""
    return timestamp[:19].replace("T", " ") + " UTC"


_ENV.filters["when"] = _when
_ENV.globals["display_status"] = display_status
_ENV.globals["labels"] = STATUS_LABELS

_STYLE = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm;
  @top-right { content: string(doctitle); font-size: 8pt; color: #555; }
  @bottom-left { content: "govsvc audit pack, as of " string(asof); font-size: 8pt; color: #555; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt; } }
@page :first { @top-right { content: none; } }
html { font-family: "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; font-size: 9.5pt;
  line-height: 1.35; }
body { max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; }
@media print { body { max-width: none; margin: 0; padding: 0; } }
h1 { font-size: 20pt; string-set: doctitle content(); } h2 { font-size: 14pt; margin-top: 1.4em; }
h3 { font-size: 11pt; margin-bottom: .3em; } .asof { string-set: asof content(); }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; }
td, th { border: 1px solid #bbb; padding: .25em .4em; vertical-align: top; text-align: left; }
th { background: #f0f0f0; } tr, .control-head { page-break-inside: avoid; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; word-break: break-all; }
.cover { page-break-after: always; } .cover dt { font-weight: bold; margin-top: .6em; }
.cover dd { margin-left: 0; }
.section { page-break-before: always; }
.badge { padding: .05em .4em; border-radius: .3em; font-weight: bold; white-space: nowrap; }
.evidenced { background: #dcefe2; } .partially { background: #fff0d6; }
.missing { background: #fbdcdc; } .stale { background: #e6e6e6; }
.not-applicable { background: #eef1f5; color: #444; }
.note { color: #444; font-style: italic; } .control { margin-bottom: 1.2em; }
pre { white-space: pre-wrap; font-size: 8.5pt; }
"""

_HTML = _ENV.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ ctx.framework_name }} audit pack {{ c.period.start[:10] }} to {{ c.period.end[:10] }}
</title>
<meta name="author" content="{{ ctx.prepared_by }}">
<meta name="generator" content="govsvc">
<meta name="dcterms.created" content="{{ ctx.as_of }}">
<meta name="dcterms.modified" content="{{ ctx.as_of }}">
<style>{{ style|safe }}</style></head><body>

<section class="cover">
<p>{{ ctx.organisation }}</p>
<h1>{{ ctx.framework_name }}: control coverage audit pack</h1>
<dl>
<dt>Organisation</dt><dd>{{ ctx.organisation }}</dd>
<dt>Framework</dt><dd>{{ ctx.framework_name }} ({{ c.framework }}), version
 {{ ctx.framework_version }}</dd>
<dt>Period</dt><dd>{{ c.period.start|when }} to {{ c.period.end|when }}
 (incidents detected in this interval; the end is excluded)</dd>
<dt>Scope: business units</dt><dd>{% if ctx.units %}{{ ctx.units|join(", ") }}
 (and their sub-units){% else %}Every business unit the preparer may read{% endif %}</dd>
<dt>Scope: controls</dt><dd>{% if ctx.controls_selected %}Only {{ ctx.controls_selected|length }}
 of the {{ ctx.controls_in_catalog }} controls of the catalog were selected:
 {{ ctx.controls_selected|join(", ") }}. The others are not assessed here.
 {% else %}All {{ ctx.controls_in_catalog }} controls of the catalog{% endif %}</dd>
<dt>Prepared by</dt><dd>{{ ctx.prepared_by }}, with govsvc</dd>
<dt>As of</dt><dd class="asof">{{ ctx.as_of|when }}</dd>
<dt>Signing key</dt><dd>Ed25519, key id {{ ctx.key_id }}<br>SHA-256 fingerprint of the
 public key (DER) <span class="hash">{{ ctx.key_fingerprint }}</span></dd>
<dt>Incidents in scope</dt><dd>{{ c.incidents|length }}</dd>
</dl>
{% if ctx.excluded %}<p class="note">Some material was left out of this pack; see
 "Exceptions" below.</p>{% endif %}
</section>

<h2>Summary of controls by status</h2>
<table><tr><th>Status</th><th>Controls</th></tr>
{% for status, label, n in summary %}<tr><td><span class="badge {{ status }}">{{ label }}</span>
</td><td>{{ n }}</td></tr>{% endfor %}
<tr><th>Total</th><th>{{ c.controls|length }}</th></tr></table>
<table><tr><th>Control</th><th>Title</th><th>Status</th><th>Incidents</th><th>Evidence</th></tr>
{% for ctl in c.controls %}{% set st = display_status(ctl) %}<tr><td>{{ ctl.id }}</td>
<td>{{ ctl.title }}</td><td><span class="badge {{ st[0] }}">{{ labels[st[0]] }}</span></td>
<td>{{ ctl.incidents|length }}</td><td>{{ ctl.evidence|length }}</td></tr>
{% endfor %}</table>

<h2>Exceptions</h2>
{% if ctx.excluded %}<ul>{% for x in ctx.excluded %}<li>{{ x }}</li>{% endfor %}</ul>
{% else %}<p>Nothing in scope was left out of this pack.</p>{% endif %}

<h2 class="section">Controls</h2>
{% for ctl in c.controls %}{% set st = display_status(ctl) %}<div class="control">
<div class="control-head"><h3>{{ ctl.id }} {{ ctl.title }}
 <span class="badge {{ st[0] }}">{{ labels[st[0]] }}</span></h3>
<p>{{ ctl.objective }}</p>{% if st[1] %}<p class="note">{{ st[1] }}</p>{% endif %}</div>
{% if ctl.incidents %}<p><b>Incidents</b> ({{ ctl.incidents|length }}):
 {% for ref in ctl.incidents %}{{ ref }}{% if incidents.get(ref) %}
 ({{ incidents[ref].severity }}, {{ incidents[ref].title }}){% endif %}{% if not loop.last %};
 {% endif %}{% endfor %}</p>{% endif %}
{% if ctl.evidence %}<table><tr><th>Evidence</th><th>Kind</th><th>SHA-256</th>
<th>Collected</th><th>File in the pack</th></tr>
{% for e in ctl.evidence %}<tr><td>{{ e.title }}{% if e.state != "active" %}
 <span class="note">({{ e.state }}: bytes not included)</span>{% endif %}</td><td>{{ e.kind }}</td>
<td class="hash">{{ e.sha256 }}</td><td>{{ e.collected_at|when }}<br>by {{ e.collected_by }}</td>
<td class="hash">{{ ctx.evidence_paths.get(e.id, "") }}</td></tr>
{% endfor %}</table>{% endif %}
{% if ctl.gaps and st[0] != "not-applicable" %}<p><b>Gaps</b></p><ul>
{% for g in ctl.gaps %}<li>{{ g }}</li>{% endfor %}</ul>{% endif %}
</div>{% endfor %}

<h2 class="section">Incidents</h2>
{% for ref, r in records.items() %}<h3>{{ ref }}: {{ r.incident.title }}</h3>
<p>{{ r.incident.severity }}, {{ r.incident.status }}, service {{ r.incident.service }},
 detected {{ r.incident.detected_at|when }}</p>
{% if r.timeline %}<table><tr><th>When</th><th>Who</th><th>What</th></tr>
{% for e in r.timeline %}<tr><td>{{ e.occurred_at|when }}</td><td>{{ e.author }}</td>
<td>{{ e.text }}</td></tr>{% endfor %}</table>{% endif %}
{% if r.decisions %}<p><b>Decisions</b></p><ul>{% for d in r.decisions %}
<li>{{ d.decided_at|when }} {{ d.decided_by }}: {{ d.decision }} ({{ d.rationale }})</li>
{% endfor %}</ul>{% endif %}
{% else %}<p>No incidents in scope.</p>{% endfor %}

<h2 class="section">How to verify this pack offline</h2>
<p>This report is one file of a signed archive. Everything in it can be checked without access
to govsvc, its database or the network:</p>
<ol>
<li>Obtain your organisation's published audit signing key (a PEM file) through a channel you
 trust, and check that its SHA-256 fingerprint
 (<code>openssl pkey -pubin -in KEY.pem -outform DER | sha256sum</code>) is
 <span class="hash">{{ ctx.key_fingerprint }}</span> (without the colons).</li>
<li>Run <code>govsvc pack verify PACK.zip --trusted-key KEY.pem</code>. It checks the Ed25519
 signature of <code>manifest.json</code>, the SHA-256 and size of every file the manifest lists,
 that no file was added or removed, the hash of every audit event in
 <code>audit/events.jsonl</code>, and each event's RFC 6962 inclusion proof against the signed
 tree head in <code>audit/tree-head.json</code>.</li>
<li>Exit code 0 means the pack is intact and signed by the key you trust; 1 means a check
 failed (each problem is named); 3 means the pack is intact but no trusted key was given, so
 its authenticity was NOT checked.</li>
<li>Without the tool: the SHA-256 of each evidence file (listed above and in
 <code>evidence/index.json</code>) can be recomputed with any SHA-256 utility, e.g.
 <code>sha256sum</code>, and compared.</li>
</ol>
<p>Signing key id {{ ctx.key_id }}; report as of {{ ctx.as_of|when }}.</p>
</body></html>
"""
)


def html_report(coverage: dict[str, Any], records: dict[str, Any], context: ReportContext) -> str:
    """The report as one HTML document (the same one the PDF is printed from)."""
    return _HTML.render(
        c=coverage,
        records=records,
        ctx=context,
        style=_STYLE,
        summary=_summary(coverage["controls"]),
        incidents={i["reference"]: i for i in coverage["incidents"]},
    )


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> Any:
    # The report is self-contained; the renderer must never reach the network or the disk.
    raise ValueError(f"the audit report loads no external resource ({url})")


def pdf_report(html: str, *, as_of: str) -> bytes:
    """Print the HTML report to PDF; its creation and modification dates are the as-of time."""
    import weasyprint  # heavy (pango, fonts): loaded only when a pack is built

    document = weasyprint.HTML(string=html, url_fetcher=_no_fetching).render()
    document.metadata.created = as_of
    document.metadata.modified = as_of
    pdf: bytes = document.write_pdf()
    return pdf
