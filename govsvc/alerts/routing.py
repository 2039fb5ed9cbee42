"""Which service an alert belongs to (policies/alert_routing.yaml): explicit routes first, then
the `service` label naming a service's code; otherwise unrouted, never dropped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from govsvc.alerts.matchers import Matcher, all_match
from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
SERVICE_LABEL = "service"


class AlertRoutingError(PolicyFileError):
    what = "alert routing"


class Route(BaseModel):
    model_config = _STRICT
    id: Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
    matchers: tuple[str, ...]
    service: str

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a route needs at least one matcher")
        for text in value:
            Matcher.parse(text)
        return value


class _File(BaseModel):
    model_config = _STRICT
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Routed:
    service_code: str
    route: str  # the route id, or "service-label"


class Routing:
    def __init__(self, routes: tuple[Route, ...]):
        self.routes = [(r.id, [Matcher.parse(t) for t in r.matchers], r.service) for r in routes]

    def route(self, labels: Mapping[str, str], known_codes: Mapping[str, object]) -> Routed | None:
        """The service for these labels, among `known_codes`; None when nothing matches."""
        for route_id, matchers, code in self.routes:
            if code in known_codes and all_match(matchers, labels):
                return Routed(code, route_id)
        labelled = labels.get(SERVICE_LABEL)
        if labelled and labelled in known_codes:
            return Routed(labelled, "service-label")
        return None


def load_alert_routing(path: Path) -> Routing:
    return Routing(load_yaml_model(path, _File, error=AlertRoutingError).routes)
