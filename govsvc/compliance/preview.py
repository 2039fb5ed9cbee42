"""Deadlines for a hypothetical trigger instant, for drills and planning: the same engine and
regimes as the live clocks, nothing read from or written to any incident.

Every trigger kind the regime counts from is taken to happen at the instant (or only the one
asked for). A clock that counts from another clock's notification is shown as if that one went
out at its own deadline, the latest lawful moment, so a drill sees the whole chain; the
assumption is named on the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from govsvc.compliance.clocks import ClockStatus, Regime, TriggerKind, evaluate
from govsvc.compliance.facts import read_fact
from govsvc.errors import Invalid, NotFound

if TYPE_CHECKING:
    from govsvc.usecase import UseCase


@dataclass(frozen=True)
class ClockPreview:
    status: ClockStatus
    assumed_sent: tuple[str, ...]  # "<regime>/<clock>" taken as sent at its deadline


async def preview(
    uc: UseCase,
    *,
    regime: str,
    triggered_at: datetime,
    trigger: TriggerKind | None = None,
    facts: Sequence[tuple[str, str]] = (),
) -> list[ClockPreview]:
    """Each clock of `regime` that may apply, with its deadline from `triggered_at`."""
    # Only policy data is read, but the deadlines are for those who work incidents.
    uc.caller.access.require("read", "incident")
    regimes = uc.policies.regimes
    known = regimes.get(regime)
    if known is None:
        raise NotFound(f"unknown regime {regime!r}; known: {', '.join(regimes)}", field="regime")
    if triggered_at.tzinfo is None or triggered_at.utcoffset() is None:
        raise Invalid("a time needs a UTC offset", field="triggeredAt")
    values: dict[str, object] = {}
    for name, text in facts:
        if name in values:
            raise Invalid(f"fact {name!r} given twice", field="facts")
        values[name] = read_fact(name, text)
    kinds = [trigger] if trigger is not None else list(TriggerKind)
    triggers = {kind.value: triggered_at for kind in kinds}
    sent = _sent_at_deadlines(known, triggers, values, triggered_at)
    previews = []
    for clock in known.clocks:
        own = f"{known.id}/{clock.id}"
        others = {key: moments for key, moments in sent.items() if key != own}
        status = next(
            (
                s
                for s in _evaluate(known, triggers, others, values, triggered_at)
                if s.clock == clock.id
            ),
            None,
        )
        if status is None:
            continue  # a given fact rules it out
        starts = [limit.notification for limit in (clock, *(clock.earliest_of or ()))]
        previews.append(ClockPreview(status, tuple(k for k in starts if k and k in others)))
    return previews


def _evaluate(
    regime: Regime,
    triggers: dict[str, datetime],
    sent: dict[str, list[datetime]],
    facts: dict[str, object],
    at: datetime,
) -> list[ClockStatus]:
    return evaluate(
        regime, triggers=triggers, notifications=sent, facts=facts, now=at, due_soon=timedelta(0)
    )


def _sent_at_deadlines(
    regime: Regime, triggers: dict[str, datetime], facts: dict[str, object], at: datetime
) -> dict[str, list[datetime]]:
    """Each clock's notification taken as sent at its deadline, following chains to the end
    (each round starts at least one more clock; the loader refuses cycles)."""
    sent: dict[str, list[datetime]] = {}
    for _ in regime.clocks:
        added = False
        for status in _evaluate(regime, triggers, sent, facts, at):
            key = f"{regime.id}/{status.clock}"
            if status.due_at is not None and key not in sent:
                sent[key] = [status.due_at]
                added = True
        if not added:
            break
    return sent
