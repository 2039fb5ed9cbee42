"""Security headers for what a browser may open straight from this service: the public
status page and feed, and evidence and audit-pack downloads. One place, so no route forgets.

The status page has no script at all and one inline style sheet; downloads are never rendered
(served as attachments, sandboxed if a browser tries). None of them may be framed.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
DOWNLOAD_POLICY: Final = "default-src 'none'; sandbox; frame-ancestors 'none'"

_COMMON: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _policy_for(path: str) -> str | None:
    if path == "/status" or path.startswith("/status."):
        return PAGE_POLICY
    if path.startswith(("/evidence/", "/audit-packs/")) and path.endswith("/content"):
        return DOWNLOAD_POLICY
    return None


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = _policy_for(scope["path"]) if scope["type"] == "http" else None
        if policy is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> Any:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                for name, value in _COMMON.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
