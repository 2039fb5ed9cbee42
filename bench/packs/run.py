"""Audit pack build: memory and time against the size of the evidence in it.

    .venv/bin/python bench/packs/run.py                       # 64, 192 and 320 MiB of evidence
    .venv/bin/python bench/packs/run.py --sizes 32,64 --json bench/packs/results/quick.json

Each size runs in a fresh child process (so peaks do not carry over): a SQLite database in a
temporary directory (migrated), the file vault, an administrator (bootstrap), one business
unit, service and incident mapped to SOC 2 CC7.3, all through the real app over HTTP
(httpx's ASGI transport). The evidence is random bytes (incompressible, the worst case for
the zip), uploaded as 64 MiB items streamed from a generator. Then the child:

0. builds a first, empty pack (loading the PDF renderer and fonts, once per process) and
   reports what that cost;
1. collects garbage and resets the kernel's peak-RSS mark (`/proc/self/clear_refs`, 5);
2. asks for a pack (`auditPackCreate`), timing how long the mutation takes to answer;
3. runs the real worker loop once (`run_worker(once=True)`), which builds the pack, timing it
   and sampling the pack's `progress` from the database every 0.5 s;
4. reads the peak RSS (`VmHWM`) and the RSS before the build, and checks the pack is READY.

Peak RSS minus RSS before the build is what building the pack cost. The issue's figure for the
old code (whole zip read back to hash it): 614 MB RSS for 300 MB of evidence.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
ITEM = 64 * MIB


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


async def _random_stream(size: int, seed: int) -> AsyncIterator[bytes]:
    rng = random.Random(seed)
    left = size
    while left:
        n = min(MIB, left)
        yield rng.randbytes(n)
        left -= n


async def child(megabytes: int) -> dict[str, Any]:
    import httpx
    from pydantic import SecretStr
    from sqlalchemy import select

    from govsvc.app import create_app
    from govsvc.bootstrap import bootstrap_admin
    from govsvc.compliance.models import AuditPack
    from govsvc.migrate import upgrade
    from govsvc.runtime import Runtime
    from govsvc.settings import Environment, Settings
    from govsvc.worker import run_worker

    tmp = Path(tempfile.mkdtemp(prefix="govsvc-bench-packs-"))
    url = f"sqlite+aiosqlite:///{tmp / 'govsvc.db'}"
    await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        secret_key=SecretStr("bench-packs-secret-" + "s" * 40),
        master_key=SecretStr("bench-packs-master-key-" + "m" * 40),
        storage_url=(tmp / "vault").as_uri(),
        worker_embedded=False,
    )
    runtime = Runtime.build(settings)
    admin = await bootstrap_admin(runtime)
    assert admin is not None
    headers = {"Authorization": f"Bearer {admin.token}"}
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", headers=headers, timeout=600
    ) as http:

        async def gql(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            body = await http.post("/graphql", json={"query": query, "variables": variables})
            data: dict[str, Any] = body.json()
            assert not data.get("errors"), data
            return data["data"]  # type: ignore[no-any-return]

        unit = await gql(
            "mutation($i: BusinessUnitCreateInput!) { businessUnitCreate(input: $i) {"
            " businessUnit { id } } }",
            {"i": {"code": "payments", "name": "Payments"}},
        )
        service = await gql(
            "mutation($i: ServiceCreateInput!) { serviceCreate(input: $i) { service { id } } }",
            {
                "i": {
                    "code": "checkout",
                    "name": "Checkout",
                    "businessUnitId": unit["businessUnitCreate"]["businessUnit"]["id"],
                    "tier": 1,
                    "availabilityTargetPct": 99.9,
                    "latencyThresholdMs": 300,
                    "latencyOutageMs": 5000,
                }
            },
        )
        detected = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
        incident = await gql(
            "mutation($i: IncidentCreateInput!) { incidentCreate(input: $i) { incident { id } } }",
            {
                "i": {
                    "title": "Checkout errors",
                    "serviceId": service["serviceCreate"]["service"]["id"],
                    "detectedAt": detected,
                    "tags": ["security"],
                }
            },
        )
        incident_id = incident["incidentCreate"]["incident"]["id"]
        await gql(
            "mutation($i: ControlMappingDecideInput!) { controlMappingDecide(input: $i) {"
            " state } }",
            {"i": {"controlKey": "soc2:CC7.3", "targetId": incident_id}},
        )
        period = {
            "framework": "soc2",
            "periodStart": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
            "periodEnd": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }
        # A first, empty pack: it loads the PDF renderer and its fonts (tens of MiB, once per
        # process), so what follows is the cost of the evidence alone. Its peak is reported.
        Path("/proc/self/clear_refs").write_text("5")
        rss_cold = _status("VmRSS")
        await gql(
            "mutation($i: AuditPackCreateInput!) { auditPackCreate(input: $i) { errors {"
            " message } } }",
            {"i": period},
        )
        await run_worker(runtime, once=True)
        first_pack_cost = _status("VmHWM") - rss_cold
        left, n = megabytes * MIB, 0
        while left:
            size = min(ITEM, left)
            response = await http.post(
                "/evidence",
                params={"title": f"dump {n}", "kind": "log_export", "incidentId": incident_id},
                content=_random_stream(size, n),
            )
            assert response.status_code == 201, response.text
            left, n = left - size, n + 1
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        rss_before = _status("VmRSS")
        started = time.monotonic()
        asked = await gql(
            "mutation($i: AuditPackCreateInput!) { auditPackCreate(input: $i) {"
            " auditPack { id state } errors { message } } }",
            {"i": period},
        )
        answered = time.monotonic() - started
        assert asked["auditPackCreate"]["auditPack"]["state"] == "QUEUED", asked
        progress: list[tuple[float, float]] = []

        async def sample() -> None:
            while True:
                await asyncio.sleep(0.5)
                async with runtime.db.read() as session:
                    value = (
                        await session.execute(
                            select(AuditPack.progress).order_by(AuditPack.id.desc()).limit(1)
                        )
                    ).scalar_one()
                progress.append((round(time.monotonic() - started, 1), round(value, 2)))

        sampler = asyncio.create_task(sample())
        await run_worker(runtime, once=True)
        built = time.monotonic() - started
        sampler.cancel()
        peak = _status("VmHWM")
        async with runtime.db.read() as session:
            pack = (
                await session.execute(select(AuditPack).order_by(AuditPack.id.desc()).limit(1))
            ).scalar_one()
    await runtime.db.dispose()
    assert pack.state == "ready", (pack.state, pack.error)
    subprocess.run(["rm", "-rf", str(tmp)], check=True)  # noqa: S603, S607
    return {
        "evidence_mib": megabytes,
        "pack_mib": round((pack.size or 0) / MIB, 1),
        "mutation_s": round(answered, 3),
        "build_s": round(built, 1),
        "rss_before_mib": round(rss_before / MIB, 1),
        "peak_rss_mib": round(peak / MIB, 1),
        "build_cost_mib": round((peak - rss_before) / MIB, 1),
        "first_empty_pack_cost_mib": round(first_pack_cost / MIB, 1),
        "progress_samples": progress[:: max(1, len(progress) // 8)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,192,320", help="MiB of evidence, comma separated")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(child(args.child))))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--child", str(size)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "GOVSVC_ENV": "test"},
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{row['evidence_mib']:>5} MiB evidence  pack {row['pack_mib']:>7} MiB  "
            f"mutation {row['mutation_s']:>6} s  build {row['build_s']:>6} s  "
            f"RSS before {row['rss_before_mib']:>6} MiB  peak {row['peak_rss_mib']:>6} MiB  "
            f"build cost {row['build_cost_mib']:>6} MiB  "
            f"(first, empty pack: {row['first_empty_pack_cost_mib']} MiB)",
            flush=True,
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
        machine["kernel"] = platform.release()
        when = datetime.now(UTC).isoformat(timespec="seconds")
        args.json.write_text(json.dumps({"at": when, "machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
