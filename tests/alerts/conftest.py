from __future__ import annotations

import pytest

from tests.alerts.helpers import machine_token
from tests.conftest import GraphQL
from tests.graphql import helpers


@pytest.fixture
async def ops(gql: GraphQL) -> dict[str, str]:
    """A unit with a tier-1 service `portal` (what the recorded fixtures name), a tier-2
    `search`, and a machine `alertmanager` sending into that unit."""
    unit = await helpers.unit(gql, "ops")
    return {
        "unit": unit,
        "portal": await helpers.service(gql, "portal", unit, tier=1),
        "search": await helpers.service(gql, "search", unit, tier=2),
        "token": await machine_token(gql, "alertmanager", unit),
    }
