"""The rules kept as data under policies/, loaded and validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govsvc.authz.policy import AccessPolicy
from govsvc.incidents.classification import PolicyBook, load_policy_book
from govsvc.incidents.taxonomy import Taxonomy, load_taxonomy
from govsvc.retention.rules import RetentionRules, load_retention_rules


@dataclass(frozen=True)
class Policies:
    access: AccessPolicy
    classification: PolicyBook
    taxonomy: Taxonomy
    retention: RetentionRules

    @classmethod
    def load(cls, directory: Path) -> Policies:
        """Load every policy file; a broken one stops start-up with its name and location."""
        return cls(
            access=AccessPolicy(directory),
            classification=load_policy_book(directory / "classification.yaml"),
            taxonomy=load_taxonomy(directory / "taxonomy.yaml"),
            retention=load_retention_rules(directory / "retention.yaml"),
        )
