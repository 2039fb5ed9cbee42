"""Live updates over graphql-transport-ws, against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from govsvc.app import create_app
from govsvc.runtime import Runtime
from govsvc.settings import Settings
from tests.conftest import GraphQL
from tests.graphql import helpers

SUBSCRIBE = (
    "subscription($id: ID!) { incidentEvents(incidentId: $id) { kind status"
    " timelineEntry { text } } }"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def server(settings: Settings, runtime: Runtime) -> AsyncIterator[str]:
    port = _free_port()
    fast = settings.model_copy(update={"live_poll_seconds": 0.2})
    config = uvicorn.Config(
        create_app(fast, runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.05)
    yield f"127.0.0.1:{port}"
    uv.should_exit = True
    await task


async def _next(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    return message


async def test_a_subscriber_sees_new_timeline_entries_as_they_happen(
    server: str, gql: GraphQL, admin_token: str
) -> None:
    # given an incident and a subscriber who logs in with connection_init
    unit_id = await helpers.unit(gql, "payments")
    service_id = await helpers.service(gql, "checkout", unit_id)
    incident_id = (await helpers.incident(gql, service_id))["id"]
    async with websockets.connect(
        f"ws://{server}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
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
        async with httpx.AsyncClient(base_url=f"http://{server}") as http:
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


async def test_a_socket_without_a_credential_is_turned_away(server: str) -> None:
    async with websockets.connect(
        f"ws://{server}/graphql", subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _next(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
