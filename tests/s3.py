"""A real moto S3 server over HTTP (one per session) and fresh Object Lock buckets, for every
test that needs S3 storage."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from pydantic import SecretStr

from govsvc.settings import Environment, Settings

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
    except OSError:
        return False
    finally:
        connection.close()
    return True


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real moto server, as a subprocess on a free port of 127.0.0.1."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the venv's own moto_server, fixed arguments
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            if process.poll() is not None:
                pytest.fail(f"moto_server exited ({process.returncode}): {log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"moto_server did not answer within 30 s: {log_path.read_text()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> Any:
    """A plain boto3 client, to look at buckets the way an auditor would."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def _bucket_name() -> str:
    return f"govsvc-test-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def lock_bucket(s3_client: Any) -> str:
    """A fresh bucket with Object Lock (which turns versioning on)."""
    name = _bucket_name()
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def plain_bucket(s3_client: Any) -> str:
    """A fresh bucket without Object Lock."""
    name = _bucket_name()
    s3_client.create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, bucket: str, **overrides: Any) -> Settings:
    return Settings(
        env=Environment.DEV,
        storage_url=f"s3://{bucket}",
        s3_endpoint_url=endpoint,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SecretStr(SECRET_KEY),
        s3_path_style=True,
        **overrides,
    )
