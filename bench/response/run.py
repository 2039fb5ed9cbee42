"""On-call response benchmark: escalations fired by `govsvc worker` processes, and whoIsOnCall
over GraphQL, on PostgreSQL.

    .venv/bin/python bench/response/run.py                        # both parts (~3 min)
    .venv/bin/python bench/response/run.py --part escalation      # or --part whoisoncall
    .venv/bin/python bench/response/run.py --json bench/response/results/run.json

One fresh schema `govsvc_bench_response_<pid>_<hex>` in --pg-url, migrated with
govsvc.migrate.upgrade, dropped afterwards (--keep keeps it).

Seeding. Through the domain use cases (`govsvc.usecase.run`, a system caller, every row with its
audit event; --chunk calls per unit of work): --units business units, 2 x --schedules people,
--schedules schedules (one layer, 2 members: two thirds weekly hand-offs on Monday 09:00, one
third daily at 09:00, in UTC / Europe/Berlin / America/New_York), one escalation policy per
schedule (level 1: that schedule, 60 s; level 2: another schedule of the unit, 3600 s; no
repeats), one service per policy, pointed at it with set_service_policy. Then in SQL, in the
domain's own tables (the use cases would take minutes for this many): --escalations incidents
(round-robin over the services), one active escalation each at level 1 (`level` 0) with the
policy's ladder, and the level-1 page it sent 60 s before its due time; the due times
(`next_at`) are spread evenly over --window seconds starting a few seconds after the insert.

Part `escalation`: --workers `govsvc worker` processes (GOVSVC_WORKER_ESCALATION_INTERVAL_SECONDS
= --interval) are started before the escalations are inserted. While they work, this process
polls oncall_page every --poll s and notes when each level-2 page first becomes visible
(committed), and samples pg_locks for waiters on this schema's audit-chain advisory lock.
Lateness per escalation = (time its level-2 page was seen committed, or the page's recorded
paged_at) - due time. Then, in SQL: pages per (escalation, level, round) (exactly once),
escalation states and levels, audit events and timeline entries; `govsvc audit verify`.

Part `whoisoncall`: `govsvc serve` (embedded worker off), an admin token, then
`whoIsOnCall(serviceId, at)` for every service: one request per service (sequential, then 10
concurrent clients), documents of --aliases aliased fields (the server's max_aliases, 20 by
default), a JSON batch, and one document with every service aliased, on a second server whose
GOVSVC_GRAPHQL_MAX_ALIASES / _MAX_TOKENS allow it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: load.py
import load

import govsvc
from govsvc import usecase
from govsvc.caller import Caller
from govsvc.db import AUDIT_CHAIN_LOCK
from govsvc.graphql.relay import global_id
from govsvc.migrate import upgrade
from govsvc.oncall import escalation, schedules
from govsvc.org import service as org_service
from govsvc.runtime import Runtime
from govsvc.settings import Environment, Settings

BIN = Path(sys.executable).parent
GOVSVC = BIN / "govsvc"
REPO = Path(govsvc.__file__).resolve().parents[1]
SECRET = "bench-response-secret-" + "k" * 40
MASTER_KEY = "bench-response-master-key-" + "m" * 40
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
LEVEL2_TIMEOUT = 3600  # long: each escalation fires exactly one level during the run


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_dsn(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile of unsorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def summary_ms(values_s: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 1),
        "p90_ms": round(pct(ms, 90), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else None,
        "min_ms": round(min(ms), 1) if ms else None,
        "mean_ms": round(sum(ms) / len(ms), 1) if ms else None,
    }


# ---------------------------------------------------------------------------- environment


@dataclass
class Env:
    pg_url: str
    schema: str
    workdir: Path
    service_pks: list[int] = field(default_factory=list)

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSVC_")}
        env.update(
            GOVSVC_ENV=Environment.TEST.value,
            GOVSVC_SECRET_KEY=SECRET,
            GOVSVC_MASTER_KEY=MASTER_KEY,
            GOVSVC_DATABASE_URL=self.pg_url,
            GOVSVC_DATABASE_SCHEMA=self.schema,
            GOVSVC_STORAGE_URL=(self.workdir / "vault").as_uri(),
        )
        env.update(extra)
        return env

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            _dsn(self.pg_url), server_settings={"search_path": self.schema}
        )


@contextlib.contextmanager
def fresh_env(pg_url: str, keep: bool) -> Iterator[Env]:
    workdir = Path(tempfile.mkdtemp(prefix="govsvc-bench-response-"))
    schema = f"govsvc_bench_response_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_execute(pg_url, f'CREATE SCHEMA "{schema}"'))
    try:
        upgrade(pg_url, schema)
        yield Env(pg_url, schema, workdir)
    finally:
        if keep:
            print(f"kept schema {schema} and {workdir}", file=sys.stderr)
        else:
            asyncio.run(_pg_execute(pg_url, f'DROP SCHEMA "{schema}" CASCADE'))
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def process(
    env: Env, args: list[str], log_name: str, command: list[str] | None = None, **extra: str
) -> Iterator[subprocess.Popen]:
    with open(env.workdir / log_name, "w") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [*(command or [str(GOVSVC)]), *args],
            env=env.environ(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def server(env: Env, **extra: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    extra = {"GOVSVC_WORKER_EMBEDDED": "false", "GOVSVC_PORT": str(port), **extra}
    with process(env, ["serve", "--port", str(port)], f"server-{port}.log", **extra) as proc:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {env.workdir}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready after 60 s")
            time.sleep(0.2)
        yield base, proc.pid


def log_problems(env: Env) -> dict[str, list[str]]:
    out = {}
    for path in sorted(env.workdir.glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        bad = [
            ln for ln in lines if "Error" in ln or "Traceback" in ln or "exception" in ln.lower()
        ]
        out[path.name] = bad[:8]
    return out


# ---------------------------------------------------------------------------- seeding


def runtime_for(env: Env) -> Runtime:
    saved = dict(os.environ)
    os.environ.update(env.environ())
    try:
        return Runtime.build(Settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def _many(uc: usecase.UseCase, fn: Any, calls: list[dict[str, Any]]) -> list[Any]:
    """Several calls of one use case in one unit of work (each with its own audit event)."""
    return [await fn(uc, **kwargs) for kwargs in calls]


async def seed_domain(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    runtime = runtime_for(env)
    caller = Caller.system(runtime.policies.access, "bench:seed")
    timings: dict[str, float] = {}

    async def run_chunked(name: str, fn: Any, calls: list[dict[str, Any]]) -> list[Any]:
        began = time.perf_counter()
        out: list[Any] = []
        for i in range(0, len(calls), args.chunk):
            out += await usecase.run(runtime, caller, _many, fn, calls[i : i + args.chunk])
        timings[name] = round(time.perf_counter() - began, 2)
        return out

    try:
        units = await run_chunked(
            "business_units",
            org_service.create_business_unit,
            [{"code": f"unit-{u}", "name": f"Unit {u}"} for u in range(args.units)],
        )
        people = await run_chunked(
            "people",
            org_service.create_person,
            [
                {"email": f"oncall-{p:04d}@example.com", "name": f"On-call {p}"}
                for p in range(2 * args.schedules)
            ],
        )
        schedule_calls = []
        for s in range(args.schedules):
            daily = s % 3 == 2
            schedule_calls.append(
                {
                    "business_unit_id": units[s % args.units].id,
                    "name": f"Schedule {s}",
                    "layers": [
                        schedules.LayerSpec(
                            name="primary",
                            time_zone=ZONES[s % len(ZONES)],
                            rrule=(
                                "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"
                                if daily
                                else "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0"
                            ),
                            start="2026-01-05T09:00",
                            member_ids=[people[2 * s].id, people[2 * s + 1].id],
                        )
                    ],
                }
            )
        found = await run_chunked("schedules", schedules.create_schedule, schedule_calls)
        n = args.schedules
        policies = await run_chunked(
            "escalation_policies",
            escalation.create_policy,
            [
                {
                    "business_unit_id": units[s % args.units].id,
                    "name": f"Policy {s}",
                    "repeats": 0,
                    "levels": [
                        escalation.LevelSpec(60, [("schedule", found[s].id)]),
                        # another schedule of the same unit (schedule s lives in unit s % units)
                        escalation.LevelSpec(
                            LEVEL2_TIMEOUT, [("schedule", found[(s + args.units) % n].id)]
                        ),
                    ],
                }
                for s in range(n)
            ],
        )
        services = await run_chunked(
            "services",
            org_service.create_service,
            [
                {
                    "code": f"svc-{s:03d}",
                    "name": f"Service {s}",
                    "business_unit_id": units[s % args.units].id,
                    "tier": 1,
                    "availability_target_pct": 99.9,
                    "latency_threshold_ms": 300,
                    "latency_outage_ms": 5000,
                }
                for s in range(n)
            ],
        )
        await run_chunked(
            "set_service_policy",
            escalation.set_service_policy,
            [{"service_id": services[s].id, "policy_id": policies[s].id} for s in range(n)],
        )
    finally:
        await runtime.db.dispose()
    env.service_pks = [s.id for s in services]
    timings["total"] = round(sum(timings.values()), 2)
    return {"method": "use cases via govsvc.usecase.run (system caller)", "seconds": timings}


async def seed_escalations(
    env: Env, *, count: int, window_s: float, lead_s: float
) -> dict[str, Any]:
    """Incidents, active escalations at level 1 and their level-1 pages, in SQL; due times
    spread evenly over the window. Returns the first due time."""
    connection = await env.connect()
    began = time.perf_counter()
    try:
        async with connection.transaction():
            version = await connection.fetchval(
                "SELECT coalesce(max(version), 'bench') FROM ("
                " SELECT classification_policy_version AS version FROM incident LIMIT 1) v"
            )
            now = datetime.now(UTC)
            first_incident = await connection.fetchval("SELECT coalesce(max(id), 0) FROM incident")
            first_escalation = await connection.fetchval(
                "SELECT coalesce(max(id), 0) FROM escalation"
            )
            await connection.execute(
                """
                INSERT INTO incident (title, summary, service_id, business_unit_id, sensitivity,
                    status, severity, impact_kind, classification_policy_version,
                    severity_overridden, customers_affected, data_exposure, regulatory_exposure,
                    unavailable, detected_at, created_by, created_at, updated_at)
                SELECT 'Bench outage ' || g, '', s.id, s.business_unit_id, 'internal',
                    'investigating', 'SEV2', 'outage', $2, false, 0, 'none', false, true,
                    $3, 'bench:seed', $3, $3
                FROM generate_series(0, $1 - 1) g
                JOIN (SELECT id, business_unit_id, row_number() OVER (ORDER BY id) - 1 AS n
                      FROM service) s
                  ON s.n = g % (SELECT count(*) FROM service)
                ORDER BY g
                """,
                count,
                version,
                now,
            )
            t0 = datetime.now(UTC) + timedelta(seconds=lead_s)
            await connection.execute(
                """
                INSERT INTO escalation (incident_id, policy_id, business_unit_id, policy_version,
                    ladder, repeats, level, round, state, next_at, started_at, started_by)
                SELECT i.id, p.id, i.business_unit_id, p.version, p.levels, p.repeats, 0, 0,
                    'active', d.due, d.due - interval '60 seconds', 'bench:seed'
                FROM (SELECT id, service_id, business_unit_id,
                             row_number() OVER (ORDER BY id) - 1 AS k
                      FROM incident WHERE id > $4) i
                JOIN service_escalation se ON se.service_id = i.service_id
                JOIN escalation_policy p ON p.id = se.policy_id
                CROSS JOIN LATERAL (SELECT $1::timestamptz
                    + i.k * ($2::float8 / $3::float8) * interval '1 second' AS due) d
                """,
                t0,
                float(window_s),
                float(count),
                first_incident,
            )
            # The level-1 page each escalation sent when it started (to the first member of its
            # level-1 schedule): what the worker's rest-rule lookup reads.
            await connection.execute(
                """
                INSERT INTO oncall_page (escalation_id, incident_id, business_unit_id,
                    principal_id, level, round, target, state, channels, delivery_ids, paged_at)
                SELECT e.id, e.incident_id, e.business_unit_id,
                    (SELECT min(m.principal_id) FROM oncall_schedule_member m
                      WHERE m.schedule_id = (e.ladder::json -> 0 -> 'targets' -> 0 ->> 'id')::int),
                    1, 1, 'schedule:' || (e.ladder::json -> 0 -> 'targets' -> 0 ->> 'id'),
                    'sent', '', '[]', e.started_at
                FROM escalation e WHERE e.id > $1
                """,
                first_escalation,
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return {
        "method": "SQL inserts into incident, escalation, oncall_page",
        "seconds": round(time.perf_counter() - began, 2),
        "first_due": t0,
    }


# ---------------------------------------------------------------------------- part 1


LOCK_WAITERS = """
SELECT count(*) FILTER (WHERE NOT granted), count(*) FILTER (WHERE granted)
FROM pg_locks
WHERE locktype = 'advisory' AND classid = $1::bigint::oid
  AND objid = ((hashtext($2)::bigint + 4294967296) % 4294967296)::oid
