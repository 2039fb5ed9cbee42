"""An open incidentEvents subscription stops the moment its reader's right does: a revoked
token, a removed grant or a deactivated person closes the socket with 4403 before the next
event is delivered. Against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import websockets

from govsvc import usecase
from govsvc.auth import tokens
from govsvc.caller import Caller
from govsvc.runtime import Runtime
from tests.conftest import GraphQL
from tests.graphql import helpers

# Subscriptions over a live server, polled.
pytestmark = pytest.mark.slow

SUBSCRIBE = (
    "subscription($id: ID!) { incidentEvents(incidentId: $id) { kind timelineEntry { text } } }"
)
ADD = "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd(input: $i) { entry { id } } }"


async def _next(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return message


async def _until_closed(ws: Any) -> None:
    """Read until the socket closes, failing on any event delivered meanwhile."""
    while True:
        message = await _next(ws)
        assert message.get("type") != "next", message


class Reader:
    """A responder in the incident's unit, with a token and a grant that can be taken away."""

    def __init__(self, person_id: str, grant_id: str, token: str):
        self.person_id, self.grant_id, self.token = person_id, grant_id, token


async def _reader(gql: GraphQL, unit_id: str) -> Reader:
    person = await gql(
        "mutation($i: PersonCreateInput!) { personCreate(input: $i) { person { id } } }",
        {"i": {"email": "rita@example.com", "name": "Rita"}},
    )
    person_id = person["personCreate"]["person"]["id"]
    grant = await gql(
        "mutation($i: GrantCreateInput!) { grantCreate(input: $i) { grant { id } } }",
        {"i": {"principalId": person_id, "role": "responder", "businessUnitId": unit_id}},
    )
    minted = await gql(
        "mutation($i: ApiTokenCreateInput!) { apiTokenCreate(input: $i) { token } }",
        {"i": {"principalId": person_id}},
    )
    return Reader(person_id, grant["grantCreate"]["grant"]["id"], minted["apiTokenCreate"]["token"])


async def _revoke_token(gql: GraphQL, runtime: Runtime, reader: Reader) -> None:
    # What `govsvc token revoke --token ...` does.
    await usecase.run(
        runtime,
        Caller.system(runtime.policies.access, "system:cli"),
        tokens.revoke_token,
        token=reader.token,
    )


async def _remove_grant(gql: GraphQL, runtime: Runtime, reader: Reader) -> None:
    done = await gql(
        "mutation($i: GrantRevokeInput!) { grantRevoke(input: $i) { errors { code } } }",
        {"i": {"id": reader.grant_id}},
    )
    assert done["grantRevoke"]["errors"] == []


async def _deactivate(gql: GraphQL, runtime: Runtime, reader: Reader) -> None:
    done = await gql(
        "mutation($i: PersonUpdateInput!) { personUpdate(input: $i) { errors { code } } }",
        {"i": {"id": reader.person_id, "active": False}},
    )
    assert done["personUpdate"]["errors"] == []


Revocation = Callable[[GraphQL, Runtime, Reader], Awaitable[None]]


@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(_revoke_token, id="token revoked"),
        pytest.param(_remove_grant, id="grant removed"),
        pytest.param(_deactivate, id="person deactivated"),
    ],
)
async def test_a_subscription_closes_with_4403_once_its_reader_loses_the_right(
    live_server: str, gql: GraphQL, runtime: Runtime, admin_token: str, revoke: Revocation
) -> None:
    # given a responder subscribed to an incident of their unit, and hearing of it
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident_id = (await helpers.incident(gql, service_id))["id"]
    reader = await _reader(gql, unit_id)
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with (
        httpx.AsyncClient(base_url=f"http://{live_server}", headers=admin) as http,
        websockets.connect(
            f"ws://{live_server}/graphql",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ) as ws,
    ):

        async def add(text: str) -> None:
            response = await http.post(
                "/graphql",
                json={"query": ADD, "variables": {"i": {"incidentId": incident_id, "text": text}}},
            )
            assert response.json()["data"]["incidentTimelineAdd"]["entry"]

        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {reader.token}"}}
            )
        )
        assert (await _next(ws))["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"id": incident_id}},
                }
            )
        )
        await asyncio.sleep(0.3)
        await add("Failover started")
        heard = await _next(ws)
        assert heard["payload"]["data"]["incidentEvents"]["timelineEntry"]["text"] == (
            "Failover started"
        )
        # when their right goes, and something else happens on the incident
        await revoke(gql, runtime, reader)
        await add("Root cause: expired certificate")
        # then the socket is closed with 4403, and that entry never reached them
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
