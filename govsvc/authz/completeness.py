"""Whether a caller's access covers everything of a kind in some business units: the one
question a report may answer about what it left out without leaking what exists.

It is decided from the caller's grants alone, never from the data, so the answer is the same
for a unit full of incidents, an empty unit and a unit that does not exist; counting what was
hidden (or bisecting a period to find when) tells nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from govsvc.authz.access import Access
from govsvc.authz.sensitivity import Sensitivity

HIGHEST = max(Sensitivity, key=lambda s: s.rank)


def reads_everything(access: Access, resource_type: str, unit_ids: Sequence[int] = ()) -> bool:
    """Can the caller read every `resource_type` at every sensitivity in these units (in every
    unit, when none are named)? A grant on a unit covers its children, so a named unit is fully
    covered when a grant on it or an ancestor reads the highest sensitivity."""
    scope = access.scope("read", resource_type)
    if scope.everywhere is HIGHEST:
        return True
    if not unit_ids:
        return False  # other units may exist; whether they do is not ours to say
    return all(scope.per_unit.get(unit) is HIGHEST for unit in unit_ids)
