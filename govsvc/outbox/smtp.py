"""E-mail endpoints: an event as a plain-text message, sent over SMTP to the relay the settings
name (GOVSVC_SMTP_HOST, GOVSVC_SMTP_PORT, GOVSVC_SMTP_FROM). Python's smtplib, run in a thread
so the worker's other deliveries go on meanwhile."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from govsvc.outbox.formats import Event, Unsendable
from govsvc.settings import Settings

SUBJECT_MAX = 200


def recipients(url: str, event: Event) -> list[str]:
    """The endpoint's fixed addresses and the event's own `recipients`, each once."""
    fixed = [a for a in url.removeprefix("mailto:").split(",") if a]
    given = event.payload.get("recipients") or []
    if not isinstance(given, list) or not all(isinstance(a, str) and "@" in a for a in given):
        raise Unsendable("recipients must be a list of e-mail addresses")
    found = list(dict.fromkeys([*fixed, *given]))
    if not found:
        raise Unsendable("an e-mail needs recipients: the event names none and the endpoint none")
    return found


def message(settings: Settings, url: str, event: Event) -> EmailMessage:
    p = event.payload
    title = p.get("title") if isinstance(p.get("title"), str) else event.event_type
    severity = p.get("severity") if isinstance(p.get("severity"), str) else ""
    reference = p.get("incident_reference") if isinstance(p.get("incident_reference"), str) else ""
    subject = " ".join(
        x
        for x in (
            f"[{severity}]" if severity else "",
            str(title),
            f"({reference})" if reference else "",
        )
        if x
    )
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(recipients(url, event))
    mail["Subject"] = subject[:SUBJECT_MAX].replace("\n", " ")
    mail["Date"] = format_datetime(event.occurred_at)
    mail["Message-ID"] = make_msgid(domain="govsvc")
    # Receivers (and people's filters) drop repeats of one event by these.
    mail["X-Govsvc-Event"] = event.event_type
    mail["X-Govsvc-Idempotency-Key"] = event.idempotency_key
    text = p.get("text") if isinstance(p.get("text"), str) else ""
    status = p.get("status") if isinstance(p.get("status"), str) else ""
    lines = [str(text), "", f"Incident: {reference}", f"Severity: {severity}", f"Status: {status}"]
    mail.set_content("\n".join(lines) + "\n")
    return mail


class SmtpRefused(Exception):
    """The relay refused permanently (5xx): retrying would not help."""


def _send_now(settings: Settings, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        try:
            return smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if all(500 <= code < 600 for code in codes):
                raise SmtpRefused(f"recipients refused: {sorted(error.recipients)}") from None
            raise
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise SmtpRefused(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from None
            raise


async def send(settings: Settings, mail: EmailMessage) -> list[str]:
    """Send one message; returns the recipients the relay refused while taking it for the
    others. Raises SmtpRefused (permanent) or OSError/SMTPException (retry)."""
    refused = await asyncio.to_thread(_send_now, settings, mail)
    return sorted(refused)
