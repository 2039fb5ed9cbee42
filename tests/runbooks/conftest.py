"""Runbook fixtures: a real automation receiver on 127.0.0.1 (tests/outbox/receiver.py, which
verifies every signature), the repository's policies plus test runbooks that call it, a unit
with a service, a responder and an incident commander."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL, build_runtime
from tests.graphql import helpers
from tests.outbox.helpers import RECEIVER_SECRET
from tests.outbox.receiver import Receiver

SECRET_ENV = "GOVSVC_TEST_RUNBOOK_SECRET"
REPO_POLICIES = Path(__file__).parents[2] / "policies"

RESTART = """\
id: edge-restart
title: Restart the edge proxy
current: 1
versions:
  - version: 1
    effective: 2026-01-01
    match:
      services: [edge-api]
    steps:
      - key: look
        kind: manual
        title: Look at the edge dashboards
        instructions: Check error rates per region before restarting anything.
      - key: restart
        kind: automated
        title: Restart the proxy fleet
        request:
          url: {url}/automation/edge/restart
          secret_env: {secret_env}
          timeout_seconds: 0.5
          body:
            incident: ${{incident.reference}}
            severity: ${{incident.severity}}
            service: ${{service.code}}
            step: ${{step.key}}
      - key: confirm
        kind: manual
        title: Confirm traffic recovered
        instructions: Watch the success rate for five minutes.
"""

GATED = """\
id: edge-gated
title: Drain a region (with a sign-off)
current: 1
versions:
  - version: 1
    effective: 2026-01-01
    match:
      services: [edge-api]
    steps:
      - key: sign-off
        kind: approval
        title: The commander signs off the drain
        roles: [incident_commander]
      - key: drain
        kind: automated
        title: Drain the region
        request:
          url: {url}/automation/edge/drain
          secret_env: {secret_env}
          timeout_seconds: 0.5
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(RECEIVER_SECRET).start()
    yield running
    running.stop()


def write_policies(directory: Path, receiver: Receiver) -> Path:
    policies = directory / "policies"
    shutil.copytree(REPO_POLICIES, policies)
    for name, text in (("edge-restart", RESTART), ("edge-gated", GATED)):
        (policies / "runbooks" / f"{name}.yaml").write_text(
            text.format(url=receiver.url, secret_env=SECRET_ENV)
        )
    return policies


@pytest.fixture
async def settings(
    settings: Settings, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv(SECRET_ENV, RECEIVER_SECRET)
    return settings.model_copy(update={"policies_dir": write_policies(tmp_path, receiver)})


@pytest.fixture
async def second_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Another process's worth of runtime on the same database (a second worker)."""
    other = build_runtime(settings)
    yield other
    await other.db.dispose()


@dataclass
class Unit:
    unit: str
    service: str
    responder: GraphQL
    commander: GraphQL
    viewer: GraphQL


@pytest.fixture
async def edge(gql: GraphQL) -> Unit:
    unit = await helpers.unit(gql, "edge")
    service = await helpers.service(gql, "edge-api", unit, tier=1)
    clients = []
    for role in ("responder", "incident_commander", "viewer"):
        _, token = await helpers.person_with_token(gql, f"{role}@edge.example", role, unit)
        clients.append(gql.as_(token))
    return Unit(unit, service, *clients)
