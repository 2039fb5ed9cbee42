"""Streaming HTTP endpoints for evidence too large for a GraphQL request.

POST /evidence?title=...&kind=...&incidentId=...   body: the bytes (any Content-Type)
GET  /evidence/{id}/content                         the bytes, verified on the way out
Both authenticate like /graphql; errors are JSON `{"errors": [{field, message, code}]}`."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.authz.sensitivity import Sensitivity
from govsvc.errors import Forbidden, Invalid, ServiceError, Unauthenticated
from govsvc.evidence import download, service
from govsvc.evidence.models import EvidenceItem, EvidenceKind
from govsvc.graphql.relay import decode_id, decode_optional, global_id
from govsvc.graphql.scalars import parse_datetime, serialize_datetime
from govsvc.runtime import Runtime
from govsvc.usecase import run, writing
from govsvc.web.errors import forbidden, refused, too_large


def evidence_json(item: EvidenceItem) -> dict[str, object]:
    return {
        "id": global_id("EvidenceItem", item.id),
        "title": item.title,
        "kind": item.kind,
        "sha256": item.sha256,
        "size": item.size,
        "contentType": item.content_type,
        "encrypted": item.encrypted,
        "retentionRule": item.retention_rule,
        "retainUntil": serialize_datetime(item.retain_until),
        "legalHold": item.legal_hold,
        "storageVersion": item.storage_version,
    }


def _new_evidence(request: Request) -> service.NewEvidence:
    q = request.query_params
    try:
        kind = EvidenceKind(q.get("kind", ""))
    except ValueError:
        raise Invalid(
            f"kind must be one of {', '.join(k.value for k in EvidenceKind)}", field="kind"
        ) from None
    try:
        sensitivity = Sensitivity(q["sensitivity"]) if "sensitivity" in q else None
        collected = parse_datetime(q["collectedAt"]) if "collectedAt" in q else None
    except (ValueError, KeyError) as error:
        raise Invalid(
            str(error), field="collectedAt" if "collectedAt" in str(error) else "sensitivity"
        ) from None
    frameworks = [f for value in q.getlist("frameworks") for f in value.split(",") if f]
    return service.NewEvidence(
        title=q.get("title", ""),
        kind=kind,
        content_type=request.headers.get("content-type", "application/octet-stream"),
        incident_id=decode_optional(q.get("incidentId"), "Incident", field="incidentId"),
        business_unit_id=decode_optional(
            q.get("businessUnitId"), "BusinessUnit", field="businessUnitId"
        ),
        sensitivity=sensitivity,
        source_system=q.get("sourceSystem", ""),
        description=q.get("description", ""),
        collected_at=collected,
        frameworks=frameworks,
        encrypt=q.get("encrypt", "false").lower() in ("1", "true", "yes"),
        expected_sha256=q.get("sha256"),
        previous_id=decode_optional(q.get("previousId"), "EvidenceItem", field="previousId"),
    )


class EvidenceEndpoints:
    def __init__(self, runtime: Runtime, authenticator: Authenticator):
        self.runtime = runtime
        self.authenticator = authenticator

    async def upload(self, request: Request) -> Response:
        try:
            caller = await self.authenticator.authenticate_request(request)
        except Unauthenticated as error:
            return unauthenticated(error)
        limit = self.runtime.settings.evidence_max_bytes
        if int(request.headers.get("content-length") or 0) > limit:
            return too_large(limit)
        try:
            item = await run(
                self.runtime,
                caller,
                service.collect,
                _new_evidence(request),
                _bounded(request.stream(), limit),
            )
        except ServiceError as error:
            return refused(error)
        except Forbidden as error:
            return forbidden(error)
        return JSONResponse({"evidence": evidence_json(item)}, status_code=201)

    async def download(self, request: Request) -> Response:
        try:
            caller = await self.authenticator.authenticate_request(request)
        except Unauthenticated as error:
            return unauthenticated(error)
        try:
            evidence_id = decode_id(request.path_params["id"], "EvidenceItem", field="id")
            # The download is audited (committed) before the first byte goes out.
            async with writing(self.runtime, caller) as uc:
                opened = await download.open_download(uc, evidence_id=evidence_id)
        except ServiceError as error:
            return refused(error)
        except Forbidden as error:
            return forbidden(error)
        item = opened.item
        # Never the uploader's type: a browser would render an uploaded text/html page on our
        # origin. The original type stays in the item's metadata (contentType).
        return StreamingResponse(
            opened.chunks,
            media_type="application/octet-stream",
            headers={
                "Content-Length": str(item.size),
                "Repr-Digest": f"sha-256=:{_b64(item.sha256)}:",
                "X-Evidence-SHA256": item.sha256,
                "Content-Disposition": f'attachment; filename="evidence-{item.id}"',
                "Cache-Control": "no-store",
            },
        )


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise Invalid(f"larger than {limit} bytes", field="body")
        yield chunk
