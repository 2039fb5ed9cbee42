"""Fixtures for the WORM stores: a real moto server over HTTP (one per session), a fresh bucket per
test, and a `backend` parametrized over the file vault and S3 Object Lock."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govsvc.settings import Environment, Settings
from govsvc.storage import LockMode, WormStore, build_store
from tests.s3 import s3_settings


@dataclass
class Backend:
    """A store under test, with what a test needs to look behind it."""

    kind: str  # "file" | "s3"
    store: WormStore
    settings: Settings
    s3: Any = None  # plain boto3 client (S3 only)
    bucket: str = ""  # (S3 only)
    root: Path | None = None  # vault root (file only)

    def with_mode(self, mode: LockMode) -> WormStore:
        return build_store(self.settings.model_copy(update={"storage_lock_mode": mode}))

    def stored_anything(self) -> bool:
        """Whether any bytes or records (or an unfinished upload) exist in the store."""
        if self.kind == "s3":
            versions = self.s3.list_object_versions(Bucket=self.bucket)
            uploads = self.s3.list_multipart_uploads(Bucket=self.bucket)
            return bool(
                versions.get("Versions") or versions.get("DeleteMarkers") or uploads.get("Uploads")
            )
        assert self.root is not None
        return any(p.is_file() and p.name != ".lock" for p in self.root.rglob("*"))


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        root = tmp_path / "vault"
        settings = Settings(env=Environment.DEV, storage_url=root.as_uri())
        return Backend("file", build_store(settings), settings, root=root)
    endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket: str = request.getfixturevalue("lock_bucket")
    settings = s3_settings(endpoint, bucket)
    return Backend(
        "s3",
        build_store(settings),
        settings,
        s3=request.getfixturevalue("s3_client"),
        bucket=bucket,
    )
