"""Audit packs: a deterministic archive (same inputs and data, same bytes) of a framework's
coverage over a period, the evidence by objective, each incident's record, and the audit
events in range with inclusion proofs against a signed tree head. Verifiable offline with
`govsvc pack verify`. The pack is kept in WORM storage and its creation audited."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import uuid
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import or_, select

from govsvc.audit import proofs, signing, tree_heads
from govsvc.audit.chain import format_time
from govsvc.audit.models import AuditEvent
from govsvc.audit.service import readable_events
from govsvc.caller import Caller
from govsvc.compliance import coverage, pack_access, rendering
from govsvc.compliance import report as report_doc
from govsvc.compliance.report import ReportContext
from govsvc.db import utcnow
from govsvc.errors import Invalid
from govsvc.evidence.models import EvidenceItem, EvidenceState
from govsvc.evidence.streams import verified
from govsvc.incidents import export
from govsvc.org.models import BusinessUnit
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

FORMAT = "govsvc.audit-pack/1"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the archive's bytes depend on content only
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PackRequest:
    framework: str
    period_start: datetime
    period_end: datetime
    control_keys: tuple[str, ...] = ()
    unit_ids: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "period_start": format_time(self.period_start),
            "period_end": format_time(self.period_end),
            "controls": sorted(self.control_keys),
            "units": sorted(self.unit_ids),
        }


def _canonical(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


class _Writer:
    """Writes entries in a fixed form and remembers each file's hash and size."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.files: list[dict[str, Any]] = []

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        info.create_system = 3
        return info

    def add(self, name: str, data: bytes) -> None:
        self.archive.writestr(self._info(name), data, compresslevel=6)
        self.files.append(
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        )

    async def add_stream(
        self,
        name: str,
        chunks: AsyncIterator[bytes],
        moved: Callable[[int], Awaitable[None]],
    ) -> None:
        digest, size = hashlib.sha256(), 0
        with self.archive.open(self._info(name), mode="w", force_zip64=True) as out:
            async for chunk in chunks:
                # Compressing is CPU work: off the event loop, a chunk at a time.
                await asyncio.to_thread(out.write, chunk)
                digest.update(chunk)
                size += len(chunk)
                await moved(len(chunk))
        self.files.append({"path": name, "sha256": digest.hexdigest(), "size": size})


def _slug(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in text)
    return keep.strip("-")[:60] or "item"


Progress = Callable[[float], Awaitable[None]]


async def _no_progress(_: float) -> None:
    return None


@dataclass(frozen=True)
class Built:
    manifest: dict[str, Any]
    covers: str  # what the pack holds, for who may read it (pack_access)


def validate(runtime: Runtime, caller: Caller, request: PackRequest) -> None:
    """Refuse a request that cannot be built, before anything is queued."""
    if request.period_end <= request.period_start:
        raise Invalid("the period must end after it starts", field="periodEnd")
    if request.period_start > utcnow():
        raise Invalid("the period has not started yet: nothing can be in it", field="periodStart")
    catalog = runtime.policies.catalog
    if request.framework not in catalog.frameworks:
        known = ", ".join(sorted(catalog.frameworks))
        raise Invalid(f"unknown framework {request.framework!r}; known: {known}", field="framework")
    known_keys = {c.key for c in catalog.controls(request.framework)}
    unknown = sorted(set(request.control_keys) - known_keys)
    if unknown:
        raise Invalid(
            f"not controls of {request.framework}: {', '.join(unknown)}", field="controlKeys"
        )
    caller.access.require("create", "audit_pack")


def _as_of(request: PackRequest, events: Sequence[AuditEvent]) -> str:
    """The moment the pack speaks for. A period that has ended: its end. One still running: the
    last recorded change in scope (every change is audited), so the pack never claims a time
    in the future and the same data still gives the same bytes."""
    if request.period_end <= utcnow():
        return format_time(request.period_end)
    latest = max((e.at for e in events), default=request.period_start)
    return format_time(max(latest, request.period_start))


