"""The alert rules kept as data, loaded together: sources, routing, detection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govsvc.alerts.detection import DetectionBook, load_detection_rules
from govsvc.alerts.routing import Routing, load_alert_routing
from govsvc.alerts.sources import AlertSources, load_alert_sources


@dataclass(frozen=True)
class AlertPolicies:
    sources: AlertSources
    routing: Routing
    detection: DetectionBook

    @classmethod
    def load(cls, directory: Path) -> AlertPolicies:
        return cls(
            sources=load_alert_sources(directory / "alert_sources.yaml"),
            routing=load_alert_routing(directory / "alert_routing.yaml"),
            detection=load_detection_rules(directory / "detection.yaml"),
        )
