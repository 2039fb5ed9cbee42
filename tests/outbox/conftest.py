"""Outbox fixtures: tiny timeouts and backoff, a real receiver, an administrator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from govsvc import usecase
from govsvc.authz.access import Access, GrantView, UnitTree
from govsvc.caller import Caller
from govsvc.outbox import admin
from govsvc.outbox.admin import EndpointView
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.outbox.helpers import RECEIVER_SECRET
from tests.outbox.receiver import Receiver


@pytest.fixture
async def settings(settings: Settings) -> Settings:
    # Tests run in milliseconds: a timeout is 0.25 s, a retry waits at most a second.
    return settings.model_copy(
        update={
            "outbox_connect_timeout_seconds": 0.5,
            "outbox_read_timeout_seconds": 0.25,
            "outbox_lease_seconds": 5.0,
            "outbox_backoff_base_seconds": 0.05,
            "outbox_backoff_cap_seconds": 1.0,
            "outbox_max_attempts": 4,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(RECEIVER_SECRET).start()
    yield running
    running.stop()


@pytest.fixture
def administrator(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, "admin@example.com", request_id="req-test")


@pytest.fixture
def viewer(runtime: Runtime) -> Caller:
    access = Access(runtime.policies.access, [GrantView("viewer", None)], UnitTree({}, {}))
    return Caller(7, "viewer@example.com", access)


@pytest.fixture
async def endpoint(runtime: Runtime, administrator: Caller, receiver: Receiver) -> EndpointView:
    return await usecase.run(
        runtime,
        administrator,
        admin.create_endpoint,
        name="status page",
        url=f"{receiver.url}/hooks/status",
        kind="status_page",
        secret=RECEIVER_SECRET,
    )
