"""Signed Merkle tree heads over the audit chain, checkpointed to WORM storage.

A head commits to events 1..tree_size; an audit pack carries inclusion proofs against one, so
an auditor can check the events they were given belong to the chain without seeing the rest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import leader
from govsvc.audit import merkle, signing
from govsvc.audit.models import AuditEvent, SignedTreeHead
from govsvc.db import utcnow
from govsvc.settings import Settings

if TYPE_CHECKING:
    from govsvc.runtime import Runtime

PREFIX = "audit-tree-heads/"
JOB = "audit tree head"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The configured Ed25519 key, or one derived from the master key (stable across restarts)."""
    if settings.audit_signing_key.get_secret_value():
        return signing.load_private_key(settings.audit_signing_key.get_secret_value())
    seed = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"govsvc audit tree-head signing key v1",
    ).derive(settings.master_key.get_secret_value().encode())
    return Ed25519PrivateKey.from_private_bytes(seed)


def head_of(row: SignedTreeHead) -> signing.TreeHead:
    return signing.TreeHead(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        timestamp=row.timestamp,
        key_id=row.key_id,
        signature=row.signature,
    )


async def chain_hashes(session: AsyncSession, upto: int | None = None) -> list[str]:
    """The chain hashes of events 1..upto (all when None), in order."""
    query = select(AuditEvent.hash).order_by(AuditEvent.seq)
    if upto is not None:
        query = query.where(AuditEvent.seq <= upto)
    return list((await session.execute(query)).scalars())


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def covering(runtime: Runtime, tree_size: int) -> SignedTreeHead:
    """The smallest signed head that covers events 1..tree_size, signing a new one if none does.

    The smallest, so that assembling the same pack twice picks the same head."""
    async with runtime.db.read() as session:
        found = (
            await session.execute(
                select(SignedTreeHead)
                .where(SignedTreeHead.tree_size >= tree_size)
                .order_by(SignedTreeHead.tree_size)
                .limit(1)
            )
        ).scalar_one_or_none()
    return found or await sign_head(runtime)


async def sign_head(runtime: Runtime) -> SignedTreeHead:
    """Sign a head over the whole chain as it is now and write it to WORM storage; the head
    already signed when the chain has not moved since.

    Under the job's leader lock: two signers would store the same head twice (a locked version
    with no row) and one of them would then fail on the row."""
    async with leader.lead(runtime.db, JOB, wait=True):
        return await _sign_head(runtime)


async def _sign_head(runtime: Runtime) -> SignedTreeHead:
    async with runtime.db.read() as session:
        hashes = await chain_hashes(session)
        existing = (
            await session.execute(
                select(SignedTreeHead).where(SignedTreeHead.tree_size == len(hashes))
            )
        ).scalar_one_or_none()
    if existing is not None:
        return existing
    key = signing_key(runtime.settings)
    head = signing.sign_tree_head(
        key,
        tree_size=len(hashes),
        root_hash=merkle.root([bytes.fromhex(h) for h in hashes]).hex(),
        timestamp=signing.format_timestamp(utcnow()),
    )
    body = json.dumps(
        {**signing.to_json(head), "public_key": signing.public_key_pem(key)}, sort_keys=True
    ).encode()
    storage_key = f"{PREFIX}{head.tree_size:016d}.json"
    stored = await runtime.store.put(
        storage_key,
        _one(body),
        content_type="application/json",
        retain_until=utcnow() + timedelta(days=runtime.settings.audit_checkpoint_retention_days),
    )
    async with runtime.db.write() as session:
        row = SignedTreeHead(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            timestamp=head.timestamp,
            key_id=head.key_id,
            signature=head.signature,
            storage_key=storage_key,
            storage_version=stored.version_id,
        )
        session.add(row)
    return row
