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


async def one_streamed(
    make_sim_panel: MakeSimPanel,
    http: aiohttp.ClientSession,
    server: SimServerSpec,
    **options: Any,
) -> tuple[FakeClock, SimulatedPanel, aiohttp.ClientWebSocketResponse]:
    """Start a panel of one server on a fake clock and open that server's authenticated socket."""
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[server], **options)
    return clock, panel, await open_authenticated(http, panel, server.identifier)


async def tick(clock: FakeClock, seconds: float = 1.0) -> None:
    """Move the panel clock on and let the ticker run."""
    await clock.run_for(seconds, step=min(seconds, 1.0))
    await asyncio.sleep(0.01)


Seen = list[tuple[float, dict[str, Any]]]


async def run_ticks(clock: FakeClock, ws: aiohttp.ClientWebSocketResponse, ticks: int) -> Seen:
    """Advance the clock one second at a time; return every frame with the panel time it came.

    Each tick ends with the server's `stats` frame (or the `jwt error` that replaces it), so
    reading up to it collects exactly that tick's frames.
    """
    seen: Seen = []
    for _ in range(ticks):
        clock.advance(1.0)
        while True:
            frame = await receive(ws)
            seen.append((clock.monotonic(), frame))
            if frame["event"] in ("stats", "jwt error"):
                break
    return seen


def events(seen: Seen) -> list[str]:
    return [frame["event"] for _, frame in seen if frame["event"] != "console output"]


def when(seen: Seen, event: str) -> list[float]:
    return [t for t, frame in seen if frame["event"] == event]


