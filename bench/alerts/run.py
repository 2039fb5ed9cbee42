"""Alert ingestion benchmark: Alertmanager webhooks into a real `govsvc serve` on PostgreSQL.

    .venv/bin/python bench/alerts/run.py                       # all three scenarios (~4 min)
    .venv/bin/python bench/alerts/run.py --quick               # shorter storm and runs (~2 min)
    .venv/bin/python bench/alerts/run.py --scenario storm --storm-alerts 20000 --storm-seconds 60
    .venv/bin/python bench/alerts/run.py --json bench/alerts/results/run.json

Each scenario gets a database of its own (a fresh schema `govsvc_bench_alerts_<pid>_<hex>` in
--pg-url, migrated with govsvc.migrate.upgrade) and its own server (`govsvc serve --port`, with
GOVSVC_ENV=test, the embedded worker on as by default), so that incidents one scenario opens do
not absorb the next one's alerts by correlation. Seeding goes over GraphQL with an admin token
(`govsvc token create --role admin`): --units business units holding --services tier-1 services
in all, a machine `alertmanager` with the alert_source role on every unit, and its API token.
Payloads are Alertmanager's webhook version 4, shaped as tests/alerts/fixtures records it.

Scenarios:

  sustained  --senders closed-loop senders post batches of --batch alerts for --duration s
             (after --warmup s): each batch spans 10 services, half new fingerprints, half
             repeats of the sender's earlier ones (a tenth of those resolving, and resolved
             ones firing again); new ones are 10 % critical (they open or join an incident),
             60 % warning (pending: the rule wants 5 minutes), 30 % info (ignored).
             Reports alerts/s (target >= 2,000).
  storm      --storm-alerts distinct critical alerts in batches of --batch, one service per
             batch (Alertmanager groups by alertname and service), round-robin over all
             services, paced evenly over --storm-seconds (open loop: a batch is due at its time
             whoever is free, up to --storm-senders in flight). Then counts in SQL: alerts
             stored (= sent: none lost), incidents opened (<= one per service + storm
             incidents), pages sent and suppressed (alert_event kinds paged / page_suppressed),
             and the most pages in any storm window against policies/detection.yaml's limits.
  latency    --latency-sources senders, each as its own Alertmanager source (a copy of
             policies/ with sources alertmanager-01..N added; --latency-sources 1 posts all as
             the configured `alertmanager`), each posting a payload of 5 alerts (2 new, 3
             repeats) every --latency-interval s (open loop, random phase), for --duration s;
             then the same senders closed loop. Reports p50/p90/p99/max (target p99 < 100 ms
             at 20 sources).

CPU is accounted as in bench/load.py: the server process, PostgreSQL (all `postgres`
processes), this client, and the whole machine. Results: bench/alerts/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: load.py
import load

import govsvc
from govsvc.migrate import upgrade
from govsvc.settings import Environment

BIN = Path(sys.executable).parent
GOVSVC = BIN / "govsvc"
# The tree whose govsvc is imported (a snapshot first on PYTHONPATH, or this repository).
REPO = Path(govsvc.__file__).resolve().parents[1]
SECRET = "bench-alerts-secret-" + "k" * 40
MASTER_KEY = "bench-alerts-master-key-" + "m" * 40
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCENARIOS = ("sustained", "storm", "latency")


# ---------------------------------------------------------------------------- environment


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg_execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(_pg_dsn(url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Env:
    pg_url: str
    schema: str
    workdir: Path
    policies_dir: Path | None = None
    command: list[str] = field(default_factory=lambda: [str(GOVSVC)])
    base: str = ""
    server_pid: int = 0
    admin: str = ""
    machine: str = ""
    services: list[str] = field(default_factory=list)  # service codes
    unit_of: dict[str, str] = field(default_factory=dict)

    def environ(self, port: int | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSVC_")}
        env.update(
            GOVSVC_ENV=Environment.TEST.value,
            GOVSVC_SECRET_KEY=SECRET,
            GOVSVC_MASTER_KEY=MASTER_KEY,
            GOVSVC_DATABASE_URL=self.pg_url,
            GOVSVC_DATABASE_SCHEMA=self.schema,
            GOVSVC_STORAGE_URL=(self.workdir / "vault").as_uri(),
        )
        if self.policies_dir is not None:
            env["GOVSVC_POLICIES_DIR"] = str(self.policies_dir)
        if port is not None:
            env["GOVSVC_PORT"] = str(port)
        return env


def policies_with_sources(workdir: Path, count: int) -> Path:
    """A copy of policies/ whose alert_sources.yaml adds alertmanager-01..count."""
    target = workdir / "policies"
    shutil.copytree(REPO / "policies", target)
    path = target / "alert_sources.yaml"
    data = yaml.safe_load(path.read_text())
    data["sources"] += [
        {
            "name": f"alertmanager-{i:02d}",
            "kind": "alertmanager",
            "perspective": "agent",
            "machines": ["alertmanager"],
            "heartbeat": {"alertname": "Watchdog", "window_seconds": 300},
            "covers": [],
        }
        for i in range(1, count + 1)
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


@contextlib.contextmanager
def fresh_env(pg_url: str, keep: bool, sources: int = 0) -> Iterator[Env]:
    workdir = Path(tempfile.mkdtemp(prefix="govsvc-bench-alerts-"))
    schema = f"govsvc_bench_alerts_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_execute(pg_url, f'CREATE SCHEMA "{schema}"'))
    env = Env(pg_url, schema, workdir)
    if sources > 1:
        env.policies_dir = policies_with_sources(workdir, sources)
    try:
        upgrade(pg_url, schema)
        yield env
    finally:
        if keep:
            print(f"kept schema {schema} and {workdir}", file=sys.stderr)
        else:
            asyncio.run(_pg_execute(pg_url, f'DROP SCHEMA "{schema}" CASCADE'))
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def server(env: Env) -> Iterator[None]:
    port = free_port()
    log_path = env.workdir / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [*env.command, "serve", "--port", str(port)],
            env=env.environ(port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    env.base, env.server_pid = f"http://127.0.0.1:{port}", process.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{env.base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after 60 s; see {log_path}")
            time.sleep(0.2)
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def mint_admin(env: Env) -> str:
    done = subprocess.run(  # noqa: S603 - our own executable, fixed arguments
        [str(GOVSVC), "token", "create", "--email", "bench@example.com", "--role", "admin"],
        env=env.environ(),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


async def _gql(client: httpx.AsyncClient, token: str, query: str, variables: Any) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL failed: {body}")
    return body["data"]


async def seed(env: Env, *, units: int, services: int) -> None:
    """Units, tier-1 services spread over them, the alertmanager machine and its token."""
    env.admin = mint_admin(env)
    async with httpx.AsyncClient(base_url=env.base, timeout=30) as client:
        unit_ids = []
        for u in range(units):
            data = await _gql(
                client,
                env.admin,
                "mutation($i: BusinessUnitCreateInput!) { businessUnitCreate(input: $i) {"
                " businessUnit { id } errors { message } } }",
                {"i": {"code": f"unit-{u:02d}", "name": f"Unit {u}"}},
            )
            unit_ids.append(data["businessUnitCreate"]["businessUnit"]["id"])
        for s in range(services):
            code = f"svc-{s:02d}"
            data = await _gql(
                client,
                env.admin,
                "mutation($i: ServiceCreateInput!) { serviceCreate(input: $i) {"
                " service { id } errors { message } } }",
                {
                    "i": {
                        "code": code,
                        "name": f"Service {s}",
                        "businessUnitId": unit_ids[s % units],
                        "tier": 1,
                        "availabilityTargetPct": 99.9,
                        "latencyThresholdMs": 300,
                        "latencyOutageMs": 5000,
                    }
                },
            )
            assert data["serviceCreate"]["service"], data
            env.services.append(code)
            env.unit_of[code] = unit_ids[s % units]
        data = await _gql(
            client,
            env.admin,
            "mutation($i: MachineCreateInput!) { machineCreate(input: $i) {"
            " machine { id } errors { message } } }",
            {"i": {"handle": "alertmanager", "name": "Alertmanager"}},
        )
        machine_id = data["machineCreate"]["machine"]["id"]
        data = await _gql(
            client,
            env.admin,
            "mutation($i: GrantCreateInput!) { grantCreate(input: $i) { errors { message } } }",
            {"i": {"principalId": machine_id, "role": "alert_source", "businessUnitId": None}},
        )
        assert data["grantCreate"]["errors"] == [], data
        data = await _gql(
            client,
            env.admin,
            "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) { token } }",
            {"i": {"principalId": machine_id}},
        )
        env.machine = data["apiTokenCreate"]["token"]


# ---------------------------------------------------------------------------- payloads


def _ts(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def element(
    name: str, service: str, instance: str, severity: str, status: str, started: datetime
) -> dict[str, Any]:
    labels = {
        "alertname": name,
        "instance": instance,
        "job": "node",
        "location": "eu-west-1",
        "service": service,
        "severity": severity,
    }
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{name} on {instance}",
            "description": f"{name} on {instance} of {service} ({severity}).",
        },
        "startsAt": _ts(started),
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else _ts(datetime.now(UTC)),
        "generatorURL": f"http://prometheus:9090/graph?g0.expr=up%7Binstance%3D%22{instance}%22%7D",
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{service}/{instance}").hex[:16],
    }


def webhook(alerts: list[dict[str, Any]], seq: int) -> bytes:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    services = {a["labels"]["service"] for a in alerts}
    group = {"alertname": alerts[0]["labels"]["alertname"]}
    if len(services) == 1:
        group["service"] = next(iter(services))
    body = {
        "receiver": "govsvc",
        "status": status,
        "alerts": alerts,
        "groupLabels": group,
        "commonLabels": group,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{" + ", ".join(f'{k}="{v}"' for k, v in group.items()) + "}",
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


class Sender:
    """One Alertmanager's view: the alerts it has sent, to repeat some of them."""

    def __init__(self, index: int, services: list[str], rng: random.Random) -> None:
        self.index = index
        self.services = services
        self.rng = rng
        self.sent: list[dict[str, Any]] = []
        self.counter = 0

    def new(self, service: str, severity: str | None = None) -> dict[str, Any]:
        self.counter += 1
        if severity is None:
            roll = self.rng.random()
            severity = "critical" if roll < 0.1 else "warning" if roll < 0.7 else "info"
        started = datetime.now(UTC) - timedelta(seconds=self.rng.randint(5, 120))
        alert = element(
            "HostHighLoad" if severity != "critical" else "HostDown",
            service,
            f"host-{self.index:02d}-{self.counter:06d}",
            severity,
            "firing",
            started,
        )
        self.sent.append(alert)
        return alert

    def repeat(self) -> dict[str, Any]:
        alert = self.rng.choice(self.sent)
        if self.rng.random() < 0.1:  # change state: resolve, or fire again
            firing = alert["status"] == "firing"
            alert["status"] = "resolved" if firing else "firing"
            alert["endsAt"] = _ts(datetime.now(UTC)) if firing else "0001-01-01T00:00:00Z"
        return alert

    def mixed_batch(self, size: int, new_share: float, services_per_batch: int) -> list[Any]:
        services = self.rng.sample(self.services, min(services_per_batch, len(self.services)))
        out: dict[str, dict[str, Any]] = {}
        while len(out) < size:
            if not self.sent or self.rng.random() < new_share:
                alert = self.new(self.rng.choice(services))
            else:
                alert = self.repeat()
            out[alert["fingerprint"]] = dict(alert)
        return list(out.values())


