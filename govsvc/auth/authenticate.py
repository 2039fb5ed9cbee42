"""Turn an Authorization header into a Caller, or refuse it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from govsvc.auth.oidc import OidcVerifier
from govsvc.auth.tokens import looks_like_api_token, principal_for_token
from govsvc.authz.policy import AccessPolicy
from govsvc.caller import Caller
from govsvc.db import Database
from govsvc.errors import Unauthenticated, Unavailable
from govsvc.grants.loading import caller_for
from govsvc.org.models import Principal, PrincipalKind
from govsvc.text_input import is_storable


class Authenticator:
    def __init__(self, *, db: Database, policy: AccessPolicy, secret: str, oidc: OidcVerifier):
        self.db = db
        self.policy = policy
        self.secret = secret
        self.oidc = oidc

    async def authenticate_request(self, request: HTTPConnection) -> Caller:
        return await self.authenticate(
            request.headers.get("authorization"),
            request_id=request.scope.get("state", {}).get("request_id"),
        )

    async def authenticate(self, authorization: str | None, *, request_id: str | None) -> Caller:
        credential = _bearer(authorization)
        try:
            return await self._caller(credential, request_id)
        except (SQLAlchemyError, OSError) as error:
            # Not the client's fault and not a bug here: say so (503), and let them retry.
            raise Unavailable("the credential cannot be checked just now") from error

    async def _caller(self, credential: str, request_id: str | None) -> Caller:
        async with self.db.read() as session:
            principal: Principal | None
            if looks_like_api_token(credential):
                principal = await principal_for_token(session, secret=self.secret, token=credential)
            else:
                email = await self.oidc.email_of(credential)
                principal = None
                # A claim holding text no database stores names nobody (and must not reach SQL).
                if email is not None and is_storable(email):
                    principal = (
                        await session.execute(
                            select(Principal).where(
                                # An identity provider speaks for people, never machines.
                                Principal.email == email,
                                Principal.kind == PrincipalKind.PERSON.value,
                                Principal.active,
                            )
                        )
                    ).scalar_one_or_none()
            if principal is None:
                raise Unauthenticated("invalid, expired or revoked credential")
            return await caller_for(session, self.policy, principal.id, principal.email, request_id)


def unauthenticated(error: Unauthenticated) -> Response:
    """The one way this service says 401."""
    return JSONResponse(
        {"errors": [{"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="govsvc"'},
    )


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing Authorization header (expected: Bearer <token>)")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Unauthenticated("expected: Authorization: Bearer <token>")
    return credential.strip()
