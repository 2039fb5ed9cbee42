"""A corrupted object in the file vault is detected on download, recorded, and never served
whole. (S3 Object Lock makes the same corruption impossible from outside, so this runs on the
file vault only.)"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from govsvc.evidence.download import IntegrityError
from govsvc.evidence.models import IntegrityFailure
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL
from tests.graphql.test_evidence import _incident, upload


async def test_a_corrupted_object_is_detected_recorded_and_never_served_whole(
    gql: GraphQL,
    http: httpx.AsyncClient,
    admin_token: str,
    runtime: Runtime,
    settings: Settings,
) -> None:
    # given a stored item whose file someone altered on disk
    incident_id = await _incident(gql)
    data = os.urandom(3 * 1024 * 1024)
    evidence = (await upload(http, admin_token, data, incidentId=incident_id))["evidence"]
    sha = evidence["sha256"]
    blob = Path(settings.storage_url.removeprefix("file://")) / "objects" / sha[:2] / sha
    blob.chmod(0o644)
    corrupted = bytearray(blob.read_bytes())
    corrupted[1_000_000] ^= 0xFF
    blob.write_bytes(bytes(corrupted))
    # when
    received = bytearray()

    async def read_all() -> None:
        headers = {"Authorization": f"Bearer {admin_token}"}
        async with http.stream("GET", evidence["downloadPath"], headers=headers) as response:
            async for chunk in response.aiter_bytes():
                received.extend(chunk)

    # (in-process the app's error reaches the client; over a socket the connection breaks)
    with pytest.raises(IntegrityError):
        await read_all()
    # then the reader never got the whole (wrong) thing, and the failure is on record
    assert len(received) < len(data)
    async with runtime.db.read() as session:
        [failure] = (await session.execute(select(IntegrityFailure))).scalars().all()
    assert failure.expected_sha256 == sha
    assert failure.actual_sha256 != sha
    events = await gql(
        '{ auditEvents(filter: {action: "evidence.integrity_failure"}) {'
        " edges { node { resourceId } } } }"
    )
    assert len(events["auditEvents"]["edges"]) == 1
