"""Audit packs: a deterministic archive (same inputs and data, same bytes) of a framework's
coverage over a period, the evidence by objective, each incident's record, and the audit
events in range with inclusion proofs against a signed tree head. Verifiable offline with
`govsvc pack verify`. The pack is kept in WORM storage and its creation audited."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from govsvc.audit import proofs, signing, tree_heads
from govsvc.audit.chain import format_time
from govsvc.audit.log import record
from govsvc.audit.models import AuditEvent
from govsvc.audit.service import readable_events
from govsvc.auth.caller import Caller
from govsvc.compliance import coverage, rendering
from govsvc.compliance.models import AuditPack
from govsvc.db import utcnow
from govsvc.errors import Invalid
from govsvc.evidence.models import EvidenceItem, EvidenceState
from govsvc.evidence.streams import verified
from govsvc.incidents import export
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
        import hashlib

        self.archive.writestr(self._info(name), data, compresslevel=6)
        self.files.append(
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        )

    async def add_stream(self, name: str, chunks: AsyncIterator[bytes]) -> None:
        import hashlib

        digest, size = hashlib.sha256(), 0
        with self.archive.open(self._info(name), mode="w", force_zip64=True) as out:
            async for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self.files.append({"path": name, "sha256": digest.hexdigest(), "size": size})


def _slug(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in text)
    return keep.strip("-")[:60] or "item"


async def assemble(
    runtime: Runtime, caller: Caller, request: PackRequest, target: Path
) -> dict[str, Any]:
    """Write the pack to `target`; return its manifest."""
    if request.period_end <= request.period_start:
        raise Invalid("the period must end after it starts", field="periodEnd")
    if request.framework not in runtime.policies.catalog.frameworks:
        known = ", ".join(sorted(runtime.policies.catalog.frameworks))
        raise Invalid(f"unknown framework {request.framework!r}; known: {known}", field="framework")
    caller.access.require("create", "audit_pack")
    as_of = format_time(request.period_end)
    async with runtime.db.read() as session:
        report = await coverage.compute(
            runtime,
            session,
            caller,
            framework=request.framework,
            period_start=request.period_start,
            period_end=request.period_end,
            control_keys=request.control_keys,
            unit_ids=request.unit_ids,
        )
        records = {
            i.reference: await export.incident_record(session, i, as_of=as_of)
            for i in report.incidents
        }
        evidence = sorted(
            {e.id: e for c in report.controls for e in c.evidence}.values(), key=lambda e: e.id
        )
        events = await _events(
            session, caller, request, [i.id for i in report.incidents], [e.id for e in evidence]
        )
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
    coverage_json = rendering.coverage_json(report)
    with zipfile.ZipFile(target, "w") as archive:
        writer = _Writer(archive)
        writer.add("README.txt", rendering.readme(request.as_json()).encode())
        writer.add("coverage.json", _canonical(coverage_json))
        writer.add("report.html", rendering.html_report(coverage_json, records).encode())
        writer.add("report.pdf", rendering.pdf_report(coverage_json, as_of))
        writer.add(
            "oscal/assessment-results.json",
            rendering.oscal_assessment_results(
                coverage_json, request.as_json(), evidence_paths=_paths(evidence)
            ),
        )
        for reference, incident_record in sorted(records.items()):
            writer.add(f"incidents/{reference}.json", _canonical(incident_record))
        writer.add("evidence/index.json", _canonical(_evidence_index(report, evidence)))
        for item in evidence:
            if item.state == EvidenceState.ACTIVE.value:
                await writer.add_stream(_paths([item])[item.id], _bytes_of(runtime, item))
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
    return manifest


def _paths(items: Sequence[EvidenceItem]) -> dict[int, str]:
    return {e.id: f"evidence/{e.id:06d}-{_slug(e.title)}" for e in items}


def _evidence_index(report: coverage.Coverage, evidence: Sequence[EvidenceItem]) -> dict[str, Any]:
    paths = _paths(evidence)
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
                "path": paths[e.id],
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
        while chunk := file.read(CHUNK):
            yield chunk


async def create(runtime: Runtime, caller: Caller, request: PackRequest) -> AuditPack:
    """Assemble a pack, keep it in WORM storage, and record (and audit) its creation."""
    import hashlib

    with tempfile.TemporaryDirectory(prefix="govsvc-pack-") as tmp:
        path = Path(tmp) / "pack.zip"
        manifest = await assemble(runtime, caller, request, path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        size = os.path.getsize(path)
        key = f"audit-packs/{uuid.uuid4()}.zip"
        retain = runtime.policies.retention.decide(
            kind="system_generated", frameworks=[request.framework], start=utcnow()
        )
        stored = await runtime.store.put(
            key,
            _file_chunks(path),
            retain_until=retain.retain_until,
            content_type="application/zip",
            expected_sha256=digest,
        )
    async with runtime.db.write() as session:
        pack = AuditPack(
            framework=request.framework,
            period_start=request.period_start,
            period_end=request.period_end,
            request=json.dumps(request.as_json(), sort_keys=True),
            sha256=digest,
            size=size,
            storage_key=key,
            storage_version=stored.version_id,
            excluded=json.dumps(manifest["excluded"]),
            created_by=caller.actor,
        )
        session.add(pack)
        await session.flush()
        await record(
            session,
            caller,
            "audit_pack.create",
            resource_type="audit_pack",
            resource_id=pack.id,
            payload={
                **request.as_json(),
                "sha256": digest,
                "size": size,
                "excluded": manifest["excluded"],
                "tree_size": manifest["tree_head"]["tree_size"],
            },
        )
        return pack
