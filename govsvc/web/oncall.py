"""Calendar feeds over plain HTTP, for calendar apps that subscribe to a URL:

GET /oncall/{token}.ics   the next 60 days of a schedule's (or a person's) shifts, RFC 5545

The token in the URL is the credential (calendar apps send no other); an unknown or revoked
one answers 404, exactly as a missing page would."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from govsvc.caller import Caller
from govsvc.errors import NotFound
from govsvc.oncall import feeds
from govsvc.runtime import Runtime
from govsvc.usecase import reading
from govsvc.web.errors import refused


class OnCallFeeds:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def ics(self, request: Request) -> Response:
        token = str(request.path_params["token"])
        caller = Caller.system(self.runtime.policies.access, "system:oncall-feed")
        try:
            async with reading(self.runtime, caller) as uc:
                body = await feeds.calendar(uc, token=token)
        except NotFound as error:
            return refused(error)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
        )
