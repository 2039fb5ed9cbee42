"""Authentication over HTTP: API tokens, OIDC JWTs (static PEM key and JWKS), and the settings
that guard them. Every refusal is a 401 with a Bearer challenge, before any GraphQL runs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select, update

from govsvc import usecase
from govsvc.app import create_app
from govsvc.audit.models import AuditEvent
from govsvc.auth.models import ApiToken
from govsvc.auth.tokens import hash_token, issue_token, revoke_token
from govsvc.caller import Caller
from govsvc.org.models import Principal
from govsvc.runtime import Runtime
from govsvc.settings import DEV_SECRET, Settings
from tests.conftest import SECRET, GraphQL, build_runtime

ISSUER = "https://idp.example.test/realms/govsvc"
AUDIENCE = "govsvc-api"
KID = "test-key-1"
PERSON_EMAIL = "ada@example.com"

INTRUDE = """
mutation { personCreate(input: {email: "intruder@example.com", name: "Intruder"}) {
  person { id } errors { code } } }
"""


# ---------------------------------------------------------------------------- helpers


def assert_unauthenticated(response: httpx.Response) -> None:
    """A 401 with a Bearer challenge and the JSON error, and no GraphQL result at all."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"errors"}, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def post(http: httpx.AsyncClient, query: str, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return await http.post("/graphql", json={"query": query}, headers=headers)


@dataclass(frozen=True)
class Footprint:
    """What a request that ran would have left behind."""

    audit_events: int
    intruders: int


async def footprint(runtime: Runtime) -> Footprint:
    async with runtime.db.read() as session:
        events = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        intruders = (
            await session.execute(
                select(func.count())
                .select_from(Principal)
                .where(Principal.email == "intruder@example.com")
            )
        ).scalar_one()
    return Footprint(events, intruders)


async def create_person(gql: GraphQL, email: str) -> str:
    data = await gql(
        'mutation($e: String!) { personCreate(input: {email: $e, name: "Ada"}) '
        "{ person { id } errors { message } } }",
        {"e": email},
    )
    assert data["personCreate"]["errors"] == []
    person_id: str = data["personCreate"]["person"]["id"]
    return person_id


async def mint_api_token(gql: GraphQL, person_id: str, seconds: int = 3600) -> str:
    data = await gql(
        "mutation($p: ID!, $s: Int!) { apiTokenCreate(input: {principalId: $p, "
        "expiresInSeconds: $s}) { token errors { message } } }",
        {"p": person_id, "s": seconds},
    )
    assert data["apiTokenCreate"]["errors"] == []
    token: str = data["apiTokenCreate"]["token"]
    return token


async def deactivate(gql: GraphQL, person_id: str) -> None:
    data = await gql(
        "mutation($id: ID!) { personUpdate(input: {id: $id, active: false}) "
        "{ person { active } errors { message } } }",
        {"id": person_id},
    )
    assert data["personUpdate"] == {"person": {"active": False}, "errors": []}


def system(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, "system:test")


async def principal_named(runtime: Runtime, email: str) -> Principal:
    async with runtime.db.read() as session:
        return (
            await session.execute(select(Principal).where(Principal.email == email))
        ).scalar_one()


# ---------------------------------------------------------------------------- open endpoints


async def test_healthz_answers_without_credentials(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/healthz")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_without_credentials(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/readyz")
    # then
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "problems": []}


# ---------------------------------------------------------------------------- API tokens


async def test_a_valid_api_token_authenticates(http: httpx.AsyncClient, admin_token: str) -> None:
    # when
    response = await post(http, "{ me { actor } }", f"Bearer {admin_token}")
    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}


async def test_the_bearer_scheme_is_case_insensitive(
    http: httpx.AsyncClient, admin_token: str
) -> None:
    # when
    response = await post(http, "{ me { actor } }", f"bearer {admin_token}")
    # then
    assert response.status_code == 200
    assert response.json()["data"]["me"]["actor"] == "admin@govsvc.local"


