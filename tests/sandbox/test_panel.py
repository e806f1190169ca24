"""The simulated panel answers like a real Pterodactyl panel, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import SimLimits, SimServerSpec, SimulatedPanel, default_fleet
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import MakeSimPanel

JSON_ACCEPT = "Application/vnd.pterodactyl.v1+json"
SECRET_KEY = "ptlc_ThisIsTheSecretKey0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def auth(panel: SimulatedPanel, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key or panel.api_key}", "Accept": JSON_ACCEPT}


async def call(
    http: aiohttp.ClientSession,
    panel: SimulatedPanel,
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """Make one request; return status, JSON body (or text, or None) and headers."""
    sent = auth(panel, key) if headers is None else headers
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    if data is not None:
        sent = {**sent, "Content-Type": "application/json"}
    async with http.request(
        method, panel.url + path, headers=sent, data=data, allow_redirects=False
    ) as response:
        text = await response.text()
        try:
            payload: Any = json.loads(text) if text else None
        except ValueError:
            payload = text
        return response.status, payload, dict(response.headers)


def spec(name: str, identifier: str, **changes: Any) -> SimServerSpec:
    return SimServerSpec(name=name, identifier=identifier, **changes)


def error_of(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict)
    assert set(body) == {"errors"}
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    return error


# ------------------------------------------------------------------------ envelopes


async def test_server_list_uses_the_list_envelope_with_allocations_as_relationships(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, sim_panel, "GET", "/api/client")
    assert status == 200
    assert body["object"] == "list"
    assert len(body["data"]) == 8
    first = body["data"][0]
    assert first["object"] == "server"
    attrs = first["attributes"]
    for key in (
        "server_owner",
        "identifier",
        "internal_id",
        "uuid",
        "name",
        "node",
        "is_node_under_maintenance",
        "sftp_details",
        "description",
        "limits",
        "invocation",
        "docker_image",
        "egg_features",
        "feature_limits",
        "status",
        "is_suspended",
        "is_installing",
        "is_transferring",
        "relationships",
    ):
        assert key in attrs, key
    assert len(attrs["identifier"]) == 8
    assert attrs["uuid"].startswith(attrs["identifier"])
    assert set(attrs["limits"]) == {
        "memory",
        "swap",
        "disk",
        "io",
        "cpu",
        "threads",
        "oom_disabled",
    }
    allocations = attrs["relationships"]["allocations"]
    assert allocations["object"] == "list"
    assert 1 <= len(allocations["data"]) <= 3
    allocation = allocations["data"][0]
    assert allocation["object"] == "allocation"
    assert set(allocation["attributes"]) == {"id", "ip", "ip_alias", "port", "notes", "is_default"}
    assert sum(a["attributes"]["is_default"] for a in allocations["data"]) == 1
    assert attrs["relationships"]["variables"]["object"] == "list"


async def test_pagination_walks_every_page_with_links_only_to_existing_neighbours(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=25)
    seen: list[str] = []
    pages = []
    for page in (1, 2, 3):
        status, body, _ = await call(http, panel, "GET", f"/api/client?per_page=10&page={page}")
        assert status == 200
        pages.append(body["meta"]["pagination"])
        seen += [item["attributes"]["identifier"] for item in body["data"]]
    assert seen == list(panel.servers)
    assert [p["count"] for p in pages] == [10, 10, 5]
    assert all(p["total"] == 25 and p["total_pages"] == 3 and p["per_page"] == 10 for p in pages)
    assert [p["current_page"] for p in pages] == [1, 2, 3]
    assert set(pages[0]["links"]) == {"next"}
    assert set(pages[1]["links"]) == {"previous", "next"}
    assert set(pages[2]["links"]) == {"previous"}
    assert pages[0]["links"]["next"].startswith(panel.url + "/api/client?")
    assert "page=2" in pages[0]["links"]["next"]
    assert "per_page=10" in pages[0]["links"]["next"]

    status, body, _ = await call(http, panel, "GET", "/api/client")
    assert body["meta"]["pagination"]["per_page"] == 50
    assert body["meta"]["pagination"]["links"] == {}
    status, body, _ = await call(http, panel, "GET", "/api/client?per_page=1000")
    assert body["meta"]["pagination"]["per_page"] == 100


async def test_pick_finds_a_usable_server_in_the_small_default_fleet(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    for state in ("running", "offline"):
        server = sim_panel.pick(state)
        status, body, _ = await call(
            http, sim_panel, "GET", f"/api/client/servers/{server.identifier}/resources"
        )
        assert status == 200
        assert body["attributes"]["current_state"] == state
    with pytest.raises(LookupError):
        sim_panel.pick("stopping")


async def test_server_view_finds_by_identifier_or_uuid_and_carries_permissions_meta(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    server = next(iter(sim_panel.servers.values()))
    for ref in (server.identifier, server.uuid):
        status, body, _ = await call(http, sim_panel, "GET", f"/api/client/servers/{ref}")
        assert status == 200
        assert body["object"] == "server"
        assert body["attributes"]["uuid"] == server.uuid
        assert body["meta"] == {"is_server_owner": True, "user_permissions": ["*"]}


async def test_resources_of_a_running_server_stay_within_its_limits(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    limits = SimLimits(memory=1024, disk=2048, cpu=150)
    panel = await make_sim_panel(fleet=[spec("Capped", "aaaa0001", limits=limits)])
    status, body, _ = await call(http, panel, "GET", "/api/client/servers/aaaa0001/resources")
    assert status == 200
    assert body["object"] == "stats"
    attributes = body["attributes"]
    assert attributes["current_state"] == "running"
    assert attributes["is_suspended"] is False
    res = attributes["resources"]
    assert set(res) == {
        "memory_bytes",
        "cpu_absolute",
        "disk_bytes",
        "network_rx_bytes",
        "network_tx_bytes",
        "uptime",
    }
    assert 0 < res["memory_bytes"] < 1024 * 1024 * 1024
    assert isinstance(res["cpu_absolute"], float)
    assert 0 < res["cpu_absolute"] <= 150
    assert 0 < res["disk_bytes"] < 2048 * 1024 * 1024
    assert res["uptime"] >= 3600 * 1000
    # Without a CPU limit the bound is the node's cores (fra-1 has 16).
    unlimited = SimLimits(cpu=0, memory=0)
    panel = await make_sim_panel(fleet=[spec("Free", "bbbb0001", node="fra-1", limits=unlimited)])
    for _ in range(3):
        _, body, _ = await call(http, panel, "GET", "/api/client/servers/bbbb0001/resources")
        assert 0 < body["attributes"]["resources"]["cpu_absolute"] <= 16 * 100


async def test_account_answers_the_user_object(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, headers = await call(http, sim_panel, "GET", "/api/client/account")
    assert status == 200
    assert body["object"] == "user"
    assert {"id", "admin", "username", "email", "first_name", "last_name", "language"} <= set(
        body["attributes"]
    )
    assert "X-RateLimit-Remaining" in headers


async def test_websocket_gives_a_ten_minute_jwt_and_a_socket_on_the_sim(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    panel = await make_sim_panel(clock=clock, fleet=[spec("A", "cccc0001", node="fra-1")])
    server = panel.servers["cccc0001"]
    status, body, _ = await call(http, panel, "GET", "/api/client/servers/cccc0001/websocket")
    assert status == 200
    assert set(body) == {"data"}
    token = body["data"]["token"]
    host = panel.url.removeprefix("http://")
    assert body["data"]["socket"] == f"ws://{host}/api/servers/{server.uuid}/ws"
    _header, claims_b64, signature = token.split(".")
    assert signature
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    assert claims["server_uuid"] == server.uuid
    assert claims["exp"] - claims["iat"] == 600
    assert claims["iat"] == 1_800_000_000
    assert panel.api_key not in token


# ------------------------------------------------------------------------ errors


async def test_missing_or_wrong_key_is_401_unauthenticated(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    for headers in ({"Accept": JSON_ACCEPT}, auth(sim_panel, "ptlc_wrong")):
        status, body, answer_headers = await call(
            http, sim_panel, "GET", "/api/client", headers=headers
        )
        assert status == 401
        assert error_of(body) == {
            "code": "AuthenticationException",
            "status": "401",
            "detail": "Unauthenticated.",
        }
        assert "X-RateLimit-Limit" not in answer_headers


async def test_without_json_accept_errors_are_html_and_401_redirects_to_login(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, headers = await call(http, sim_panel, "GET", "/api/client", headers={})
    assert status == 302
    assert headers["Location"] == sim_panel.url + "/auth/login"
    async with http.get(sim_panel.url + "/api/client") as followed:
        assert followed.status == 200
        assert followed.content_type == "text/html"
    no_json = {"Authorization": f"Bearer {sim_panel.api_key}"}
    status, body, headers = await call(
        http, sim_panel, "GET", "/api/client/servers/zzzz9999", headers=no_json
    )
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert "<html>" in body
    status, body, headers = await call(http, sim_panel, "GET", "/api/client", headers=no_json)
    assert status == 200
    assert body["object"] == "list"


async def test_application_key_on_the_client_api_is_403(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=2, application_keys=["ptla_application"])
    status, body, headers = await call(http, panel, "GET", "/api/client", key="ptla_application")
    assert status == 403
    assert error_of(body)["code"] == "AccessDeniedHttpException"
    assert "application API key" in error_of(body)["detail"]
    assert "X-RateLimit-Remaining" in headers


async def test_subuser_without_control_permission_is_403_on_power(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    viewer = spec("Shared", "dddd0001", server_owner=False, permissions=("websocket.connect",))
    panel = await make_sim_panel(fleet=[viewer])
    status, body, _ = await call(
        http, panel, "POST", "/api/client/servers/dddd0001/power", body={"signal": "stop"}
    )
    assert status == 403
    assert error_of(body) == {
        "code": "AccessDeniedHttpException",
        "status": "403",
        "detail": "This action is unauthorized.",
    }
    assert panel.servers["dddd0001"].state == "running"
    _, body, _ = await call(http, panel, "GET", "/api/client/servers/dddd0001")
    assert body["meta"]["is_server_owner"] is False
    assert body["attributes"]["relationships"]["variables"] == {
        "object": "null_resource",
        "attributes": None,
    }


async def test_unknown_server_and_unknown_route_are_404(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    for path in (
        "/api/client/servers/zzzz9999",
        "/api/client/servers/zzzz9999/resources",
        "/api/client/servers/00000000-0000-4000-8000-000000000000",
        "/api/client/nothing-here",
    ):
        status, body, headers = await call(http, sim_panel, "GET", path)
        assert status == 404, path
        assert error_of(body)["code"] == "NotFoundHttpException"
        assert error_of(body)["status"] == "404"
    assert "X-RateLimit-Remaining" in headers


@pytest.mark.parametrize(
    ("changes", "detail_word"),
    [
        ({"status": "suspended"}, "suspended"),
        ({"status": "installing"}, "installation"),
        ({"status": "install_failed"}, "installation"),
        ({"status": "restoring_backup"}, "backup"),
        ({"transferring": True}, "transferred"),
        ({"node_maintenance": True}, "maintenance"),
    ],
)
async def test_unusable_servers_are_409_on_every_server_route_but_the_view(
    make_sim_panel: MakeSimPanel,
    http: aiohttp.ClientSession,
    changes: dict[str, Any],
    detail_word: str,
) -> None:
    panel = await make_sim_panel(fleet=[spec("Blocked", "eeee0001", **changes)])
    base = "/api/client/servers/eeee0001"
    for method, path, body in (
        ("GET", base + "/resources", None),
        ("POST", base + "/power", {"signal": "start"}),
        ("POST", base + "/command", {"command": "say hi"}),
        ("GET", base + "/websocket", None),
    ):
        status, answer, headers = await call(http, panel, method, path, body=body)
        assert status == 409, path
        error = error_of(answer)
        assert error["code"] == "ServerStateConflictException"
        assert detail_word in error["detail"]
        assert "X-RateLimit-Remaining" in headers
    status, answer, _ = await call(http, panel, "GET", base)
    assert status == 200
    assert panel.stats()["power"] == {}


async def test_server_on_a_down_node_is_504_on_daemon_routes_only(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(fleet=[spec("Far", "ffff0001", node_down=True)])
    base = "/api/client/servers/ffff0001"
    for method, path, body in (
        ("GET", base + "/resources", None),
        ("POST", base + "/power", {"signal": "restart"}),
        ("POST", base + "/command", {"command": "list"}),
        ("GET", base + "/websocket", None),
    ):
        status, answer, _ = await call(http, panel, method, path, body=body)
        assert status == 504, path
        assert error_of(answer)["code"] == "DaemonConnectionException"
    status, _, _ = await call(http, panel, "GET", base)
    assert status == 200
    assert panel.stats()["power"] == {}


async def test_bad_or_missing_power_signal_is_422_validation_with_meta(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    server = next(s for s in sim_panel.servers.values() if s.conflict() is None)
    path = f"/api/client/servers/{server.identifier}/power"
    status, body, headers = await call(http, sim_panel, "POST", path, body={"signal": "explode"})
    assert status == 422
    assert error_of(body) == {
        "code": "ValidationException",
        "status": "422",
        "detail": "The selected signal is invalid.",
        "meta": {"source_field": "signal", "rule": "in"},
    }
    assert "X-RateLimit-Remaining" in headers
    status, body, _ = await call(http, sim_panel, "POST", path, body={})
    assert status == 422
    assert error_of(body)["meta"] == {"source_field": "signal", "rule": "required"}


async def test_malformed_json_body_is_400(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    server = next(s for s in sim_panel.servers.values() if s.conflict() is None)
    for route in ("power", "command"):
        path = f"/api/client/servers/{server.identifier}/{route}"
        status, body, headers = await call(http, sim_panel, "POST", path, body='{"signal": "sta')
        assert status == 400
        assert error_of(body) == {
            "code": "BadRequestHttpException",
            "status": "400",
            "detail": "The JSON data passed in the request appears to be malformed: Syntax error",
        }
        assert "X-RateLimit-Remaining" in headers
    # Only a body sent as JSON is parsed as JSON; anything else is simply no input.
    not_json = {**auth(sim_panel), "Content-Type": "text/plain"}
    async with http.post(
        f"{sim_panel.url}/api/client/servers/{server.identifier}/power",
        data='{"signal": "sta',
        headers=not_json,
    ) as response:
        assert response.status == 422
    assert sim_panel.stats()["power"] == {}


async def test_wrong_method_is_405_method_not_allowed(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    server = next(iter(sim_panel.servers))
    status, body, _ = await call(http, sim_panel, "GET", f"/api/client/servers/{server}/power")
    assert status == 405
    assert error_of(body)["code"] == "MethodNotAllowedHttpException"
    assert "POST" in error_of(body)["detail"]


async def test_commands_need_an_online_server(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(
        fleet=[spec("Up", "aaaa1111"), spec("Down", "aaaa2222", state="offline")]
    )
    status, body, _ = await call(
        http, panel, "POST", "/api/client/servers/aaaa1111/command", body={"command": "say hi"}
    )
    assert (status, body) == (204, None)
    status, body, _ = await call(
        http, panel, "POST", "/api/client/servers/aaaa2222/command", body={"command": "say hi"}
    )
    assert status == 502
    assert error_of(body) == {
        "code": "HttpException",
        "status": "502",
        "detail": "Server must be online in order to send commands.",
    }
    status, body, _ = await call(http, panel, "POST", "/api/client/servers/aaaa1111/command")
    assert status == 422
    assert error_of(body)["meta"] == {"source_field": "command", "rule": "required"}


# ------------------------------------------------------------------------ cache and power


async def test_resources_answer_is_cached_for_20_seconds_of_panel_time(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("Cached", "abcd0001")])
    path = "/api/client/servers/abcd0001/resources"
    _, first, _ = await call(http, panel, "GET", path)
    clock.advance(7)
    await call(http, panel, "POST", "/api/client/servers/abcd0001/power", body={"signal": "kill"})
    assert panel.servers["abcd0001"].state == "offline"
    clock.advance(12.9)
    _, cached, _ = await call(http, panel, "GET", path)
    assert cached == first
    assert cached["attributes"]["current_state"] == "running"
    clock.advance(0.2)
    _, fresh, _ = await call(http, panel, "GET", path)
    assert fresh["attributes"]["current_state"] == "offline"
    assert fresh["attributes"]["resources"]["uptime"] == 0


async def test_running_servers_report_moving_cpu_and_growing_counters(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("Busy", "abcd0002")])
    path = "/api/client/servers/abcd0002/resources"
    samples = []
    for _ in range(8):
        _, body, _ = await call(http, panel, "GET", path)
        samples.append(body["attributes"]["resources"])
        clock.advance(21)
    cpus = {s["cpu_absolute"] for s in samples}
    assert len(cpus) > 4
    for before, after in itertools.pairwise(samples):
        assert after["network_rx_bytes"] > before["network_rx_bytes"]
        assert after["network_tx_bytes"] > before["network_tx_bytes"]
        assert after["uptime"] - before["uptime"] == pytest.approx(21_000, abs=2)


async def test_start_goes_offline_starting_running_on_the_panel_clock(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    off = spec("Off", "beef0001", state="offline", start_seconds=4.0)
    panel = await make_sim_panel(clock=clock, fleet=[off], resources_cache_seconds=0)
    server = panel.servers["beef0001"]
    status, body, _ = await call(
        http, panel, "POST", "/api/client/servers/beef0001/power", body={"signal": "start"}
    )
    assert (status, body) == (204, None)
    assert server.state == "starting"
    clock.advance(3.9)
    _, stats, _ = await call(http, panel, "GET", "/api/client/servers/beef0001/resources")
    assert stats["attributes"]["current_state"] == "starting"
    clock.advance(0.2)
    _, stats, _ = await call(http, panel, "GET", "/api/client/servers/beef0001/resources")
    assert stats["attributes"]["current_state"] == "running"
    assert stats["attributes"]["resources"]["uptime"] == pytest.approx(4100, abs=2)
    assert [state for _, state in server.history] == ["offline", "starting", "running"]


async def test_stop_restart_and_kill_follow_wings_transitions(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    fleet = [
        spec("Stop", "cafe0001", stop_seconds=3.0),
        spec("Restart", "cafe0002", stop_seconds=3.0, start_seconds=4.0),
        spec("Kill", "cafe0003"),
    ]
    panel = await make_sim_panel(clock=clock, fleet=fleet)

    async def power(identifier: str, signal_name: str) -> None:
        status, _, _ = await call(
            http,
            panel,
            "POST",
            f"/api/client/servers/{identifier}/power",
            body={"signal": signal_name},
        )
        assert status == 204

    await power("cafe0001", "stop")
    await power("cafe0002", "restart")
    await power("cafe0003", "kill")
    stopper, restarter, killed = (panel.servers[i] for i in ("cafe0001", "cafe0002", "cafe0003"))
    assert (stopper.state, restarter.state, killed.state) == ("stopping", "stopping", "offline")
    clock.advance(3)
    assert (stopper.state, restarter.state) == ("offline", "starting")
    clock.advance(4)
    assert (stopper.state, restarter.state) == ("offline", "running")
    assert [s for _, s in stopper.history] == ["running", "stopping", "offline"]
    assert [s for _, s in restarter.history] == [
        "running",
        "stopping",
        "offline",
        "starting",
        "running",
    ]
    assert [s for _, s in killed.history] == ["running", "offline"]


async def test_starting_a_running_server_is_accepted_and_changes_nothing(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("Up", "feed0001")])
    status, _, _ = await call(
        http, panel, "POST", "/api/client/servers/feed0001/power", body={"signal": "start"}
    )
    assert status == 204
    clock.advance(30)
    assert [s for _, s in panel.servers["feed0001"].history] == ["running"]
    assert panel.stats()["power"] == {"feed0001": {"start": 1}}


async def test_crash_takes_a_running_server_offline_without_stopping(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(clock=FakeClock(), fleet=[spec("Fragile", "dead0001")])
    async with http.post(panel.url + "/_sim/servers/dead0001/crash") as response:
        assert response.status == 200
        body = await response.json()
    assert body["crashed"] is True
    assert body["state"] == "offline"
    assert [s for _, s in panel.servers["dead0001"].history] == ["running", "offline"]
    async with http.post(panel.url + "/_sim/servers/nope0000/crash") as response:
        assert response.status == 404
        assert await response.json() == {"error": "no server 'nope0000'"}


async def test_crashloop_makes_every_start_fail_until_it_ends(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("Loop", "dead0002", start_seconds=4)])
    server = panel.servers["dead0002"]
    async with http.post(
        panel.url + "/_sim/servers/dead0002/crashloop",
        json={"seconds": 30, "auto_restart": False},
    ) as response:
        assert response.status == 200
    assert server.state == "offline"
    power = "/api/client/servers/dead0002/power"
    await call(http, panel, "POST", power, body={"signal": "start"})
    assert server.state == "starting"
    clock.advance(4)
    assert server.state == "offline"
    clock.advance(30)
    await call(http, panel, "POST", power, body={"signal": "start"})
    clock.advance(4)
    assert server.state == "running"
    assert [s for _, s in server.history] == [
        "running",
        "offline",
        "starting",
        "offline",
        "starting",
        "running",
    ]


async def test_crashloop_with_auto_restart_flaps_then_recovers_by_itself(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, fleet=[spec("Flap", "dead0003", start_seconds=4)])
    async with http.post(panel.url + "/_sim/servers/dead0003/crashloop") as response:
        assert response.status == 200  # no body: 60 s, restarting like Wings' crash detection
    await clock.run_for(90, step=0.5)
    server = panel.servers["dead0003"]
    states = [s for _, s in server.history]
    assert states[-1] == "running"
    assert states.count("starting") >= 5
    assert "stopping" not in states
    assert server.crashes >= 5


# ------------------------------------------------------------------------ faults


async def post_fault(
    http: aiohttp.ClientSession, panel: SimulatedPanel, **fault: Any
) -> dict[str, Any]:
    async with http.post(panel.url + "/_sim/faults", json=fault) as response:
        assert response.status == 201
        body: dict[str, Any] = await response.json()
        return body


async def test_5xx_fault_cycles_500_502_503_then_ends_on_the_panel_clock(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    panel = await make_sim_panel(clock=clock, servers=3)
    await post_fault(http, panel, kind="5xx", seconds=10)
    statuses = []
    for _ in range(3):
        status, body, _ = await call(http, panel, "GET", "/api/client")
        statuses.append(status)
        if status == 500:
            assert error_of(body)["status"] == "500"
        else:
            assert "<html>" in body
    assert statuses == [500, 502, 503]
    async with http.get(panel.url + "/_sim/stats") as control:
        assert control.status == 200  # the control API is never faulted
    clock.advance(10)
    status, _, _ = await call(http, panel, "GET", "/api/client")
    assert status == 200


async def test_5xx_fault_can_pin_one_status_and_target_one_server(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(fleet=[spec("Hit", "f0000001"), spec("Spared", "f0000002")])
    await post_fault(http, panel, kind="5xx", seconds=60, servers=["f0000001"], status=503)
    for _ in range(2):
        status, _, _ = await call(http, panel, "GET", "/api/client/servers/f0000001/resources")
        assert status == 503
    status, _, _ = await call(http, panel, "GET", "/api/client/servers/f0000002/resources")
    assert status == 200
    status, _, _ = await call(http, panel, "GET", "/api/client")
    assert status == 200


async def test_504_fault_makes_daemon_routes_fail_like_a_dead_node(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(fleet=[spec("A", "f0000003")])
    await post_fault(http, panel, kind="504", seconds=60)
    status, body, headers = await call(http, panel, "GET", "/api/client/servers/f0000003/resources")
    assert status == 504
    assert error_of(body)["code"] == "DaemonConnectionException"
    assert "X-RateLimit-Remaining" in headers
    status, _, _ = await call(http, panel, "GET", "/api/client/servers/f0000003")
    assert status == 200
    # A newer fault of another kind does not hide the daemon outage.
    await post_fault(http, panel, kind="slow", seconds=60, delay=0)
    status, _, _ = await call(http, panel, "GET", "/api/client/servers/f0000003/resources")
    assert status == 504


async def test_garbage_fault_answers_200_with_bodies_that_are_not_panel_json(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=2)
    await post_fault(http, panel, kind="garbage", seconds=60)
    for _ in range(3):
        status, body, _ = await call(http, panel, "GET", "/api/client")
        assert status == 200
        usable = isinstance(body, dict) and isinstance(body.get("data"), list)
        assert not usable


async def test_down_fault_drops_the_connection_without_an_answer(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=2)
    await post_fault(http, panel, kind="down", seconds=60)
    with pytest.raises(aiohttp.ClientConnectionError):
        await call(http, panel, "GET", "/api/client")
    async with http.delete(panel.url + "/_sim/faults") as response:
        assert response.status == 204
    status, _, _ = await call(http, panel, "GET", "/api/client")
    assert status == 200


async def test_timeout_fault_holds_requests_until_the_client_gives_up_or_the_panel_stops(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=2, timeout_hold_seconds=600)
    await post_fault(http, panel, kind="timeout", seconds=60)
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(
            panel.url + "/api/client",
            headers=auth(panel),
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass
    patient = asyncio.create_task(call(http, panel, "GET", "/api/client"))

    async def both_held() -> bool:
        return int(panel.stats()["faulted"]) >= 2

    await poll_until(both_held, within=30, what="the second request to reach the fault")
    # Stopping releases the held request with a proxy-style 504 instead of waiting 600 s.
    await panel.stop()
    status, body, _ = await asyncio.wait_for(patient, timeout=30)
    assert status == 504
    assert "Gateway Time-out" in body


async def test_power_post_under_timeout_fault_is_applied_but_under_5xx_is_not(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    fleet = [
        spec("Held", "70000001", state="offline"),
        spec("Refused", "70000002", state="offline"),
    ]
    panel = await make_sim_panel(clock=clock, fleet=fleet, timeout_hold_seconds=600)
    await post_fault(http, panel, kind="timeout", seconds=60, servers=["70000001"])
    await post_fault(http, panel, kind="5xx", seconds=60, servers=["70000002"], status=502)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            panel.url + "/api/client/servers/70000001/power",
            json={"signal": "start"},
            headers=auth(panel),
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass
    status, _, _ = await call(
        http, panel, "POST", "/api/client/servers/70000002/power", body={"signal": "start"}
    )
    assert status == 502
    assert panel.servers["70000001"].state == "starting"
    assert panel.servers["70000002"].state == "offline"
    stats = panel.stats()
    assert stats["power"] == {"70000001": {"start": 1}}
    assert stats["requests"] == {"POST /api/client/servers/{server}/power": 2}
    assert stats["faulted"] == 2


async def test_slow_fault_delays_but_still_answers(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=2)
    await post_fault(http, panel, kind="slow", seconds=60, delay=0.6)
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(
            panel.url + "/api/client",
            headers=auth(panel),
            timeout=aiohttp.ClientTimeout(total=0.1),
        ):
            pass
    status, body, _ = await call(http, panel, "GET", "/api/client")
    assert status == 200
    assert body["object"] == "list"


async def test_slow_power_fault_delays_power_signals_only_then_applies_them(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(fleet=[spec("A", "f0000005", state="running")])
    await post_fault(http, panel, kind="slow_power", seconds=60, delay=0.6)
    resources = "/api/client/servers/f0000005/resources"
    async with http.get(
        panel.url + resources, headers=auth(panel), timeout=aiohttp.ClientTimeout(total=0.3)
    ) as response:
        assert response.status == 200  # reads are not slowed
    power = panel.url + "/api/client/servers/f0000005/power"
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            power,
            headers=auth(panel),
            json={"signal": "restart"},
            timeout=aiohttp.ClientTimeout(total=0.1),
        ):
            pass
    path = power.removeprefix(panel.url)
    status, _, _ = await call(http, panel, "POST", path, body={"signal": "kill"})
    assert status == 204
    assert panel.stats()["power"] == {"f0000005": {"restart": 1, "kill": 1}}


async def test_latency_delays_every_client_api_answer(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(servers=1, latency_ms=600)
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(
            panel.url + "/api/client",
            headers=auth(panel),
            timeout=aiohttp.ClientTimeout(total=0.1),
        ):
            pass
    async with http.get(panel.url + "/_sim/servers", timeout=aiohttp.ClientTimeout(total=5)) as r:
        assert r.status == 200  # the control API answers without the added latency


async def test_fault_requests_are_validated(
    sim_panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    async with http.post(sim_panel.url + "/_sim/faults", json={"kind": "meteor"}) as response:
        assert response.status == 422
    async with http.post(
        sim_panel.url + "/_sim/faults", json={"kind": "5xx", "servers": ["zzzz9999"]}
    ) as response:
        assert response.status == 404
    await post_fault(http, sim_panel, kind="slow", seconds=5)
    async with http.get(sim_panel.url + "/_sim/faults") as response:
        faults = (await response.json())["faults"]
    assert [f["kind"] for f in faults] == ["slow"]


# ------------------------------------------------------------------------ rate limit and stats


async def test_rate_limit_counts_every_request_and_answers_429_with_reset_headers(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock(start=1_700_000_000.0)
    panel = await make_sim_panel(clock=clock, servers=2, rate_limit=3, client_keys=["ptlc_other"])
    remaining = []
    for path in ("/api/client", "/api/client/servers/zzzz9999", "/api/client/account"):
        _, _, headers = await call(http, panel, "GET", path)
        assert headers["X-RateLimit-Limit"] == "3"
        remaining.append(headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    clock.advance(15)
    status, body, headers = await call(http, panel, "GET", "/api/client")
    assert status == 429
    assert error_of(body) == {
        "code": "ThrottleRequestsException",
        "status": "429",
        "detail": "Too Many Attempts.",
    }
    assert headers["Retry-After"] == "45"
    assert headers["X-RateLimit-Reset"] == str(1_700_000_000 + 15 + 45)
    assert headers["X-RateLimit-Remaining"] == "0"
    status, _, headers = await call(http, panel, "GET", "/api/client", key="ptlc_other")
    assert status == 200
    assert headers["X-RateLimit-Remaining"] == "2"
    clock.advance(45)
    status, _, headers = await call(http, panel, "GET", "/api/client")
    assert status == 200
    assert headers["X-RateLimit-Remaining"] == "2"
    assert panel.stats()["rate_limited"] == 1


async def test_stats_count_requests_by_route_and_power_signals_by_server(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(clock=FakeClock(), fleet=[spec("S", "5a7a0001")])
    await call(http, panel, "GET", "/api/client")
    await call(http, panel, "GET", "/api/client/servers/5a7a0001/resources")
    await call(http, panel, "GET", "/api/client/servers/5a7a0001/resources")
    for signal_name in ("restart", "kill", "start"):
        await call(
            http,
            panel,
            "POST",
            "/api/client/servers/5a7a0001/power",
            body={"signal": signal_name},
        )
    await call(http, panel, "POST", "/api/client/servers/5a7a0001/power", body={"signal": "x"})
    async with http.get(panel.url + "/_sim/stats") as response:
        stats = await response.json()
    assert stats == {
        "requests": {
            "GET /api/client": 1,
            "GET /api/client/servers/{server}/resources": 2,
            "POST /api/client/servers/{server}/power": 4,
        },
        "power": {"5a7a0001": {"restart": 1, "kill": 1, "start": 1}},
        "rate_limited": 0,
        "faulted": 0,
        "wings": {
            "sockets_open": 0,
            "sockets_authenticated": 0,
            "sockets_opened": 0,
            "upgrades_refused": 0,
            "auths_accepted": 0,
            "auths_refused": 0,
            "auths_throttled": 0,
            "frames_sent": 0,
            "frames_dropped": 0,
            "frames_received": 0,
            "tokens_issued": 0,
        },
    }
    async with http.delete(panel.url + "/_sim/stats") as response:
        assert response.status == 204
    assert panel.stats()["requests"] == {}


# ------------------------------------------------------------------------ fleet and control


def test_default_fleet_is_varied_and_the_same_for_the_same_seed() -> None:
    panel = SimulatedPanel(servers=40, seed=7)
    again = SimulatedPanel(servers=40, seed=7)
    other = SimulatedPanel(servers=40, seed=8)
    assert [s.attributes() for s in panel.servers.values()] == [
        s.attributes() for s in again.servers.values()
    ]
    assert list(panel.servers) != list(other.servers)
    servers = list(panel.servers.values())
    assert any(s.status == "installing" for s in servers)
    assert any(s.status == "suspended" for s in servers)
    assert any(s.node_down for s in servers)
    usable = [s for s in servers if s.conflict() is None and not s.node_down]
    running = [s for s in usable if s.state == "running"]
    assert len(running) > len(usable) / 2
    assert any(s.state == "offline" for s in usable)
    assert len({s.node.name for s in servers}) >= 3
    cpus = {s.spec.limits.cpu for s in servers}
    assert 0 in cpus
    assert cpus - {0} <= set(range(100, 401))
    assert any(s.spec.limits.threads is None for s in servers)
    assert len({s.spec.limits.memory for s in servers}) >= 3
    assert len({s.name for s in servers}) == 40
    addresses = [(a.ip, a.port) for s in servers for a in s.allocations]
    assert len(addresses) == len(set(addresses))
    assert all(1 <= len(s.allocations) <= 3 for s in servers)
    assert any(a.ip_alias is None for s in servers for a in s.allocations)
    assert any(a.ip_alias is not None for s in servers for a in s.allocations)


@pytest.mark.parametrize("count", [5, 6, 13])
def test_small_default_fleets_still_have_each_special_server(count: int) -> None:
    servers = list(SimulatedPanel(servers=count).servers.values())
    assert sum(s.status == "installing" for s in servers) >= 1
    assert sum(s.status == "suspended" for s in servers) >= 1
    assert sum(s.node_down for s in servers) >= 1


def test_default_fleet_names_are_unique_with_at_most_one_number() -> None:
    taken = ["Minecraft Survival", "Minecraft Survival #2", "Valheim Community"]
    names = [spec.name for spec in default_fleet(300, seed=7, taken=taken)]
    assert len(set(names)) == 300
    assert not set(names) & set(taken)
    assert all(re.fullmatch(r"[^#]+( #\d+)?", name) for name in names), names
    # Repeats are numbered from 2, as a person would: "Minecraft Survival #3" follows the taken #2.
    assert "Minecraft Survival #3" in names


def test_server_specs_with_bad_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="identifier"):
        SimulatedPanel(fleet=[spec("Short", "abc")])
    with pytest.raises(ValueError, match="share"):
        SimulatedPanel(fleet=[spec("One", "abcd1234"), spec("Two", "abcd1234")])


async def test_control_api_shows_live_state_and_sets_status(
    make_sim_panel: MakeSimPanel, http: aiohttp.ClientSession
) -> None:
    panel = await make_sim_panel(clock=FakeClock(), fleet=[spec("Ctl", "c0de0001")])
    async with http.get(panel.url + "/_sim/servers") as response:
        servers = (await response.json())["servers"]
    assert [(s["identifier"], s["state"], s["status"]) for s in servers] == [
        ("c0de0001", "running", None)
    ]
    async with http.post(
        panel.url + "/_sim/servers/c0de0001/state", json={"status": "suspended"}
    ) as response:
        assert (await response.json())["status"] == "suspended"
    status, _, _ = await call(http, panel, "GET", "/api/client/servers/c0de0001/resources")
    assert status == 409
    async with http.post(
        panel.url + "/_sim/servers/c0de0001/state", json={"status": None, "node_down": True}
    ) as response:
        assert response.status == 200
    status, _, _ = await call(http, panel, "GET", "/api/client/servers/c0de0001/resources")
    assert status == 504
    async with http.post(
        panel.url + "/_sim/servers/c0de0001/state", json={"status": "exploded"}
    ) as response:
        assert response.status == 422


# ------------------------------------------------------------------------ secrets and CLI


async def test_the_key_never_appears_in_logs_reprs_or_answers(
    make_sim_panel: MakeSimPanel,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    panel = await make_sim_panel(
        api_key=SECRET_KEY, rate_limit=2, fleet=[spec("S", "5ec00001", state="offline")]
    )
    answers = []
    for _ in range(3):
        answers.append(await call(http, panel, "GET", "/api/client"))
    answers.append(
        await call(
            http, panel, "POST", "/api/client/servers/5ec00001/power", body={"signal": "start"}
        )
    )
    answers.append(await call(http, panel, "GET", "/api/client", key=SECRET_KEY + "x"))
    assert [a[0] for a in answers] == [200, 200, 429, 429, 401]
    assert SECRET_KEY not in caplog.text
    assert SECRET_KEY not in repr(panel)
    assert SECRET_KEY not in repr(panel.servers["5ec00001"])
    assert all(SECRET_KEY not in json.dumps(a[1]) + json.dumps(a[2]) for a in answers)


async def test_command_line_panel_serves_hides_the_key_and_stops_on_sigterm(
    http: aiohttp.ClientSession,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pterodisbot_sandbox.panel",
        "--port",
        "0",
        "--servers",
        "3",
        "--api-key",
        SECRET_KEY,
        "--rate-limit",
        "100",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        while not any(line.startswith("Simulated Pterodactyl panel:") for line in output):
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, "the panel exited before printing its URL: " + "".join(output)
            output.append(line.decode())
        banner = next(line for line in output if line.startswith("Simulated Pterodactyl panel:"))
        url = banner.split()[-1]
        async with http.get(
            url + "/api/client",
            headers={"Authorization": f"Bearer {SECRET_KEY}", "Accept": JSON_ACCEPT},
        ) as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "100"
            assert len((await response.json())["data"]) == 3
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        output.append(rest.decode())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    text = "".join(output)
    assert "key: given on the command line" in text
    assert SECRET_KEY not in text
