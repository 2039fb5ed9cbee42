"""A server killed in the middle of evidence uploads: the next start-up (or the worker) fails
the dead uploads, removes their temp files and multipart uploads, deletes what retention allows
and records in the audit log what WORM storage keeps locked, until when and why.

The crash is real: a `govsvc serve` process is sent SIGKILL while one upload is still
streaming its body and another has stored its bytes but waits for the database to record them
(the test holds a database lock, so the kill lands exactly there)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from govsvc import usecase
from govsvc.app import create_app
from govsvc.audit.models import AuditEvent
from govsvc.caller import Caller
from govsvc.evidence.models import EvidenceItem, StorageIntent
from govsvc.graphql.relay import global_id
from govsvc.org import service as org_service
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import free_port
from tests.integration.test_cli import GOVSVC, cli_env
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY

# A real `govsvc serve` and `govsvc worker`, crashed and restarted, waiting out retention.
pytestmark = [pytest.mark.slow, pytest.mark.cli]

POLICIES = Path(__file__).parents[2] / "policies"
MIB = 1024 * 1024
# The S3 backend starts a multipart upload once two 8 MiB parts have come in.
STALLED_AFTER = {"file": 3 * MIB, "s3": 17 * MIB}
STALLED_TOTAL = 24 * MIB


@dataclass
class Place:
    """A backend, and how to look behind the service at what it holds."""

    kind: str
    settings: Settings
    s3: Any = None
    bucket: str = ""

    @property
    def vault(self) -> Path:
        return Path(unquote(urlsplit(self.settings.storage_url).path))

    def env(self) -> dict[str, str]:
        extra = {"GOVSVC_POLICIES_DIR": str(self.settings.policies_dir)}
        if self.kind == "s3":
            extra.update(
                GOVSVC_S3_ENDPOINT_URL=self.settings.s3_endpoint_url,
                GOVSVC_S3_REGION=REGION,
                GOVSVC_S3_ACCESS_KEY_ID=ACCESS_KEY,
                GOVSVC_S3_SECRET_ACCESS_KEY=SECRET_KEY,
                GOVSVC_S3_PATH_STYLE="true",
            )
        return cli_env(
            self.settings,
            GOVSVC_WORKER_EMBEDDED="false",
            GOVSVC_EVIDENCE_UPLOAD_GRACE_SECONDS="1",
            **extra,
        )

    def temp_files(self) -> list[Path]:
        tmp = self.vault / "tmp"
        return [p for p in tmp.iterdir() if p.name.startswith("put-")] if tmp.exists() else []

    def multipart_uploads(self) -> list[dict[str, Any]]:
        uploads: list[dict[str, Any]] = self.s3.list_multipart_uploads(Bucket=self.bucket).get(
            "Uploads", []
        )
        return uploads

    def leftovers_of_a_stalled_upload(self) -> bool:
        if self.kind == "s3":
            return bool(self.multipart_uploads())
        return any(p.stat().st_size >= MIB for p in self.temp_files())


def _policies(tmp_path: Path, seconds: int | None) -> Path:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    if seconds is not None:
        (policies / "retention.yaml").write_text(
            'version: "2026.1"\nalways: []\n'
            f'default: {{id: drill, period: {{seconds: {seconds}}}, citation: "drill"}}\n'
            "rules: []\n"
        )
    return policies


def _place(request: pytest.FixtureRequest, settings: Settings, policies: Path) -> Place:
    settings = settings.model_copy(update={"policies_dir": policies})
    if request.param == "file":
        return Place("file", settings)
    endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket: str = request.getfixturevalue("lock_bucket")
    settings = settings.model_copy(
        update={
            "storage_url": f"s3://{bucket}",
            "s3_endpoint_url": endpoint,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SecretStr(SECRET_KEY),
            "s3_path_style": True,
        }
    )
    return Place("s3", settings, request.getfixturevalue("s3_client"), bucket)


@pytest.fixture(params=["file", "s3"])
def place(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Place:
    """The test database on each backend, with the default (long) retention."""
    return _place(request, settings, _policies(tmp_path, None))


@pytest.fixture(params=["file", "s3"])
def short_place(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Place:
    """The test database on each backend, with retention of two seconds."""
    return _place(request, settings, _policies(tmp_path, 2))


# -- the server, its crash, and the database lock that holds an upload at the right moment ----


class Server:
    def __init__(self, place: Place):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 - the venv's own console script
            [str(GOVSVC), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=place.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    async def ready(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                if self.process.poll() is not None:
                    pytest.fail(f"govsvc serve exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        pytest.fail("govsvc serve did not answer within 60 s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=30)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=30)
        return str(stderr)


@contextlib.asynccontextmanager
async def database_writes_blocked(settings: Settings) -> AsyncIterator[None]:
    """Hold the database so the server cannot record evidence (SQLite: the write lock;
    PostgreSQL: a lock on the evidence table that lets reads through)."""
    if settings.database_url.startswith("sqlite"):
        path = settings.database_url.split(":///", 1)[1]
        with closing(sqlite3.connect(path, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield
            finally:
                connection.execute("ROLLBACK")
        return
    connection = await asyncpg.connect(
        settings.database_url.replace("postgresql+asyncpg://", "postgresql://"),
        server_settings={"search_path": settings.database_schema},
    )
    try:
        async with connection.transaction():
            await connection.execute("LOCK TABLE evidence_item IN SHARE MODE")
            yield
    finally:
        await connection.close()


async def _body(first: bytes, rest: bytes, go_on: asyncio.Event) -> AsyncIterator[bytes]:
    for start in range(0, len(first), MIB):
        yield first[start : start + MIB]
    await go_on.wait()
    for start in range(0, len(rest), MIB):
        yield rest[start : start + MIB]


async def _wait_for(condition: Callable[[], Any], what: str) -> None:
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


async def _open_intents(runtime: Runtime) -> list[StorageIntent]:
    async with runtime.db.read() as session:
        return list(
            (
                await session.execute(
                    select(StorageIntent).where(
                        StorageIntent.completed_at.is_(None), StorageIntent.failed_at.is_(None)
                    )
                )
            ).scalars()
        )


async def _abandoned_events(runtime: Runtime) -> dict[str, dict[str, Any]]:
    async with runtime.db.read() as session:
        events = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "upload.abandoned"))
        ).scalars()
        return {(p := json.loads(e.payload))["storage_key"]: p for e in events}


async def _crash_mid_uploads(
    place: Place, runtime: Runtime, token: str, *, stalled: bool
) -> tuple[str, str]:
    """Start a server, get uploads going, SIGKILL it; (key of the stored upload, its version)."""
    unit = await usecase.run(
        runtime,
        Caller.system(runtime.policies.access, "system:test"),
        org_service.create_business_unit,
        code="ops",
        name="Ops",
    )
    server = Server(place)
    await server.ready()
    client = httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    never, stored_go_on = asyncio.Event(), asyncio.Event()
    requests = []

    def post(title: str, body: AsyncIterator[bytes], **params: str) -> None:
        query = {
            "title": title,
            "kind": "log_export",
            "businessUnitId": global_id("BusinessUnit", unit.id),
        }
        requests.append(
            asyncio.create_task(client.post("/evidence", params={**query, **params}, content=body))
        )

    try:
        if stalled:
            # one upload streaming its body when the server dies
            data = os.urandom(STALLED_TOTAL)
            cut = STALLED_AFTER[place.kind]
            post("Stalled", _body(data[:cut], data[cut:], never),
                 sha256=hashlib.sha256(data).hexdigest())  # fmt: skip

            async def stalled_leftovers() -> bool:
                return place.leftovers_of_a_stalled_upload()

            await _wait_for(stalled_leftovers, "the stalled upload's temp file or multipart upload")
        # one upload whose bytes are stored when the server dies, before its row is written
        post("Stored", _body(b"x" * 1000, b"y" * 1000, stored_go_on))
        expected = 2 if stalled else 1

        async def intents_written() -> bool:
            return len(await _open_intents(runtime)) == expected

        await _wait_for(intents_written, "the upload intents")
        async with database_writes_blocked(place.settings):
            stored_go_on.set()

            async def stored() -> bool:
                return bool(await runtime.store.versions("evidence/"))

            await _wait_for(stored, "the stored upload's bytes")
            server.kill()
    finally:
        for task in requests:
            task.cancel()
        await asyncio.gather(*requests, return_exceptions=True)
        await client.aclose()
        if server.process.poll() is None:
            server.kill()
    [(key, version)] = await runtime.store.versions("evidence/")
    return key, version


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture
async def store_runtime(place: Place) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(place.settings)
    yield runtime
    await runtime.db.dispose()


@pytest.fixture
async def short_runtime(short_place: Place) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(short_place.settings)
    yield runtime
    await runtime.db.dispose()


async def test_start_up_after_a_crash_fails_dead_uploads_and_records_what_stays_locked(
    place: Place, store_runtime: Runtime, admin_token: str
) -> None:
    runtime = store_runtime
    # given a server killed with one upload streaming and one stored but not recorded
    key, version = await _crash_mid_uploads(place, runtime, admin_token, stalled=True)
    # (what a crash leaves: open intents, a temp file or multipart upload, a locked object)
    assert len(await _open_intents(runtime)) == 2
    assert place.leftovers_of_a_stalled_upload()
    # when the server starts again after the grace period
    await asyncio.sleep(1.5)
    server = Server(place)
    await server.ready()
    stderr = server.stop()
    # then no upload is left in progress, and the crash's leftovers are gone
    assert await _open_intents(runtime) == []
    async with runtime.db.read() as session:
        intents = list((await session.execute(select(StorageIntent))).scalars())
        items = (await session.execute(select(func.count()).select_from(EvidenceItem))).scalar()
    assert all(i.failed_at and "abandoned" in (i.failure or "") for i in intents), intents
    assert items == 0
    if place.kind == "s3":
        assert place.multipart_uploads() == []
    else:
        assert place.temp_files() == []
    # and the stored object, locked by WORM storage, is still there and on record: which version,
    # until when, and why
    assert await runtime.store.versions("evidence/") == [(key, version)]
    kept = await runtime.store.head(key, version)
    events = await _abandoned_events(runtime)
    assert set(events) == {i.storage_key for i in intents}
    [retained] = events[key]["retained_versions"]
    assert retained["version"] == version
    assert retained["sha256"] == kept.sha256
    assert retained["retain_until"].startswith(kept.retain_until.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "retained until" in retained["why"]
    assert events[key]["deleted_versions"] == []
    [stalled_key] = set(events) - {key}
    assert events[stalled_key]["removed"], events[stalled_key]
    assert "abandoned upload" in stderr  # said out loud, too


async def test_the_worker_deletes_an_abandoned_object_once_its_retention_has_passed(
    short_place: Place, short_runtime: Runtime, admin_token: str
) -> None:
    # given a server killed after storing an upload's bytes, under two seconds of retention
    place, runtime = short_place, short_runtime
    key, version = await _crash_mid_uploads(place, runtime, admin_token, stalled=False)
    # when the worker runs after the grace period and the retention
    await asyncio.sleep(3)
    ran = await asyncio.to_thread(
        subprocess.run,
        [str(GOVSVC), "worker", "--once"],
        env=place.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # then the object is gone from the store, and the audit log says so
    assert await runtime.store.versions("evidence/") == []
    assert await _open_intents(runtime) == []
    events = await _abandoned_events(runtime)
    assert events[key]["deleted_versions"] == [version]
    assert events[key]["retained_versions"] == []


@pytest.mark.parametrize("size", ["large", "small"])
async def test_an_upload_outliving_the_grace_period_is_refused_and_nothing_is_left_unrecorded(
    place: Place, store_runtime: Runtime, admin_token: str, size: str
) -> None:
    # given an upload that stalls (a slow client) for longer than the grace period
    runtime = store_runtime
    unit = await usecase.run(
        runtime,
        Caller.system(runtime.policies.access, "system:test"),
        org_service.create_business_unit,
        code="ops",
        name="Ops",
    )
    data = os.urandom(STALLED_TOTAL if size == "large" else 1000)
    cut = STALLED_AFTER[place.kind] if size == "large" else 500
    go_on = asyncio.Event()
    transport = httpx.ASGITransport(app=create_app(place.settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://govsvc.test") as client:
        upload = asyncio.create_task(
            client.post(
                "/evidence",
                params={
                    "title": "Slow",
                    "kind": "log_export",
                    "businessUnitId": global_id("BusinessUnit", unit.id),
                    "sha256": hashlib.sha256(data).hexdigest(),
                },
                headers={"Authorization": f"Bearer {admin_token}"},
                content=_body(data[:cut], data[cut:], go_on),
            )
        )

        async def started() -> bool:
            if size == "large":
                return place.leftovers_of_a_stalled_upload()
            return bool(await _open_intents(runtime))

        await _wait_for(started, "the upload to start")
        await asyncio.sleep(1.5)
        # when the worker recovers uploads meanwhile, and then the rest of the body comes
        ran = await asyncio.to_thread(
            subprocess.run,
            [str(GOVSVC), "worker", "--once"],
            env=place.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        go_on.set()
        response = await upload
    # then the upload is refused, nothing is recorded as evidence, and the intent stays failed
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["code"] == "CONFLICT"
    async with runtime.db.read() as session:
        items = (await session.execute(select(func.count()).select_from(EvidenceItem))).scalar()
        [intent] = (await session.execute(select(StorageIntent))).scalars()
    assert items == 0
    assert intent.failed_at is not None
    assert "abandoned" in (intent.failure or "")
    # and what storage still holds is on record (a version stored after recovery had looked)
    assert place.temp_files() == [] if place.kind == "file" else place.multipart_uploads() == []
    recorded = {
        (key, kept["version"])
        for key, event in (await _abandoned_events(runtime)).items()
        for kept in event["retained_versions"]
    }
    assert set(await runtime.store.versions("evidence/")) == recorded
