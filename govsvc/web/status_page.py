"""The public status page: /status (HTML, readable on a phone), /status.json and
/status.atom. What it shows (services that have a public name, their current public state, the
published public updates and public post-mortems, and nothing else: no internal titles, no
severities, no people) is decided by govsvc.comms.public_status; this module only renders it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from govsvc.caller import Caller
from govsvc.comms.public_status import Snapshot, snapshot
from govsvc.runtime import Runtime
from govsvc.usecase import reading

# Published text is Markdown; raw HTML in it is shown as text, never as markup (nothing an
# author or a redaction slip writes can inject a script into the page). A single newline is
# a line break: status updates are written as lines, not as paragraphs.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})
# Characters XML 1.0 cannot carry at all, even escaped (C0 controls other than tab and
# newlines, lone surrogates, U+FFFE/U+FFFF): a published text holding one would make the
# whole feed unparsable.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def markdown_html(text: str) -> Markup:
    """Published Markdown as HTML (headings, lists, emphasis); raw HTML is escaped."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - markdown-it escapes, html disabled


def human_time(value: datetime) -> str:
    """ "1 Dec 2026, 14:05 UTC": what a reader of the page wants, no seconds."""
    moment = value.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def machine_time(value: datetime) -> str:
    """RFC 3339 to the second ("2026-12-01T14:05:09Z"), for the feed and `datetime`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_ENV.filters["markdown"] = markdown_html
_ENV.filters["human"] = human_time
_ENV.filters["rfc3339"] = machine_time
_PAGE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service status</title>
<link rel="alternate" type="application/atom+xml" href="/status.atom" title="Status updates">
<style>
body{font-family:system-ui,-apple-system,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;
line-height:1.45;color:#1b1b1b}
h1{font-size:1.5rem}ul.services{list-style:none;padding:0}
ul.services li{display:flex;justify-content:space-between;padding:.6rem .2rem;
border-bottom:1px solid #e5e5e5}
.operational{color:#146c2e}.degraded_performance{color:#8a5a00}
.partial_outage,.major_outage{color:#b3261e;font-weight:600}
article{border-left:3px solid #ccc;padding:.2rem .8rem;margin:1rem 0}
time{color:#555;font-size:.9rem}.text h2{font-size:1.1rem}.text h3{font-size:1rem}
</style></head><body>
<h1>Service status</h1>
<p id="overall">{% if all_ok %}All systems operational.{% else %}Some services are affected.
{% endif %}</p>
<ul class="services">{% for s in snap.services %}
<li><span class="name">{{ s.name }}</span><span class="state {{ s.state }}">{{ s.label }}
</span></li>{% endfor %}</ul>
<h2>Updates</h2>
{% for u in snap.updates %}<article id="{{ u.id }}"><h3>{{ u.service }}: \
{% if u.incident_status == "resolved" %}resolved{% else %}{{ u.status }}{% endif %}</h3>
<time datetime="{{ u.at | rfc3339 }}">{{ u.at | human }}</time>
<div class="text">{{ u.text | markdown }}</div></article>
{% else %}<p>No incidents reported.</p>{% endfor %}
{% if snap.reports %}<h2>Post-incident reports</h2>{% for r in snap.reports %}
<article id="{{ r.id }}"><h3>{{ r.title }}</h3><time datetime="{{ r.at | rfc3339 }}">
{{ r.at | human }}</time><div class="text">{{ r.text | markdown }}</div></article>{% endfor %}
{% endif %}
<footer><small>Updated {{ now | human }}. <a href="/status.json">JSON</a> ·
<a href="/status.atom">Atom</a></small></footer>
</body></html>
""")


def _atom(snap: Snapshot, base: str) -> bytes:
    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    feed = ET.Element(f"{{{ns}}}feed")
    ET.SubElement(feed, f"{{{ns}}}title").text = "Service status"
    ET.SubElement(feed, f"{{{ns}}}id").text = f"{base}/status"
    ET.SubElement(feed, f"{{{ns}}}updated").text = machine_time(snap.now)
    ET.SubElement(feed, f"{{{ns}}}link", href=f"{base}/status")
    ET.SubElement(feed, f"{{{ns}}}link", rel="self", href=f"{base}/status.atom")
    author = ET.SubElement(feed, f"{{{ns}}}author")
    ET.SubElement(author, f"{{{ns}}}name").text = "Status page"
    for item in [*snap.updates, *snap.reports]:
        entry = ET.SubElement(feed, f"{{{ns}}}entry")
        title = item.get("title") or f"{item['service']}: {item['status']}"
        ET.SubElement(entry, f"{{{ns}}}title").text = xml_text(title)
        ET.SubElement(entry, f"{{{ns}}}id").text = f"{base}/status#{item['id']}"
        ET.SubElement(entry, f"{{{ns}}}updated").text = machine_time(item["at"])
        ET.SubElement(entry, f"{{{ns}}}link", href=f"{base}/status#{item['id']}")
        ET.SubElement(entry, f"{{{ns}}}content", type="text").text = xml_text(item["text"])
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


class StatusPage:
    """Served without authentication: it only ever shows what was published."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def _snapshot(self) -> Snapshot:
        # Nobody signed in: the page needs no rights, and holds none.
        anonymous = Caller.anonymous(self.runtime.policies.access)
        async with reading(self.runtime, anonymous) as uc:
            return await snapshot(uc)

    async def html(self, _: Request) -> Response:
        snap = await self._snapshot()
        all_ok = all(s["state"] == "operational" for s in snap.services)
        return HTMLResponse(
            _PAGE.render(snap=snap, all_ok=all_ok, now=snap.now),
            headers={"Cache-Control": "public, max-age=15"},
        )

    async def json(self, _: Request) -> Response:
        snap = await self._snapshot()
        return JSONResponse(
            {
                "generated_at": snap.generated_at,
                "services": [{"name": s["name"], "state": s["state"]} for s in snap.services],
                "updates": [_without_at(u) for u in snap.updates],
                "post_incident_reports": [_without_at(r) for r in snap.reports],
            },
            headers={"Cache-Control": "public, max-age=15"},
        )

    async def atom(self, _: Request) -> Response:
        # The configured address, never the request's Host header: the feed is cached
        # publicly, and a forged Host would plant its links for every reader.
        base = self.runtime.settings.base_url
        return Response(
            _atom(await self._snapshot(), base),
            media_type="application/atom+xml; charset=utf-8",
            headers={"Cache-Control": "public, max-age=15"},
        )


def _without_at(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "at"}