async def refused_upgrade(http: aiohttp.ClientSession, socket: str, *, origin: str | None) -> int:
    """Try to open the socket; return the HTTP status of the refused upgrade."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(http, socket, origin=origin)
    return refused.value.status


async def closed(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """Return the message that ends the socket (skipping frames still in flight); fail if none."""
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while True:
            message = await ws.receive()
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                return message


async def test_auth_gives_status_then_stats_every_second(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, _panel, ws = await one_streamed(make_sim_panel, http, spec("A", "aaaa0001"))
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


async def test_stats_are_the_resources_endpoints_figures_at_the_same_moment(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, panel, ws = await one_streamed(
        make_sim_panel, http, spec("A", "aaaa0001"), resources_cache_seconds=0
    )
    seen = await run_ticks(clock, ws, 3)
    figures = json.loads(seen[-1][1]["args"][0])
    headers = {"Authorization": f"Bearer {panel.api_key}", "Accept": JSON_ACCEPT}
    url = f"{panel.url}/api/client/servers/aaaa0001/resources"
    async with http.get(url, headers=headers) as response:
        resources = (await response.json())["attributes"]["resources"]
    assert figures == {
        "memory_bytes": resources["memory_bytes"],
        "memory_limit_bytes": panel.servers["aaaa0001"].spec.limits.memory * 1024 * 1024,
        "cpu_absolute": resources["cpu_absolute"],
        "network": {
            "rx_bytes": resources["network_rx_bytes"],
            "tx_bytes": resources["network_tx_bytes"],
        },
        "uptime": resources["uptime"],
        "state": "running",
        "disk_bytes": resources["disk_bytes"],
    }
    assert figures["memory_bytes"] > 0
    assert figures["uptime"] == 3_600_000 + 3_000


async def test_a_stop_sends_status_at_once_then_zeros_with_the_disk_kept(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, panel, ws = await one_streamed(
        make_sim_panel, http, spec("A", "aaaa0001", stop_seconds=2.0), resources_cache_seconds=0
    )
    assert await receive(ws) == {"event": "status", "args": ["running"]}
    panel.power_as("aaaa0001", "stop", "alice")
    assert await receive(ws) == {"event": "status", "args": ["stopping"]}
    seen = await run_ticks(clock, ws, 2)
    # Stopping still streams; offline sends the status and one stats of zeros, then nothing.
    assert events(seen) == ["stats", "status", "stats"]
    assert json.loads(seen[0][1]["args"][0])["state"] == "stopping"
    assert seen[1][1] == {"event": "status", "args": ["offline"]}
    offline = json.loads(seen[2][1]["args"][0])
    assert offline["state"] == "offline"
    assert [offline["memory_bytes"], offline["cpu_absolute"], offline["uptime"]] == [0, 0.0, 0]
    assert offline["network"] == {"rx_bytes": 0, "tx_bytes": 0}
    assert offline["disk_bytes"] == panel.servers["aaaa0001"].stats()["resources"]["disk_bytes"]
    assert offline["disk_bytes"] > 0


async def test_an_offline_server_gets_one_stats_at_auth_and_none_after(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, panel, ws = await one_streamed(
        make_sim_panel, http, spec("A", "aaaa0001", state="offline")
    )
    assert await receive(ws) == {"event": "status", "args": ["offline"]}
    first = await receive(ws)
    assert first["event"] == "stats"
    assert json.loads(first["args"][0])["state"] == "offline"
    await tick(clock, 3)
    _, body = await credentials(http, panel, "aaaa0001")
    await ws.send_json({"event": "auth", "args": [body["data"]["token"]]})
    # Nothing came in between: the next frame is the answer to the re-auth.
    assert await receive(ws) == {"event": "auth success"}


async def test_console_output_flows_now_and_then(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, _panel, ws = await one_streamed(make_sim_panel, http, spec("A", "aaaa0001"))
    seen = await run_ticks(clock, ws, 10)
    console = [frame for _, frame in seen if frame["event"] == "console output"]
    assert len(console) == 2
    assert all(isinstance(frame["args"][0], str) and frame["args"][0] for frame in console)


async def test_a_wrong_or_missing_origin_is_refused_with_403(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(
        fleet=[spec("A", "aaaa0001")], wings_allowed_origins=["https://admin.example.com"]
    )
    _, body = await credentials(http, panel, "aaaa0001")
    socket = body["data"]["socket"]
    assert await refused_upgrade(http, socket, origin="https://evil.example.com") == 403
    assert await refused_upgrade(http, socket, origin=None) == 403
    assert await refused_upgrade(http, socket, origin=panel.url + "/") == 403
    for allowed in (panel.url, "https://admin.example.com"):
        ws = await connect(http, socket, origin=allowed)
        await ws.send_json({"event": "auth", "args": [body["data"]["token"]]})
        assert await receive(ws) == {"event": "auth success"}
        await ws.close()
    assert panel.stats()["wings"]["upgrades_refused"] == 3


async def test_token_expiring_comes_on_the_30_s_look_with_at_most_60_s_left(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, _panel, ws = await one_streamed(
        make_sim_panel, http, spec("A", "aaaa0001"), websocket_token_seconds=100
    )
    await receive_event(ws, "status")
    seen = await run_ticks(clock, ws, 95)
    # Looks at +30 (70 s left: nothing), +60 (40 s left) and +90 (10 s left).
    assert when(seen, "token expiring") == [60.0, 90.0]
    assert when(seen, "jwt error") == []
    assert len(when(seen, "stats")) == 95


async def test_an_expired_token_gives_token_expired_then_jwt_error_for_everything(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, _panel, ws = await one_streamed(
        make_sim_panel, http, spec("A", "aaaa0001"), websocket_token_seconds=45
    )
    await receive_event(ws, "status")
    seen = await run_ticks(clock, ws, 62)
    assert when(seen, "token expiring") == [30.0]
    assert when(seen, "token expired") == [60.0]
    # The token ran out at +45: from then on every event is a jwt error instead.
    assert when(seen, "stats") == [float(t) for t in range(1, 46)]
    assert when(seen, "jwt error") == [float(t) for t in range(46, 63)]
    errors = {frame["args"][0] for _, frame in seen if frame["event"] == "jwt error"}
    assert errors == {"jwt: exp claim is invalid"}
    await ws.send_json({"event": "send stats"})
    assert await receive(ws) == {"event": "jwt error", "args": ["jwt: exp claim is invalid"]}


async def test_a_fresh_token_on_the_same_socket_keeps_stats_flowing(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, panel, ws = await one_streamed(
        make_sim_panel, http, spec("A", "aaaa0001"), websocket_token_seconds=90
    )
    await receive_event(ws, "status")
    seen = await run_ticks(clock, ws, 30)
    assert when(seen, "token expiring") == [30.0]
    _, body = await credentials(http, panel, "aaaa0001")
    await ws.send_json({"event": "auth", "args": [body["data"]["token"]]})
    # A re-auth answers only "auth success": no second status (panel issue 2077).
    assert await receive_event(ws, "auth success") == {"event": "auth success"}
    seen = await run_ticks(clock, ws, 89)
    assert "status" not in events(seen)
    # The first token ran out at +90; the fresh one (issued at +30) lasts until +120.
    assert when(seen, "stats") == [float(t) for t in range(31, 120)]
    assert when(seen, "jwt error") == []
    assert when(seen, "token expired") == []
    assert panel.stats()["wings"]["auths_accepted"] == 2


async def test_auth_is_limited_to_a_burst_of_two_then_one_per_five_seconds(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("A", "aaaa0001", state="offline")])
    _, body = await credentials(http, panel, "aaaa0001")
    token = body["data"]["token"]
    ws = await connect(http, body["data"]["socket"], origin=panel.url)
    for _ in range(4):
        await ws.send_json({"event": "auth", "args": [token]})
    await ws.send_json({"event": "send stats"})
    frames = [(await receive(ws))["event"] for _ in range(6)]
    # First auth: success, status, stats (offline); second: success; third: throttled once;
    # the fourth is dropped silently; "send stats" has its own limiter.
    assert frames == ["auth success", "status", "stats", "auth success", "throttled", "stats"]
    clock.advance(4.9)
    await ws.send_json({"event": "auth", "args": [token]})
    await ws.send_json({"event": "send stats"})
    assert (await receive(ws))["event"] == "stats"
    clock.advance(0.1)
    await ws.send_json({"event": "auth", "args": [token]})
    assert await receive(ws) == {"event": "auth success"}
    assert panel.stats()["wings"]["auths_throttled"] == 3


async def test_the_31st_socket_of_a_server_is_refused_with_400(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(fleet=[spec("A", "aaaa0001"), spec("B", "bbbb0001")])
    _, body = await credentials(http, panel, "aaaa0001")
    token, socket = body["data"]["token"], body["data"]["socket"]
    # Sockets not yet authenticated do not count.
    idle = await connect(http, socket, origin=panel.url)
    sockets = []
    for _ in range(30):
        ws = await connect(http, socket, origin=panel.url)
        await ws.send_json({"event": "auth", "args": [token]})
        assert await receive(ws) == {"event": "auth success"}
        sockets.append(ws)
    assert panel.authenticated_sockets("aaaa0001") == 30
    assert panel.open_sockets("aaaa0001") == 31
    headers = {"Origin": panel.url}
    async with http.get(socket, headers=headers) as response:
        assert response.status == 400
        assert await response.json() == {"error": "Too many open websocket connections."}
    # The idle socket authenticating now is one too many: Wings cancels it.
    await idle.send_json({"event": "auth", "args": [token]})
    assert (await closed(idle)).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert panel.authenticated_sockets("aaaa0001") == 30
    # Another server is not affected; closing one socket makes room again.
    other = await open_authenticated(http, panel, "bbbb0001")
    await other.close()
    await sockets.pop().close()
    await asyncio.sleep(0.05)
    ws = await connect(http, socket, origin=panel.url)
    await ws.send_json({"event": "auth", "args": [token]})
    assert await receive(ws) == {"event": "auth success"}


async def test_a_socket_that_does_not_authenticate_in_30_s_is_dropped(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("A", "aaaa0001")])
    _, body = await credentials(http, panel, "aaaa0001")
    ws = await connect(http, body["data"]["socket"], origin=panel.url)
    await tick(clock, 29)
    assert panel.open_sockets("aaaa0001") == 1
    await tick(clock, 1)
    assert (await closed(ws)).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert panel.open_sockets("aaaa0001") == 0


async def test_node_down_cuts_sockets_refuses_upgrades_and_credentials_until_back(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(
        clock=clock,
        fleet=[spec("A", "aaaa0001", node="fra-1"), spec("B", "bbbb0001", node="ams-1")],
    )
    on_node = await open_authenticated(http, panel, "aaaa0001")
    elsewhere = await open_authenticated(http, panel, "bbbb0001")
    _, old = await credentials(http, panel, "aaaa0001")
    async with http.post(panel.url + "/_sim/nodes/fra-1/state", json={"down": True}) as response:
        assert response.status == 200
        assert await response.json() == {"node": "fra-1", "down": True, "servers": 1}
    assert (await closed(on_node)).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert await refused_upgrade(http, old["data"]["socket"], origin=panel.url) == 502
    status, body = await credentials(http, panel, "aaaa0001")
    assert status == 504
    assert body["errors"][0]["code"] == "DaemonConnectionException"
    # The other node streams on.
    await receive_event(elsewhere, "status")
    clock.advance(1.0)
    assert (await receive_event(elsewhere, "stats"))["event"] == "stats"
    assert panel.set_node_down("fra-1", False) == 1
    back = await open_authenticated(http, panel, "aaaa0001")
    assert await receive(back) == {"event": "status", "args": ["running"]}


async def test_a_wings_restart_cuts_sockets_and_refuses_tokens_issued_before_it(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(
        clock=clock,
        fleet=[spec("A", "aaaa0001", node="fra-1"), spec("B", "bbbb0001", node="ams-1")],
    )
    ws = await open_authenticated(http, panel, "aaaa0001")
    elsewhere = await open_authenticated(http, panel, "bbbb0001")
    _, old = await credentials(http, panel, "aaaa0001")
    clock.advance(1.0)
    async with http.post(panel.url + "/_sim/nodes/fra-1/restart-wings") as response:
        assert response.status == 200
        assert (await response.json())["sockets_cut"] == 1
    assert (await closed(ws)).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert panel.open_sockets("bbbb0001") == 1
    await receive_event(elsewhere, "status")
    retry = await connect(http, old["data"]["socket"], origin=panel.url)
    await retry.send_json({"event": "auth", "args": [old["data"]["token"]]})
    refused = await receive(retry)
    assert refused["event"] == "jwt error"
    assert refused["args"][0].startswith("Error Event [")
    assert refused["args"][0].endswith("]: jwt: created too far in past (denylist)")
    _, fresh = await credentials(http, panel, "aaaa0001")
    await retry.send_json({"event": "auth", "args": [fresh["data"]["token"]]})
    assert await receive(retry) == {"event": "auth success"}
    assert panel.stats()["wings"]["auths_refused"] == 1


async def test_a_suspended_server_closes_with_4409_and_suspension_cuts_open_sockets(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    # The clock stands still: no tick can cut the socket, only the suspension itself.
    panel = await make_sim_panel(clock=FakeClock(), fleet=[spec("A", "aaaa0001")])
    ws = await open_authenticated(http, panel, "aaaa0001")
    _, body = await credentials(http, panel, "aaaa0001")
    async with http.post(
        panel.url + "/_sim/servers/aaaa0001/state", json={"status": "suspended"}
    ) as response:
        assert response.status == 200
    assert (await closed(ws)).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    again = await connect(http, body["data"]["socket"], origin=panel.url)
    message = await closed(again)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert (message.data, message.extra) == (4409, "server is suspended")
    panel.set_suspended("aaaa0001", False)
    back = await open_authenticated(http, panel, "aaaa0001")
    assert await receive(back) == {"event": "status", "args": ["running"]}


async def test_bad_tokens_are_refused_with_wings_events(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(
        fleet=[spec("A", "aaaa0001", node="fra-1"), spec("B", "bbbb0001", node="ams-1")]
    )
    _, mine = await credentials(http, panel, "aaaa0001")
    _, other_node = await credentials(http, panel, "bbbb0001")
    ws = await connect(http, mine["data"]["socket"], origin=panel.url)
    # Before any auth, other events are answered with a jwt error.
    await ws.send_json({"event": "send stats"})
    assert await receive(ws) == {"event": "jwt error", "args": ["jwt: no jwt present"]}
    # Signed by another node: a daemon error whose cause is hidden, as Wings does.
    await ws.send_json({"event": "auth", "args": [other_node["data"]["token"]]})
    refused = await receive(ws)
    assert refused["event"] == "daemon error"
    assert refused["args"][0].endswith(
        "]: an unexpected error was encountered while handling this request"
    )
    await ws.send_str("not json")
    await ws.send_json({"event": "auth", "args": [mine["data"]["token"][:-4] + "AAAA"]})
    assert (await receive(ws))["event"] == "daemon error"
    assert panel.stats()["wings"]["auths_refused"] == 2


async def test_stats_counters_and_stop_close_every_socket(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock, panel, ws = await one_streamed(make_sim_panel, http, spec("A", "aaaa0001"))
    await receive_event(ws, "status")
    await run_ticks(clock, ws, 2)
    async with http.get(panel.url + "/_sim/stats") as response:
        wings = (await response.json())["wings"]
    assert wings["sockets_open"] == 1
    assert wings["sockets_authenticated"] == 1
    assert wings["auths_accepted"] == 1
    assert wings["tokens_issued"] == 1
    # auth success, status, two stats (no console yet at these ticks).
    assert wings["frames_sent"] == 4
    await panel.stop()
    message = await closed(ws)
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_without_sockets_the_ticker_leaves_a_jumping_clock_alone(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(clock=clock, fleet=[spec("A", "aaaa0001")])
    await asyncio.sleep(0.05)
    assert clock.monotonic() == 0.0
    ws = await open_authenticated(http, panel, "aaaa0001")
    await receive_event(ws, "status")
    # With a socket open the ticker sleeps on the clock, which then jumps a second at a time.
    assert (await receive_event(ws, "stats"))["event"] == "stats"
    assert clock.monotonic() >= 1.0
