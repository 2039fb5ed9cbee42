"""GraphQL queries of incidents; types live in graphql_types, mutations in mutations."""

from __future__ import annotations

import strawberry
from strawberry import relay

from govsvc.graphql.context import Info
from govsvc.graphql.incident_mutations import IncidentMutation
from govsvc.graphql.incident_types import (
    ClassificationDispute,
    Incident,
    IncidentStatus,
    Severity,
    TimelineEntry,
)
from govsvc.graphql.relay import (
    connection,
    decode_cursor,
    decode_filter,
)
from govsvc.graphql.resolvers import read
from govsvc.incidents import queries as incident_queries
from govsvc.pagination import page_size


@strawberry.type
class Tag:
    name: str
    group: str
    description: str


@strawberry.type
class ClassificationPolicyInfo:
    current: str
    versions: list[str]


@strawberry.input
class IncidentFilter:
    statuses: list[IncidentStatus] | None = None
    severities: list[Severity] | None = None
    service_id: strawberry.ID | None = None


@strawberry.type
class IncidentQuery:
    @strawberry.field(description="Incidents you may read, newest first.")
    async def incidents(
        self,
        info: Info,
        filter: IncidentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[Incident]:
        f = filter or IncidentFilter()
        cap = info.context.runtime.settings.graphql_max_page
        page = await read(
            info,
            lambda uc: incident_queries.list_incidents(
                uc,
                size=page_size(first, cap=cap),
                after_id=decode_cursor(after),
                statuses=f.statuses or (),
                severities=f.severities or (),
                service_id=decode_filter(f.service_id, "Service"),
            ),
        )
        return connection(page, Incident.from_model)

    @strawberry.field(description="The controlled tag taxonomy (policies/taxonomy.yaml).")
    def tag_taxonomy(self, info: Info) -> list[Tag]:
        taxonomy = info.context.runtime.policies.taxonomy
        return [
            Tag(name=t, group=taxonomy.group_of(t), description=taxonomy.describe(t))
            for t in sorted(taxonomy.tags)
        ]

    @strawberry.field(description="Versions of the classification policy and the current one.")
    def classification_policy(self, info: Info) -> ClassificationPolicyInfo:
        book = info.context.runtime.policies.classification
        return ClassificationPolicyInfo(current=book.current.version, versions=list(book.versions))


__all__ = [
    "ClassificationDispute",
    "Incident",
    "IncidentMutation",
    "IncidentQuery",
    "TimelineEntry",
]