BAD_HEADERS: dict[str, Callable[[str], str | None]] = {
    "no header": lambda _: None,
    "empty header": lambda _: "",
    "scheme only": lambda _: "Bearer",
    "scheme and blanks": lambda _: "Bearer    ",
    "token without scheme": lambda token: token,
    "basic scheme": lambda _: "Basic " + base64.b64encode(b"admin:hunter2").decode(),
    "basic scheme carrying a valid token": lambda token: f"Basic {token}",
    "another scheme": lambda token: f"Token {token}",
    "unknown token": lambda _: "Bearer gsv_" + secrets.token_urlsafe(32),
    "valid token with a suffix": lambda token: f"Bearer {token}x",
    "truncated token": lambda token: f"Bearer {token[:-1]}",
    "a JWT while OIDC is off": lambda _: "Bearer eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImEifQ.",
}


@pytest.mark.parametrize("case", list(BAD_HEADERS))
async def test_a_bad_authorization_header_is_refused_and_runs_nothing(
    case: str, http: httpx.AsyncClient, runtime: Runtime, admin_token: str
) -> None:
    # given
    before = await footprint(runtime)
    # when
    response = await post(http, INTRUDE, BAD_HEADERS[case](admin_token))
    # then
    assert_unauthenticated(response)
    assert await footprint(runtime) == before == Footprint(before.audit_events, 0)


async def test_a_get_query_without_credentials_is_refused(http: httpx.AsyncClient) -> None:
    # when
    response = await http.get("/graphql", params={"query": "{ me { actor } }"})
    # then
    assert_unauthenticated(response)


async def test_an_expired_token_is_refused_and_runs_nothing(
    http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    # given a token that works, then has its expiry moved into the past
    token = await mint_api_token(gql, await create_person(gql, PERSON_EMAIL))
    assert (await post(http, "{ me { actor } }", f"Bearer {token}")).status_code == 200
    async with runtime.db.write() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(SECRET, token))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    before = await footprint(runtime)
    # when
    response = await post(http, INTRUDE, f"Bearer {token}")
    # then
    assert_unauthenticated(response)
    assert await footprint(runtime) == before


