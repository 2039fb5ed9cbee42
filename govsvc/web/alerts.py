"""Alert ingestion over plain HTTP, where monitoring tools post:

POST /alerts/alertmanager[?source=name]   Prometheus Alertmanager's webhook (version 4)
POST /alerts/generic?source=name          any tool's JSON, mapped by policies/alert_sources.yaml

Authenticated by a machine's API token (Authorization: Bearer) or, for sources with a shared
secret, by `X-Govsvc-Signature: sha256=<hex HMAC of the body>`. Answers 200 with what was
recorded; 400 (bad payload), 401, 403, 413 (too large) store nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from govsvc.alerts import receive
from govsvc.auth.authenticate import Authenticator, unauthenticated
from govsvc.errors import Forbidden, ServiceError, Unauthenticated
from govsvc.graphql.alerts import RECEIVED_PAYLOAD
from govsvc.graphql.relay import global_id
from govsvc.runtime import Runtime
from govsvc.usecase import writing
from govsvc.web.errors import forbidden, read_body, refused, too_large


class AlertEndpoints:
    def __init__(self, runtime: Runtime, authenticator: Authenticator):
        self.runtime = runtime
        self.authenticator = authenticator

    async def alertmanager(self, request: Request) -> Response:
        return await self._receive(request, "alertmanager")

    async def generic(self, request: Request) -> Response:
        return await self._receive(request, "generic")

    async def _receive(self, request: Request, kind: str) -> Response:
        limit = self.runtime.settings.alert_max_bytes
        source_name = request.query_params.get("source")
        signature = request.headers.get(receive.SIGNATURE_HEADER)
        try:
            if int(request.headers.get("content-length") or 0) > limit:
                return too_large(limit)
            body = await read_body(request, limit)
            if body is None:
                return too_large(limit)
            if signature is not None:
                caller, source = receive.signed_caller(
                    self.runtime.policies,
                    kind=kind,
                    source_name=source_name,
                    body=body,
                    signature=signature,
                    request_id=request.scope.get("state", {}).get("request_id"),
                )
                authenticated_as = f"hmac:{source.name}"
            else:
                caller = await self.authenticator.authenticate_request(request)
                source = receive.token_source(
                    self.runtime.policies, caller, kind=kind, source_name=source_name
                )
                authenticated_as = f"token:{caller.actor}"
            async with writing(self.runtime, caller) as uc:
                result = await receive.receive(
                    uc,
                    source=source,
                    body=body,
                    content_type=request.headers.get("content-type", ""),
                    authenticated_as=authenticated_as,
                )
        except Unauthenticated as error:
            return unauthenticated(error)
        except ServiceError as error:
            return refused(error)
        except Forbidden as error:
            return forbidden(error)
        return JSONResponse(
            {
                "payload": global_id(RECEIVED_PAYLOAD, result.payload_id),
                "replayed": result.replayed,
                "alerts": [global_id("Alert", i) for i in result.alert_ids],
                "new": result.new,
                "repeats": result.repeats,
                "resolved": result.resolved,
                "unrouted": result.unrouted,
                "incidentsOpened": result.incidents_opened,
            }
        )
