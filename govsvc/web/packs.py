"""GET /audit-packs/{id}/content: an audit pack's bytes, authorized, audited, verified.

Who may read a pack is decided in pack_access (the same rule as GraphQL): a pack you may not
read is a 404 exactly like a pack that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from govsvc.audit.log import record
from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.compliance import pack_access
from govsvc.compliance.models import AuditPackState
from govsvc.errors import Conflict, Forbidden, ServiceError, Unauthenticated
from govsvc.evidence.streams import verified
from govsvc.graphql.relay import decode_id
from govsvc.runtime import Runtime
from govsvc.web.errors import forbidden, refused


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
                pack = await pack_access.pack_for(session, caller, pack_id)
                key, version, digest = pack.storage_key, pack.storage_version, pack.sha256
                if pack.state != AuditPackState.READY.value or not (key and version and digest):
                    raise Conflict(
                        f"the audit pack is {pack.state} ({pack.progress:.0%}); it can be "
                        "downloaded once ready",
                        field="id",
                    )
                await record(
                    session,
                    caller,
                    "audit_pack.download",
                    resource_type="audit_pack",
                    resource_id=pack.id,
                    payload={"sha256": digest},
                )
        except ServiceError as error:
            return refused(error)
        except Forbidden as error:
            return forbidden(error)
        chunks: AsyncIterator[bytes] = verified(self.runtime.store.get(key, version), digest)
        return StreamingResponse(
            chunks,
            media_type="application/zip",
            headers={
                "Content-Length": str(pack.size),
                "Content-Disposition": f'attachment; filename="audit-pack-{pack.id}.zip"',
                "X-Pack-SHA256": digest,
                "Cache-Control": "no-store",
            },
        )