# ---------------------------------------------------------------------------- load


@dataclass
class Sample:
    at: float
    latency_ms: float
    alerts: int
    ok: bool
    error: str | None = None


@dataclass
class Measured:
    samples: list[Sample]
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float
    postgres_cpu_s: float
    machine_cpu_s: float

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    def errors(self) -> tuple[int, str | None]:
        bad = [s for s in self.samples if not s.ok]
        return len(bad), bad[0].error if bad else None

    def percentile(self, p: float) -> float:
        values = sorted(s.latency_ms for s in self.ok)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]

    def summary(self) -> dict[str, Any]:
        alerts = sum(s.alerts for s in self.ok)
        errors, first = self.errors()
        return {
            "payloads": len(self.ok),
            "errors": errors,
            "first_error": first,
            "alerts": alerts,
            "wall_s": round(self.wall_s, 2),
            "alerts_per_s": round(alerts / self.wall_s, 1) if self.wall_s else 0,
            "payloads_per_s": round(len(self.ok) / self.wall_s, 1) if self.wall_s else 0,
            "p50_ms": round(self.percentile(50), 1),
            "p90_ms": round(self.percentile(90), 1),
            "p99_ms": round(self.percentile(99), 1),
            "max_ms": round(max((s.latency_ms for s in self.ok), default=float("nan")), 1),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "server_cpu_ms_per_payload": round(1000 * self.server_cpu_s / max(1, len(self.ok)), 2),
            "postgres_cpu_s": round(self.postgres_cpu_s, 2),
            "client_cpu_s": round(self.client_cpu_s, 2),
            "machine_busy_cores": round(self.machine_cpu_s / self.wall_s, 2),
            # Everything else on the (shared) machine: other sessions' tests and builds. The
            # PostgreSQL figure misses backends that exit during the phase (it can go negative).
            "foreign_cores": round(
                (self.machine_cpu_s - self.server_cpu_s - self.postgres_cpu_s - self.client_cpu_s)
                / self.wall_s,
                2,
            ),
        }


