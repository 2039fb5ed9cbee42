"""Message templates: sandboxed Jinja2 (no attribute access to internals, every variable
required), versioned as rows, audited, previewed with sample data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govsvc import validation
from govsvc.audit.log import record
from govsvc.comms.models import Audience, Template
from govsvc.comms.sandbox import ENVIRONMENT, Limits, TemplateLimitExceeded, render_limited
from govsvc.errors import ErrorCode, Invalid, NotFound
from govsvc.incidents.classification import Severity
from govsvc.usecase import UseCase

if TYPE_CHECKING:
    pass

# Only plain data goes in: strings, numbers, lists and dicts built here, never ORM objects.
SAMPLE: dict[str, Any] = {
    "incident": {
        "reference": "INC-42",
        "title": "Card payments failing",
        "severity": "SEV2",
        "status": "investigating",
        "service": "Checkout",
    },
    "eta": "unknown",
    "next_update": "2026-11-27T10:00Z",
    "impact": "Some customers cannot pay by card.",
}
LIMITS = Limits()


def variables(body: str) -> list[str]:
    """The top-level variables a template uses; all of them are required."""
    try:
        return sorted(meta.find_undeclared_variables(ENVIRONMENT.parse(body)))
    except TemplateSyntaxError as error:
        raise Invalid(
            f"template syntax error on line {error.lineno}: {error.message}", field="body"
        ) from None


async def render(body: str, values: Mapping[str, Any], limits: Limits = LIMITS) -> str:
    """Render in the limited sandbox, in a worker thread so the event loop keeps serving;
    a missing variable, a forbidden operation or a limit reached is a typed error."""
    missing = [v for v in variables(body) if v not in values]
    if missing:
        raise Invalid(f"the template needs {', '.join(missing)}", field="variables")
    try:
        return (await asyncio.to_thread(render_limited, body, values, limits)).strip()
    except TemplateLimitExceeded as error:
        raise Invalid(
            f"the template exceeds a limit: {error}", field="body", code=ErrorCode.TEMPLATE_LIMIT
        ) from None
    except RecursionError:
        raise Invalid(
            "the template exceeds a limit: it recurses too deeply",
            field="body",
            code=ErrorCode.TEMPLATE_LIMIT,
        ) from None
    except SecurityError as error:
        raise Invalid(f"the template tried something not allowed: {error}", field="body") from None
    except UndefinedError as error:
        raise Invalid(
            f"the template refers to something undefined: {error.message}", field="variables"
        ) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as error:
        # Whatever else a template does wrong with its values is the writer's input, not ours.
        raise Invalid(f"the template failed: {error}", field="body") from None


async def create(
    uc: UseCase,
    *,
    name: str,
    audience: Audience,
    severities: Sequence[Severity],
    body: str,
) -> Template:
    """Add a template, or a new version of one; earlier versions stay for the record."""
    name = validation.code(name, field="name")
    body = validation.text(body, field="body", max_length=20_000)
    needed = variables(body)
    uc.caller.access.require_everywhere("manage", "template")
    await render(body, {**SAMPLE, **{v: f"<{v}>" for v in needed if v not in SAMPLE}})
    session = uc.session
    latest = (
        await session.execute(select(func.max(Template.version)).where(Template.name == name))
    ).scalar() or 0
    template = Template(
        name=name,
        version=latest + 1,
        audience=audience.value,
        severities=json.dumps(sorted(s.value for s in severities)),
        body=body,
        variables=json.dumps(needed),
        created_by=uc.caller.actor,
    )
    session.add(template)
    await session.flush()
    await record(
        session,
        uc.caller,
        "template.create",
        resource_type="template",
        resource_id=template.id,
        payload={
            "name": name,
            "version": template.version,
            "audience": audience.value,
            "body": body,
            "variables": needed,
        },
    )
    return template


async def preview(uc: UseCase, *, body: str, values: Mapping[str, Any] | None) -> str:
    """Render a template body with sample data (and the caller's values): for template writers."""
    uc.caller.access.require_everywhere("manage", "template")
    body = validation.text(body, field="body", max_length=20_000)
    return await render(body, {**SAMPLE, **(values or {})})


async def latest(session: AsyncSession, name: str) -> Template:
    found = (
        await session.execute(
            select(Template).where(Template.name == name).order_by(Template.version.desc()).limit(1)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no template named {name!r}", field="template", code=ErrorCode.NOT_FOUND)
    return found


async def list_templates(uc: UseCase) -> list[Template]:
    """Every template, every version (anyone signed in may read them)."""
    return list(
        (
            await uc.session.execute(select(Template).order_by(Template.name, Template.version))
        ).scalars()
    )
