"""The simulated panel's Wings websocket behaves like Wings, over real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.panel import MakeSimPanel

JSON_ACCEPT = "Application/vnd.pterodactyl.v1+json"
RECEIVE_TIMEOUT = 5.0


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def spec(name: str, identifier: str, **changes: Any) -> SimServerSpec:
    return SimServerSpec(name=name, identifier=identifier, **changes)


async def credentials(
    http: aiohttp.ClientSession, panel: SimulatedPanel, identifier: str
) -> tuple[int, dict[str, Any]]:
    """Ask the panel for websocket credentials; return the status and the body."""
    headers = {"Authorization": f"Bearer {panel.api_key}", "Accept": JSON_ACCEPT}
    url = f"{panel.url}/api/client/servers/{identifier}/websocket"
    async with http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def connect(
    http: aiohttp.ClientSession, socket: str, *, origin: str | None
) -> aiohttp.ClientWebSocketResponse:
    headers = {} if origin is None else {"Origin": origin}
    return await http.ws_connect(socket, headers=headers, autoclose=False)


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """Return the next frame as JSON; fail on a close or after a few real seconds."""
    message = await ws.receive(timeout=RECEIVE_TIMEOUT)
    assert message.type == aiohttp.WSMsgType.TEXT, f"expected a frame, got {message!r}"
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def receive_event(ws: aiohttp.ClientWebSocketResponse, event: str) -> dict[str, Any]:
    """Return the next frame with `event`, skipping the others (console output...)."""
    while True:
        frame = await receive(ws)
        if frame["event"] == event:
            return frame


async def open_authenticated(
    http: aiohttp.ClientSession, panel: SimulatedPanel, identifier: str
) -> aiohttp.ClientWebSocketResponse:
    status, body = await credentials(http, panel, identifier)
    assert status == 200
    ws = await connect(http, body["data"]["socket"], origin=panel.url)
    await ws.send_json({"event": "auth", "args": [body["data"]["token"]]})
    assert await receive(ws) == {"event": "auth success"}
    return ws


async def tick(clock: FakeClock, seconds: float = 1.0) -> None:
    """Move the panel clock on and let the ticker run."""
    await clock.run_for(seconds, step=min(seconds, 1.0))
    await asyncio.sleep(0.01)


async def test_auth_gives_status_then_stats_every_second(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("A", "aaaa0001")])
    ws = await open_authenticated(http, panel, "aaaa0001")
    assert await receive(ws) == {"event": "status", "args": ["running"]}
    await tick(clock)
    stats = await receive_event(ws, "stats")
    figures = json.loads(stats["args"][0])
    assert list(figures) == [
        "memory_bytes",
        "memory_limit_bytes",
        "cpu_absolute",
        "network",
        "uptime",
        "state",
        "disk_bytes",
    ]
    assert figures["state"] == "running"
    assert set(figures["network"]) == {"rx_bytes", "tx_bytes"}
    await ws.close()