async def assemble(
    runtime: Runtime,
    caller: Caller,
    request: PackRequest,
    target: Path,
    *,
    progress: Progress = _no_progress,
) -> Built:
    """Write the pack to `target`; return its manifest and what it covers."""
    validate(runtime, caller, request)
    async with runtime.db.read() as session:
        report = await coverage.compute(
            UseCase(caller, runtime, session),
            framework=request.framework,
            period_start=request.period_start,
            period_end=request.period_end,
            control_keys=request.control_keys,
            unit_ids=request.unit_ids,
        )
        evidence = sorted(
            {e.id: e for c in report.controls for e in c.evidence}.values(), key=lambda e: e.id
        )
        events = await _events(
            session, caller, request, [i.id for i in report.incidents], [e.id for e in evidence]
        )
        as_of = _as_of(request, events)
        records = {
            i.reference: await export.incident_record(session, i, as_of=as_of)
            for i in report.incidents
        }
        context_bits = await _context_bits(session, runtime, request)
    await progress(0.05)
    head_row = await tree_heads.covering(runtime, max((e.seq for e in events), default=1))
    head = tree_heads.head_of(head_row)
    async with runtime.db.read() as session:
        hashes = await tree_heads.chain_hashes(session, upto=head.tree_size)
    event_proofs = proofs.prove(hashes, [e.seq for e in events], head.tree_size)
    key = tree_heads.signing_key(runtime.settings)
    excluded = list(report.left_out)
    excluded += [
        f"evidence {e.id} ({e.title}) is {e.state}: its bytes are not included"
        for e in evidence
        if e.state != EvidenceState.ACTIVE.value
    ]
    paths = _paths([e for e in evidence if e.state == EvidenceState.ACTIVE.value])
    coverage_json = rendering.coverage_json(report)
    context = ReportContext(
        organisation=context_bits["organisation"],
        framework_name=runtime.policies.catalog.frameworks[request.framework].name,
        framework_version=runtime.policies.catalog.frameworks[request.framework].version,
        prepared_by=caller.actor,
        as_of=as_of,
        key_id=signing.key_id(key),
        key_fingerprint=key_fingerprint(key),
        units=context_bits["units"],
        controls_selected=[c["id"] for c in coverage_json["controls"]]
        if request.control_keys
        else [],
        controls_in_catalog=len(runtime.policies.catalog.controls(request.framework)),
        excluded=excluded,
        evidence_paths=paths,
    )
    html = report_doc.html_report(coverage_json, records, context)
    pdf = await asyncio.to_thread(report_doc.pdf_report, html, as_of=as_of)
    await progress(0.15)
    total = sum(e.size for e in evidence if e.id in paths) or 1
    done = 0

    async def moved(n: int) -> None:
        nonlocal done
        done += n
        await progress(0.15 + 0.8 * done / total)

    with zipfile.ZipFile(target, "w") as archive:
        writer = _Writer(archive)
        writer.add("README.txt", rendering.readme(request.as_json()).encode())
        writer.add("coverage.json", _canonical(coverage_json))
        writer.add("report.html", html.encode())
        writer.add("report.pdf", pdf)
        writer.add(
            rendering.OSCAL_PATH,
            rendering.oscal_assessment_results(
                coverage_json, request.as_json(), evidence_paths=paths, as_of=as_of
            ),
        )
        for reference, incident_record in sorted(records.items()):
            writer.add(f"incidents/{reference}.json", _canonical(incident_record))
        writer.add("evidence/index.json", _canonical(_evidence_index(report, evidence, paths)))
        for item in evidence:
            if item.id in paths:
                await writer.add_stream(paths[item.id], _bytes_of(runtime, item), moved)
        writer.add(
            "audit/events.jsonl",
            b"".join(json.dumps(_event_json(e), sort_keys=True).encode() + b"\n" for e in events),
        )
        writer.add("audit/proofs.json", _canonical([proofs.to_json(p) for p in event_proofs]))
        writer.add("audit/tree-head.json", _canonical(signing.to_json(head)))
        writer.add("audit/public-key.pem", signing.public_key_pem(key).encode())
        manifest = {
            "format": FORMAT,
            "request": request.as_json(),
            "as_of": as_of,
            "excluded": excluded,
            "files": writer.files,
            "tree_head": signing.to_json(head),
            "key_id": head.key_id,
        }
        manifest_bytes = _canonical(manifest)
        archive.writestr(writer._info("manifest.json"), manifest_bytes)
        archive.writestr(
            writer._info("manifest.sig"), key.sign(manifest_bytes).hex().encode() + b"\n"
        )
    covers = pack_access.covers_json(
        incidents=[(i.business_unit_id, i.sensitivity) for i in report.incidents],
        evidence=[(e.business_unit_id, e.sensitivity) for e in evidence],
        event_units=[e.business_unit for e in events],
    )
    return Built(manifest, covers)


