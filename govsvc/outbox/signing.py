"""Signing outbound deliveries, and checking them on the receiving side.

For status page (and any other receiver) implementers — every delivery carries:

    X-Govsvc-Timestamp:        unix seconds when this attempt was signed
    X-Govsvc-Signature:        v1=<hex HMAC-SHA256(secret, f"{timestamp}.{raw body}")>
    X-Govsvc-Idempotency-Key:  the same on every retry of one event
    X-Govsvc-Event:            the event type, e.g. "incident.status_changed"

To accept a delivery:

1. Take the raw request body exactly as received (bytes; do not re-serialize the JSON).
2. Call `verify(secret, timestamp_header, body, signature_header)`; refuse with 401 if false.
   It recomputes the HMAC, compares in constant time, and rejects timestamps more than
   `tolerance_s` (300 s) away from your clock, so a captured request cannot be replayed later.
3. Deduplicate on X-Govsvc-Idempotency-Key: delivery is at-least-once (a timeout on our side
   after you processed the request makes us send it again), so remember keys you have
   processed for at least a day and answer 2xx to a repeat without processing it again.
4. Answer 2xx quickly (within 10 s). 5xx, 408, 409, 425, 429 and timeouts are retried with
   backoff (a Retry-After header is honoured); any other 4xx is final and dead-letters the
   delivery.
5. Events may arrive out of order after retries: compare `occurred_at` in the body before
   letting an older update overwrite a newer one.

The header may carry several comma-separated signatures (`v1=...,v1=...`) while a secret is
being rotated; a delivery is genuine if any of them verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Govsvc-Timestamp"
SIGNATURE_HEADER = "X-Govsvc-Signature"
IDEMPOTENCY_HEADER = "X-Govsvc-Idempotency-Key"
EVENT_HEADER = "X-Govsvc-Event"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """The hex HMAC-SHA256 of `{timestamp}.{body}` under `secret`."""
    message = str(timestamp).encode() + b"." + _as_bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str, body: bytes, *, event_type: str, idempotency_key: str, timestamp: int
) -> dict[str, str]:
    """The headers that make a delivery verifiable and deduplicable."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SCHEME}={signature(secret, timestamp, body)}",
        IDEMPOTENCY_HEADER: idempotency_key,
        EVENT_HEADER: event_type,
    }


def verify(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    signature_header: str,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True if `signature_header` is a valid v1 signature of `body` at `timestamp`, and the
    timestamp is within `tolerance_s` of `now` (unix seconds; the local clock by default)."""
    text = str(timestamp).strip()
    # Digits only: "1e9", "+5" or " 17" are not timestamps we sent.
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return False
    sent_at = int(text)
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    expected = signature(secret, sent_at, body)
    matched = False
    for part in signature_header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and value.isascii():
            # Compare every candidate, so timing says nothing about which one matched.
            matched |= hmac.compare_digest(expected, value.lower())
    return matched
