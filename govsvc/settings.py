"""Settings from the environment (prefix GOVSVC_); placeholder secrets are refused outside dev."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from govsvc.storage.base import LockMode

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-insecure-secret-change-me"  # noqa: S105 - the placeholder we refuse outside dev
DEV_MASTER_KEY = "dev-only-insecure-master-key-change-me"
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVSVC_", extra="ignore")

    env: Environment = Environment.DEV
    database_url: str = f"sqlite+aiosqlite:///{REPO_ROOT / 'var' / 'govsvc.db'}"
    # PostgreSQL only: the schema to use (search_path); empty means the server default.
    database_schema: str = Field(default="", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$|^$")
    # Keys the stored hashes of API tokens (HMAC): a leaked database alone cannot be
    # brute-forced offline.
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    # Wraps each evidence item's data key; losing it makes encrypted evidence unreadable.
    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)
    # Ed25519 key (PEM, or a raw 32-byte seed in hex or base64) signing audit tree heads and
    # packs; empty: derived from the master key.
    audit_signing_key: SecretStr = SecretStr("")
    policies_dir: Path = REPO_ROOT / "policies"
    controls_dir: Path = REPO_ROOT / "controls"
    host: str = "127.0.0.1"
    port: int = 8000
    # Where the public reaches this service (https://status.example.com): the status feed's
    # links are built from it, never from a request's Host header (a forged Host would be
    # cached and served to everyone). Required in prod; elsewhere http://host:port stands in.
    public_url: str = ""

    token_default_ttl_days: int = Field(default=90, ge=1, le=3650)

    # OIDC: JWTs are accepted only with an issuer and audience set, and a JWKS URL or PEM key.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_public_key: str = ""
    oidc_email_claim: str = "email"
    oidc_algorithms: list[str] = ["RS256", "ES256"]

    graphql_max_depth: int = 12
    graphql_max_aliases: int = 20
    graphql_max_tokens: int = 4000
    graphql_max_page: int = 100

    sqlite_busy_timeout_ms: int = 30_000
    # Connection pool, per process (each `serve` and each `govsvc worker` has its own): at most
    # pool_size + max_overflow connections. Size it so that every process together stays below
    # PostgreSQL's max_connections (see the README, "Sizing the connection pool").
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    # How long a request waits for a free connection before it is refused (503), seconds.
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Connections older than this are replaced (firewalls and proxies drop idle ones), seconds.
    db_pool_recycle_seconds: int = Field(default=1800, ge=1)

    # WORM object store: file:///absolute/path (the dev-only file vault, retention enforced in
    # software only) or s3://bucket (any S3 API with Object Lock: AWS S3, MinIO, Ceph RGW).
    storage_url: str = (REPO_ROOT / "var" / "vault").as_uri()
    storage_lock_mode: LockMode = LockMode.COMPLIANCE
    # Where the S3 backend spools an upload sent without its sha256 (the digest must be known
    # before the multipart upload starts). Spooled bodies are anonymous temporary files that the
    # OS removes with the process, even one that is killed; the default is the system temp dir.
    # (The file vault spools under <vault>/tmp/, named by key, where recovery finds them.)
    storage_spool_dir: Path | None = None
    # An upload still unfinished this long after it began is taken for dead (its process
    # stopped): recovery fails it and removes what it left. Longer than any real upload lasts.
    evidence_upload_grace_seconds: int = Field(default=6 * 3600, ge=1)
    # S3 only. An empty endpoint means AWS; no keys means boto3's own credential chain.
    s3_endpoint_url: str = ""
    s3_region: str = Field(default="us-east-1", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_path_style: bool = False

    # Background work: disposition sweeps and audit checkpoints (in `serve` when embedded).
    worker_embedded: bool = True
    worker_sweep_interval_seconds: int = Field(default=300, ge=1)
    worker_checkpoint_interval_seconds: int = Field(default=3600, ge=1)
    audit_checkpoint_retention_days: int = Field(default=3650, ge=1)
    # Outbound webhooks (govsvc.outbox): the worker delivers due events every interval.
    worker_outbox_interval_seconds: int = Field(default=2, ge=1)
    # Alerts: how often pending detections, flapping, storms and heartbeats are looked at.
    worker_alert_interval_seconds: float = Field(default=5.0, gt=0)
    # Runbooks: the worker runs queued automated steps every interval.
    worker_runbook_interval_seconds: float = Field(default=1.0, gt=0)
    # On-call: how often the worker looks for escalation levels that have timed out.
    worker_escalation_interval_seconds: float = Field(default=5.0, gt=0)
    # E-mail for pages (outbox endpoints of kind "email"): the SMTP relay and the sender.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "govsvc@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # One attempt may take at most connect + 2 x read (sending the body, reading the answer).
    outbox_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    outbox_read_timeout_seconds: float = Field(default=10.0, gt=0)
    # How long a claimed delivery stays with its worker before another may take it over (a
    # crashed worker's claims come back then); never less than twice an attempt's deadline.
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    # Retries wait a random time in [0, min(cap, base * 2**(n-1))] after the n-th failure.
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_cap_seconds: float = Field(default=600.0, gt=0)
    # Attempts before a delivery is dead-lettered (an administrator may requeue it).
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    # Audit packs are built by the worker: it looks for queued ones every interval. A pack
    # whose builder has not reported progress for `pack_build_lease_seconds` (a crashed
    # worker) is taken over by the next worker.
    worker_pack_interval_seconds: int = Field(default=2, ge=1)
    pack_build_lease_seconds: int = Field(default=600, ge=30)
    # The organisation an audit pack's cover names (default: the top-level business units).
    organisation_name: str = Field(default="", max_length=200)
    # A regulator's clock is "due soon" this long before its deadline.
    clock_due_soon_hours: int = Field(default=12, ge=0)
    # The spaCy model Presidio uses (an installed package; nothing is downloaded at run time).
    redaction_model: str = "en_core_web_sm"
    # Idempotency-Key on mutations: how long a key (and the answer kept for it) lives, and
    # how long a first request may run before a retry takes its key over as abandoned.
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    idempotency_lease_seconds: int = Field(default=600, ge=1)
    # How often a live subscription looks for news (seconds).
    live_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # Largest evidence upload accepted (bytes); the body streams, this only bounds abuse.
    evidence_max_bytes: int = Field(default=50 * 1024**3, ge=1)
    # Largest alert payload accepted (bytes); Alertmanager batches of thousands fit in 8 MiB.
    alert_max_bytes: int = Field(default=8 * 1024**2, ge=1024)
    # Chat in (govsvc.chat): Slack's signing secret (requests older than 5 minutes are refused)
    # and a Teams outgoing webhook's security token (base64, as Teams shows it). Empty: off.
    slack_signing_secret: SecretStr = SecretStr("")
    teams_secret: SecretStr = SecretStr("")
    # Largest chat request accepted (bytes); Slack and Teams send a few kilobytes.
    chat_max_bytes: int = Field(default=256 * 1024, ge=1024)

    @model_validator(mode="after")
    def _refuse_placeholders_outside_dev(self) -> Self:
        if self.env is not Environment.DEV:
            secret = self.secret_key.get_secret_value()
            if secret == DEV_SECRET or len(secret) < 32:
                raise ValueError(
                    "GOVSVC_SECRET_KEY must be set to a random value of at least 32 characters "
                    f"when GOVSVC_ENV={self.env.value} "
                    "(placeholder secrets are refused outside dev)"
                )
            master = self.master_key.get_secret_value()
            if master == DEV_MASTER_KEY or len(master) < 32:
                raise ValueError(
                    "GOVSVC_MASTER_KEY must be set to a random value of at least 32 characters "
                    f"when GOVSVC_ENV={self.env.value} (it protects encrypted evidence)"
                )
        if bool(self.oidc_issuer) != bool(self.oidc_audience):
            raise ValueError("GOVSVC_OIDC_ISSUER and GOVSVC_OIDC_AUDIENCE must be set together")
        if self.oidc_issuer and not (self.oidc_jwks_url or self.oidc_public_key):
            raise ValueError("OIDC needs GOVSVC_OIDC_JWKS_URL or GOVSVC_OIDC_PUBLIC_KEY")
        return self

    @model_validator(mode="after")
    def _check_public_url(self) -> Self:
        if self.public_url:
            url = urlsplit(self.public_url)
            if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
                raise ValueError(
                    "GOVSVC_PUBLIC_URL must be an absolute http(s) URL without query or fragment "
                    f"(got {self.public_url!r})"
                )
            self.public_url = self.public_url.rstrip("/")
        elif self.env is Environment.PROD:
            raise ValueError(
                "GOVSVC_PUBLIC_URL must be set when GOVSVC_ENV=prod (the public status feed's "
                "links are built from it)"
            )
        return self

    @model_validator(mode="after")
    def _check_storage(self) -> Self:
        url = urlsplit(self.storage_url)
        if url.scheme == "file":
            if url.netloc not in ("", "localhost") or not url.path.startswith("/"):
                raise ValueError(
                    "GOVSVC_STORAGE_URL must be file:///absolute/path or s3://bucket "
                    f"(got {self.storage_url!r})"
                )
        elif url.scheme == "s3":
            if (
                not _S3_BUCKET.match(url.netloc)
                or url.path not in ("", "/")
                or url.query
                or url.fragment
            ):
                raise ValueError(
                    "GOVSVC_STORAGE_URL must be s3://bucket with a valid bucket name and no path "
                    f"(got {self.storage_url!r})"
                )
        else:
            raise ValueError(
                "GOVSVC_STORAGE_URL must be file:///absolute/path or s3://bucket "
                f"(got {self.storage_url!r})"
            )
        if self.s3_endpoint_url and urlsplit(self.s3_endpoint_url).scheme not in ("http", "https"):
            raise ValueError("GOVSVC_S3_ENDPOINT_URL must be an http:// or https:// URL")
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key.get_secret_value()):
            raise ValueError(
                "GOVSVC_S3_ACCESS_KEY_ID and GOVSVC_S3_SECRET_ACCESS_KEY must be set together"
            )
        return self

    @property
    def is_dev(self) -> bool:
        return self.env is Environment.DEV

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
