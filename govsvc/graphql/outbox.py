"""GraphQL of the outbox, for administrators: endpoints, every delivery and every attempt,
and a requeue for what failed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any, Self

import strawberry
from strawberry import relay

from govsvc.graphql.context import Info
from govsvc.graphql.errors import UserError
from govsvc.graphql.relay import connection, decode_cursor, decode_id, global_id
from govsvc.graphql.resolvers import load_nodes, mutate, read
from govsvc.outbox import admin
from govsvc.outbox.models import Delivery, DeliveryState

strawberry.enum(DeliveryState, name="DeliveryState")
DeliveryStateGQL = DeliveryState


@strawberry.type
class WebhookEndpoint:
    id: strawberry.ID
    name: str
    kind: str
    url: str = strawberry.field(description="Shortened where the URL itself is a credential.")
    active: bool
    created_at: datetime
    created_by: str

    @classmethod
    def from_view(cls, v: admin.EndpointView) -> Self:
        return cls(
            id=strawberry.ID(global_id("WebhookEndpoint", v.id)),
            name=v.name,
            kind=str(v.kind),
            url=v.url,
            active=v.active,
            created_at=v.created_at,
            created_by=v.created_by,
        )


@strawberry.type
class WebhookAttempt:
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None
    duration_ms: int | None


@strawberry.type
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    endpoint_id: strawberry.ID
    event_type: str
    idempotency_key: str
    state: str
    attempts_made: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None

    @classmethod
    def from_model(cls, d: Delivery) -> Self:
        return cls(
            id=d.id,
            endpoint_id=strawberry.ID(global_id("WebhookEndpoint", d.endpoint_id)),
            event_type=d.event_type,
            idempotency_key=d.idempotency_key,
            state=d.state,
            attempts_made=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            dead_at=d.dead_at,
        )

    @classmethod
    async def resolve_nodes(
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Any]:
        return await load_nodes(info, node_ids, admin.deliveries_by_id, cls.from_model)

    @strawberry.field(description="Every attempt, in order.")
    async def attempts(self, info: Info) -> list[WebhookAttempt]:
        rows = await info.context.loader(admin.attempts_by_delivery, default=list).load(self.id)
        return [
            WebhookAttempt(
                attempt=a.attempt,
                started_at=a.started_at,
                finished_at=a.finished_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in rows
        ]


@strawberry.type
class OutboxQuery:
    @strawberry.field(description="Webhook endpoints (administrators).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        views = await read(info, admin.list_endpoints)
        return [WebhookEndpoint.from_view(v) for v in views]

    @strawberry.field(description="Deliveries, newest first (administrators).")
    async def webhook_deliveries(
        self,
        info: Info,
        state: DeliveryStateGQL | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> relay.Connection[WebhookDelivery]:
        cap = info.context.runtime.settings.graphql_max_page
        wanted = DeliveryState(state).value if state is not None else None
        page = await read(
            info,
            lambda uc: admin.list_deliveries(
                uc, state=wanted, first=first, after_id=decode_cursor(after), max_page=cap
            ),
        )
        return connection(page, WebhookDelivery.from_model)


@strawberry.input
class WebhookEndpointCreateInput:
    name: str
    url: str
    kind: str = strawberry.field(
        description="status_page, slack, teams, generic or email (url mailto: or mailto:address)"
    )
    secret: str = strawberry.field(description="The HMAC key deliveries are signed with.")


@strawberry.enum(description="Why an outbox mutation refused its input.")
class OutboxErrorCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    CONFLICT = "CONFLICT"


@strawberry.type(description="Why an outbox mutation refused its input.")
class OutboxError(UserError):
    code: OutboxErrorCode


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    errors: list[OutboxError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, endpoint: admin.EndpointView) -> WebhookEndpointPayload:
        return cls(endpoint=WebhookEndpoint.from_view(endpoint))


@strawberry.input
class WebhookDeliveryRetryInput:
    delivery_id: strawberry.ID


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    errors: list[OutboxError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, delivery: Delivery) -> WebhookDeliveryPayload:
        return cls(delivery=WebhookDelivery.from_model(delivery))


@strawberry.type
class OutboxMutation:
    @strawberry.mutation(description="Register an endpoint for published updates or chat.")
    async def webhook_endpoint_create(
        self, info: Info, input: WebhookEndpointCreateInput
    ) -> WebhookEndpointPayload:
        return await mutate(
            info,
            WebhookEndpointPayload,
            lambda uc: admin.create_endpoint(
                uc, name=input.name, url=input.url, kind=input.kind, secret=input.secret
            ),
            ok=WebhookEndpointPayload.of,
        )

    @strawberry.mutation(description="Requeue a dead or failed delivery (administrators).")
    async def webhook_delivery_retry(
        self, info: Info, input: WebhookDeliveryRetryInput
    ) -> WebhookDeliveryPayload:
        return await mutate(
            info,
            WebhookDeliveryPayload,
            lambda uc: admin.retry(
                uc,
                delivery_id=decode_id(input.delivery_id, "WebhookDelivery", field="deliveryId"),
            ),
            ok=WebhookDeliveryPayload.of,
        )
