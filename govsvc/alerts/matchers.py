"""Label matchers in Alertmanager's syntax (`name="value"`, `!=`, `=~`, `!~`; regexes anchored),
shared by routes and silences so both read the same way an operator writes them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]
OPS: tuple[Op, ...] = ("=", "!=", "=~", "!~")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$")
_TEXT = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    label: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        if not _LABEL.match(self.label):
            raise ValueError(f"not a label name: {self.label!r}")
        if self.op not in OPS:
            raise ValueError(f"operator must be one of {', '.join(OPS)}")
        if len(self.value) > 1000:
            raise ValueError("a matcher value is at most 1,000 characters")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"bad regular expression {self.value!r}: {error}") from None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _TEXT.match(text)
        if not found:
            raise ValueError(f'write a matcher as name="value" (or !=, =~, !~): {text!r}')
        label, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return cls(label, op, value)  # type: ignore[arg-type]  # the regex admits only OPS

    def matches(self, labels: Mapping[str, str]) -> bool:
        # As in Alertmanager, a missing label is the empty string.
        given = labels.get(self.label, "")
        if self.op == "=":
            return given == self.value
        if self.op == "!=":
            return given != self.value
        matched = _anchored(self.value).fullmatch(given) is not None
        return matched if self.op == "=~" else not matched

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


_REGEXES: dict[str, re.Pattern[str]] = {}


def _anchored(pattern: str) -> re.Pattern[str]:
    compiled = _REGEXES.get(pattern)
    if compiled is None:
        compiled = _REGEXES[pattern] = re.compile(pattern)
    return compiled


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
