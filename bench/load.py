"""A closed-loop load generator: N workers share one httpx.AsyncClient and a request budget.

Each worker sends its next request as soon as the previous one answered (no think time), so
`concurrency` is the number of requests in flight. Latency is measured around `client.post`,
which includes the client's own work (encoding, parsing the response headers and body).

Besides latencies it samples CPU time over the measured phase, so the cost of the load generator
itself is visible: the server process (from /proc/<pid>/stat), this process (the client) and
PostgreSQL (every process named postgres) and the whole machine (/proc/stat). SQLite runs in
threads of the server process and so counts as server. What is left ("foreign") is anything
else running on the machine, which should be near zero for a clean measurement.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK")

Body = dict[str, Any]
Check = Callable[[httpx.Response], str | None]  # an error description, or None when fine


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    first_error: str | None
    wall_s: float
    latencies_ms: list[float]  # sorted
    server_cpu_s: float
    client_cpu_s: float
    postgres_cpu_s: float
    machine_cpu_s: float

    @property
    def foreign_cpu_s(self) -> float:
        """Busy CPU not ours: another workload on the machine (kernel work on our behalf too)."""
        return self.machine_cpu_s - self.server_cpu_s - self.client_cpu_s - self.postgres_cpu_s

    @property
    def throughput(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile (no interpolation): p99 of 1000 samples is the 990th."""
        if not self.latencies_ms:
            return math.nan
        rank = max(1, math.ceil(p / 100 * len(self.latencies_ms)))
        return self.latencies_ms[rank - 1]

    def per_request_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.requests if self.requests else math.nan


def process_cpu_s(pid: int) -> float:
    """User + system CPU of a process, all its threads included (seconds)."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may contain spaces; fields after the closing parenthesis are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def postgres_cpu_s() -> float:
    """CPU of every live process named postgres (server, backends, background workers).

    A backend that exits during a phase takes its CPU with it; the server's pool keeps its
    connections open, so in practice little is lost."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            total += process_cpu_s(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def machine_busy_cpu_s() -> float:
    """CPU seconds spent not idle, summed over all CPUs, since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    steal_guest = sum(values[7:]) if len(values) > 7 else 0  # steal, guest, guest_nice
    return (sum(values) - idle - steal_guest) / CLK_TCK


async def run(
    client: httpx.AsyncClient,
    make_body: Callable[[int], Body],
    check: Check,
    *,
    concurrency: int,
    requests: int,
    warmup: int,
    server_pid: int,
) -> Result:
    """Warm up with `warmup` requests (discarded), then measure exactly `requests` requests."""
    await _phase(client, make_body, check, concurrency=concurrency, total=warmup, offset=0)

    cpu_server0, cpu_client0, cpu_pg0, cpu_machine0 = (
        process_cpu_s(server_pid),
        time.process_time(),
        postgres_cpu_s(),
        machine_busy_cpu_s(),
    )
    started = time.perf_counter()
    latencies, errors, first_error = await _phase(
        client, make_body, check, concurrency=concurrency, total=requests, offset=warmup
    )
    wall = time.perf_counter() - started
    return Result(
        requests=requests,
        errors=errors,
        first_error=first_error,
        wall_s=wall,
        latencies_ms=sorted(latencies),
        server_cpu_s=process_cpu_s(server_pid) - cpu_server0,
        client_cpu_s=time.process_time() - cpu_client0,
        postgres_cpu_s=postgres_cpu_s() - cpu_pg0,
        machine_cpu_s=machine_busy_cpu_s() - cpu_machine0,
    )


async def _phase(
    client: httpx.AsyncClient,
    make_body: Callable[[int], Body],
    check: Check,
    *,
    concurrency: int,
    total: int,
    offset: int,
) -> tuple[list[float], int, str | None]:
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors, first_error
        while next_index < total:
            index = next_index
            next_index += 1
            body = make_body(offset + index)
            t0 = time.perf_counter()
            try:
                response = await client.post("/graphql", json=body)
                problem = check(response)
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            latencies.append((time.perf_counter() - t0) * 1000)
            if problem is not None:
                errors += 1
                first_error = first_error or problem

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(total, 1)))))
    return latencies, errors, first_error
