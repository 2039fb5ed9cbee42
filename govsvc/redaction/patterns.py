"""The redaction policy as data (policies/redaction.yaml): what counts as internal, secret, an
account or a ticket id, which public URLs may stay, and which words are never redacted.

Validated with pydantic through `load_yaml_model`, so a broken file names itself and the line.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from govsvc.policy_files import KEBAB_CASE, PolicyFileError, load_yaml_model

_STRICT = ConfigDict(extra="forbid", frozen=True)
Name = Annotated[str, StringConstraints(pattern=KEBAB_CASE)]
_DOMAIN = re.compile(r"^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")


class RedactionPatternsError(PolicyFileError):
    what = "redaction patterns"


def _compiles(regex: str) -> str:
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc}): {regex!r}") from exc
    if compiled.fullmatch(""):
        raise ValueError(f"the regular expression matches empty text: {regex!r}")
    return regex


def _domain(value: str) -> str:
    value = value.strip().lower()
    if not _DOMAIN.match(value):
        raise ValueError(f"not a domain name (like corp.example.com or *.internal): {value!r}")
    return value.removeprefix("*.")


Regex = Annotated[str, AfterValidator(_compiles)]
Domain = Annotated[str, AfterValidator(_domain)]


class PatternSpec(BaseModel):
    """One regular expression; a group named `value` narrows the span to that group."""

    model_config = _STRICT
    name: Name
    regex: Regex
    score: float = Field(default=0.9, gt=0, le=1)
    ignore_case: bool = False

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.IGNORECASE if self.ignore_case else 0)


class InternalHosts(BaseModel):
    model_config = _STRICT
    # A host equal to or under one of these domains is internal ("*.corp.example.com" and
    # "corp.example.com" mean the same).
    domains: list[Domain] = Field(min_length=1)
    patterns: list[PatternSpec] = []


class AllowList(BaseModel):
    model_config = _STRICT
    terms: list[Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]] = []
    patterns: list[Regex] = []  # a finding whose whole text matches one is kept

    @cached_property
    def compiled(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE) for p in self.patterns]


class RedactionPatterns(BaseModel):
    model_config = _STRICT
    version: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}\.[0-9]+$")]
    # What the statistical model may add; LOCATION is off unless a policy asks for it.
    ner_entities: list[Literal["PERSON", "LOCATION"]] = ["PERSON"]
    internal_hosts: InternalHosts
    public_url_domains: list[Domain] = []  # URLs on these (and subdomains) stay
    secrets: list[PatternSpec] = Field(min_length=1)
    account_ids: list[PatternSpec] = []
    ticket_ids: list[PatternSpec] = []
    allow: AllowList = AllowList()

    @model_validator(mode="after")
    def _unique_names(self) -> RedactionPatterns:
        specs = [*self.internal_hosts.patterns, *self.secrets, *self.account_ids, *self.ticket_ids]
        names = [spec.name for spec in specs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"pattern names must be unique; repeated: {', '.join(repeated)}")
        return self


def load_redaction_patterns(path: Path) -> RedactionPatterns:
    """Load and validate the redaction policy; a broken file names itself and the line."""
    return load_yaml_model(path, RedactionPatterns, error=RedactionPatternsError)
