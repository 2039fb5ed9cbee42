"""govsvc serve | migrate | token create/revoke | audit verify | schema export."""

from __future__ import annotations

import asyncio
import gc
import getpass
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import click
from pydantic import ValidationError

from govsvc import usecase
from govsvc.audit import chain, checkpoints
from govsvc.auth import tokens
from govsvc.caller import Caller
from govsvc.errors import Forbidden, ServiceError
from govsvc.evidence import recovery
from govsvc.grants import service as authz_service
from govsvc.org import service as org_service
from govsvc.retention import disposition
from govsvc.runtime import Runtime
from govsvc.settings import REPO_ROOT, Settings
from govsvc.storage import StorageError

T = TypeVar("T")
_DURATION = re.compile(r"^(\d+)\s*([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise click.BadParameter("use a number with s, m, h, d or w, e.g. 90d or 12h")
    try:
        return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    except OverflowError:
        raise click.BadParameter("too long (a token lives at most 10 years)") from None


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        # Never echo the input: it holds the secret key and the database URL (with password).
        problems = "; ".join(
            (f"GOVSVC_{e['loc'][0]}".upper() + ": " if e["loc"] else "") + e["msg"]
            for e in error.errors(include_input=False, include_url=False)
        )
        raise click.ClickException(f"bad settings: {problems}") from None


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = _settings()
    runtime = Runtime.build(settings)

    async def main() -> T:
        try:
            return await work(runtime)
        finally:
            await runtime.db.dispose()

    try:
        return asyncio.run(main())
    except ServiceError as error:
        where = f" ({error.field})" if error.field else ""
        raise click.ClickException(f"{error.code.value}{where}: {error.message}") from None
    except Forbidden as error:
        raise click.ClickException(f"FORBIDDEN: {error}") from None


def _cli_caller(runtime: Runtime) -> Caller:
    return Caller.system(runtime.policies.access, f"cli:{getpass.getuser()}")


@click.group()
def main() -> None:
    """govsvc: govern service outages, with regulator-ready evidence at every step."""


@main.command()
def migrate() -> None:
    """Bring the database schema to the newest migration."""
    from govsvc.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, settings.database_schema)
    click.echo("database is at the newest migration", err=True)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default from GOVSVC_HOST).")