"""


async def watch(env: Env, total: int, deadline: float, poll_s: float) -> dict[str, Any]:
    """Poll for committed level-2 pages; sample waiters on the audit-chain lock."""
    connection = await env.connect()
    seen: dict[int, datetime] = {}
    max_id = 0
    lock_samples: list[tuple[int, int]] = []
    progress: list[tuple[float, int]] = []
    try:
        while len(seen) < total and time.monotonic() < deadline:
            rows = await connection.fetch(
                "SELECT id, escalation_id FROM oncall_page WHERE level = 2 AND id > $1",
                max(0, max_id - 1000),  # ids commit out of order across concurrent workers
            )
            at = datetime.now(UTC)
            for page_id, escalation_id in rows:
                seen.setdefault(escalation_id, at)
                max_id = max(max_id, page_id)
            waiting, holding = await connection.fetchrow(LOCK_WAITERS, AUDIT_CHAIN_LOCK, env.schema)
            lock_samples.append((waiting, holding))
            progress.append((time.monotonic(), len(seen)))
            await asyncio.sleep(poll_s)
    finally:
        await connection.close()
    return {"seen": seen, "lock_samples": lock_samples, "progress": progress}


async def escalation_sql(env: Env, seen: dict[int, datetime]) -> dict[str, Any]:
    connection = await env.connect()
    try:
        rows = await connection.fetch(
            """
            SELECT e.id, e.started_at + interval '60 seconds' AS due, p.paged_at, e.next_at,
                   e.level, e.state
            FROM escalation e JOIN oncall_page p ON p.escalation_id = e.id AND p.level = 2
            """
        )
        per_key = dict(
            await connection.fetch(
                "SELECT n, count(*) FROM (SELECT escalation_id, level, round, count(*) AS n"
                " FROM oncall_page GROUP BY 1, 2, 3) x GROUP BY n"
            )
        )
        level2_per_escalation = dict(
            await connection.fetch(
                "SELECT n, count(*) FROM (SELECT e.id, count(p.id) AS n FROM escalation e"
                " LEFT JOIN oncall_page p ON p.escalation_id = e.id AND p.level = 2"
                " GROUP BY e.id) x GROUP BY n"
            )
        )
        states = [
            dict(r)
            for r in await connection.fetch(
                "SELECT state, level, round, count(*) FROM escalation GROUP BY 1, 2, 3 ORDER BY 1"
            )
        ]
        page_states = dict(
            await connection.fetch(
                "SELECT state, count(*) FROM oncall_page WHERE level = 2 GROUP BY 1"
            )
        )
        audit = dict(
            await connection.fetch(
                "SELECT action, count(*) FROM audit_event WHERE action LIKE 'escalation.%'"
                " GROUP BY 1"
            )
        )
        timeline = await connection.fetchval(
            "SELECT count(*) FROM timeline_entry WHERE kind = 'paging'"
        )
        next_ok = await connection.fetchval(
            "SELECT count(*) FROM escalation e JOIN oncall_page p"
            " ON p.escalation_id = e.id AND p.level = 2"
            " WHERE e.next_at = p.paged_at + $1 * interval '1 second'",
            float(LEVEL2_TIMEOUT),
        )
    finally:
        await connection.close()
    recorded = [(r["paged_at"] - r["due"]).total_seconds() for r in rows]
    visible = [(seen[r["id"]] - r["due"]).total_seconds() for r in rows if r["id"] in seen]
    commit_after_record = [
        (seen[r["id"]] - r["paged_at"]).total_seconds() for r in rows if r["id"] in seen
    ]
    return {
        "level2_pages": len(rows),
        "pages_per_escalation_level_round": {str(k): v for k, v in per_key.items()},
        "level2_pages_per_escalation": {str(k): v for k, v in level2_per_escalation.items()},
        "escalation_states": states,
        "level2_page_states": page_states,
        "next_at_is_paged_at_plus_timeout": next_ok,
        "audit_events": audit,
        "paging_timeline_entries": timeline,
        "lateness_visible": summary_ms(visible),
        "lateness_recorded_paged_at": summary_ms(recorded),
        "commit_after_paged_at": summary_ms(commit_after_record),
        "early": sum(1 for v in recorded if v < 0),
    }


def audit_verify(env: Env) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        [str(GOVSVC), "audit", "verify"], env=env.environ(), capture_output=True, text=True
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return {"exit": done.returncode, "output": [ln for ln in lines if "WORM" not in ln][-5:]}


async def profile_one_batch(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    """One escalate_due run in this process, on a fresh batch of due escalations (workers
    stopped): statements by kind, wall time, time from the first audit-chain lock to commit,
    and the top functions by cumulative time (cProfile)."""
    import cProfile
    import pstats
    from io import StringIO

    from sqlalchemy import event

    await seed_escalations(env, count=args.profile_batch, window_s=0.001, lead_s=-1.0)
    runtime = runtime_for(env)
    caller = Caller.system(runtime.policies.access, "system:worker")
    statements: dict[str, int] = {}
    marks: dict[str, float] = {}

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        words = statement.split()
        head = " ".join(words[:3])
        if "pg_advisory_xact_lock" in statement:
            head = "SELECT pg_advisory_xact_lock"
            marks.setdefault("lock", time.perf_counter())
        elif words[0] == "SELECT" and "FROM" in words:
            head = "SELECT ... FROM " + words[words.index("FROM") + 1]  # noqa: S608 - a label
        statements[head] = statements.get(head, 0) + 1

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    profiler = cProfile.Profile()
    try:
        await usecase.run(runtime, caller, escalation.escalate_due, batch=1)  # warm caches
        statements.clear()
        marks.clear()
        began = time.perf_counter()
        moved = await usecase.run(runtime, caller, escalation.escalate_due)
        done = time.perf_counter()
        counted = dict(statements)
        # a second batch under cProfile (which slows it down: shares only)
        await seed_escalations(env, count=args.profile_batch, window_s=0.001, lead_s=-1.0)
        profiler.enable()
        await usecase.run(runtime, caller, escalation.escalate_due)
        profiler.disable()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        await runtime.db.dispose()
    text = StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
    lines = [ln for ln in text.getvalue().splitlines() if "govsvc" in ln or "ncalls" in ln][:25]
    return {
        "escalations_moved": moved,
        "wall_ms": round((done - began) * 1000, 1),
        "ms_per_escalation": round((done - began) * 1000 / max(1, moved), 2),
        "audit_lock_held_ms": round((done - marks["lock"]) * 1000, 1) if "lock" in marks else None,
        "audit_lock_held_share_of_batch": (
            round((done - marks["lock"]) / (done - began), 3) if "lock" in marks else None
        ),
        "statements": sum(counted.values()),
        "statements_per_escalation": round(sum(counted.values()) / max(1, moved), 1),
        "statements_by_kind": dict(sorted(counted.items(), key=lambda kv: -kv[1])),
        "cprofile_govsvc_cumulative": lines,
    }


def part_escalation(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    extra = {
        "GOVSVC_WORKER_ESCALATION_INTERVAL_SECONDS": str(args.interval),
        "GOVSVC_WORKER_EMBEDDED": "false",
    }
    out: dict[str, Any] = {
        "workers": args.workers,
        "interval_s": args.interval,
    }
    command = None
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(process(env, ["worker"], f"worker-{w}.log", command, **extra))
            for w in range(args.workers)
        ]
        time.sleep(args.worker_start_s)  # imports, policies, the first run of every job
        for w in workers:
            if w.poll() is not None:
                raise RuntimeError(f"worker exited with {w.returncode}; see {env.workdir}")
        seeded = asyncio.run(
            seed_escalations(env, count=args.escalations, window_s=args.window, lead_s=args.lead)
        )
        out["seed_sql"] = {k: v for k, v in seeded.items() if k != "first_due"}
        first_due: datetime = seeded["first_due"]
        cpu0 = (
            [load.process_cpu_s(w.pid) for w in workers],
            load.postgres_cpu_s(),
            load.machine_busy_cpu_s(),
            time.process_time(),
        )
        wall0 = time.monotonic()
        deadline = wall0 + args.lead + args.window + args.grace
        watched = asyncio.run(watch(env, args.escalations, deadline, args.poll))
        wall = time.monotonic() - wall0
        worker_cpu = [load.process_cpu_s(w.pid) - c for w, c in zip(workers, cpu0[0], strict=True)]
        pg_cpu = load.postgres_cpu_s() - cpu0[1]
        machine_cpu = load.machine_busy_cpu_s() - cpu0[2]
        client_cpu = time.process_time() - cpu0[3]
    seen: dict[int, datetime] = watched["seen"]
    last = max(seen.values()) if seen else None
    active_s = (last - first_due).total_seconds() if last else None
    locks = watched["lock_samples"]
    busy = [s for s in locks if s[1] > 0]
    out["phase"] = {
        "wall_s": round(wall, 1),
        "seconds_from_first_due_to_last_page": round(active_s, 2) if active_s else None,
        "fired": len(seen),
        "fired_per_s_over_window": round(len(seen) / active_s, 1) if active_s else None,
        "required_per_s": round(args.escalations / args.window, 1),
        "cpu_s": {
            "workers": [round(c, 1) for c in worker_cpu],
            "postgres": round(pg_cpu, 1),
            "bench_client": round(client_cpu, 1),
            "foreign": round(machine_cpu - sum(worker_cpu) - pg_cpu - client_cpu, 1),
        },
        "worker_cpu_ms_per_escalation": round(sum(worker_cpu) * 1000 / max(1, len(seen)), 2),
        "audit_lock_samples": len(locks),
        "audit_lock_held_share": round(len(busy) / len(locks), 3) if locks else None,
        "audit_lock_waiter_share_while_held": (
            round(sum(1 for s in busy if s[0] > 0) / len(busy), 3) if busy else None
        ),
    }
    # Backlog over time: fired vs due, every 5 s of the window.
    curve = []
    t_first = wall0 + args.lead
    for t, n in watched["progress"]:
        rel = t - t_first
        if not curve or rel - curve[-1]["t_s"] >= 5:
            due = max(0, min(args.escalations, int(rel / args.window * args.escalations)))
            curve.append({"t_s": round(rel, 1), "due": due, "fired": n, "backlog": due - n})
    out["backlog_curve"] = curve
    out["sql"] = asyncio.run(escalation_sql(env, seen))
    out["audit_verify"] = audit_verify(env)
    if args.profile_batch:
        out["profile_one_batch_in_process"] = asyncio.run(profile_one_batch(env, args))
    return out


# ---------------------------------------------------------------------------- part 2


def mint_admin(env: Env) -> str:
    done = subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        [str(GOVSVC), "token", "create", "--email", "bench@example.com", "--role", "admin"],
        env=env.environ(),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


FIELDS = "target shift { start end source layer } person { email name }"
ONE = f"query($s: ID!, $at: DateTime) {{ whoIsOnCall(serviceId: $s, at: $at) {{ {FIELDS} }} }}"


def aliased(ids: list[str], at: str) -> str:
    parts = " ".join(
        f's{n}: whoIsOnCall(serviceId: "{sid}", at: "{at}") {{ {FIELDS} }}'
        for n, sid in enumerate(ids)
    )
    return "{ " + parts + " }"


def _check(body: Any, fields: int) -> str | None:
    if not isinstance(body, dict) or body.get("errors"):
        return f"errors: {str(body)[:300]}"
    data = body.get("data") or {}
    if len(data) != fields:
        return f"{len(data)} fields, expected {fields}"
    for answer in data.values():
        if len(answer) != 1 or not answer[0]["person"] or answer[0]["shift"] is None:
            return f"unexpected answer {answer}"
    return None


async def timed_posts(
    base: str, token: str, bodies: list[dict[str, Any]], fields: int, concurrency: int
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def loop() -> None:
            while queue:
                body = queue.pop()
                began = time.perf_counter()
                response = await client.post("/graphql", json=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                problem = (
                    f"HTTP {response.status_code}: {response.text[:200]}"
                    if response.status_code != 200
                    else _check(response.json(), fields)
                )
                if problem:
                    errors.append(problem)

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return latencies, errors


def measured(
    base: str, pid: int, token: str, bodies: list[dict[str, Any]], fields: int, concurrency: int = 1
) -> dict[str, Any]:
    cpu0 = load.process_cpu_s(pid), load.postgres_cpu_s(), load.machine_busy_cpu_s()
    client0, wall0 = time.process_time(), time.perf_counter()
    latencies, errors = asyncio.run(timed_posts(base, token, bodies, fields, concurrency))
    wall = time.perf_counter() - wall0
    server = load.process_cpu_s(pid) - cpu0[0]
    pg = load.postgres_cpu_s() - cpu0[1]
    machine = load.machine_busy_cpu_s() - cpu0[2]
    client = time.process_time() - client0
    return summary_ms(latencies) | {
        "requests": len(bodies),
        "concurrency": concurrency,
        "fields_per_request": fields,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": round(wall, 2),
        "server_cpu_ms_per_request": round(server * 1000 / len(bodies), 2),
        "postgres_cpu_ms_per_request": round(pg * 1000 / len(bodies), 2),
        "foreign_cores": round((machine - server - pg - client) / wall, 2),
    }


def part_whoisoncall(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    token = mint_admin(env)
    ids = [global_id("Service", pk) for pk in env.service_pks]
    at = datetime.now(UTC).isoformat()
    singles = [{"query": ONE, "variables": {"s": sid, "at": at}} for sid in ids]
    out: dict[str, Any] = {"services": len(ids), "at": at}
    with server(env) as (base, pid):
        measured(base, pid, token, singles[: args.warmup], 1)  # warm-up, discarded
        out["one_per_service_sequential"] = measured(base, pid, token, singles, 1)
        out["one_per_service_10_clients"] = measured(base, pid, token, singles, 1, 10)
        docs = [
            {"query": aliased(ids[i : i + args.aliases], at)}
            for i in range(0, len(ids), args.aliases)
        ]
        out[f"aliased_{args.aliases}_per_document"] = measured(base, pid, token, docs, args.aliases)
        began = time.perf_counter()
        batch = httpx.post(
            f"{base}/graphql",
            json=singles[:2],
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        out["json_batch_of_2"] = {
            "status": batch.status_code,
            "body": batch.text[:200],
            "ms": round((time.perf_counter() - began) * 1000, 1),
        }
        refused = httpx.post(
            f"{base}/graphql",
            json={"query": aliased(ids, at)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        out["all_aliased_default_limits"] = {
            "status": refused.status_code,
            "body": refused.text[:300],
        }
    limits = {
        "GOVSVC_GRAPHQL_MAX_ALIASES": str(len(ids) + 10),
        "GOVSVC_GRAPHQL_MAX_TOKENS": str(40 * len(ids) + 1000),
    }
    with server(env, **limits) as (base, pid):
        measured(base, pid, token, [{"query": aliased(ids, at)}], len(ids))  # warm-up
        out["all_aliased_one_document"] = measured(
            base, pid, token, [{"query": aliased(ids, at)}] * args.repeat_all, len(ids)
        ) | {"server_env": limits}
    return out


def part_rotation() -> dict[str, Any]:
    """Pure computation: rotation.shift_at for one-layer schedules of different ages and
    hand-off frequencies (the lookup walks hand-offs from the layer's start)."""
    from govsvc.oncall import rotation

    at = datetime.now(UTC)
    out = {}
    for label, rrule, start in (
        ("weekly, started 2026-01-05", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", "2026-01-05"),
        ("daily, started 2026-01-05", "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "2026-01-05"),
        ("daily, started 2021-01-04", "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "2021-01-04"),
        ("weekly, started 2016-01-04", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0", "2016-01-04"),
        ("hourly, started 2026-06-01", "FREQ=HOURLY;BYMINUTE=0", "2026-06-01"),
        ("hourly, started 2025-01-06", "FREQ=HOURLY;BYMINUTE=0", "2025-01-06"),
    ):
        layer = rotation.parse_layer(
            name="primary",
            time_zone="Europe/Berlin",
            rrule_text=rrule,
            start=f"{start}T09:00",
            members=[1, 2, 3],
            windows=[],
            field="layers.0",
        )
        times = []
        for _ in range(5):
            began = time.perf_counter()
            rotation.shift_at([layer], [], at)
            times.append(time.perf_counter() - began)
        out[label] = {"shift_at_ms_median_of_5": round(sorted(times)[2] * 1000, 2)}
    return out


# ---------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()  # noqa: S607
    commit = subprocess.run(  # noqa: S603
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],  # noqa: S607
        capture_output=True,
        text=True,
    ).stdout.strip()
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "lscpu": lscpu[:15],
        "loadavg_at_start": loadavg,
        "python": platform.python_version(),
        "postgresql": asyncio.run(_pg_version()),
        "tree": str(REPO),
        "commit": commit,
    }


async def _pg_version() -> str:
    connection = await asyncpg.connect(_dsn(DEFAULT_PG_URL))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--part", action="append", choices=("escalation", "whoisoncall", "rotation"))
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--units", type=int, default=5)
    p.add_argument("--schedules", type=int, default=500, help="= policies = services")
    p.add_argument("--chunk", type=int, default=50, help="use-case calls per unit of work")
    p.add_argument("--escalations", type=int, default=10_000)
    p.add_argument("--window", type=float, default=60.0, help="due times spread over (s)")
    p.add_argument("--lead", type=float, default=5.0, help="first due, s after the insert")
    p.add_argument("--grace", type=float, default=180.0, help="wait after the window (s)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--interval", type=float, default=0.2, help="escalation job interval (s)")
    p.add_argument("--worker-start-s", type=float, default=6.0)
    p.add_argument("--poll", type=float, default=0.05, help="page visibility poll (s)")
    p.add_argument("--profile-batch", type=int, default=51, help="0: no in-process profile")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--aliases", type=int, default=20, help="fields per aliased document")
    p.add_argument("--repeat-all", type=int, default=5, help="requests of the 500-alias doc")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--json", type=Path)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    parts = args.part or ["escalation", "whoisoncall", "rotation"]
    report: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    with fresh_env(args.pg_url, args.keep) as env:
        began = time.perf_counter()
        report["seed_domain"] = asyncio.run(seed_domain(env, args))
        print(f"seeded in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        if "escalation" in parts:
            began = time.perf_counter()
            report["escalation"] = part_escalation(env, args)
            print(f"[escalation] {time.perf_counter() - began:.0f} s", file=sys.stderr)
        if "whoisoncall" in parts:
            began = time.perf_counter()
            report["whoisoncall"] = part_whoisoncall(env, args)
            print(f"[whoisoncall] {time.perf_counter() - began:.0f} s", file=sys.stderr)
        if "rotation" in parts:
            report["rotation"] = part_rotation()
        report["log_problems"] = log_problems(env)
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
