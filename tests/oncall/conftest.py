from __future__ import annotations

import pytest

from tests.conftest import GraphQL
from tests.graphql import helpers
from tests.oncall.helpers import person


@pytest.fixture
async def org(gql: GraphQL) -> dict[str, str]:
    """A unit `ops` with a service `checkout`, and people in Berlin (DE), Paris (FR),
    New York (US-NY) and Tokyo (no jurisdiction)."""
    unit = await helpers.unit(gql, "ops")
    return {
        "unit": unit,
        "service": await helpers.service(gql, "checkout", unit),
        "anna": await person(gql, "anna@ops.example", time_zone="Europe/Berlin", jurisdiction="DE"),
        "ben": await person(gql, "ben@ops.example", time_zone="Europe/Paris", jurisdiction="FR"),
        "cara": await person(
            gql, "cara@ops.example", time_zone="America/New_York", jurisdiction="US-NY"
        ),
        "dai": await person(gql, "dai@ops.example", time_zone="Asia/Tokyo"),
    }