@click.option("--port", default=None, type=int, help="Port (default from GOVSVC_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API; on an empty database, create the first administrator and print a token."""
    import uvicorn

    from govsvc import health
    from govsvc.app import create_app
    from govsvc.bootstrap import bootstrap_admin

    settings = _settings()
    if host or port:
        settings = settings.model_copy(
            update={k: v for k, v in (("host", host), ("port", port)) if v}
        )
    runtime = Runtime.build(settings)

    async def prepare() -> tuple[list[str], object]:
        try:
            problems = await health.readiness_problems(runtime.db)
            try:
                await runtime.store.check()
            except StorageError as error:
                problems.append(f"evidence storage: {error}")
            if problems:
                return problems, None
            # Uploads a previous process was writing when it died: fail them, clean up. A
            # failure here must not keep the service down: the worker's job tries again.
            try:
                await usecase.run(
                    runtime,
                    Caller.system(runtime.policies.access, "system:serve"),
                    recovery.reconcile_uploads,
                )
            except Exception:
                logging.getLogger("govsvc").exception(
                    "recovering interrupted uploads at start-up failed; the worker retries"
                )
            return problems, await bootstrap_admin(runtime)
        finally:
            # These connections belong to this short-lived event loop, not uvicorn's.
            await runtime.db.dispose()

    problems, first = asyncio.run(prepare())
    if problems:
        raise click.ClickException("; ".join(problems))
    _banner(settings, first)
    app = create_app(settings, runtime)
    # What is loaded now lives as long as the process: keep the collector from rescanning it
    # (full collections were ~40% of a page's CPU and all of its latency tail; see bench/).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


def _banner(settings: Settings, first: object) -> None:
    url = settings.base_url
    lines = [
        f"govsvc ({settings.env.value}) on {url}",
        f"  GraphQL:  {url}/graphql" + (" (GraphiQL in a browser)" if settings.is_dev else ""),
        f"  health:   {url}/healthz  {url}/readyz",
        f"  evidence: {settings.storage_url}",
    ]
    if first is not None:
        token = first.token  # type: ignore[attr-defined]
        lines += [
            "",
            f"First run: created administrator {first.email}.",  # type: ignore[attr-defined]
            "Their API token (shown once, expires in 30 days; only a hash is kept):",
            f"  {token}",
            "",
            "Try it:",
            f"  curl -s {url}/graphql -H 'Authorization: Bearer {token}' \\",
            "    -H 'Content-Type: application/json' -d '{\"query\":\"{ me { actor roles } }\"}'",
            "In GraphiQL, open Headers and paste:",
            f'  {{"Authorization": "Bearer {token}"}}',
        ]
    else:
        lines += [
            "",
            "Authenticate with a token: govsvc token create --email you@example.com "
            "--role admin   (then send Authorization: Bearer <token>)",
        ]
    click.echo("\n".join(lines), err=True)


@main.group()
def token() -> None:
    """Mint and revoke API tokens."""


@token.command("create")
@click.option("--email", required=True, help="Person e-mail or machine:<handle>.")
@click.option("--role", default=None, help="Also grant this role.")
@click.option("--unit", default=None, help="Business unit code for the grant (default: all).")
@click.option(
    "--expires-in",
    "expires_in",
    default="90d",
    show_default=True,
    help="Lifetime, e.g. 30d, 12h, 3600.",
)
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def token_create(
    email: str, role: str | None, unit: str | None, expires_in: str, name: str
) -> None:
    """Print a new token (alone, on stdout); creates the person when unknown."""
    ttl = parse_duration(expires_in)
    if unit and not role:
        raise click.BadParameter("--unit needs --role", param_hint="--unit")

    async def work(runtime: Runtime) -> str:
        async with usecase.writing(runtime, _cli_caller(runtime)) as uc:
            principal = await org_service.principal_by_email(uc, email)
            if principal is None:
                short_name = email.removeprefix("machine:").split("@")[0]
                if email.startswith("machine:"):
                    principal = await org_service.create_machine(uc, handle=email, name=short_name)
                else:
                    principal = await org_service.create_person(uc, email=email, name=short_name)
            if role:
                unit_id = None
                if unit:
                    found = await org_service.business_unit_by_code(uc, unit)
                    if found is None:
                        raise click.ClickException(f"no business unit with code {unit!r}")
                    unit_id = found.id
                await authz_service.grant_role(
                    uc, principal_id=principal.id, role=role, business_unit_id=unit_id
                )
            issued = await tokens.create_token(uc, principal_id=principal.id, ttl=ttl, name=name)
            return issued.plaintext

    click.echo(_run(work))


@token.command("revoke")
@click.option("--token", "value", default=None, help="The token itself.")
@click.option("--id", "token_id", default=None, type=int, help="The token's id.")
def token_revoke(value: str | None, token_id: int | None) -> None:
    """Revoke a token, named by its value or its id."""
    if (value is None) == (token_id is None):
        raise click.UsageError("give exactly one of --token and --id")

    async def work(runtime: Runtime) -> int:
        revoked = await usecase.run(
            runtime, _cli_caller(runtime), tokens.revoke_token, token=value, token_id=token_id
        )
        return revoked.id

    click.echo(f"token {_run(work)} revoked", err=True)


@main.group()
def audit() -> None:
    """Check the audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain and compare it with the checkpoints kept in WORM storage;
    exit 1 naming the first bad event (or checkpoint) if it does not hold."""

    async def work(runtime: Runtime) -> tuple[chain.VerifyResult, list[str]]:
        async with runtime.db.read() as session:
            return await chain.verify(session), await checkpoints.verify_checkpoints(
                runtime, session
            )

    result, problems = _run(work)
    if not result.ok:
        click.echo(f"audit chain BROKEN at event {result.first_bad_seq}: {result.problem}")
        sys.exit(1)
    if problems:
        click.echo("audit chain does not match its WORM checkpoints:\n  " + "\n  ".join(problems))
        sys.exit(1)
    click.echo(
        f"audit chain intact: {result.events_checked} events, head seq "
        f"{result.head_seq}, head hash {result.head_hash}"
    )


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Write the chain's head to WORM storage now (unless it is there already)."""

    async def work(runtime: Runtime) -> str:
        checkpoint = await checkpoints.write_checkpoint(runtime)
        if checkpoint is None:
            return "audit chain is empty; nothing to checkpoint"
        return f"checkpoint of event {checkpoint.seq} is in WORM storage: {checkpoint.storage_key}"

    click.echo(_run(work))


@main.group()
def retention() -> None:
    """Retention and disposition of evidence."""


@retention.command("sweep")
@click.option("--dry-run", is_flag=True, help="List what would be disposed of; change nothing.")
def retention_sweep(dry_run: bool) -> None:
    """Dispose of evidence past its retention and under no legal hold, keeping a record."""

    async def work(runtime: Runtime) -> disposition.SweepResult:
        return await usecase.run(runtime, _cli_caller(runtime), disposition.sweep, dry_run=dry_run)

    result = _run(work)
    verb = "would dispose of" if dry_run else "disposed of"
    click.echo(
        f"{verb} {len(result.disposed)} item(s)"
        + (f" in run {result.run_id}" if result.run_id else "")
    )
    for c in result.disposed:
        click.echo(
            f"  evidence {c.evidence_id}  {c.sha256}  rule {c.retention_rule}  "
            f"retained until {c.retain_until.isoformat()}  {c.title}"
        )
    for c, why in result.skipped:
        click.echo(f"  kept {c.evidence_id}: {why}")


@main.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
def worker(once: bool) -> None:
    """Run background jobs (sweeps, tree heads, checkpoints, deliveries, upload recovery); each
    job runs in one worker at a time, so any number of workers may run."""
    from govsvc.worker import run_worker

    _run(lambda runtime: run_worker(runtime, once=once))


@main.group()
def pack() -> None:
    """Audit packs."""


# `pack verify` exit codes (documented in the README): a script that only checks for 0 never
# mistakes a pack signed by whoever made it for one signed by the organisation's key.
PACK_VERIFIED = 0
PACK_FAILED = 1
PACK_AUTHENTICITY_UNCHECKED = 3


@pack.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trusted-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM public key your organisation published. Without it the pack is only checked "
    "against the key it carries itself, and the command exits with 3.",
)
def pack_verify(path: Path, trusted_key: Path | None) -> None:
    """Verify an audit pack offline: file hashes, signatures, events and inclusion proofs.

    Exit codes: 0 verified and signed by the trusted key; 1 verification failed; 3 intact and
    self-consistent, but authenticity NOT checked (no --trusted-key given)."""
    from govsvc.compliance.pack_verify import verify_pack

    report = verify_pack(path, trusted_key_pem=trusted_key.read_text() if trusted_key else None)
    if not report.ok:
        click.echo(f"pack FAILED verification ({len(report.problems)} problem(s)):")
        for problem in report.problems:
            click.echo(f"  {problem}")
        sys.exit(PACK_FAILED)
    click.echo(
        f"pack verified: {report.checked_files} files, {report.checked_events} audit "
        f"events with inclusion proofs, signed by key {report.key_id}"
    )
    if trusted_key is None:
        # Anyone can build a self-consistent pack with a key of their own: say so loudly.
        click.echo(
            "WARNING: AUTHENTICITY NOT CHECKED. The pack was verified only against the public "
            "key it carries itself (key id "
            f"{report.key_id}), so anyone could have made it. Verify again with "
            "--trusted-key <your organisation's published key.pem>.",
            err=True,
        )
        sys.exit(PACK_AUTHENTICITY_UNCHECKED)
    sys.exit(PACK_VERIFIED)


@main.group()
def schema() -> None:
    """The GraphQL schema as SDL."""


@schema.command("export")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=REPO_ROOT / "schema.graphql",
    show_default=True,
)
def schema_export(output: Path) -> None:
    """Write the schema the code defines (CI compares it with the committed file)."""
    from govsvc.graphql.schema import schema_sdl

    output.write_text(schema_sdl())
    click.echo(f"wrote {output}", err=True)
