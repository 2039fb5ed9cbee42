"""GET /audit-packs/{id}/content: an audit pack's bytes, authorized, audited, verified."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from govsvc.audit.log import record
from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.compliance.models import AuditPack
from govsvc.errors import Forbidden, NotFound, ServiceError, Unauthenticated
from govsvc.evidence.streams import verified
from govsvc.graphql.relay import decode_id
from govsvc.http_errors import forbidden, refused
from govsvc.runtime import Runtime


class PackEndpoints:
    def __init__(self, runtime: Runtime, authenticator: Authenticator):
        self.runtime = runtime
        self.authenticator = authenticator

    async def download(self, request: Request) -> Response:
        try:
            caller = await self.authenticator.authenticate_request(request)
        except Unauthenticated as error:
            return unauthenticated(error)
        try:
            pack_id = decode_id(request.path_params["id"], "AuditPack", field="id")
            async with self.runtime.db.write() as session:
                pack = (
                    await session.execute(select(AuditPack).where(AuditPack.id == pack_id))
                ).scalar_one_or_none()
                if pack is None or not caller.access.allows("read", "audit_pack"):
                    raise NotFound("no such audit pack", field="id")
                await record(
                    session,
                    caller,
                    "audit_pack.download",
                    resource_type="audit_pack",
                    resource_id=pack.id,
                    payload={"sha256": pack.sha256},
                )
        except ServiceError as error:
            return refused(error)
        except Forbidden as error:
            return forbidden(error)
        chunks: AsyncIterator[bytes] = verified(
            self.runtime.store.get(pack.storage_key, pack.storage_version), pack.sha256
        )
        return StreamingResponse(
            chunks,
            media_type="application/zip",
            headers={
                "Content-Length": str(pack.size),
                "Content-Disposition": f'attachment; filename="audit-pack-{pack.id}.zip"',
                "X-Pack-SHA256": pack.sha256,
                "Cache-Control": "no-store",
            },
        )
