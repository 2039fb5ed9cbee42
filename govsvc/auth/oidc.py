"""OIDC bearer JWTs, verified against the configured issuer, audience and keys."""

from __future__ import annotations

from typing import Any

import anyio
import jwt

from govsvc.settings import Settings


class OidcVerifier:
    def __init__(self, settings: Settings):
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = settings.oidc_algorithms
        self.email_claim = settings.oidc_email_claim
        self._static_key = settings.oidc_public_key or None
        # PyJWKClient caches the key set and refetches only for an unknown key id.
        self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url) if settings.oidc_jwks_url else None

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)

    async def email_of(self, token: str) -> str | None:
        """The verified e-mail claim of a JWT, or None when it does not verify."""
        if not self.enabled:
            return None
        try:
            key = await self._signing_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        email = claims.get(self.email_claim)
        return email.strip().lower() if isinstance(email, str) and email.strip() else None

    async def _signing_key(self, token: str) -> Any:
        if self._static_key is not None:
            return self._static_key
        assert self._jwks is not None  # noqa: S101 - settings validation guarantees one of them
        jwks = self._jwks
        # The key-set fetch is blocking I/O; keep it off the event loop.
        signing_key = await anyio.to_thread.run_sync(jwks.get_signing_key_from_jwt, token)
        return signing_key.key
