"""Building an audit pack streams: memory does not grow with the pack's size (issue 8, item 10;
the whole zip used to be read back to hash it). Measured with tracemalloc, which counts the
Python objects the build allocates, around the real worker loop building the pack."""

from __future__ import annotations

import random
import tracemalloc
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from govsvc.runtime import Runtime
from govsvc.worker import run_worker
from tests.conftest import GraphQL
from tests.graphql import helpers, pack_helpers

# Builds a large audit pack, PDF and all.
pytestmark = pytest.mark.slow

MIB = 1024 * 1024


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


async def _peak_while_building(gql: GraphQL, runtime: Runtime) -> tuple[int, int]:
    """(peak traced bytes, pack size) while the worker builds one pack."""
    payload = await pack_helpers.ask(gql, periodStart=_ago(days=5), periodEnd=_ago(hours=-1))
    assert payload["errors"] == [], payload
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await run_worker(runtime, once=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    built = await pack_helpers.read(gql, payload["auditPack"]["id"])
    assert built is not None
    assert built["state"] == "READY", built
    return peak, int(built["size"])


async def test_building_a_pack_does_not_hold_it_in_memory(
    gql: GraphQL, http: httpx.AsyncClient, admin_token: str, runtime: Runtime
) -> None:
    # given an incident whose evidence grows from 8 MiB to 40 MiB (incompressible bytes)
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident = await helpers.incident(gql, service_id, detectedAt=_ago(hours=20))
    mapped = await gql(
        "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
        " errors { code } } }",
        {"i": {"controlKey": "soc2:CC7.3", "targetId": incident["id"]}},
    )
    assert mapped["controlMappingDecide"]["errors"] == []
    rng = random.Random(8)
    await _peak_while_building(gql, runtime)  # the first build loads the PDF renderer and fonts
    peaks = []
    for megabytes in (8, 32):
        response = await http.post(
            "/evidence",
            params={
                "title": f"dump {megabytes}",
                "kind": "log_export",
                "incidentId": incident["id"],
            },
            content=rng.randbytes(megabytes * MIB),
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert response.status_code == 201, response.text
        # when a pack is built over all of it
        peaks.append(await _peak_while_building(gql, runtime))
    # then the larger pack (five times the bytes) costs no more memory than a few chunks
    (small_peak, small_size), (large_peak, large_size) = peaks
    assert large_size > 4 * small_size
    assert large_peak < 12 * MIB, (small_peak, large_peak)
    assert large_peak < small_peak + 4 * MIB, (small_peak, large_peak)
    assert large_peak < large_size / 3, (large_peak, large_size)
