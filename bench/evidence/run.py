"""Evidence throughput: a large file through govsvc (HTTP -> S3 Object Lock) versus boto3 direct.

    .venv/bin/python bench/evidence/run.py --size 1GiB --repeat 3
    .venv/bin/python bench/evidence/run.py --size 100MiB --repeat 5      # quick regression check

Starts a moto server (`moto_server`) with a bucket created with Object Lock, a fresh SQLite
database (migrated with `govsvc migrate`), a token (`govsvc token create`), a business unit
(`businessUnitCreate` over GraphQL) and `govsvc serve` as a subprocess, all on 127.0.0.1. The
test file is random bytes on disk, generated once per size and reused (--data-dir).

Operations, each run --repeat times (in this order within a repetition):

  direct-upload      boto3 upload_fileobj, default TransferConfig (8 MiB parts, 10 threads),
                     with the same Object Lock parameters, SHA-256 checksums and sha256 metadata
  direct-upload-1t   the same with max_concurrency=1 (sequential parts, like the service)
  service-upload     POST /evidence?...&sha256=<hex>: httpx streams the file (chunked body)
  service-upload-nosha  POST /evidence without sha256 (the service spools to disk, then uploads)
  direct-download    boto3 download_fileobj (default TransferConfig) into a hashing sink
  direct-get         streaming get_object, 1 MiB reads, hashed
  service-download   GET /evidence/{id}/content streamed by httpx, hashed, to nowhere

For each: wall time, MiB/s, the govsvc process's peak RSS during the operation (VmHWM reset
through /proc/<pid>/clear_refs before each operation, plus VmRSS sampled every 5 ms), and the CPU
seconds spent by govsvc, moto, this client and everything else on the machine ("other": all of
them share its cores). Before each operation the run waits (--quiet-wait) for other processes to
go quiet, and a measurement during which they used more than --max-other cores is discarded and
repeated (--retries). Each service operation is compared with the fastest (by median) direct one
of the same direction. Results: see bench/evidence/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

BIN = Path(sys.executable).parent
MIB = 1024 * 1024
SECRET = "bench-evidence-secret-" + "k" * 40
MASTER_KEY = "bench-evidence-master-key-" + "m" * 40
BUCKET = "govsvc-bench-evidence"
ACCESS_KEY = "testing"
SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto accepts any credentials
REGION = "us-east-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PY_SPY = str(BIN / "py-spy") if (BIN / "py-spy").exists() else "py-spy"
OPERATIONS = (
    "direct-upload",
    "direct-upload-1t",
    "service-upload",
    "service-upload-nosha",
    "direct-download",
    "direct-get",
    "service-download",
)
# What each service operation is compared with (the target: >= 0.8 of it): the fastest (by
# median) of these direct operations that ran.
DIRECT_UP = ("direct-upload", "direct-upload-1t")
DIRECT_DOWN = ("direct-download", "direct-get")
REFERENCE = {
    "service-upload": DIRECT_UP,
    "service-upload-nosha": DIRECT_UP,
    "service-download": DIRECT_DOWN,
}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]i?B?|B)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 100MiB, 1GiB)")
    unit = (match[2] or "B").upper()[0]
    return int(match[1]) * {"B": 1, "K": 1024, "M": MIB, "G": 1024 * MIB}[unit]


def human(size: int) -> str:
    for unit, factor in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise SystemExit(f"{proc.args} did not listen on {port} within {timeout}s")


# ---------------------------------------------------------------------------- /proc sampling


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in bytes."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) * 1024
    return values


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> float:
    """CPU seconds spent by everything on the machine so far (all cores; /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def others_cpu(own: list[int]) -> float:
    return machine_cpu() - sum(proc_cpu(pid) for pid in own) - self_cpu()


def wait_until_quiet(own: list[int], limit: float, timeout: float) -> float:
    """Wait (up to `timeout` s) until processes other than `own` use < `limit` cores over 1 s.

    Returns the seconds waited. Other work on the machine (another benchmark, a test run)
    shares the cores with moto, govsvc and this client and would distort the numbers."""
    start = time.monotonic()
    while True:
        before = others_cpu(own)
        time.sleep(1)
        waited = time.monotonic() - start
        if others_cpu(own) - before < limit or waited >= timeout:
            return waited


class RssWatch:
    """Peak RSS of a process over a block: VmHWM reset before, read after, plus sampling."""

    def __init__(self, pid: int, interval: float = 0.005):
        self.pid = pid
        self.interval = interval
        self.before = 0
        self.sampled_peak = 0
        self.hwm_peak = 0
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.sampled_peak = max(self.sampled_peak, proc_status(self.pid)["VmRSS"])
            self._stop.wait(self.interval)

    def __enter__(self) -> RssWatch:
        try:
            # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0; needs the owner).
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.before = proc_status(self.pid)["VmRSS"]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            self.hwm_peak = proc_status(self.pid)["VmHWM"]

    @property
    def peak(self) -> int:
        return max(self.sampled_peak, self.hwm_peak)


# ---------------------------------------------------------------------------- the test file


def test_file(data_dir: Path, size: int) -> tuple[Path, str]:
    """Random bytes of `size` on disk (made once, reused) and their SHA-256."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"govsvc-bench-evidence-{size}.bin"
    digest = hashlib.sha256()
    if path.exists() and path.stat().st_size == size:
        with path.open("rb") as file:
            while chunk := file.read(8 * MIB):
                digest.update(chunk)
        return path, digest.hexdigest()
    print(f"writing {human(size)} of random bytes to {path}", file=sys.stderr)
    with path.open("wb") as file:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MIB))
            digest.update(chunk)
            file.write(chunk)
            left -= len(chunk)
    return path, digest.hexdigest()


def file_chunks(path: Path, chunk: int) -> Iterator[bytes]:
    with path.open("rb") as file:
        while data := file.read(chunk):
            yield data


class HashSink:
    """A write-only file object that hashes and counts what it is given (no seek: in order)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


# ---------------------------------------------------------------------------- the services


@dataclass
class Stack:
    workdir: Path
    moto: subprocess.Popen[bytes]
    govsvc: subprocess.Popen[bytes]
    s3_url: str
    api_url: str
    token: str
    unit_id: str

    def stop(self) -> None:
        for proc in (self.govsvc, self.moto):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def s3_client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(
            region_name=REGION,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def govsvc_env(workdir: Path, s3_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVSVC_")}
    env.update(
        GOVSVC_ENV="test",
        GOVSVC_SECRET_KEY=SECRET,
        GOVSVC_MASTER_KEY=MASTER_KEY,
        GOVSVC_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'govsvc.db'}",
        GOVSVC_STORAGE_URL=f"s3://{BUCKET}",
        GOVSVC_S3_ENDPOINT_URL=s3_url,
        GOVSVC_S3_REGION=REGION,
        GOVSVC_S3_ACCESS_KEY_ID=ACCESS_KEY,
        GOVSVC_S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        GOVSVC_S3_PATH_STYLE="true",
        GOVSVC_WORKER_EMBEDDED="false",
        GOVSVC_PORT=str(port),
    )
    return env


def start_stack(workdir: Path, extra_env: dict[str, str]) -> Stack:
    moto_port, api_port = free_port(), free_port()
    moto_log = workdir / "moto.log"
    moto = subprocess.Popen(  # noqa: S603 - our own venv's binary
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=moto_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    s3_url = f"http://127.0.0.1:{moto_port}"
    wait_for_port(moto_port, moto, moto_log, 30)
    s3_client(s3_url).create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)

    env = govsvc_env(workdir, s3_url, api_port) | extra_env
    govsvc = str(BIN / "govsvc")
    subprocess.run([govsvc, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
    token = subprocess.run(  # noqa: S603
        [govsvc, "token", "create", "--email", "bench@example.com", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    api_log = workdir / "govsvc.log"
    server = subprocess.Popen(  # noqa: S603
        [govsvc, "serve", "--port", str(api_port)],
        env=env,
        stdout=api_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    api_url = f"http://127.0.0.1:{api_port}"
    stack = Stack(workdir, moto, server, s3_url, api_url, token, "")
    try:
        wait_for_port(api_port, server, api_log, 60)
        response = httpx.post(
            f"{api_url}/graphql",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "query": 'mutation { businessUnitCreate(input: {code: "bench", name: '
                '"Bench"}) { businessUnit { id } errors { field message code } } }'
            },
            timeout=30,
        )
        payload = response.json()["data"]["businessUnitCreate"]
        if payload["errors"]:
            raise SystemExit(f"businessUnitCreate: {payload['errors']}")
        stack.unit_id = payload["businessUnit"]["id"]
    except BaseException:
        stack.stop()
        raise
    return stack


# ---------------------------------------------------------------------------- operations


@dataclass
class Sample:
    operation: str
    repetition: int
    seconds: float
    size: int
    govsvc_rss_before: int
    govsvc_rss_peak: int
    cpu_govsvc: float
    cpu_moto: float
    cpu_client: float
    cpu_other: float  # everything else on the machine during the operation
    attempts: int = 1  # > 1: earlier attempts were disturbed by other work and were discarded

    @property
    def other_cores(self) -> float:
        return self.cpu_other / self.seconds

    @property
    def mib_s(self) -> float:
        return self.size / MIB / self.seconds


@dataclass
class Bench:
    stack: Stack
    path: Path
    sha256: str
    size: int
    chunk: int
    s3: Any = None
    profile_dir: Path | None = None
    quiet_wait: float = 0.0
    keys: dict[str, str] = field(default_factory=dict)
    evidence_id: str = ""

    def __post_init__(self) -> None:
        self.s3 = s3_client(self.stack.s3_url)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.token}"}

    def lock_args(self) -> dict[str, Any]:
        return {
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": (datetime.now(UTC) + timedelta(days=1)).replace(
                microsecond=0
            ),
            "ObjectLockLegalHoldStatus": "OFF",
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {"sha256": self.sha256},
            "ContentType": "application/octet-stream",
        }

    def direct_upload(self, rep: int, concurrency: int) -> None:
        key = f"direct/{rep}-{concurrency}-{time.time_ns()}"
        config = TransferConfig(max_concurrency=concurrency)
        with self.path.open("rb") as file:
            self.s3.upload_fileobj(file, BUCKET, key, ExtraArgs=self.lock_args(), Config=config)
        head = self.s3.head_object(Bucket=BUCKET, Key=key)
        assert head["ContentLength"] == self.size, head
        self.keys["direct"] = key

    def service_upload(self, with_sha: bool) -> None:
        params = {
            "title": f"bench {human(self.size)}",
            "kind": "log_export",
            "businessUnitId": self.stack.unit_id,
        }
        if with_sha:
            params["sha256"] = self.sha256
        response = httpx.post(
            f"{self.stack.api_url}/evidence",
            params=params,
            headers={**self.auth, "Content-Type": "application/octet-stream"},
            content=file_chunks(self.path, self.chunk),
            timeout=httpx.Timeout(None),
        )
        assert response.status_code == 201, response.text
        evidence = response.json()["evidence"]
        assert evidence["sha256"] == self.sha256, evidence
        assert evidence["size"] == self.size, evidence
        self.evidence_id = evidence["id"]

    def direct_download(self) -> None:
        sink = HashSink()
        self.s3.download_fileobj(BUCKET, self.keys["direct"], sink, Config=TransferConfig())
        assert sink.size == self.size
        assert sink.digest.hexdigest() == self.sha256

    def direct_get(self) -> None:
        body = self.s3.get_object(Bucket=BUCKET, Key=self.keys["direct"])["Body"]
        digest, size = hashlib.sha256(), 0
        while data := body.read(MIB):
            digest.update(data)
            size += len(data)
        body.close()
        assert size == self.size
        assert digest.hexdigest() == self.sha256

    def service_download(self) -> None:
        digest, size = hashlib.sha256(), 0
        with httpx.stream(
            "GET",
            f"{self.stack.api_url}/evidence/{self.evidence_id}/content",
            headers=self.auth,
            timeout=httpx.Timeout(None),
        ) as response:
            assert response.status_code == 200, response.read()
            for data in response.iter_raw(self.chunk):
                digest.update(data)
                size += len(data)
        assert size == self.size
        assert digest.hexdigest() == self.sha256

    def action(self, operation: str, rep: int) -> Callable[[], None]:
        return {
            "direct-upload": lambda: self.direct_upload(rep, 10),
            "direct-upload-1t": lambda: self.direct_upload(rep, 1),
            "service-upload": lambda: self.service_upload(True),
            "service-upload-nosha": lambda: self.service_upload(False),
            "direct-download": self.direct_download,
            "direct-get": self.direct_get,
            "service-download": self.service_download,
        }[operation]

    @contextlib.contextmanager
    def profiled(self, operation: str, rep: int) -> Iterator[None]:
        """py-spy (collapsed stacks, non-blocking) on govsvc and moto during service operations."""
        if self.profile_dir is None or not operation.startswith("service"):
            yield
            return
        spies = []
        for name, pid in (("govsvc", self.stack.govsvc.pid), ("moto", self.stack.moto.pid)):
            out = self.profile_dir / f"{operation}-{rep}-{name}.txt"
            spies.append(
                subprocess.Popen(  # noqa: S603 - py-spy from our venv or PATH
                    [
                        *(PY_SPY, "record", "--nonblocking", "--threads", "--idle", "-r", "250"),
                        *("--format", "raw", "-o", str(out), "-p", str(pid)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(1)  # let py-spy attach
        try:
            yield
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            for spy in spies:
                spy.wait(30)

    def measure(self, operation: str, rep: int) -> Sample:
        action = self.action(operation, rep)
        api, moto = self.stack.govsvc.pid, self.stack.moto.pid
        if self.quiet_wait:
            waited = wait_until_quiet([api, moto], 0.1, self.quiet_wait)
            if waited >= self.quiet_wait:
                print(f"machine still busy after {waited:.0f}s: measuring anyway", file=sys.stderr)
        cpu = (proc_cpu(api), proc_cpu(moto), self_cpu(), others_cpu([api, moto]))
        with self.profiled(operation, rep), RssWatch(api) as rss:
            start = time.perf_counter()
            action()
            seconds = time.perf_counter() - start
        after = (proc_cpu(api), proc_cpu(moto), self_cpu(), others_cpu([api, moto]))
        return Sample(
            operation,
            rep,
            seconds,
            self.size,
            rss.before,
            rss.peak,
            after[0] - cpu[0],
            after[1] - cpu[1],
            after[2] - cpu[2],
            # py-spy (when profiling) and the kernel's own work count as "other" too.
            max(0.0, after[3] - cpu[3]),
        )


# ---------------------------------------------------------------------------- report


def summarize(
    samples: list[Sample], operations: list[str], max_other: float
) -> list[dict[str, Any]]:
    rows = []
    for operation in operations:
        mine = [s for s in samples if s.operation == operation]
        if not mine:
            continue
        rates = [s.mib_s for s in mine]
        rows.append(
            {
                "operation": operation,
                "runs": len(mine),
                "best_mib_s": max(rates),
                "median_mib_s": statistics.median(rates),
                "best_s": min(s.seconds for s in mine),
                "median_s": statistics.median(s.seconds for s in mine),
                "govsvc_rss_before_mib": statistics.median(s.govsvc_rss_before for s in mine) / MIB,
                "govsvc_rss_peak_mib": max(s.govsvc_rss_peak for s in mine) / MIB,
                "govsvc_rss_growth_max_mib": max(
                    s.govsvc_rss_peak - s.govsvc_rss_before for s in mine
                )
                / MIB,
                "cpu_govsvc_s": statistics.median(s.cpu_govsvc for s in mine),
                "cpu_moto_s": statistics.median(s.cpu_moto for s in mine),
                "cpu_client_s": statistics.median(s.cpu_client for s in mine),
                "cpu_other_s": statistics.median(s.cpu_other for s in mine),
                "discarded": sum(s.attempts - 1 for s in mine),
                "still_disturbed": sum(s.other_cores > max_other for s in mine),
            }
        )
    by_name = {row["operation"]: row for row in rows}
    for row in rows:
        candidates = [by_name[op] for op in REFERENCE.get(row["operation"], ()) if op in by_name]
        if candidates:
            reference = max(candidates, key=lambda r: r["median_mib_s"])
            row["vs"] = reference["operation"]
            row["ratio_best"] = row["best_mib_s"] / reference["best_mib_s"]
            row["ratio_median"] = row["median_mib_s"] / reference["median_mib_s"]
    return rows


def print_table(rows: list[dict[str, Any]], size: int) -> None:
    """A Markdown table: throughput best and median, ratio to the fastest direct path, memory
    and CPU (medians) per operation."""
    print(f"\n{human(size)}: best / median of the runs; CPU seconds are medians\n")
    print(
        "| operation | runs | best MiB/s | median MiB/s | vs | ratio best | ratio median "
        "| govsvc RSS before (median) | govsvc RSS peak (max) | peak - before (max) "
        "| CPU s govsvc / moto / client "
        "/ other | discarded |"
    )
    print("|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        ratios = (
            (f"{row['ratio_best']:.2f}", f"{row['ratio_median']:.2f}")
            if "ratio_best" in row
            else ("-", "-")
        )
        cpu = " / ".join(
            f"{row[k]:.1f}" for k in ("cpu_govsvc_s", "cpu_moto_s", "cpu_client_s", "cpu_other_s")
        )
        print(
            f"| {row['operation']} | {row['runs']} | {row['best_mib_s']:.1f} "
            f"| {row['median_mib_s']:.1f} | {row.get('vs', '-')} | {ratios[0]} | {ratios[1]} "
            f"| {row['govsvc_rss_before_mib']:.0f} MiB | {row['govsvc_rss_peak_mib']:.0f} MiB "
            f"| +{row['govsvc_rss_growth_max_mib']:.0f} MiB "
            f"| {cpu} | {row['discarded']} |"
        )


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0]
    return {
        "nproc": os.cpu_count(),
        "memory": meminfo,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "boto3": boto3.__version__,
        "httpx": httpx.__version__,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"), help="e.g. 1GiB")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each operation")
    parser.add_argument(
        "--ops",
        default=",".join(OPERATIONS),
        help=f"comma-separated subset of: {', '.join(OPERATIONS)}",
    )
    parser.add_argument(
        "--chunk", type=parse_size, default=MIB, help="client read/stream chunk (default 1MiB)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()), help="where the file lives"
    )
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.25,
        metavar="CORES",
        help="discard and repeat a measurement during which other processes used more than "
        "this many cores on average (default 0.25)",
    )
    parser.add_argument(
        "--retries", type=int, default=3, help="repeats of a disturbed measurement (default 3)"
    )
    parser.add_argument("--json", type=Path, help="also write samples and summary here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, db)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each operation, wait up to this long for other processes to use < 0.1 "
        "core (0: don't wait); the CPU they used during each operation is reported as 'other'",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for govsvc serve (repeatable), e.g. MALLOC_ARENA_MAX=2",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record py-spy collapsed stacks of govsvc and moto during service operations here",
    )
    args = parser.parse_args()
    operations = [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = sorted(set(operations) - set(OPERATIONS))
    if unknown:
        parser.error(f"unknown operations: {', '.join(unknown)}")
    needs = {"direct-download": "direct-upload", "direct-get": "direct-upload"}
    needs |= {"service-download": "service-upload"}
    for operation, before in needs.items():
        if (
            operation in operations
            and before not in operations
            and (before != "direct-upload" or "direct-upload-1t" not in operations)
            and (before != "service-upload" or "service-upload-nosha" not in operations)
        ):
            parser.error(f"{operation} needs an upload first ({before})")

    # A SIGTERM (or a SIGINT in a background job, where it is ignored) still stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    path, sha256 = test_file(args.data_dir, args.size)
    workdir = Path(tempfile.mkdtemp(prefix="govsvc-bench-evidence-"))
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    stack = start_stack(workdir, extra_env)
    print(
        f"moto pid {stack.moto.pid} at {stack.s3_url}; govsvc pid {stack.govsvc.pid} at "
        f"{stack.api_url}; work dir {workdir}",
        file=sys.stderr,
    )
    idle = proc_status(stack.govsvc.pid)["VmRSS"]
    print(f"govsvc idle RSS after start: {idle / MIB:.0f} MiB", file=sys.stderr)
    bench = Bench(
        stack,
        path,
        sha256,
        args.size,
        args.chunk,
        profile_dir=args.py_spy,
        quiet_wait=args.quiet_wait,
    )
    samples: list[Sample] = []
    try:
        for rep in range(1, args.repeat + 1):
            for operation in (op for op in OPERATIONS if op in operations):
                for attempt in range(1, args.retries + 2):
                    sample = bench.measure(operation, rep)
                    sample.attempts = attempt
                    if sample.other_cores <= args.max_other or attempt > args.retries:
                        break
                    print(
                        f"#{rep} {operation}: other processes used {sample.other_cores:.2f} "
                        f"cores ({sample.seconds:.2f}s, {sample.mib_s:.1f} MiB/s): discarded",
                        file=sys.stderr,
                    )
                samples.append(sample)
                print(
                    f"#{rep} {operation:<21} {sample.seconds:7.2f}s {sample.mib_s:8.1f} MiB/s  "
                    f"govsvc RSS {sample.govsvc_rss_before / MIB:.0f} -> "
                    f"{sample.govsvc_rss_peak / MIB:.0f} MiB  CPU govsvc "
                    f"{sample.cpu_govsvc:.1f}s moto {sample.cpu_moto:.1f}s client "
                    f"{sample.cpu_client:.1f}s other {sample.cpu_other:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = summarize(samples, operations, args.max_other)
    print(f"\ngovsvc idle RSS after start: {idle / MIB:.0f} MiB")
    print_table(rows, args.size)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "size": args.size,
                    "command": " ".join(sys.argv),
                    "server_env": extra_env,
                    "govsvc_idle_rss_mib": idle / MIB,
                    "summary": rows,
                    "samples": [asdict(s) | {"mib_s": s.mib_s} for s in samples],
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
