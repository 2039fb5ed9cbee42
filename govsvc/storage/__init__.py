"""WORM storage: the WormStore protocol, an S3 Object Lock backend and the embedded file vault.

`build_store(settings)` picks the backend from GOVSVC_STORAGE_URL: `file:///abs/path` or
`s3://bucket`. Call `check()` on the store before serving: it refuses a store that cannot lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from govsvc.storage.base import (
    IntegrityMismatch,
    InvalidArgument,
    LockMode,
    LockNotApplied,
    ObjectLocked,
    ObjectMissing,
    RetentionShortening,
    StorageError,
    StorageMisconfigured,
    StoredObject,
    WormStore,
)
from govsvc.storage.filevault import FileVault

if TYPE_CHECKING:
    from govsvc.settings import Settings

__all__ = [
    "FileVault",
    "IntegrityMismatch",
    "InvalidArgument",
    "LockMode",
    "LockNotApplied",
    "ObjectLocked",
    "ObjectMissing",
    "RetentionShortening",
    "StorageError",
    "StorageMisconfigured",
    "StoredObject",
    "WormStore",
    "build_store",
]


def build_store(settings: Settings) -> WormStore:
    url = urlsplit(settings.storage_url)
    if url.scheme == "file":
        if url.netloc not in ("", "localhost") or not url.path.startswith("/"):
            raise StorageMisconfigured(
                f"GOVSVC_STORAGE_URL={settings.storage_url!r}: use file:///absolute/path"
            )
        return FileVault(Path(unquote(url.path)), mode=settings.storage_lock_mode)
    if url.scheme == "s3":
        # Imported here: boto3 is slow to import and only this backend needs it.
        from govsvc.storage.s3 import S3ObjectLockStore

        return S3ObjectLockStore(
            bucket=url.netloc,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=settings.s3_secret_access_key.get_secret_value() or None,
            path_style=settings.s3_path_style,
            mode=settings.storage_lock_mode,
            spool_dir=settings.storage_spool_dir,
        )
    raise StorageMisconfigured(
        f"GOVSVC_STORAGE_URL={settings.storage_url!r}: use file:///absolute/path or s3://bucket"
    )
