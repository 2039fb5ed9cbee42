"""Settings from the environment (prefix GOVSVC_); placeholder secrets are refused outside dev."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-insecure-secret-change-me"  # noqa: S105 - the placeholder we refuse outside dev


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
    policies_dir: Path = REPO_ROOT / "policies"
    host: str = "127.0.0.1"
    port: int = 8000
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
        if bool(self.oidc_issuer) != bool(self.oidc_audience):
            raise ValueError("GOVSVC_OIDC_ISSUER and GOVSVC_OIDC_AUDIENCE must be set together")
        if self.oidc_issuer and not (self.oidc_jwks_url or self.oidc_public_key):
            raise ValueError("OIDC needs GOVSVC_OIDC_JWKS_URL or GOVSVC_OIDC_PUBLIC_KEY")
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
