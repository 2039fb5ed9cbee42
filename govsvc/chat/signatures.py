"""Is this request really from Slack or Teams? (pure: no database)

Slack signs `v0:<timestamp>:<body>` with the app's signing secret (X-Slack-Signature,
X-Slack-Request-Timestamp); slack_sdk's verifier checks it and refuses a timestamp more than
five minutes from now, so a captured request cannot be replayed later. Teams signs the body
with HMAC-SHA256 under the outgoing webhook's base64 security token and sends
`Authorization: HMAC <base64 digest>`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from slack_sdk.signature import SignatureVerifier

from govsvc.errors import Unauthenticated

SLACK_WINDOW_SECONDS = 5 * 60


def verify_slack(secret: str, *, body: bytes, timestamp: str | None, signature: str | None) -> None:
    if not secret:
        raise Unauthenticated("Slack is not configured here (GOVSVC_SLACK_SIGNING_SECRET)")
    if not timestamp or not signature:
        raise Unauthenticated("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthenticated("X-Slack-Request-Timestamp is not a Unix time")
    verifier = SignatureVerifier(secret)
    if abs(verifier.clock.now() - int(timestamp)) > SLACK_WINDOW_SECONDS:
        raise Unauthenticated("stale request: the timestamp is more than 5 minutes away")
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise Unauthenticated("the Slack signature does not match the body")


def verify_teams(secret: str, *, body: bytes, authorization: str | None) -> None:
    if not secret:
        raise Unauthenticated("Teams is not configured here (GOVSVC_TEAMS_SECRET)")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme != "HMAC" or not given.strip():
        raise Unauthenticated("expected: Authorization: HMAC <base64 signature>")
    try:
        key = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise Unauthenticated("the Teams secret is not base64") from None
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, given.strip()):
        raise Unauthenticated("the Teams signature does not match the body")
