"""Recovery of uploads whose process died half way (killed, crashed, lost its database).

Every upload writes a storage intent before the first byte goes out and completes it with the
evidence row. An intent still open after the grace period (`evidence_upload_grace_seconds`)
belongs to a dead upload, which may have left a spooled temp file, an unfinished multipart
upload, or a whole stored version that no evidence row names (and that WORM storage may keep
locked for years).

Such an intent is failed, never finished: it does not hold what the evidence row needs (title,
kind, unit, incidents, frameworks), the collector was told the upload failed and sends it again,
and a sealed upload's data key died with the process, leaving only ciphertext nobody can read.
Completing it would invent evidence no one vouched for. Then what can go goes (temp files,
multipart uploads, versions whose retention has passed), and what the store still locks is
recorded: an audit event per intent names each version kept, until when and why.

Runs at `govsvc serve` start-up and as a worker job, under one leader lock. It commits step by
step on purpose (each batch of failed intents, each record of a clean-up, with
`db.write(durable=True)`): they record what was done to the store, which no rollback undoes, so
it never writes through the use case's own transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from govsvc import leader
from govsvc.audit.log import record
from govsvc.db import utcnow
from govsvc.evidence.models import StorageIntent
from govsvc.storage import ObjectLocked, ObjectMissing, StorageError

if TYPE_CHECKING:
    from govsvc.db import Database
    from govsvc.usecase import UseCase

log = logging.getLogger("govsvc.evidence.recovery")
JOB = "upload recovery"
BATCH = 100


@dataclass
class Abandoned:
    """What recovery did about one dead upload."""

    intent_id: int
    key: str
    removed: list[str] = field(default_factory=list)  # temp files, multipart uploads
    deleted: list[str] = field(default_factory=list)  # version ids
    retained: list[dict[str, Any]] = field(default_factory=list)  # version, until, why


async def reconcile_uploads(uc: UseCase, *, now: datetime | None = None) -> list[Abandoned]:
    """Fail every upload unfinished after the grace period and clean up after it."""
    async with leader.lead(uc.db, JOB, wait=True):
        now = now or utcnow()
        grace = timedelta(seconds=uc.settings.evidence_upload_grace_seconds)
        done: list[Abandoned] = []
        while claimed := await _claim(uc.db, before=now - grace, grace=grace):
            for intent_id, key in claimed:
                done.append(await clean_up(uc, intent_id, key))
        # Leftovers of puts older than the grace whose intent was never open (or is gone).
        for stray in await uc.store.discard_stale(now - grace):
            log.warning("removed a stale upload leftover: %s", stray)
        return done


async def _claim(db: Database, *, before: datetime, grace: timedelta) -> list[tuple[int, str]]:
    """Fail a batch of dead uploads' intents first, so that an upload which was only slow can
    no longer complete (it is refused on completion) while its leftovers are removed."""
    async with db.write(durable=True) as session:
        intents = list(
            (
                await session.execute(
                    select(StorageIntent)
                    .where(
                        StorageIntent.completed_at.is_(None),
                        StorageIntent.failed_at.is_(None),
                        StorageIntent.created_at < before,
                    )
                    .order_by(StorageIntent.id)
                    .limit(BATCH)
                    .with_for_update()
                )
            ).scalars()
        )
        for intent in intents:
            intent.failed_at = utcnow()
            intent.failure = (
                f"abandoned: unfinished {int(grace.total_seconds())} s after it began (the "
                "process writing it stopped); the audit event upload.abandoned says what was "
                "removed and what WORM storage keeps"
            )
        return [(intent.id, intent.storage_key) for intent in intents]


async def clean_up(uc: UseCase, intent_id: int, key: str) -> Abandoned:
    """Remove what a failed intent's upload left that may go; audit what stays and why (durably:
    the store's deletions stand whatever becomes of the caller's transaction)."""
    outcome = Abandoned(intent_id, key)
    store = uc.store
    try:
        outcome.removed = await store.discard_incomplete(key)
        versions = [version for k, version in await store.versions(key) if k == key]
    except StorageError as error:
        # Recorded below; the store's leftovers are found again by discard_stale later.
        outcome.retained.append({"version": None, "why": f"store unreachable: {error}"})
        versions = []
    for version in versions:
        try:
            kept = await store.head(key, version)
            await store.delete_version(key, version)
        except ObjectMissing:
            continue
        except ObjectLocked as locked:
            outcome.retained.append(
                {
                    "version": version,
                    "sha256": kept.sha256,
                    "size": kept.size,
                    "mode": kept.mode.value,
                    "retain_until": locked.retain_until,
                    "legal_hold": locked.legal_hold,
                    "why": locked.reason,
                }
            )
            continue
        except StorageError as error:
            outcome.retained.append({"version": version, "why": f"{type(error).__name__}: {error}"})
            continue
        outcome.deleted.append(version)
    async with uc.db.write(durable=True) as session:
        await record(
            session,
            uc.caller,
            "upload.abandoned",
            resource_type="storage_intent",
            resource_id=intent_id,
            payload={
                "storage_key": key,
                "removed": outcome.removed,
                "deleted_versions": outcome.deleted,
                "retained_versions": outcome.retained,
            },
        )
    for kept_version in outcome.retained:
        log.warning(
            "abandoned upload %r: version %s stays in WORM storage: %s",
            key,
            kept_version.get("version"),
            kept_version["why"],
        )
    return outcome