def key_fingerprint(key: Ed25519PrivateKey) -> str:
    """SHA-256 of the public key as DER (what `openssl pkey -pubin -outform DER | sha256sum`
    prints for the published PEM), in colon-separated pairs."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(der).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


async def _context_bits(session: Any, runtime: Runtime, request: PackRequest) -> dict[str, Any]:
    """Names for the cover: the organisation and the business units asked for."""
    units = {
        u.id: u
        for u in (await session.execute(select(BusinessUnit))).scalars()
        if u.id in request.unit_ids or u.parent_id is None
    }
    organisation = runtime.settings.organisation_name or ", ".join(
        sorted(u.name for u in units.values() if u.parent_id is None)
    )
    return {
        "organisation": organisation or "(organisation not named: set GOVSVC_ORGANISATION_NAME)",
        "units": sorted(
            f"{units[i].name} ({units[i].code})" for i in request.unit_ids if i in units
        ),
    }


# Extensions for the content types evidence usually has, so files open with the right tool;
# fixed here rather than read from the machine's mime.types, which differs between machines.
_EXTENSIONS = {
    "application/gzip": ".gz",
    "application/json": ".json",
    "application/pdf": ".pdf",
    "application/x-ndjson": ".jsonl",
    "application/xml": ".xml",
    "application/zip": ".zip",
    "image/gif": ".gif",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/svg+xml": ".svg",
    "image/webp": ".webp",
    "text/csv": ".csv",
    "text/html": ".html",
    "text/markdown": ".md",
    "text/plain": ".txt",
    "text/xml": ".xml",
}
_TITLE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")


def _extension(item: EvidenceItem) -> str:
    kind = item.content_type.split(";")[0].strip().lower()
    if kind in _EXTENSIONS:
        return _EXTENSIONS[kind]
    title = _TITLE_EXTENSION.search(item.title.strip())
    if title:  # an untyped upload named like a file ("auth.log"): keep its extension
        return title.group(0).lower()
    return ".bin"


def _paths(items: Sequence[EvidenceItem]) -> dict[int, str]:
    """Where each item's bytes go in the pack: id, title, and an extension that opens it."""
    paths = {}
    for e in items:
        ext = _extension(e)
        stem = _slug(e.title)
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)] or "item"
        paths[e.id] = f"evidence/{e.id:06d}-{stem}{ext}"
    return paths


def _evidence_index(
    report: coverage.Coverage, evidence: Sequence[EvidenceItem], paths: dict[int, str]
) -> dict[str, Any]:
    return {
        "items": [
            {
                "id": e.id,
                "title": e.title,
                "kind": e.kind,
                "sha256": e.sha256,
                "size": e.size,
                "collected_at": format_time(e.collected_at),
                "collected_by": e.collected_by,
                "retention_rule": e.retention_rule,
                "state": e.state,
                "content_type": e.content_type,
                "path": paths.get(e.id),
            }
            for e in evidence
        ],
        "by_control": {c.control.key: [e.id for e in c.evidence] for c in report.controls},
    }


async def _bytes_of(runtime: Runtime, item: EvidenceItem) -> AsyncIterator[bytes]:
    from govsvc.evidence import crypto

    raw = runtime.store.get(item.storage_key, item.storage_version)
    if item.encrypted and item.wrapped_key is not None:
        raw = crypto.decrypt(crypto.unwrap(runtime.master_key, item.wrapped_key), raw)
    async for chunk in verified(raw, item.sha256):
        yield chunk


async def _events(
    session: Any,
    caller: Caller,
    request: PackRequest,
    incident_ids: list[int],
    evidence_ids: list[int],
) -> list[AuditEvent]:
    """Events in the period about the incidents and evidence in the pack, as far as readable."""
    about = or_(
        (AuditEvent.resource_type == "incident")
        & AuditEvent.resource_id.in_([str(i) for i in incident_ids]),
        (AuditEvent.resource_type == "evidence")
        & AuditEvent.resource_id.in_([str(i) for i in evidence_ids]),
    )
    rows = await session.execute(
        select(AuditEvent)
        .where(
            about,
            AuditEvent.at >= request.period_start,
            AuditEvent.at < request.period_end,
            readable_events(caller),
        )
        .order_by(AuditEvent.seq)
    )
    return list(rows.scalars())


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": format_time(event.at),
        "actor": event.actor,
        "action": event.action,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "business_unit": event.business_unit,
        "request_id": event.request_id,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk


async def file_sha256(path: Path) -> str:
    """The file's SHA-256, read a chunk at a time (a pack may be far larger than memory)."""
    digest = hashlib.sha256()
    async for chunk in _file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


async def keep(runtime: Runtime, framework: str, path: Path) -> tuple[str, int, str, str]:
    """Put a built pack into WORM storage: (sha256, size, storage key, version id)."""
    digest = await file_sha256(path)
    size = os.path.getsize(path)
    key = f"audit-packs/{uuid.uuid4()}.zip"
    retain = runtime.policies.retention.decide(
        kind="system_generated", frameworks=[framework], start=utcnow()
    )
    stored = await runtime.store.put(
        key,
        _file_chunks(path),
        retain_until=retain.retain_until,
        content_type="application/zip",
        expected_sha256=digest,
    )
    return digest, size, key, stored.version_id
