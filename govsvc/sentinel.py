"""KEEP: "leave this field as it is", distinct from None ("clear it")."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal, TypeAlias


class _Keep(Enum):
    KEEP = "KEEP"


KEEP: Final = _Keep.KEEP
Keep: TypeAlias = Literal[_Keep.KEEP]
