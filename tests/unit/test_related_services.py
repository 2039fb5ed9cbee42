"""related_services: what the alert correlation asks of the dependency graph, and path_between,
the search that finds the cycle an edge would close.

The graph (an arrow reads "depends on"), across two units, which this function ignores:

    a -> b -> c -> d -> e        x -> c (x shares c with b)        c -> y (in another unit)
"""

from __future__ import annotations

import pytest

from govsvc.org.dependencies import path_between, related_services
from govsvc.org.models import BusinessUnit, Service, ServiceDependency
from govsvc.runtime import Runtime
from tests.conftest import StatementCounter

EDGES = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("x", "c"), ("c", "y")]


@pytest.fixture
async def graph(runtime: Runtime) -> dict[str, int]:
    """Service code -> id, with EDGES stored."""
    async with runtime.db.write() as session:
        units = [BusinessUnit(code=code, name=code) for code in ("payments", "retail")]
        session.add_all(units)
        await session.flush()
        services = {
            code: Service(
                code=code,
                name=code,
                business_unit_id=units[code == "y"].id,
                tier=2,
                availability_target_pct=99.9,
            )
            for code in "abcdexyz"
        }
        session.add_all(services.values())
        await session.flush()
        session.add_all(
            ServiceDependency(
                service_id=services[s].id, depends_on_id=services[d].id, created_by="test"
            )
            for s, d in EDGES
        )
        return {code: service.id for code, service in services.items()}


async def _related(runtime: Runtime, graph: dict[str, int], code: str, **kw: int) -> dict[str, int]:
    async with runtime.db.read() as session:
        found = await related_services(session, graph[code], **kw)
    by_id = {pk: c for c, pk in graph.items()}
    return {by_id[pk]: distance for pk, distance in found.items()}


async def test_upstream_is_positive_downstream_negative_within_the_hops(
    runtime: Runtime, graph: dict[str, int]
) -> None:
    # from the middle: what c depends on, and what depends on it (b and x), both ways
    assert await _related(runtime, graph, "c") == {
        "d": 1,
        "e": 2,
        "y": 1,
        "b": -1,
        "x": -1,
        "a": -2,
    }
    # from the top, up to three hops: e is four away; x only shares c, so it is no relation
    assert await _related(runtime, graph, "a") == {"b": 1, "c": 2, "d": 3, "y": 3}
    assert await _related(runtime, graph, "a", max_hops=4) == {
        "b": 1,
        "c": 2,
        "d": 3,
        "y": 3,
        "e": 4,
    }
    # from the bottom, downstream only
    assert await _related(runtime, graph, "e", max_hops=2) == {"d": -1, "c": -2}
    assert await _related(runtime, graph, "e", max_hops=10) == {
        "d": -1,
        "c": -2,
        "b": -3,
        "x": -3,
        "a": -4,
    }


async def test_edge_cases(runtime: Runtime, graph: dict[str, int]) -> None:
    assert await _related(runtime, graph, "a", max_hops=0) == {}
    assert await _related(runtime, graph, "z") == {}  # no dependencies at all
    async with runtime.db.read() as session:
        assert await related_services(session, 987_654) == {}  # no such service
        with pytest.raises(ValueError, match="max_hops"):
            await related_services(session, graph["a"], max_hops=-1)


async def test_one_query_whatever_the_hops(
    runtime: Runtime, graph: dict[str, int], sql_statements: StatementCounter
) -> None:
    async with runtime.db.read() as session:
        for start, hops in (("c", 3), ("a", 50)):
            sql_statements.reset()
            await related_services(session, graph[start], max_hops=hops)
            assert sql_statements.count == 1


def test_path_between_finds_a_shortest_path_or_none() -> None:
    edges = {1: [2, 5], 2: [3], 3: [4], 5: [4]}
    assert path_between(edges, 1, 4) == [1, 5, 4]
    assert path_between(edges, 2, 4) == [2, 3, 4]
    assert path_between(edges, 4, 1) is None
    assert path_between(edges, 3, 3) == [3]
    assert path_between({}, 1, 2) is None