async def test_a_token_with_a_tiny_lifetime_stops_working(
    http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    # given
    await create_person(gql, PERSON_EMAIL)
    person = await principal_named(runtime, PERSON_EMAIL)
    async with runtime.db.write() as session:
        issued = await issue_token(
            session,
            system(runtime),
            secret=SECRET,
            principal=person,
            ttl=timedelta(milliseconds=50),
        )
    # when
    await asyncio.sleep(0.1)
    response = await post(http, "{ me { actor } }", f"Bearer {issued.plaintext}")
    # then
    assert_unauthenticated(response)


async def test_a_revoked_token_is_refused_and_runs_nothing(
    http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    # given
    token = await mint_api_token(gql, await create_person(gql, PERSON_EMAIL))
    assert (await post(http, "{ me { actor } }", f"Bearer {token}")).status_code == 200
    await usecase.run(runtime, system(runtime), revoke_token, token=token)
    before = await footprint(runtime)
    # when
    response = await post(http, INTRUDE, f"Bearer {token}")
    # then
    assert_unauthenticated(response)
    assert await footprint(runtime) == before


async def test_revoking_one_token_leaves_the_others_working(
    http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    # given two tokens of one person
    person_id = await create_person(gql, PERSON_EMAIL)
    kept, revoked = await mint_api_token(gql, person_id), await mint_api_token(gql, person_id)
    # when
    await usecase.run(runtime, system(runtime), revoke_token, token=revoked)
    # then
    assert_unauthenticated(await post(http, "{ me { actor } }", f"Bearer {revoked}"))
    response = await post(http, "{ me { actor } }", f"Bearer {kept}")
    assert response.json() == {"data": {"me": {"actor": PERSON_EMAIL}}}


async def test_the_token_of_a_deactivated_person_is_refused_and_runs_nothing(
    http: httpx.AsyncClient, gql: GraphQL, runtime: Runtime
) -> None:
    # given
    person_id = await create_person(gql, PERSON_EMAIL)
    token = await mint_api_token(gql, person_id)
    assert (await post(http, "{ me { actor } }", f"Bearer {token}")).status_code == 200
    # when
    await deactivate(gql, person_id)
    before = await footprint(runtime)
    response = await post(http, INTRUDE, f"Bearer {token}")
    # then
    assert_unauthenticated(response)
    assert await footprint(runtime) == before


async def test_a_token_made_under_another_secret_is_refused(
    settings: Settings, runtime: Runtime, admin_token: str
) -> None:
    # given the same database served with a rotated secret
    rotated = settings.model_copy(update={"secret_key": SecretStr("rotated-" + "y" * 40)})
    async with client_for(rotated, runtime) as http:
        # when
        response = await post(http, "{ me { actor } }", f"Bearer {admin_token}")
    # then
    assert_unauthenticated(response)


async def test_tokens_are_stored_only_as_keyed_hashes(
    gql: GraphQL, runtime: Runtime, admin_token: str
) -> None:
    # given
    other = await mint_api_token(gql, await create_person(gql, PERSON_EMAIL))
    plaintexts = {admin_token, other}
    # when
    async with runtime.db.read() as session:
        rows = list((await session.execute(select(ApiToken))).scalars())
        events = list((await session.execute(select(AuditEvent))).scalars())
    # then
    assert len(rows) == 2
    assert {row.token_hash for row in rows} == {hash_token(SECRET, t) for t in plaintexts}
    for row in rows:
        stored = " ".join(str(value) for value in vars(row).values())
        for token in plaintexts:
            assert token not in stored
            assert token.removeprefix("gsv_") not in stored
            assert hashlib.sha256(token.encode()).hexdigest() != row.token_hash  # keyed
        assert row.prefix in {t[:10] for t in plaintexts}
    for event in events:
        assert not any(token in event.payload for token in plaintexts)


# ---------------------------------------------------------------------------- OIDC


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rogue_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(
    *,
    email: str | None = PERSON_EMAIL,
    iss: str = ISSUER,
    aud: str | list[str] = AUDIENCE,
    expires_in: timedelta = timedelta(minutes=5),
    **extra: Any,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "sub": "subject-123",
        "iat": int(now.timestamp()),
        "exp": int((now + expires_in).timestamp()),
        **extra,
    }
    if email is not None:
        body["email"] = email
    return body


def sign(key: rsa.RSAPrivateKey, body: dict[str, Any], kid: str = KID) -> str:
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def unsigned(body: dict[str, Any], kid: str = KID) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}."


def hs256_with_public_key(key: rsa.RSAPrivateKey, body: dict[str, Any]) -> str:
    """The algorithm-confusion attack: HMAC keyed with the (public) verification key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
    mac = hmac.new(public_pem(key).encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def without_exp(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "exp"}


REJECTED_JWTS: dict[str, Callable[[rsa.RSAPrivateKey, rsa.RSAPrivateKey], str]] = {
    "wrong audience": lambda key, _: sign(key, claims(aud="another-api")),
    "wrong issuer": lambda key, _: sign(key, claims(iss="https://evil.example.test/")),
    "expired": lambda key, _: sign(key, claims(expires_in=timedelta(seconds=-30))),
    "not yet valid": lambda key, _: sign(
        key, claims(nbf=int((datetime.now(UTC) + timedelta(minutes=5)).timestamp()))
    ),
    "without exp": lambda key, _: sign(key, without_exp(claims())),
    "signed by another key": lambda _, rogue: sign(rogue, claims()),
    "alg none": lambda _, __: unsigned(claims()),
    "HS256 keyed with the public key": lambda key, _: hs256_with_public_key(key, claims()),
    "tampered payload": lambda key, _: _swap_payload(
        sign(key, claims(email="stranger@example.com")), claims()
    ),
    "unknown email": lambda key, _: sign(key, claims(email="stranger@example.com")),
    "no email claim": lambda key, _: sign(key, claims(email=None)),
    "garbage": lambda _, __: "not.a.jwt",
}


def _swap_payload(token: str, body: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64url(json.dumps(body).encode())}.{signature}"


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving one JSON key set, counting its requests."""

    def __init__(self, jwks: dict[str, Any]):
        body = json.dumps(jwks).encode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.requests = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/jwks.json"

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def jwks_server(idp_key: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    jwk = RSAAlgorithm.to_jwk(idp_key.public_key(), as_dict=True)
    jwk.update(kid=KID, use="sig", alg="RS256")
    with JwksServer({"keys": [jwk]}) as server:
        yield server


def oidc_settings(base: Settings, **oidc: Any) -> Settings:
    """The test database's settings plus OIDC, validated like any other Settings."""
    return Settings(
        env=base.env,
        database_url=base.database_url,
        database_schema=base.database_schema,
        secret_key=base.secret_key,
        master_key=base.master_key,
        storage_url=base.storage_url,
        worker_embedded=False,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        **oidc,
    )


@asynccontextmanager
async def client_for(
    app_settings: Settings, runtime: Runtime | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(app_settings, runtime or build_runtime(app_settings))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://govsvc.test") as http:
            yield http
    finally:
        if runtime is None:
            await app.state.runtime.db.dispose()


@dataclass
class OidcService:
    http: httpx.AsyncClient
    mode: str
    idp_key: rsa.RSAPrivateKey
    rogue_key: rsa.RSAPrivateKey
    person_id: str
    jwks: JwksServer | None = None
    modes: ClassVar[tuple[str, ...]] = ("pem", "jwks")

    async def me(self, token: str) -> httpx.Response:
        return await post(self.http, "{ me { actor } }", f"Bearer {token}")


@pytest.fixture(params=OidcService.modes)
async def oidc(
    request: pytest.FixtureRequest,
    settings: Settings,
    gql: GraphQL,
    idp_key: rsa.RSAPrivateKey,
    rogue_key: rsa.RSAPrivateKey,
    jwks_server: JwksServer,
) -> AsyncIterator[OidcService]:
    """A second app on the test database, trusting the test IdP by PEM key or by JWKS URL."""
    person_id = await create_person(gql, PERSON_EMAIL)
    mode: str = request.param
    if mode == "pem":
        app_settings = oidc_settings(settings, oidc_public_key=public_pem(idp_key))
    else:
        app_settings = oidc_settings(settings, oidc_jwks_url=jwks_server.url)
    async with client_for(app_settings) as http:
        yield OidcService(
            http, mode, idp_key, rogue_key, person_id, jwks_server if mode == "jwks" else None
        )


async def test_a_valid_jwt_of_a_registered_person_authenticates(oidc: OidcService) -> None:
    # given
    requests_before = oidc.jwks.requests if oidc.jwks else 0
    token = sign(oidc.idp_key, claims())
    # when
    response = await oidc.me(token)
    # then
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"me": {"actor": PERSON_EMAIL}}}
    if oidc.jwks is not None:
        assert oidc.jwks.requests > requests_before  # the key really came from the JWKS URL


async def test_the_email_claim_is_matched_case_insensitively(oidc: OidcService) -> None:
    # when
    response = await oidc.me(sign(oidc.idp_key, claims(email="  Ada@Example.COM ")))
    # then
    assert response.json() == {"data": {"me": {"actor": PERSON_EMAIL}}}


async def test_an_audience_list_containing_ours_is_accepted(oidc: OidcService) -> None:
    # when
    response = await oidc.me(sign(oidc.idp_key, claims(aud=["other-api", AUDIENCE])))
    # then
    assert response.json() == {"data": {"me": {"actor": PERSON_EMAIL}}}


@pytest.mark.parametrize("case", list(REJECTED_JWTS))
async def test_a_bad_jwt_is_refused_and_runs_nothing(
    case: str, oidc: OidcService, runtime: Runtime
) -> None:
    # given
    token = REJECTED_JWTS[case](oidc.idp_key, oidc.rogue_key)
    before = await footprint(runtime)
    # when
    response = await post(oidc.http, INTRUDE, f"Bearer {token}")
    # then
    assert_unauthenticated(response)
    assert await footprint(runtime) == before


async def test_a_jwt_of_a_deactivated_person_is_refused(oidc: OidcService, gql: GraphQL) -> None:
    # given
    token = sign(oidc.idp_key, claims())
    assert (await oidc.me(token)).status_code == 200
    # when
    await deactivate(gql, oidc.person_id)
    # then
    assert_unauthenticated(await oidc.me(token))


async def test_a_jwt_with_a_key_id_missing_from_the_jwks_is_refused(
    settings: Settings, gql: GraphQL, idp_key: rsa.RSAPrivateKey, jwks_server: JwksServer
) -> None:
    # given
    await create_person(gql, PERSON_EMAIL)
    # when
    async with client_for(oidc_settings(settings, oidc_jwks_url=jwks_server.url)) as http:
        response = await post(http, "{ me { actor } }", f"Bearer {sign(idp_key, claims(), 'x')}")
    # then
    assert_unauthenticated(response)


async def test_an_unreachable_jwks_url_refuses_rather_than_fails(
    settings: Settings, gql: GraphQL, idp_key: rsa.RSAPrivateKey
) -> None:
    # given a port nobody listens on (bound, then released)
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]
    await create_person(gql, PERSON_EMAIL)
    app_settings = oidc_settings(settings, oidc_jwks_url=f"http://127.0.0.1:{port}/jwks.json")
    # when
    async with client_for(app_settings) as http:
        response = await post(http, "{ me { actor } }", f"Bearer {sign(idp_key, claims())}")
    # then
    assert_unauthenticated(response)


async def test_api_tokens_still_work_when_oidc_is_on(
    settings: Settings, admin_token: str, idp_key: rsa.RSAPrivateKey
) -> None:
    # given
    app_settings = oidc_settings(settings, oidc_public_key=public_pem(idp_key))
    # when
    async with client_for(app_settings) as http:
        response = await post(http, "{ me { actor } }", f"Bearer {admin_token}")
    # then
    assert response.json() == {"data": {"me": {"actor": "admin@govsvc.local"}}}


# ---------------------------------------------------------------------------- settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ENV",
        "SECRET_KEY",
        "MASTER_KEY",
        "OIDC_ISSUER",
        "OIDC_AUDIENCE",
        "OIDC_JWKS_URL",
    ):
        monkeypatch.delenv(f"GOVSVC_{name}", raising=False)
    monkeypatch.delenv("GOVSVC_OIDC_PUBLIC_KEY", raising=False)


