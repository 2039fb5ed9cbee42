"""The real monitoring stack, for alert ingestion tests: Debian's Prometheus, Alertmanager and
blackbox exporter (`make monitoring` installs them), each started as a subprocess of the test on
a free port of 127.0.0.1, with its configuration and its data in a directory the test gives.

    async with WebhookCapture() as receiver, monitoring_stack(
        tmp_path, webhook_url=receiver.url, bearer_token="t0ken"
    ) as stack:
        stack.target.down()  # the probed service answers 500: SyntheticCheckFailed fires
        firing = await receiver.wait_for(lambda d: d.alertname == ALERT_NAME)  # ~4 s
        stack.target.up()  # ... and it resolves (~1 s)

What runs, and how it is wired:

- `HealthTarget`: a tiny HTTP service (`GET /health`) answering 200 while up and 500 while down.
- the blackbox exporter, with an `http_2xx` module, probing the target.
- Prometheus, scraping the exporter's `/probe` every second and evaluating every second two
  rules: `SyntheticCheckFailed` (`probe_success == 0` for 2 s; labels service, severity=critical,
  perspective=synthetic, location) and `Watchdog` (`vector(1)`, always firing).
- Alertmanager, grouping by alertname and service (group_wait and group_interval 1 s,
  repeat_interval 1 m) and posting webhook version 4 payloads, resolved ones too, to the test's
  URL with `Authorization: Bearer <token>`. Clustering is off.

Start-up takes ~6 s, most of it Prometheus's service discovery, which hands static targets (the
probe, the Alertmanager) over on a 5 s tick; `monitoring_stack` waits for both by default.

No system daemon is used: the packages' services are never started (see the Makefile). Every
process is ended when the block exits; if the block fails, their logs are printed (stderr)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import free_port

HOST = "127.0.0.1"
# Debian's binary names first; upstream's names where a machine has those instead.
PROMETHEUS = ("prometheus",)
ALERTMANAGER = ("prometheus-alertmanager", "alertmanager")
BLACKBOX_EXPORTER = ("prometheus-blackbox-exporter", "blackbox_exporter")
ALERT_NAME = "SyntheticCheckFailed"
WATCHDOG = "Watchdog"


def binary(*names: str) -> str:
    """The path of the first of `names` on PATH; a clear failure if none is installed."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(
        f"{' / '.join(names)} is not installed: `make monitoring` installs Debian's prometheus, "
        "prometheus-alertmanager and prometheus-blackbox-exporter"
    )


def version(*names: str) -> str:
    """The first line of `<binary> --version`, e.g. 'alertmanager, version 0.25.0 (...)'."""
    done = subprocess.run(  # noqa: S603 - an installed binary found on PATH, fixed argument
        [binary(*names), "--version"], capture_output=True, text=True, check=True, timeout=10
    )
    return (done.stdout or done.stderr).splitlines()[0]


# --- HTTP services in threads of the test process ------------------------------------------


class _QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadedServer:
    """A ThreadingHTTPServer on a free port of 127.0.0.1, served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer((HOST, 0), handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class HealthTarget:
    """The probed service: `GET /health` answers 200 while up, 500 while down."""

    def __init__(self) -> None:
        self.healthy = True
        self.requests = 0
        target = self

        class Handler(_QuietHandler):
            def do_GET(self) -> None:
                target.requests += 1
                status = 200 if target.healthy else 500
                body = b"ok\n" if target.healthy else b"broken\n"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = _ThreadedServer(Handler)
        self.url = f"http://{HOST}:{self._server.port}/health"

    def up(self) -> None:
        self.healthy = True

    def down(self) -> None:
        self.healthy = False

    def start(self) -> None:
        self._server.start()

    def close(self) -> None:
        self._server.close()


@dataclass(frozen=True)
class Delivery:
    """One request the webhook receiver got: exactly the bytes sent, and its headers."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    received_at: float  # time.monotonic()

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def status(self) -> str:
        return str(self.payload.get("status", ""))

    @property
    def alertname(self) -> str:
        return str(self.payload.get("groupLabels", {}).get("alertname", ""))


