"""GET /audit-packs/{id}/content: an audit pack's bytes, authorized, audited, verified.

Who may read a pack, and the audit of each download, are the use case's
(pack_access.download, the same rule as GraphQL): a pack you may not read is a 404 exactly
like a pack that does not exist. This route only streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from govsvc import usecase
from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.compliance import pack_access
from govsvc.errors import Forbidden, ServiceError, Unauthenticated
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
            pack = await usecase.run(self.runtime, caller, pack_access.download, pack_id=pack_id)
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
                "Content-Disposition": f'attachment; filename="audit-pack-{pack.pack_id}.zip"',
                "X-Pack-SHA256": pack.sha256,
                "Cache-Control": "no-store",
            },
        )
