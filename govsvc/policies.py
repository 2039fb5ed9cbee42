"""The rules kept as data (policies/ and controls/), loaded and validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govsvc.alerts.policy import AlertPolicies
from govsvc.authz.policy import AccessPolicy
from govsvc.command.policy import CommandBook, load_command_policy
from govsvc.comms.rules import CommsRules, load_comms_rules
from govsvc.compliance.catalog import Catalog, load_catalog
from govsvc.compliance.clocks import Regimes, load_regimes
from govsvc.incidents.classification import PolicyBook, load_policy_book
from govsvc.incidents.taxonomy import Taxonomy, load_taxonomy
from govsvc.oncall.jurisdictions import Jurisdictions, load_jurisdictions
from govsvc.retention.rules import RetentionRules, load_retention_rules
from govsvc.runbooks.book import RunbookBook, load_runbooks


@dataclass(frozen=True)
class Policies:
    access: AccessPolicy
    classification: PolicyBook
    taxonomy: Taxonomy
    retention: RetentionRules
    catalog: Catalog
    regimes: Regimes
    comms: CommsRules
    alerts: AlertPolicies
    runbooks: RunbookBook
    command: CommandBook
    jurisdictions: Jurisdictions

    @classmethod
    def load(cls, directory: Path, controls: Path) -> Policies:
        """Load every policy file; a broken one stops start-up with its name and location."""
        taxonomy = load_taxonomy(directory / "taxonomy.yaml")
        access = AccessPolicy(directory)
        return cls(
            access=access,
            classification=load_policy_book(directory / "classification.yaml"),
            taxonomy=taxonomy,
            retention=load_retention_rules(directory / "retention.yaml"),
            catalog=load_catalog(controls, taxonomy_tags=taxonomy.tags),
            regimes=load_regimes(directory / "regimes.yaml"),
            comms=load_comms_rules(directory / "comms.yaml", access),
            alerts=AlertPolicies.load(directory),
            runbooks=load_runbooks(
                directory / "runbooks.yaml",
                directory / "runbooks",
                known_tags=taxonomy.tags,
                known_roles=access.roles,
            ),
            command=load_command_policy(directory / "command.yaml"),
            jurisdictions=load_jurisdictions(directory / "jurisdictions.yaml"),
        )
