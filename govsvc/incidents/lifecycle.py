"""Which status may follow which. The one place the incident lifecycle is defined."""

from __future__ import annotations

from govsvc.errors import ErrorCode, Invalid
from govsvc.incidents.models import IncidentStatus as S

# Forward moves may skip steps (a fix found at once goes straight to monitoring); an incident
# may fall back to investigating when a fix does not hold, and reopen until it is closed.
ALLOWED: dict[S, frozenset[S]] = {
    S.DETECTED: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.INVESTIGATING: frozenset({S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.IDENTIFIED: frozenset({S.INVESTIGATING, S.MONITORING, S.RESOLVED}),
    S.MONITORING: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.INVESTIGATING, S.CLOSED}),
    S.CLOSED: frozenset(),
}


def check_transition(current: S, target: S) -> None:
    if target not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none (closed is final)"
        raise Invalid(
            f"cannot move an incident from {current.value} to {target.value}; allowed: {allowed}",
            field="status",
            code=ErrorCode.ILLEGAL_TRANSITION,
        )
