"""Who may send a payload, as which source: a machine principal holding `alert_source`
(API token) that the source lists, or a request signed with the source's shared secret
(HMAC-SHA256 of the body). Then parse, and hand over to ingestion."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING, Any

import orjson

from govsvc.alerts import ingest, signals
from govsvc.alerts.sources import AlertSource
from govsvc.caller import Caller
from govsvc.errors import Forbidden, Invalid, Unauthenticated
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.policies import Policies

SIGNATURE_HEADER = "x-govsvc-signature"


def signed_caller(
    policies: Policies,
    *,
    kind: str,
    source_name: str | None,
    body: bytes,
    signature: str,
    request_id: str | None,
) -> tuple[Caller, AlertSource]:
    """The source a signature proves, acting as the service on its behalf; else 401."""
    source = policies.alerts.sources.get(source_name or "")
    secret = os.environ.get(source.hmac_secret_env, "") if source and source.hmac_secret_env else ""
    # One answer for an unknown source, a source without a secret and a bad signature.
    if source is None or source.kind != kind or not secret or not _valid(secret, body, signature):
        raise Unauthenticated("bad or missing signature for this alert source")
    return Caller.system(policies.access, f"alert-source:{source.name}", request_id), source


def _valid(secret: str, body: bytes, signature: str) -> bool:
    scheme, _, given = signature.strip().partition("=")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return scheme.lower() == "sha256" and hmac.compare_digest(given.lower(), expected)


def token_source(
    policies: Policies, caller: Caller, *, kind: str, source_name: str | None
) -> AlertSource:
    """The source a machine with the alert_source role posts as (named, or its only one)."""
    if not caller.access.allows("ingest", "alert"):
        raise Forbidden("not allowed to send alerts")
    sources = policies.alerts.sources
    if source_name is None:
        source = sources.for_machine(caller.actor, kind)
        if source is None:
            raise Invalid(
                f"name the source: ?source=<name> (one of the {kind} sources in"
                " policies/alert_sources.yaml that lists this machine)",
                field="source",
            )
        return source
    source = sources.get(source_name)
    if source is None or source.kind != kind or not source.accepts_machine(caller.actor):
        raise Forbidden(f"this machine does not send as {kind} source {source_name!r}")
    return source


def decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise Invalid(f"not JSON: {error}", field="body") from None


async def receive(
    uc: UseCase,
    *,
    source: AlertSource,
    body: bytes,
    content_type: str,
    authenticated_as: str,
) -> ingest.IngestResult:
    """Parse one payload whole (refused whole, storing nothing) and ingest it."""
    parsed = signals.parse(decode(body), source)
    return await ingest.ingest(
        uc,
        source=source,
        body=body,
        content_type=content_type,
        authenticated_as=authenticated_as,
        signals=parsed,
    )
