"""Reading evidence back: authorized, audited, decrypted when sealed, and re-verified against
the recorded hash on the way out. A mismatch is recorded and the bytes are never completed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.errors import ErrorCode, Invalid
from govsvc.evidence import crypto
from govsvc.evidence.access import evidence_for
from govsvc.evidence.models import EvidenceItem, EvidenceState, IntegrityFailure
from govsvc.evidence.streams import HashMismatch, verified
from govsvc.storage import IntegrityMismatch
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

log = logging.getLogger("govsvc.evidence")


class IntegrityError(Exception):
    """The stored bytes are not the evidence that was recorded."""


@dataclass(frozen=True)
class Download:
    item: EvidenceItem
    chunks: AsyncIterator[bytes]


async def open_download(uc: UseCase, *, evidence_id: int) -> Download:
    """Authorize and audit a download, then hand back the verified byte stream (read after the
    use case has committed: the stream records an integrity failure on its own)."""
    item = await evidence_for(uc.session, uc.caller, evidence_id, "read")
    if item.state != EvidenceState.ACTIVE.value:
        raise Invalid(
            f"the evidence was {item.state}; its bytes are gone or unreadable",
            field="evidenceId",
            code=ErrorCode.GONE,
        )
    await record(
        uc.session,
        uc.caller,
        "evidence.download",
        resource_type="evidence",
        resource_id=item.id,
        payload={"sha256": item.sha256, "sensitivity": item.sensitivity},
    )
    return Download(item, _stream(uc.runtime, uc.caller, item))


async def _stream(runtime: Runtime, caller: Caller, item: EvidenceItem) -> AsyncIterator[bytes]:
    raw = runtime.store.get(item.storage_key, item.storage_version)
    if item.encrypted:
        assert item.wrapped_key is not None  # noqa: S101 - active encrypted items keep a key
        plain = crypto.decrypt(crypto.unwrap(runtime.master_key, item.wrapped_key), raw)
    else:
        plain = raw
    try:
        async for chunk in verified(plain, item.sha256):
            yield chunk
    except (HashMismatch, IntegrityMismatch, crypto.DecryptionFailed) as error:
        # The store checks its own hash as it reads; we check the evidence's on top.
        actual = getattr(error, "actual", "undecryptable")
        await _record_failure(runtime, caller, item, actual)
        raise IntegrityError(f"evidence {item.id} failed verification: {error}") from error


async def _record_failure(
    runtime: Runtime, caller: Caller, item: EvidenceItem, actual: str
) -> None:
    log.error("integrity failure on evidence %s: expected %s, got %s", item.id, item.sha256, actual)
    async with runtime.db.write() as session:
        session.add(
            IntegrityFailure(
                evidence_id=item.id,
                expected_sha256=item.sha256,
                actual_sha256=actual[:64],
                detected_by=caller.actor,
            )
        )
        await record(
            session,
            caller,
            "evidence.integrity_failure",
            resource_type="evidence",
            resource_id=item.id,
            payload={
                "expected": item.sha256,
                "actual": actual,
                "storage": f"{item.storage_kind}:{item.storage_key}",
            },
        )
