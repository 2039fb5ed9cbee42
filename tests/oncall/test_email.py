"""Pages by e-mail: an `email` outbox endpoint, delivered over SMTP to a real server (aiosmtpd)
on 127.0.0.1, addressed to the person paged; a refusing server dead-letters with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from govsvc.outbox.deliver import deliver_due
from govsvc.outbox.models import Delivery
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL, free_port
from tests.graphql import helpers
from tests.oncall.helpers import ERRORS, layer, person, point_service, policy, schedule


class Mailbox:
    """What the SMTP server received; refuses recipients at `refuse.example`."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.endswith("@refuse.example"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.messages.append((list(envelope.rcpt_tos), content))
        return "250 Message accepted"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
async def settings(settings: Settings, mailbox: tuple[Mailbox, int]) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox[1],
            "smtp_from": "pager@govsvc.example",
            "outbox_max_attempts": 1,
        }
    )


async def _email_endpoint(gql: GraphQL, url: str = "mailto:") -> dict[str, Any]:
    data = await gql(
        "mutation($i: WebhookEndpointCreateInput!) { webhookEndpointCreate(input: $i) {"
        f" endpoint {{ id kind url }} {ERRORS} }} }}",
        {"i": {"name": f"e-mail {url}", "url": url, "kind": "email", "secret": "s" * 32}},
    )
    payload: dict[str, Any] = data["webhookEndpointCreate"]
    return payload


async def test_a_page_is_mailed_to_the_person_paged(
    gql: GraphQL, runtime: Runtime, org: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    assert (await _email_endpoint(gql, "mailto:archive@ops.example"))["errors"] == []
    sid = await schedule(
        gql,
        org["unit"],
        [layer("primary", [org["cara"]], time_zone="America/New_York", start="2026-01-05T09:00")],
    )
    pid = await policy(
        gql, org["unit"], [{"timeoutSeconds": 60, "targets": [{"kind": "schedule", "id": sid}]}]
    )
    await point_service(gql, org["service"], pid)
    incident = await helpers.incident(gql, org["service"], title="Checkout down")
    data = await gql(
        "mutation($i: IncidentPageInput!) { incidentPage(input: $i) {"
        f" pages {{ channels deliveryIds }} {ERRORS} }} }}",
        {"i": {"incidentId": incident["id"], "policyId": pid}},
    )
    (page,) = data["incidentPage"]["pages"]
    assert page["channels"] == ["email"]
    assert len(page["deliveryIds"]) == 1
    assert await deliver_due(runtime) == 1
    ((recipients, raw),) = box.messages
    assert sorted(recipients) == ["archive@ops.example", "cara@ops.example"]
    mail = message_from_bytes(raw)
    assert mail["From"] == "pager@govsvc.example"
    assert "Checkout down" in mail["Subject"]
    assert incident["reference"] in mail["Subject"]
    assert mail["X-Govsvc-Event"] == "oncall.page"
    assert "cara@ops.example is paged" in mail.get_payload()
    async with runtime.db.read() as session:
        (state,) = (await session.execute(select(Delivery.state))).scalars()
    assert state == "delivered"
    # and the page says so
    data = await gql(
        "query($i: ID) { onCallPages(incidentId: $i) { edges { node {"
        " deliveries { kind state attempts lastError deliveredAt } } } } }",
        {"i": incident["id"]},
    )
    ((edge),) = data["onCallPages"]["edges"]
    (delivery,) = edge["node"]["deliveries"]
    assert (delivery["kind"], delivery["state"], delivery["attempts"]) == ("email", "delivered", 1)
    assert delivery["deliveredAt"] is not None
    assert delivery["lastError"] is None


async def test_refused_recipients_are_on_record_and_all_refused_is_dead(
    gql: GraphQL, runtime: Runtime, org: dict[str, str], mailbox: tuple[Mailbox, int]
) -> None:
    # an endpoint copying every page to an address the relay refuses
    assert (await _email_endpoint(gql, "mailto:nobody@refuse.example"))["errors"] == []
    zed = await person(gql, "zed@refuse.example")
    pid = await policy(
        gql,
        org["unit"],
        [{"timeoutSeconds": 60, "targets": [{"kind": "person", "id": org["dai"]}]}],
    )
    zed_pid = await policy(
        gql, org["unit"], [{"timeoutSeconds": 60, "targets": [{"kind": "person", "id": zed}]}]
    )
    for policy_id in (pid, zed_pid):
        incident = await helpers.incident(gql, org["service"])
        await gql(
            "mutation($i: IncidentPageInput!) { incidentPage(input: $i) { errors { code } } }",
            {"i": {"incidentId": incident["id"], "policyId": policy_id}},
        )
    assert await deliver_due(runtime) == 2
    async with runtime.db.read() as session:
        first, second = (await session.execute(select(Delivery).order_by(Delivery.id))).scalars()
    # dai's page went to dai, and the record names the refused copy
    assert [r for r, _ in mailbox[0].messages] == [["dai@ops.example"]]
    assert first.state == "delivered"
    assert first.last_error == "recipients refused: nobody@refuse.example"
    # zed's page had nobody the relay would take: dead-lettered, saying why
    assert second.state == "dead"
    assert second.last_error is not None
    assert second.last_error.startswith("recipients refused")


async def test_an_email_endpoint_needs_a_mailto_url(gql: GraphQL) -> None:
    refused = await _email_endpoint(gql, "https://example.com/hook")
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("url", "INVALID")]
    bad = await _email_endpoint(gql, "mailto:not-an-address")
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("url", "INVALID")]
