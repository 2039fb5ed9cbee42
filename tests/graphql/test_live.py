"""Live updates over graphql-transport-ws, against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import GraphQL
from tests.graphql import helpers

SUBSCRIBE = (
    "subscription($id: ID!) { incidentEvents(incidentId: $id) { kind status"
    " timelineEntry { text } } }"
)


async def _next(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return message


async def test_a_subscriber_sees_new_timeline_entries_as_they_happen(
    live_server: str, gql: GraphQL, admin_token: str
) -> None:
    # given an incident and a subscriber who logs in with connection_init
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident_id = (await helpers.incident(gql, service_id))["id"]
    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {admin_token}"}}
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
        # when someone adds to the timeline over plain HTTP
        async with httpx.AsyncClient(base_url=f"http://{live_server}") as http:
            response = await http.post(
                "/graphql",
                headers={"Authorization": f"Bearer {admin_token}"},
                json={
                    "query": "mutation($i: IncidentTimelineAddInput!) { incidentTimelineAdd("
                    "input: $i) { entry { id } } }",
                    "variables": {"i": {"incidentId": incident_id, "text": "Failover started"}},
                },
            )
            assert response.status_code == 200
        # then the subscriber hears of it
        message = await _next(ws)
        assert message["type"] == "next"
        event = message["payload"]["data"]["incidentEvents"]
        assert event == {
            "kind": "timeline",
            "status": "DETECTED",
            "timelineEntry": {"text": "Failover started"},
        }


async def test_a_socket_without_a_credential_is_turned_away(live_server: str) -> None:
    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _next(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