class WebhookCapture:
    """A plain webhook receiver: stores every POST (body and headers) and answers 200.

    `async with WebhookCapture() as receiver:` then give `receiver.url` to `monitoring_stack`."""

    def __init__(self, path: str = "/alerts/alertmanager") -> None:
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        capture = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                delivery = Delivery(
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=body,
                    received_at=time.monotonic(),
                )
                with capture._lock:
                    capture.deliveries.append(delivery)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = _ThreadedServer(Handler)
        self.url = f"http://{HOST}:{self._server.port}{path}"

    async def wait_for(
        self, predicate: Callable[[Delivery], bool], *, timeout: float = 20.0
    ) -> Delivery:
        """The first delivery (already received or yet to come) that `predicate` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = next((d for d in self.deliveries if predicate(d)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                with self._lock:
                    seen = [(d.alertname, d.status) for d in self.deliveries]
                raise TimeoutError(f"no matching delivery within {timeout} s; got {seen}")
            await asyncio.sleep(0.05)

    async def __aenter__(self) -> WebhookCapture:
        self._server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()


# --- the monitoring processes ----------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class MonitoringStack:
    """The running stack. URLs are http://127.0.0.1:<port>."""

    target: HealthTarget
    blackbox_url: str
    prometheus_url: str
    alertmanager_url: str
    directory: Path
    processes: list[Process] = field(default_factory=list)
    started_in: float = 0.0  # seconds from the first process started to all of them ready

    def logs(self) -> str:
        """Every process's log, each under a header (what a failing block prints)."""
        return "".join(
            f"\n----- {p.name} (pid {p.popen.pid}, exit {p.popen.poll()}) {p.log_path} -----\n"
            f"{p.log()}"
            for p in self.processes
        )

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query on Prometheus: the result vector."""
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(
                f"{self.prometheus_url}/api/v1/query", params={"query": promql}
            )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    async def wait_for_probe(self, success: bool, *, timeout: float = 15.0) -> None:
        """Until Prometheus has scraped a probe of the target with this outcome."""
        wanted = "1" if success else "0"
        deadline = time.monotonic() + timeout
        while True:
            result = await self.query("probe_success")
            if any(sample["value"][1] == wanted for sample in result):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"probe_success never {wanted} within {timeout} s: {result}")
            await asyncio.sleep(0.2)


def _write_yaml(path: Path, content: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


def _blackbox_config() -> dict[str, Any]:
    return {
        "modules": {
            "http_2xx": {
                "prober": "http",
                "timeout": "1s",
                "http": {"preferred_ip_protocol": "ip4", "method": "GET"},
            }
        }
    }


def _prometheus_config(
    *, target_url: str, blackbox_port: int, alertmanager_port: int
) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "alerting": {
            "alertmanagers": [
                {
                    "api_version": "v2",
                    "static_configs": [{"targets": [f"{HOST}:{alertmanager_port}"]}],
                }
            ]
        },
        "scrape_configs": [
            {
                "job_name": "synthetic",
                "metrics_path": "/probe",
                "params": {"module": ["http_2xx"]},
                "static_configs": [{"targets": [target_url]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"{HOST}:{blackbox_port}"},
                ],
            }
        ],
    }


def _rules(*, service: str, location: str) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "synthetic",
                "interval": "1s",
                "rules": [
                    {
                        "alert": ALERT_NAME,
                        "expr": 'probe_success{job="synthetic"} == 0',
                        "for": "2s",
                        "labels": {
                            "service": service,
                            "severity": "critical",
                            "perspective": "synthetic",
                            "location": location,
                        },
                        "annotations": {
                            "summary": "Synthetic check of {{ $labels.instance }} failed",
                            "description": (
                                "The blackbox probe of {{ $labels.instance }} from "
                                f"{location} has failed for more than 2 seconds."
                            ),
                        },
                    },
                    {
                        "alert": WATCHDOG,
                        "expr": "vector(1)",
                        "labels": {"severity": "none"},
                        "annotations": {
                            "summary": "Always firing: the alerting pipeline is alive",
                        },
                    },
                ],
            }
        ]
    }


def _alertmanager_config(*, webhook_url: str, bearer_token: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "govsvc",
            "group_by": ["alertname", "service"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1m",
        },
        "receivers": [
            {
                "name": "govsvc",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": bearer_token}
                        },
                    }
                ],
            }
        ],
    }


def _spawn(name: str, args: list[str], directory: Path) -> Process:
    log_path = directory / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(  # noqa: S603 - installed binaries, arguments we build
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory
        )
    return Process(name, popen, log_path)


async def _wait_ready(
    client: httpx.AsyncClient, process: Process, url: str, deadline: float
) -> None:
    while True:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited ({process.popen.returncode})")
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{process.name} not ready at {url}")
        await asyncio.sleep(0.05)


async def _wait_pipeline(
    client: httpx.AsyncClient, stack: MonitoringStack, deadline: float
) -> None:
    """Until Prometheus knows its Alertmanager and has scraped a first probe of the target.
    Its service discovery hands over static targets on a 5 s tick: the first comes ~5 s after
    start-up, whatever the configuration says."""
    api = f"{stack.prometheus_url}/api/v1"
    while True:
        managers = (await client.get(f"{api}/alertmanagers")).json()["data"]
        probes = (await client.get(f"{api}/query", params={"query": "probe_success"})).json()
        if managers["activeAlertmanagers"] and probes["data"]["result"]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"Prometheus found no Alertmanager or target: {managers} {probes}")
        await asyncio.sleep(0.1)


@contextmanager
def _printing_logs_on_failure(stack: MonitoringStack) -> Iterator[None]:
    try:
        yield
    except BaseException:
        sys.stderr.write(f"monitoring stack logs:{stack.logs()}\n")
        raise


@asynccontextmanager
async def monitoring_stack(
    directory: Path,
    *,
    webhook_url: str,
    bearer_token: str,
    service: str = "portal",
    location: str = "lab-1",
    ready_timeout: float = 30.0,
    wait_for_pipeline: bool = True,
) -> AsyncIterator[MonitoringStack]:
    """Start the target, the blackbox exporter, Prometheus and Alertmanager (configuration and
    data under `directory`), wait until each answers its readiness endpoint (`/-/ready`, the
    exporter's `/-/healthy`) and, with `wait_for_pipeline`, until Prometheus has found its
    Alertmanager and probed the target once; yield the stack, and end every process on exit.
    Alertmanager posts to `webhook_url` with `Authorization: Bearer <bearer_token>`."""
    prometheus, alertmanager = binary(*PROMETHEUS), binary(*ALERTMANAGER)
    blackbox = binary(*BLACKBOX_EXPORTER)
    directory.mkdir(parents=True, exist_ok=True)
    blackbox_port, prometheus_port, alertmanager_port = free_port(), free_port(), free_port()
    target = HealthTarget()
    stack = MonitoringStack(
        target=target,
        blackbox_url=f"http://{HOST}:{blackbox_port}",
        prometheus_url=f"http://{HOST}:{prometheus_port}",
        alertmanager_url=f"http://{HOST}:{alertmanager_port}",
        directory=directory,
    )
    blackbox_yml = _write_yaml(directory / "blackbox.yml", _blackbox_config())
    prometheus_yml = _write_yaml(
        directory / "prometheus.yml",
        _prometheus_config(
            target_url=target.url,
            blackbox_port=blackbox_port,
            alertmanager_port=alertmanager_port,
        ),
    )
    _write_yaml(directory / "rules.yml", _rules(service=service, location=location))
    alertmanager_yml = _write_yaml(
        directory / "alertmanager.yml",
        _alertmanager_config(webhook_url=webhook_url, bearer_token=bearer_token),
    )
    target.start()
    started = time.monotonic()
    try:
        with _printing_logs_on_failure(stack):
            # Alertmanager first: Prometheus sends the Watchdog as soon as it evaluates.
            am = _spawn(
                "alertmanager",
                [
                    alertmanager,
                    f"--config.file={alertmanager_yml}",
                    f"--storage.path={directory / 'alertmanager-data'}",
                    f"--web.listen-address={HOST}:{alertmanager_port}",
                    f"--web.external-url={stack.alertmanager_url}",
                    "--cluster.listen-address=",
                ],
                directory,
            )
            stack.processes.append(am)
            bb = _spawn(
                "blackbox-exporter",
                [
                    blackbox,
                    f"--config.file={blackbox_yml}",
                    f"--web.listen-address={HOST}:{blackbox_port}",
                ],
                directory,
            )
            stack.processes.append(bb)
            prom = _spawn(
                "prometheus",
                [
                    prometheus,
                    f"--config.file={prometheus_yml}",
                    f"--storage.tsdb.path={directory / 'prometheus-data'}",
                    f"--web.listen-address={HOST}:{prometheus_port}",
                    f"--web.external-url={stack.prometheus_url}",
                    # Firing alerts are sent again every 2 s (not every minute): those evaluated
                    # before Prometheus has discovered Alertmanager are dropped, not queued.
                    "--rules.alert.resend-delay=2s",
                ],
                directory,
            )
            stack.processes.append(prom)
            deadline = time.monotonic() + ready_timeout
            async with httpx.AsyncClient(timeout=2) as client:
                await asyncio.gather(
                    _wait_ready(client, am, f"{stack.alertmanager_url}/-/ready", deadline),
                    _wait_ready(client, bb, f"{stack.blackbox_url}/-/healthy", deadline),
                    _wait_ready(client, prom, f"{stack.prometheus_url}/-/ready", deadline),
                )
                if wait_for_pipeline:
                    await _wait_pipeline(client, stack, deadline)
            stack.started_in = time.monotonic() - started
            yield stack
    finally:
        for process in reversed(stack.processes):
            process.stop()
        target.close()
