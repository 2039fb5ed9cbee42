"""Audit packs as background jobs: asking for one queues it and returns at once; the worker
builds it (as the person who asked, with their rights at build time), reporting progress,
and marks it ready or failed with the reason.

Claiming is one short write transaction (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one
writer), giving the pack a fresh claim token. Progress reports are fenced by that token, so a
worker whose claim was taken over (its heartbeat lapsed: it crashed or stalled) cannot
overwrite the new builder's work."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update

from govsvc.audit.log import record
from govsvc.caller import Caller
from govsvc.compliance import packs
from govsvc.compliance.models import AuditPack, AuditPackState
from govsvc.db import utcnow
from govsvc.errors import Forbidden, ServiceError
from govsvc.grants.loading import load_access
from govsvc.org.models import Principal

if TYPE_CHECKING:
    from govsvc.runtime import Runtime
    from govsvc.usecase import UseCase

log = logging.getLogger("govsvc.packs")

# Progress is written at most this often (and at each whole 5 %), to keep writes few.
PROGRESS_EVERY_SECONDS = 1.0


class ClaimLost(Exception):
    """Another worker took this pack over; stop building it."""


async def request(uc: UseCase, *, pack_request: packs.PackRequest) -> AuditPack:
    """Queue a pack for the worker to build (validated and audited now); returns at once."""
    caller, session = uc.caller, uc.session
    packs.validate(uc.runtime, caller, pack_request)
    pack = AuditPack(
        framework=pack_request.framework,
        period_start=pack_request.period_start,
        period_end=pack_request.period_end,
        request=json.dumps(pack_request.as_json(), sort_keys=True),
        state=AuditPackState.QUEUED.value,
        progress=0.0,
        excluded="[]",
        created_by=caller.actor,
        requested_by_id=caller.principal_id,
    )
    session.add(pack)
    await session.flush()
    await record(
        session,
        caller,
        "audit_pack.request",
        resource_type="audit_pack",
        resource_id=pack.id,
        payload=pack_request.as_json(),
    )
    return pack


async def build_next(uc: UseCase) -> int | None:
    """The worker's hook: build one queued pack (or one whose builder vanished), if any;
    returns its id. One per call, so other jobs get their turn between packs.

    A long job that commits in several steps on purpose, not one unit of work: the claim, each
    progress report and the outcome must each be seen at once by readers and other workers
    (and the pack's bytes go to WORM storage in between). So it runs in a task of its own,
    outside the unit `uc` was built in (whose session it never touches), where each of its
    writes commits by itself. It builds as the person who asked, not as `uc.caller`."""
    return await asyncio.create_task(_build_next(uc.runtime))


async def _build_next(runtime: Runtime) -> int | None:
    claim = await _claim(runtime, utcnow())
    if claim is None:
        return None
    pack_id, token = claim
    await _build(runtime, pack_id, token)
    return pack_id


async def _claim(runtime: Runtime, now: datetime) -> tuple[int, str] | None:
    lapsed = now - timedelta(seconds=runtime.settings.pack_build_lease_seconds)
    async with runtime.db.write() as session:
        pack = (
            await session.execute(
                select(AuditPack)
                .where(
                    or_(
                        AuditPack.state == AuditPackState.QUEUED.value,
                        and_(
                            AuditPack.state == AuditPackState.BUILDING.value,
                            AuditPack.claimed_at < lapsed,
                        ),
                    )
                )
                .order_by(AuditPack.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if pack is None:
            return None
        token = uuid.uuid4().hex
        pack.state = AuditPackState.BUILDING.value
        pack.claim_token, pack.claimed_at, pack.progress, pack.error = token, now, 0.0, None
        return pack.id, token


async def _requester(runtime: Runtime, pack: AuditPack) -> Caller:
    """The person who asked, with the rights they hold now (a revoked grant is honoured)."""
    policy = runtime.policies.access
    if pack.requested_by_id is None:
        return Caller.system(policy, pack.created_by)
    async with runtime.db.read() as session:
        person = await session.get(Principal, pack.requested_by_id)
        if person is None or not person.active:
            raise Forbidden("the person who asked for this pack is no longer active")
        access = await load_access(session, policy, person.id)
    return Caller(person.id, person.email, access)


async def _build(runtime: Runtime, pack_id: int, token: str) -> None:
    async with runtime.db.read() as session:
        pack = await session.get(AuditPack, pack_id)
        assert pack is not None  # noqa: S101 - claimed a moment ago; packs are never deleted
    asked = json.loads(pack.request)
    pack_request = packs.PackRequest(
        framework=asked["framework"],
        period_start=pack.period_start,
        period_end=pack.period_end,
        control_keys=tuple(asked["controls"]),
        unit_ids=tuple(asked["units"]),
    )
    reported = {"value": 0.0, "at": time.monotonic()}

    async def progress(value: float) -> None:
        value = min(max(value, 0.0), 0.99)  # 1.0 is for a pack that is ready
        now = time.monotonic()
        step = int(value * 20) > int(reported["value"] * 20)
        if not step and now - reported["at"] < PROGRESS_EVERY_SECONDS:
            return
        reported.update(value=value, at=now)
        await _fenced(runtime, pack_id, token, progress=value, claimed_at=utcnow())

    try:
        caller = await _requester(runtime, pack)
        with tempfile.TemporaryDirectory(prefix="govsvc-pack-") as tmp:
            path = Path(tmp) / "pack.zip"
            built = await packs.assemble(runtime, caller, pack_request, path, progress=progress)
            digest, size, key, version = await packs.keep(runtime, pack_request.framework, path)
    except ClaimLost:
        log.warning("audit pack %s: another worker took it over; stopped", pack_id)
        return
    except (ServiceError, Forbidden) as error:
        await _fail(runtime, pack, token, str(error))
        return
    except Exception as error:  # a bug or an outage: the pack says so, the log has the trace
        log.exception("audit pack %s: building failed", pack_id)
        await _fail(runtime, pack, token, f"internal error while building ({type(error).__name__})")
        return
    async with runtime.db.write() as session:
        done = await session.execute(
            update(AuditPack)
            .where(AuditPack.id == pack_id, AuditPack.claim_token == token)
            .values(
                state=AuditPackState.READY.value,
                progress=1.0,
                sha256=digest,
                size=size,
                storage_key=key,
                storage_version=version,
                excluded=json.dumps(built.manifest["excluded"]),
                covers=built.covers,
                finished_at=utcnow(),
                claim_token=None,
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            log.warning("audit pack %s: built, but another worker had taken it over", pack_id)
            return
        await record(
            session,
            caller,
            "audit_pack.create",
            resource_type="audit_pack",
            resource_id=pack_id,
            payload={
                **pack_request.as_json(),
                "sha256": digest,
                "size": size,
                "excluded": built.manifest["excluded"],
                "tree_size": built.manifest["tree_head"]["tree_size"],
            },
        )


async def _fenced(runtime: Runtime, pack_id: int, token: str, **values: object) -> None:
    async with runtime.db.write() as session:
        done = await session.execute(
            update(AuditPack)
            .where(AuditPack.id == pack_id, AuditPack.claim_token == token)
            .values(**values)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ClaimLost(pack_id)


async def _fail(runtime: Runtime, pack: AuditPack, token: str, why: str) -> None:
    system = Caller.system(runtime.policies.access, "system:worker")
    async with runtime.db.write() as session:
        done = await session.execute(
            update(AuditPack)
            .where(AuditPack.id == pack.id, AuditPack.claim_token == token)
            .values(
                state=AuditPackState.FAILED.value,
                error=why,
                finished_at=utcnow(),
                claim_token=None,
            )
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            await record(
                session,
                system,
                "audit_pack.fail",
                resource_type="audit_pack",
                resource_id=pack.id,
                payload={"error": why, "requested_by": pack.created_by},
            )
