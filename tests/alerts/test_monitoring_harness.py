"""The monitoring harness end to end, on a plain capture receiver: Prometheus notices the
synthetic check failing, Alertmanager posts a firing SyntheticCheckFailed (webhook version 4,
with the bearer token), and a resolved one once the target is healthy again.

With GOVSVC_RECORD_ALERT_FIXTURES=1 the test also writes the payloads it received to
tests/alerts/fixtures/ (see the README there)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.monitoring import (
    ALERT_NAME,
    ALERTMANAGER,
    WATCHDOG,
    Delivery,
    WebhookCapture,
    monitoring_stack,
    version,
)

pytestmark = pytest.mark.slow

TOKEN = "alertmanager-test-token-" + "z" * 20
FIXTURES = Path(__file__).parent / "fixtures"


def _assert_v4(delivery: Delivery, *, status: str) -> dict[str, Any]:
    assert delivery.headers["authorization"] == f"Bearer {TOKEN}"
    assert delivery.headers["content-type"].startswith("application/json")
    payload = delivery.payload
    assert payload["version"] == "4"
    assert payload["status"] == status
    assert payload["receiver"] == "govsvc"
    assert payload["groupKey"]
    assert payload["externalURL"].startswith("http://127.0.0.1:")
    assert payload["alerts"]
    for alert in payload["alerts"]:
        assert alert["status"] == status
        for key in ("labels", "annotations", "startsAt", "endsAt", "fingerprint", "generatorURL"):
            assert alert[key], key
    return payload


async def test_firing_then_resolved_synthetic_check(tmp_path: Path) -> None:
    began = time.monotonic()
    async with (
        WebhookCapture() as receiver,
        monitoring_stack(
            tmp_path / "stack",
            webhook_url=receiver.url,
            bearer_token=TOKEN,
            service="portal",
            location="lab-1",
        ) as stack,
    ):
        print(f"stack ready in {stack.started_in:.2f} s")
        watchdog = await receiver.wait_for(lambda d: d.alertname == WATCHDOG)
        print(f"watchdog after {time.monotonic() - began:.2f} s")
        await stack.wait_for_probe(success=True)
        assert not [d for d in receiver.deliveries if d.alertname == ALERT_NAME]

        stack.target.down()
        broken = time.monotonic()
        firing = await receiver.wait_for(
            lambda d: d.alertname == ALERT_NAME and d.status == "firing" and d.received_at > broken
        )
        print(f"firing {firing.received_at - broken:.2f} s after the target broke")

        stack.target.up()
        restored = time.monotonic()
        resolved = await receiver.wait_for(
            lambda d: (
                d.alertname == ALERT_NAME and d.status == "resolved" and d.received_at > restored
            )
        )
        print(f"resolved {resolved.received_at - restored:.2f} s after the target recovered")

    assert watchdog.path == "/alerts/alertmanager"
    dog = _assert_v4(watchdog, status="firing")
    assert dog["alerts"][0]["labels"]["alertname"] == WATCHDOG

    fired = _assert_v4(firing, status="firing")
    (alert,) = fired["alerts"]
    assert alert["labels"] | {"alertname": ALERT_NAME} == alert["labels"]
    assert {k: alert["labels"][k] for k in ("service", "severity", "perspective", "location")} == {
        "service": "portal",
        "severity": "critical",
        "perspective": "synthetic",
        "location": "lab-1",
    }
    assert alert["labels"]["instance"] == stack.target.url
    assert alert["annotations"]["summary"]
    assert fired["groupLabels"] == {"alertname": ALERT_NAME, "service": "portal"}
    assert fired["commonLabels"]["severity"] == "critical"

    done = _assert_v4(resolved, status="resolved")
    (back,) = done["alerts"]
    assert back["fingerprint"] == alert["fingerprint"]
    assert back["startsAt"] == alert["startsAt"]
    assert back["endsAt"] > back["startsAt"]
    assert done["groupKey"] == fired["groupKey"]

    elapsed = time.monotonic() - began
    print(f"whole test {elapsed:.2f} s")
    if os.environ.get("GOVSVC_RECORD_ALERT_FIXTURES"):
        _record(watchdog=watchdog, firing=firing, resolved=resolved)


def _record(**deliveries: Delivery) -> None:
    """Write the bodies as received (re-indented: same keys, same order, same values)."""
    for name, delivery in deliveries.items():
        text = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False) + "\n"
        (FIXTURES / f"alertmanager_{name}.json").write_text(text)
    headers = {
        name: {k: v for k, v in d.headers.items() if k != "authorization"}
        for name, d in deliveries.items()
    }
    print("recorded with", version(*ALERTMANAGER), json.dumps(headers, indent=2))
