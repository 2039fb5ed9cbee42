"""Audit packs over the public API: ask for one, let the real worker loop build it, read it."""

from __future__ import annotations

import os
from typing import Any

from govsvc.runtime import Runtime
from govsvc.worker import run_worker
from tests.conftest import GraphQL

ERRORS = "errors { field message code }"
PACK_FIELDS = (
    "id framework state progress error sha256 size downloadPath excluded controlKeys createdBy"
)
CREATE = (
    "mutation($i: AuditPackCreateInput!) { auditPackCreate(input: $i) {"
    f" auditPack {{ {PACK_FIELDS} }} {ERRORS} }} }}"
)
READ = f"query($id: ID!) {{ auditPack(id: $id) {{ {PACK_FIELDS} }} }}"


async def ask(gql: GraphQL, **fields: Any) -> dict[str, Any]:
    """auditPackCreate; returns the payload (pack and errors)."""
    data = await gql(CREATE, {"i": {"framework": "soc2", **fields}})
    payload: dict[str, Any] = data["auditPackCreate"]
    return payload


async def read(gql: GraphQL, pack_id: str) -> dict[str, Any] | None:
    data = await gql(READ, {"id": pack_id})
    found: dict[str, Any] | None = data["auditPack"]
    return found


async def build(gql: GraphQL, runtime: Runtime, **fields: Any) -> dict[str, Any]:
    """Ask for a pack, run the worker loop until it is no longer queued, return it as read."""
    payload = await ask(gql, **fields)
    assert payload["errors"] == [], payload
    queued = payload["auditPack"]
    assert queued["state"] == "QUEUED", queued
    assert queued["sha256"] is None
    assert queued["downloadPath"] is None
    await run_worker(runtime, once=True)
    built = await read(gql, queued["id"])
    assert built is not None
    return built


def offline_env() -> dict[str, str]:
    """An environment for `govsvc pack verify` with no settings and no database; the code
    under test is imported the way this test run imports it."""
    env = {"PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env