async def post(
    client: httpx.AsyncClient, token: str, body: bytes, count: int, source: str | None
) -> Sample:
    began = time.perf_counter()
    try:
        response = await client.post(
            "/alerts/alertmanager",
            content=body,
            params={"source": source} if source else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    except httpx.HTTPError as error:
        return Sample(began, (time.perf_counter() - began) * 1000, count, False, repr(error))
    latency = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        return Sample(began, latency, count, False, f"{response.status_code} {response.text[:300]}")
    answer = response.json()
    # Every alert of the payload is accounted for (new, repeated, or changed state).
    if answer["replayed"] or len(answer["alerts"]) != count:
        return Sample(began, latency, count, False, f"unexpected answer {answer}")
    return Sample(began, latency, count, True)


PY_SPY = shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy"  # noqa: S108 - where README installs it
PROFILE: dict[str, Any] = {"prefix": None, "n": 0}


@contextlib.contextmanager
def sampled(env: Env) -> Iterator[None]:
    """With --py-spy PREFIX: py-spy samples the server during the phase (collapsed stacks)."""
    if PROFILE["prefix"] is None:
        yield
        return
    PROFILE["n"] += 1
    out = Path(f"{PROFILE['prefix']}-{PROFILE['n']}.txt")
    spy = subprocess.Popen(  # noqa: S603 - a profiler on our own server process
        [
            PY_SPY,
            "record",
            "--pid",
            str(env.server_pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)
        print(f"py-spy samples: {out}", file=sys.stderr)


async def measure(env: Env, phase: Callable[[], Awaitable[list[Sample]]]) -> Measured:
    with sampled(env):
        return await _measure(env, phase)


async def _measure(env: Env, phase: Callable[[], Awaitable[list[Sample]]]) -> Measured:
    cpu = load.process_cpu_s(env.server_pid), load.postgres_cpu_s(), load.machine_busy_cpu_s()
    client0, wall0 = time.process_time(), time.perf_counter()
    samples = await phase()
    wall = time.perf_counter() - wall0
    return Measured(
        samples,
        wall,
        load.process_cpu_s(env.server_pid) - cpu[0],
        time.process_time() - client0,
        load.postgres_cpu_s() - cpu[1],
        load.machine_busy_cpu_s() - cpu[2],
    )


def client_for(env: Env, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=env.base,
        timeout=120,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


# ---------------------------------------------------------------------------- SQL counts


async def counts(env: Env) -> dict[str, Any]:
    connection = await asyncpg.connect(
        _pg_dsn(env.pg_url), server_settings={"search_path": env.schema}
    )
    try:
        alerts, alert_repeats = await connection.fetchrow(
            "SELECT count(*), coalesce(sum(count), 0) FROM alert"
        )
        payloads, payload_alerts = await connection.fetchrow(
            "SELECT count(*), coalesce(sum(alert_count), 0) FROM alert_payload"
        )
        incidents = await connection.fetchval("SELECT count(*) FROM incident")
        with_alerts = await connection.fetchval(
            "SELECT count(DISTINCT incident_id) FROM alert WHERE incident_id IS NOT NULL"
        )
        kinds = dict(await connection.fetch("SELECT kind, count(*) FROM alert_event GROUP BY kind"))
        storms = [
            dict(r)
            for r in await connection.fetch(
                "SELECT scope, scope_key, suppressed, incident_id IS NOT NULL AS has_incident"
                " FROM alert_storm ORDER BY id"
            )
        ]
        paged_at = [
            r["at"]
            for r in await connection.fetch(
                "SELECT at FROM alert_event WHERE kind = 'paged' ORDER BY at"
            )
        ]
        detection = dict(
            await connection.fetch("SELECT detection, count(*) FROM alert GROUP BY detection")
        )
        outbox = await connection.fetchval("SELECT count(*) FROM webhook_delivery")
        timeline = await connection.fetchval("SELECT count(*) FROM timeline_entry")
    finally:
        await connection.close()
    storm_policy = yaml.safe_load((REPO / "policies" / "detection.yaml").read_text())
    limits = storm_policy["versions"][0]["storm"]
    window = timedelta(seconds=limits["window_seconds"])
    most, lo = 0, 0
    for hi, at in enumerate(paged_at):
        while paged_at[lo] <= at - window:
            lo += 1
        most = max(most, hi - lo + 1)
    return {
        "alerts_stored": alerts,
        "alert_count_sum": int(alert_repeats),
        "payloads": payloads,
        "payload_alert_count_sum": int(payload_alerts),
        "incidents": incidents,
        "incidents_with_alerts": with_alerts,
        "storm_incidents": sum(1 for s in storms if s["has_incident"]),
        "paged": kinds.get("paged", 0),
        "page_suppressed": kinds.get("page_suppressed", 0),
        "most_pages_in_a_window": most,
        "storm_limits": limits,
        "storms": storms,
        "event_kinds": kinds,
        "detection": detection,
        "webhook_deliveries": outbox,
        "timeline_entries": timeline,
    }


# ---------------------------------------------------------------------------- scenarios


async def sustained(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(11)
    senders = [Sender(i, env.services, random.Random(rng.random())) for i in range(args.senders)]
    seq = iter(range(10**9))
    sent = 0

    async def run_for(seconds: float, keep: bool) -> list[Sample]:
        nonlocal sent
        samples: list[Sample] = []
        deadline = time.perf_counter() + seconds

        async def loop(sender: Sender) -> None:
            nonlocal sent
            while time.perf_counter() < deadline:
                alerts = sender.mixed_batch(args.batch, 0.5, 10)
                sample = await post(
                    client, env.machine, webhook(alerts, next(seq)), len(alerts), None
                )
                sent += len(alerts)
                if keep:
                    samples.append(sample)

        await asyncio.gather(*(loop(s) for s in senders))
        return samples

    async with client_for(env, args.senders) as client:
        await run_for(args.warmup, keep=False)
        result = await measure(env, lambda: run_for(args.duration, keep=True))
    out = result.summary() | {"senders": args.senders, "batch": args.batch}
    out["sql"] = await counts(env)
    out["sent_total"] = sent
    return out


async def storm(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    batches = args.storm_alerts // args.batch
    interval = args.storm_seconds / batches
    rng = random.Random(13)
    senders = {s: Sender(i, [s], random.Random(rng.random())) for i, s in enumerate(env.services)}
    bodies = []
    for b in range(batches):
        service = env.services[b % len(env.services)]
        sender = senders[service]
        alerts = [sender.new(service, "critical") for _ in range(args.batch)]
        bodies.append((webhook(alerts, b), len(alerts)))
    limit = asyncio.Semaphore(args.storm_senders)
    lag: list[float] = []

    async def phase() -> list[Sample]:
        start = time.perf_counter()

        async def one(i: int, body: bytes, count: int) -> Sample:
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            async with limit:
                lag.append(time.perf_counter() - (start + i * interval))
                return await post(client, env.machine, body, count, None)

        return list(await asyncio.gather(*(one(i, b, n) for i, (b, n) in enumerate(bodies))))

    async with client_for(env, args.storm_senders) as client:
        result = await measure(env, phase)
    out = result.summary() | {
        "planned_seconds": args.storm_seconds,
        "sent": sum(n for _, n in bodies),
        "batches": batches,
        "services": len(env.services),
        "max_start_lag_s": round(max(lag), 2),
    }
    out["sql"] = await counts(env)
    return out


async def latency(env: Env, args: argparse.Namespace) -> dict[str, Any]:
    n = args.latency_sources
    names: list[str | None] = (
        [f"alertmanager-{i:02d}" for i in range(1, n + 1)] if n > 1 else [None] * args.senders_c
    )
    rng = random.Random(17)
    senders = [Sender(i, env.services, random.Random(rng.random())) for i in range(len(names))]
    seq = iter(range(10**9))

    def body(sender: Sender) -> tuple[bytes, int]:
        alerts = sender.mixed_batch(5, 0.4 if sender.sent else 1.0, 2)
        return webhook(alerts, next(seq)), len(alerts)

    async def open_loop(seconds: float) -> list[Sample]:
        samples: list[Sample] = []
        start = time.perf_counter()

        async def loop(sender: Sender, source: str | None) -> None:
            due = start + rng.random() * args.latency_interval
            while due < start + seconds:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                raw, count = body(sender)
                samples.append(await post(client, env.machine, raw, count, source))
                due += args.latency_interval

        await asyncio.gather(*(loop(s, name) for s, name in zip(senders, names, strict=True)))
        return samples

    async def closed_loop(seconds: float) -> list[Sample]:
        samples: list[Sample] = []
        deadline = time.perf_counter() + seconds

        async def loop(sender: Sender, source: str | None) -> None:
            while time.perf_counter() < deadline:
                raw, count = body(sender)
                samples.append(await post(client, env.machine, raw, count, source))

        await asyncio.gather(*(loop(s, name) for s, name in zip(senders, names, strict=True)))
        return samples

    async with client_for(env, len(names)) as client:
        await open_loop(args.warmup)
        paced = await measure(env, lambda: open_loop(args.duration))
        saturated = await measure(env, lambda: closed_loop(args.duration / 2))
    return {
        "sources": n,
        "senders": len(names),
        "interval_s": args.latency_interval,
        "open_loop": paced.summary(),
        "closed_loop": saturated.summary(),
        "sql": await counts(env),
    }


RUNNERS = {"sustained": sustained, "storm": storm, "latency": latency}


def run_scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    sources = args.latency_sources if name == "latency" else 0
    with fresh_env(args.pg_url, args.keep, sources) as env:
        if args.server_wrapper:
            env.command = [sys.executable, str(args.server_wrapper)]
        with server(env):
            return _scenario(env, name, args)


def _scenario(env: Env, name: str, args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    asyncio.run(seed(env, units=args.units, services=args.services))
    print(f"[{name}] seeded in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    result = asyncio.run(RUNNERS[name](env, args))
    result["server_log_tail"] = _log_problems(env.workdir / "server.log")
    return result


def _log_problems(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    bad = [ln for ln in lines if "Error" in ln or "Traceback" in ln or "exception" in ln.lower()]
    return bad[:10]


def machine() -> dict[str, Any]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()  # noqa: S607
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "lscpu": lscpu[:15],
        "python": platform.python_version(),
        "postgresql": asyncio.run(_pg_version()),
        "tree": str(REPO),
        "commit": _commit(),
    }


def _commit() -> str:
    """The imported tree's commit: a snapshot's COMMIT file, else git (+dirty)."""
    if (REPO / "COMMIT").exists():
        return (REPO / "COMMIT").read_text().strip()
    done = subprocess.run(  # noqa: S603 - git on our own tree
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],  # noqa: S607
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


async def _pg_version() -> str:
    connection = await asyncpg.connect(_pg_dsn(DEFAULT_PG_URL))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenario", action="append", choices=SCENARIOS, help="default: all three")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--units", type=int, default=5)
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--batch", type=int, default=100, help="alerts per payload")
    p.add_argument("--senders", type=int, default=4, help="sustained: concurrent senders")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--storm-alerts", type=int, default=20_000)
    p.add_argument("--storm-seconds", type=float, default=60.0)
    p.add_argument("--storm-senders", type=int, default=8, help="storm: payloads in flight")
    p.add_argument("--latency-sources", type=int, default=20)
    p.add_argument("--latency-interval", type=float, default=1.0, help="s between payloads")
    p.add_argument("--quick", action="store_true", help="6,000-alert storm over 18 s, 15 s runs")
    p.add_argument("--keep", action="store_true", help="keep the schemas and work directories")
    p.add_argument("--json", type=Path)
    p.add_argument(
        "--server-wrapper",
        type=Path,
        help="run `python WRAPPER serve` instead of `govsvc serve` (bench/alerts/experiments/)",
    )
    p.add_argument("--py-spy", type=Path, help="sample the server: PREFIX-<n>.txt per phase")
    args = p.parse_args(argv)
    args.senders_c = args.latency_sources
    if args.quick:
        args.storm_alerts, args.storm_seconds = 6_000, 18.0
        args.duration, args.warmup = 15.0, 3.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    PROFILE["prefix"] = args.py_spy
    report: dict[str, Any] = {
        "machine": machine(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    for name in args.scenario or SCENARIOS:
        began = time.perf_counter()
        report[name] = result = run_scenario(name, args)
        print(f"[{name}] {time.perf_counter() - began:.0f} s", file=sys.stderr)
        print(json.dumps({name: result}, indent=2, default=str))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