@pytest.mark.usefixtures("clean_env")
def test_prod_refuses_the_placeholder_secret() -> None:
    # when / then
    with pytest.raises(ValidationError, match="GOVSVC_SECRET_KEY"):
        Settings(env="prod")


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("env", ["prod", "test"])
@pytest.mark.parametrize("secret", [DEV_SECRET, "too-short-" + "z" * 20])
def test_outside_dev_a_weak_secret_from_the_environment_is_refused(
    env: str, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setenv("GOVSVC_ENV", env)
    monkeypatch.setenv("GOVSVC_SECRET_KEY", secret)
    # when / then
    with pytest.raises(ValidationError, match="GOVSVC_SECRET_KEY"):
        Settings()


@pytest.mark.usefixtures("clean_env")
def test_dev_accepts_the_placeholder_and_prod_a_real_secret() -> None:
    # when
    dev = Settings()
    prod = Settings(
        env="prod",
        secret_key=secrets.token_urlsafe(32),
        master_key=secrets.token_urlsafe(32),
        public_url="https://status.example.com",
    )
    # then
    assert dev.is_dev
    assert dev.secret_key.get_secret_value() == DEV_SECRET
    assert not prod.is_dev


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("oidc", "names"),
    [
        ({"oidc_issuer": ISSUER, "oidc_public_key": "pem"}, "GOVSVC_OIDC_AUDIENCE"),
        ({"oidc_audience": AUDIENCE, "oidc_public_key": "pem"}, "GOVSVC_OIDC_ISSUER"),
        ({"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE}, "GOVSVC_OIDC_JWKS_URL"),
    ],
    ids=["issuer without audience", "audience without issuer", "no key source"],
)
def test_incomplete_oidc_settings_are_refused(oidc: dict[str, Any], names: str) -> None:
    # when / then
    with pytest.raises(ValidationError, match=names):
        Settings(**oidc)
