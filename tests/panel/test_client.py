"""The panel client over real HTTP: against the simulated panel, and tiny servers for odd faults."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pterodisbot.clock import FakeClock
from pterodisbot.panel import (
    AuthFailure,
    ConflictReason,
    PanelAuthError,
    PanelBadResponse,
    PanelConflict,
    PanelError,
    PanelInvalidRequest,
    PanelNotFound,
    PanelRateLimited,
    PanelUnavailable,
    PowerSignal,
    PowerState,
    PterodactylAPI,
    UnavailableReason,
)
from pterodisbot.panel.client import ROUTE_LIST, ROUTE_POWER
from pterodisbot_sandbox.panel import FaultKind, SimServerSpec, SimulatedPanel
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import MakeSimPanel
from tests.processes import free_port

KEY = "ptlc_TopSecretClientKey0123456789abcdefXYZ"
APP_KEY = "ptla_TopSecretApplicationKey0123456789abc"

RUNNING, OFFLINE, SUSPENDED, INSTALLING, NODE_DOWN, SHARED = (
    "aaaa0001",
    "bbbb0002",
    "cccc0003",
    "dddd0004",
    "eeee0005",
    "ffff0006",
)
FLEET = [
    SimServerSpec(name="Survival", identifier=RUNNING, state="running"),
    SimServerSpec(name="Creative", identifier=OFFLINE, state="offline"),
    SimServerSpec(name="Banned", identifier=SUSPENDED, status="suspended"),
    SimServerSpec(name="Fresh", identifier=INSTALLING, status="installing", state="offline"),
    SimServerSpec(name="Far away", identifier=NODE_DOWN, node="sgp-1", node_down=True),
    # The key's user is only a subuser here, allowed to watch but not to control it.
    SimServerSpec(
        name="Friend's", identifier=SHARED, server_owner=False, permissions=("websocket.connect",)
    ),
]
POWER_ROUTE = "POST /api/client/servers/{server}/power"
RESOURCES_ROUTE = "GET /api/client/servers/{server}/resources"

MakeAPI = Callable[..., PterodactylAPI]
StartApp = Callable[[list[web.RouteDef]], Awaitable[str]]


class RecordingClock(FakeClock):
    """A fake clock that remembers how long each sleeper asked to sleep."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


@pytest.fixture
async def panel(make_sim_panel: MakeSimPanel) -> SimulatedPanel:
    """Start the test fleet on a fake clock that jumps ahead whenever everyone waits."""
    return await make_sim_panel(
        fleet=FLEET, api_key=KEY, application_keys=[APP_KEY], clock=FakeClock(autojump=0.001)
    )


@pytest.fixture
async def make_api() -> AsyncIterator[MakeAPI]:
    """Return a factory of clients on the panel's clock; close them all after the test."""
    made: list[PterodactylAPI] = []

    def make(target: SimulatedPanel | str, **kwargs: Any) -> PterodactylAPI:
        if isinstance(target, SimulatedPanel):
            kwargs.setdefault("clock", target.clock)
            kwargs.setdefault("api_key", target.api_key)
            url = target.url
        else:
            url = target
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("clock", FakeClock(autojump=0.001))
        kwargs.setdefault("rng", random.Random(7))
        kwargs.setdefault("timeout", 5.0)
        api = PterodactylAPI(url, kwargs.pop("api_key"), **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        await api.close()


@pytest.fixture
async def start_app() -> AsyncIterator[StartApp]:
    """Start a tiny aiohttp app on an ephemeral port for a fault the simulated panel lacks."""
    runners: list[web.AppRunner] = []

    async def start(routes: list[web.RouteDef]) -> str:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def raises(awaitable: Awaitable[object], kind: type[PanelError]) -> Any:
    with pytest.raises(kind) as caught:
        await awaitable
    return caught.value


# --------------------------------------------------------------------------- reading the panel


async def test_list_servers_reads_every_page(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI
) -> None:
    panel = await make_sim_panel(servers=250, clock=FakeClock(autojump=0.001))
    api = make_api(panel)

    servers = await api.list_servers()

    assert len(servers) == 250
    assert {s.identifier for s in servers} == set(panel.servers)
    assert all(s.primary_allocation is not None for s in servers)
    assert panel.stats()["requests"]["GET /api/client"] == 3
    assert api.stats.count(ROUTE_LIST, "200") == 3


async def test_server_resources_websocket_and_account_are_typed(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    server = await api.get_server(RUNNING)
    resources = await api.get_resources(RUNNING)
    offline = await api.get_resources(OFFLINE)
    credentials = await api.websocket_credentials(RUNNING)
    account = await api.whoami()

    assert server.name == "Survival"
    assert server.primary_allocation is not None
    assert resources.state is PowerState.RUNNING
    assert resources.memory_bytes > 0
    assert offline.state is PowerState.OFFLINE
    assert credentials.socket.endswith(f"/api/servers/{server.uuid}/ws")
    assert credentials.token
    assert account.username == "simulated"


async def test_power_signal_reaches_the_panel_once(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    await api.send_power(OFFLINE, PowerSignal.START)
    await api.send_command(RUNNING, "say hello")

    stats = panel.stats()
    assert stats["power"] == {OFFLINE: {"start": 1}}
    assert stats["requests"][POWER_ROUTE] == 1


async def test_requests_carry_the_key_the_json_accept_header_and_a_user_agent(
    start_app: StartApp, make_api: MakeAPI
) -> None:
    seen: list[dict[str, str]] = []

    async def account(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response(
            {
                "object": "user",
                "attributes": {
                    "id": 1,
                    "admin": False,
                    "username": "u",
                    "email": "u@example.com",
                    "first_name": "U",
                    "last_name": "V",
                    "language": "en",
                },
            }
        )

    url = await start_app([web.get("/api/client/account", account)])
    api = make_api(url + "/api/client/", user_agent="Pterodisbot-test/1")

    await api.whoami()

    headers = seen[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Accept"] == "Application/vnd.pterodactyl.v1+json"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "Pterodisbot-test/1"


# --------------------------------------------------------------------------- errors, mapped


async def test_wrong_key_is_an_auth_error_saying_the_key_is_bad(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel, api_key="ptlc_not-the-right-key")

    error = await raises(api.list_servers(), PanelAuthError)

    assert error.status == 401
    assert error.reason is AuthFailure.BAD_KEY
    assert error.code == "AuthenticationException"
    assert "rejected the API key" in str(error)


async def test_application_key_is_named_as_the_wrong_kind_of_key(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel, api_key=APP_KEY)

    error = await raises(api.get_resources(RUNNING), PanelAuthError)
    early = await raises(api.check_key(), PanelAuthError)

    assert api.key_kind == "application"
    assert error.status == 403
    assert error.reason is early.reason is AuthFailure.APPLICATION_KEY
    assert "client API key (ptlc_" in str(error)
    # check_key() knows without asking: only the first call reached the panel.
    assert api.stats.total == 1


async def test_missing_permission_is_an_auth_error_naming_the_server(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    error = await raises(api.send_power(SHARED, "start"), PanelAuthError)

    assert error.status == 403
    assert error.reason is AuthFailure.FORBIDDEN
    assert error.server_id == SHARED
    assert error.detail == "This action is unauthorized."
    assert panel.stats()["power"] == {}


async def test_unknown_server_is_not_found(panel: SimulatedPanel, make_api: MakeAPI) -> None:
    api = make_api(panel)

    error = await raises(api.get_resources("0badc0de"), PanelNotFound)

    assert error.status == 404
    assert error.code == "NotFoundHttpException"
    assert "0badc0de" in str(error)


async def test_suspended_and_installing_servers_conflict_with_the_panels_reason(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    suspended = await raises(api.get_resources(SUSPENDED), PanelConflict)
    installing = await raises(api.send_power(INSTALLING, "start"), PanelConflict)

    assert suspended.status == installing.status == 409
    assert suspended.reason is ConflictReason.SUSPENDED
    assert installing.reason is ConflictReason.INSTALLING
    assert suspended.code == "ServerStateConflictException"
    assert suspended.detail is not None
    assert "suspended" in suspended.detail
    assert installing.detail is not None
    assert "installation" in installing.detail


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"status": "suspended"}, ConflictReason.SUSPENDED),
        ({"node_maintenance": True}, ConflictReason.NODE_MAINTENANCE),
        ({"status": "installing", "state": "offline"}, ConflictReason.INSTALLING),
        ({"status": "install_failed", "state": "offline"}, ConflictReason.INSTALLING),
        ({"status": "restoring_backup"}, ConflictReason.RESTORING_BACKUP),
        ({"transferring": True}, ConflictReason.TRANSFERRING),
        # Suspended outranks the others, in the panel's answer as in the reason.
        (
            {"status": "suspended", "node_maintenance": True, "transferring": True},
            ConflictReason.SUSPENDED,
        ),
    ],
)
async def test_a_conflict_names_the_state_the_panel_gave(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI, state: dict[str, Any], reason: ConflictReason
) -> None:
    spec = SimServerSpec(name="Blocked", identifier="abcd0001", **state)
    panel = await make_sim_panel(fleet=[spec], api_key=KEY, clock=FakeClock(autojump=0.001))
    api = make_api(panel)

    polled = await raises(api.get_resources("abcd0001"), PanelConflict)
    powered = await raises(api.send_power("abcd0001", "start"), PanelConflict)

    assert polled.reason is powered.reason is reason
    assert polled.status == 409
    assert polled.code == "ServerStateConflictException"


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        # The panel's fallback when no named state applies.
        (
            "ServerStateConflictException",
            "This server is currently in an unsupported state, please try again later.",
        ),
        # Another conflict: its words name a state, but it is not a server state conflict.
        ("ConflictHttpException", "This backup cannot be restored while the server is suspended."),
        (None, None),
    ],
)
async def test_a_conflict_the_panel_did_not_name_is_other(
    start_app: StartApp, make_api: MakeAPI, code: str | None, detail: str | None
) -> None:
    async def power(request: web.Request) -> web.Response:
        if code is None:
            return web.Response(status=409, text="Conflict")
        error = {"code": code, "status": "409", "detail": detail}
        return web.json_response({"errors": [error]}, status=409)

    url = await start_app([web.post("/api/client/servers/abcd0001/power", power)])
    api = make_api(url)

    error = await raises(api.send_power("abcd0001", "start"), PanelConflict)

    assert error.reason is ConflictReason.OTHER
    assert error.detail == detail


async def test_invalid_request_names_the_field_the_panel_rejected(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    error = await raises(api.send_command(RUNNING, ""), PanelInvalidRequest)

    assert error.status == 422
    assert error.source_field == "command"


async def test_command_to_a_stopped_server_is_a_conflict_not_an_outage(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    error = await raises(api.send_command(OFFLINE, "say hi"), PanelConflict)

    assert error.status == 502
    assert error.reason is ConflictReason.OFFLINE
    assert "not running" in str(error)


async def test_node_down_is_unavailable_and_told_apart_from_the_panel_failing(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)
    panel.add_fault("5xx", servers=[RUNNING], status=503)

    node_down = await raises(api.get_resources(NODE_DOWN), PanelUnavailable)
    panel_down = await raises(api.get_resources(RUNNING), PanelUnavailable)

    assert node_down.status == 504
    assert node_down.node_down
    assert node_down.reason is UnavailableReason.NODE_DOWN
    assert panel_down.status == 503
    assert not panel_down.node_down
    assert panel_down.reason is UnavailableReason.SERVER_ERROR


async def test_timeout_and_refused_connection_are_unavailable(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    panel.add_fault("timeout", servers=[RUNNING])
    slow = make_api(panel, timeout=0.1, max_retries=0)
    nowhere = make_api(f"http://127.0.0.1:{free_port()}", max_retries=0)

    timed_out = await raises(slow.get_resources(RUNNING), PanelUnavailable)
    refused = await raises(nowhere.get_resources(RUNNING), PanelUnavailable)

    assert timed_out.reason is UnavailableReason.TIMEOUT
    assert timed_out.status is None
    assert "within 0.1 s" in str(timed_out)
    assert refused.reason is UnavailableReason.CONNECTION
    assert nowhere.stats.count(RESOURCES_ROUTE, "connection") == 1


async def test_redirect_is_reported_not_followed(start_app: StartApp, make_api: MakeAPI) -> None:
    followed: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://panel.example.com/api/client")

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.headers.get("Authorization", ""))
        return web.json_response({})

    url = await start_app([web.get("/api/client", moved), web.get("/elsewhere", elsewhere)])
    api = make_api(url)

    error = await raises(api.list_servers(), PanelError)

    assert error.status == 302
    assert "https://panel.example.com/api/client" in str(error)
    assert followed == []


# --------------------------------------------------------------------------- retries


async def test_get_retries_5xx_with_growing_backoff_then_gives_up(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    clock = RecordingClock(autojump=0.001)
    api = make_api(panel, clock=clock, max_retries=3, backoff_base=0.5)
    panel.add_fault("5xx", servers=[RUNNING])

    error = await raises(api.get_resources(RUNNING), PanelUnavailable)

    assert error.reason is UnavailableReason.SERVER_ERROR
    assert panel.stats()["requests"][RESOURCES_ROUTE] == 4
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= slept <= ceiling
    assert api.stats.retries == 3


async def test_get_recovers_once_the_5xx_clears(panel: SimulatedPanel, make_api: MakeAPI) -> None:
    api = make_api(panel, backoff_base=0.5)
    # Over after 0.6 s of panel time: the first two tries fail, the third lands after it.
    panel.add_fault("5xx", 0.6, servers=[RUNNING])

    resources = await api.get_resources(RUNNING)

    assert resources.state is PowerState.RUNNING
    assert panel.stats()["requests"][RESOURCES_ROUTE] == 3
    assert api.stats.count(RESOURCES_ROUTE, "200") == 1


async def test_get_retries_after_a_timeout(panel: SimulatedPanel, make_api: MakeAPI) -> None:
    api = make_api(panel, timeout=0.1, max_retries=2)
    panel.add_fault("timeout", servers=[RUNNING])

    error = await raises(api.get_resources(RUNNING), PanelUnavailable)

    assert error.reason is UnavailableReason.TIMEOUT
    assert api.stats.count(RESOURCES_ROUTE, "timeout") == 3
    assert panel.stats()["requests"][RESOURCES_ROUTE] == 3


@pytest.mark.parametrize(
    ("server", "kind"),
    [
        ("0badc0de", PanelNotFound),
        (SUSPENDED, PanelConflict),
        (NODE_DOWN, PanelUnavailable),  # 504 node down: the next poll asks again anyway
    ],
)
async def test_client_errors_are_not_retried(
    panel: SimulatedPanel, make_api: MakeAPI, server: str, kind: type[PanelError]
) -> None:
    api = make_api(panel)

    await raises(api.get_resources(server), kind)

    assert panel.stats()["requests"][RESOURCES_ROUTE] == 1
    assert api.stats.retries == 0


async def test_power_post_is_never_sent_twice_after_a_5xx(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)
    panel.add_fault("5xx", servers=[OFFLINE])

    await raises(api.send_power(OFFLINE, "start"), PanelUnavailable)

    assert panel.stats()["requests"][POWER_ROUTE] == 1
    assert api.stats.retries == 0


async def test_power_post_is_never_sent_twice_after_a_timeout(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel, timeout=0.1)
    panel.add_fault("timeout", servers=[OFFLINE])

    await raises(api.send_power(OFFLINE, "start"), PanelUnavailable)
    panel.clear_faults()
    await api.get_resources(RUNNING)  # the connection pool is still usable afterwards

    stats = panel.stats()
    assert stats["requests"][POWER_ROUTE] == 1
    assert stats["power"].get(OFFLINE, {}).get("start", 0) <= 1
    assert api.stats.count(ROUTE_POWER) == 1


async def test_power_post_is_never_sent_twice_after_the_connection_drops(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)
    await api.get_resources(RUNNING)  # the POST then goes over a reused keep-alive connection
    panel.add_fault("down", servers=[OFFLINE])

    error = await raises(api.send_power(OFFLINE, "kill"), PanelUnavailable)

    assert error.reason is UnavailableReason.CONNECTION
    assert panel.stats()["requests"][POWER_ROUTE] == 1


async def test_power_post_is_retried_when_the_connection_was_refused() -> None:
    # Refused means the panel provably never saw the request; the panel comes up meanwhile.
    clock = FakeClock()
    port = free_port()
    panel = SimulatedPanel(fleet=FLEET, api_key=KEY, clock=clock)
    api = PterodactylAPI(f"http://127.0.0.1:{port}", KEY, clock=clock, rng=random.Random(1))
    try:
        sending = asyncio.create_task(api.send_power(OFFLINE, "start"))

        async def refused() -> int:
            return api.stats.count(ROUTE_POWER, "connection")

        await poll_until(refused, what="the first, refused attempt")
        await panel.start(port=port)
        clock.advance(10.0)  # past the backoff
        await sending

        stats = panel.stats()
        assert stats["power"] == {OFFLINE: {"start": 1}}
        assert api.stats.count(ROUTE_POWER, "connection") == 1
        assert api.stats.count(ROUTE_POWER, "204") == 1
    finally:
        await api.close()
        await panel.stop()


async def test_get_waits_out_a_429_then_succeeds(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET, api_key=KEY, rate_limit=1, clock=clock)
    neighbour = make_api(panel)
    api = make_api(panel)
    await neighbour.whoami()  # another client spends the key's whole minute

    resources = await api.get_resources(RUNNING)

    assert resources.state is PowerState.RUNNING
    assert api.stats.count(RESOURCES_ROUTE, "429") == 1
    assert api.stats.count(RESOURCES_ROUTE, "200") == 1
    # It waited out the panel's Retry-After (the rest of its minute), not a minute more.
    assert 59.0 <= clock.monotonic() < 62.0


async def test_power_post_is_not_retried_after_a_429(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI
) -> None:
    panel = await make_sim_panel(
        fleet=FLEET, api_key=KEY, rate_limit=1, clock=FakeClock(autojump=0.001)
    )
    await make_api(panel).whoami()
    api = make_api(panel)

    error = await raises(api.send_power(OFFLINE, "start"), PanelRateLimited)

    assert error.status == 429
    assert 0 < error.retry_after <= 60
    assert panel.stats()["power"] == {}
    assert api.stats.count(ROUTE_POWER) == 1


# --------------------------------------------------------------------------- the rate budget


async def poll_for_a_minute(api: PterodactylAPI, clock: FakeClock, identifiers: list[str]) -> int:
    """Poll every server's resources every 10 s until a minute has passed; return the polls."""
    polls = 0
    while clock.monotonic() < 60.0:
        started = clock.monotonic()
        await asyncio.gather(*(api.get_resources(i) for i in identifiers))
        polls += 1
        await clock.sleep(started + 10.0 - clock.monotonic())
    return polls


FIFTY = [SimServerSpec(name=f"Server {n}") for n in range(50)]


async def test_unbudgeted_poll_of_50_servers_would_exceed_the_panels_limit(
    make_sim_panel: MakeSimPanel,
) -> None:
    # The baseline the budget test relies on: without a budget this panel answers 429s.
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FIFTY, rate_limit=240, clock=clock)
    headers = {"Authorization": f"Bearer {panel.api_key}", "Accept": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:

        async def fetch(identifier: str) -> None:
            url = f"{panel.url}/api/client/servers/{identifier}/resources"
            async with http.get(url) as response:
                await response.read()

        while clock.monotonic() < 60.0:
            started = clock.monotonic()
            await asyncio.gather(*(fetch(i) for i in panel.servers))
            await clock.sleep(started + 10.0 - clock.monotonic())

    assert panel.stats()["rate_limited"] > 0


async def test_budgeted_poll_of_50_servers_never_hits_the_panels_limit(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FIFTY, rate_limit=240, clock=clock)
    api = make_api(panel, requests_per_minute=240)

    servers = await api.list_servers()
    polls = await poll_for_a_minute(api, clock, [s.identifier for s in servers])

    stats = panel.stats()
    assert stats["rate_limited"] == 0
    assert api.stats.count(outcome="429") == 0
    # The budget did the pacing: 50 every 10 s (300/min) cannot all fit in 240.
    assert polls == 5
    assert stats["requests"][RESOURCES_ROUTE] == 250
    assert clock.monotonic() >= 61.0


async def test_budget_leaves_room_for_another_client_on_the_same_key(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FIFTY, rate_limit=100, clock=clock)
    neighbour = make_api(panel)
    api = make_api(panel, requests_per_minute=100)
    for _ in range(80):
        await neighbour.whoami()

    servers = await api.list_servers()  # its answer says only 19 requests are left
    await asyncio.gather(*(api.get_resources(s.identifier) for s in servers))

    assert panel.stats()["rate_limited"] == 0
    assert api.stats.count(outcome="429") == 0
    assert clock.monotonic() >= 60.0


async def test_every_attempt_on_dropped_connections_takes_a_token_of_the_budget(
    make_sim_panel: MakeSimPanel, make_api: MakeAPI
) -> None:
    # aiohttp silently sends a GET again when its connection drops; that resend must not
    # slip past the budget: the panel may see no more than the bot believes it sent.
    # The clock jumps only after 20 ms of real idleness (not 1 ms): a jump while a request is
    # still on its way would stamp its arrival a budget step after it was sent, and on a
    # loaded machine that made the panel see 62 in a minute that the bot had paced at 60.
    clock = FakeClock(autojump=0.02)
    panel = await make_sim_panel(fleet=FLEET, api_key=KEY, clock=clock)
    api = make_api(panel, requests_per_minute=60, max_retries=3)
    panel.add_fault("down")  # every connection is reset before an answer
    start = clock.monotonic()

    async def poll() -> None:
        while clock.monotonic() < start + 180:
            with contextlib.suppress(PanelUnavailable):
                await api.get_resources(RUNNING)

    await asyncio.gather(*(poll() for _ in range(3)))

    # The panel's own view: no 60 s window (starting at any arrival) holds more than 60.
    arrived = panel.arrivals(RESOURCES_ROUTE)
    busiest = max(bisect.bisect_left(arrived, t + 60) - i for i, t in enumerate(arrived))
    assert busiest <= 60, busiest
    second_minute = [t for t in arrived if start + 60 <= t < start + 120]
    assert len(second_minute) >= 55, len(second_minute)  # the budget, not something else, paced it
    total = panel.stats()["requests"][RESOURCES_ROUTE]
    assert api.stats.count(RESOURCES_ROUTE, "connection") == total


# --------------------------------------------------------------------------- bad answers


async def test_garbage_answers_are_bad_responses_naming_what_is_wrong(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)
    panel.add_fault("garbage")

    html = await raises(api.get_resources(RUNNING), PanelBadResponse)
    truncated = await raises(api.get_resources(RUNNING), PanelBadResponse)
    wrong_shape = await raises(api.list_servers(), PanelBadResponse)

    assert "not JSON" in str(html)
    assert "text/html" in str(html)
    assert "not JSON" in str(truncated)
    assert wrong_shape.field == "data"
    assert "'data'" in str(wrong_shape)
    # A 200 with nonsense is not retried: asking again gives the same nonsense.
    assert api.stats.retries == 0


async def test_missing_field_in_a_real_answer_names_its_path(
    start_app: StartApp, make_api: MakeAPI
) -> None:
    async def resources(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "stats",
                "attributes": {
                    "current_state": "running",
                    "is_suspended": False,
                    "resources": {
                        "memory_bytes": 1,
                        "cpu_absolute": 1.5,
                        "disk_bytes": 1,
                        "network_rx_bytes": 1,
                        "network_tx_bytes": 1,
                    },
                },
            }
        )

    url = await start_app([web.get("/api/client/servers/{server}/resources", resources)])
    api = make_api(url)

    error = await raises(api.get_resources(RUNNING), PanelBadResponse)

    assert error.field == "attributes.resources.uptime"
    assert error.server_id == RUNNING
    assert error.route == RESOURCES_ROUTE
    assert "attributes.resources.uptime" in str(error)


async def test_body_cut_short_is_retried_then_unavailable(make_api: MakeAPI) -> None:
    attempts = 0

    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal attempts
        attempts += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
            b'{"object": "stats", "attri'
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut_short, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        api = make_api(f"http://127.0.0.1:{port}", max_retries=2)

        error = await raises(api.get_resources(RUNNING), PanelUnavailable)
    finally:
        server.close()
        await server.wait_closed()

    assert error.reason is UnavailableReason.CONNECTION
    assert attempts == 3


# --------------------------------------------------------------------------- secrets


async def test_api_key_never_appears_in_logs_or_errors(
    make_sim_panel: MakeSimPanel,
    make_api: MakeAPI,
    start_app: StartApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET, api_key=KEY, rate_limit=30, clock=clock)

    async def echo_key(request: web.Request) -> web.Response:
        # A misbehaving proxy that repeats the Authorization header back in its error.
        said = request.headers["Authorization"]
        return web.json_response(
            {"errors": [{"code": "HttpException", "status": "500", "detail": f"bad {said}"}]},
            status=500,
            headers={"Location": said},
        )

    async def redirect_with_key(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"https://login.example.com/?token={request.headers['Authorization']}")

    echo_url = await start_app(
        [
            web.get("/api/client/servers/{server}/resources", echo_key),
            web.get("/api/client", redirect_with_key),
        ]
    )
    api = make_api(panel, timeout=0.1, max_retries=1)
    wrong = make_api(panel, api_key=KEY + "x")  # a wrong key whose prefix is the real one
    echo = make_api(echo_url, max_retries=0)
    nowhere = make_api(f"http://127.0.0.1:{free_port()}", max_retries=0)
    errors: list[BaseException] = []

    async def collect(call: Awaitable[object]) -> None:
        try:
            await call
        except PanelError as error:
            errors.append(error)

    await collect(wrong.list_servers())
    await collect(api.get_resources("0badc0de"))
    await collect(api.get_resources(SUSPENDED))
    await collect(api.get_resources(NODE_DOWN))
    await collect(api.send_power(SHARED, "start"))
    await collect(api.send_command(RUNNING, ""))
    await collect(api.send_command(OFFLINE, "stop"))
    await collect(echo.get_resources(RUNNING))
    await collect(echo.list_servers())
    await collect(nowhere.send_power(RUNNING, "start"))
    faults: tuple[FaultKind, ...] = ("5xx", "timeout", "down", "garbage")
    for kind in faults:
        panel.add_fault(kind, servers=[RUNNING])
        await collect(api.get_resources(RUNNING))
        await collect(api.send_power(RUNNING, "restart"))
        panel.clear_faults()
    panel.add_fault("garbage")
    await collect(api.list_servers())
    panel.clear_faults()
    # A fresh client bursts past the panel's 30 a minute before its budget hears of the limit.
    burst = make_api(panel)
    results = await asyncio.gather(
        *(burst.send_power(OFFLINE, "start") for _ in range(40)), return_exceptions=True
    )
    errors.extend(r for r in results if isinstance(r, PanelError))

    kinds = {type(e) for e in errors}
    assert kinds >= {
        PanelAuthError,
        PanelNotFound,
        PanelConflict,
        PanelInvalidRequest,
        PanelUnavailable,
        PanelBadResponse,
        PanelRateLimited,
    }
    for error in errors:
        assert isinstance(error, PanelError)
        for text in (str(error), repr(error), str(error.detail), str(error.args)):
            assert KEY not in text
        assert error.__cause__ is None
    assert any("[redacted]" in str(e) for e in errors)
    for record in caplog.records:
        assert KEY not in record.getMessage()
    assert KEY not in caplog.text  # formatted records, tracebacks included
    assert KEY not in repr(api)
    assert any(r.name == "pterodisbot.panel.client" for r in caplog.records)


# --------------------------------------------------------------------------- construction


def test_key_kind_is_judged_by_the_prefix() -> None:
    def kind(key: str) -> str:
        return PterodactylAPI("https://panel.example.com", key).key_kind

    assert kind("ptlc_abc") == "client"
    assert kind("plcn_abc") == "client"  # Pelican
    assert kind("ptla_abc") == "application"
    assert kind("peli_abc") == "application"  # Pelican
    assert kind("abc") == "unknown"


def test_panel_url_pasted_with_the_api_path_is_normalised() -> None:
    api = PterodactylAPI("https://panel.example.com/api/client/", " ptlc_abc\n")

    assert api.base_url == "https://panel.example.com"
    assert repr(api) == "PterodactylAPI(base_url='https://panel.example.com', key_kind='client')"


@pytest.mark.parametrize(("url", "key"), [("panel.example.com", "ptlc_a"), ("https://x", " ")])
def test_bad_url_or_empty_key_is_refused_at_construction(url: str, key: str) -> None:
    with pytest.raises(ValueError, match=r"panel URL|API key"):
        PterodactylAPI(url, key)


async def test_bad_server_id_or_signal_is_refused_before_any_request(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    api = make_api(panel)

    with pytest.raises(ValueError, match="not a server identifier"):
        await api.get_resources("../account")
    with pytest.raises(ValueError, match="explode"):
        await api.send_power(RUNNING, "explode")

    assert api.stats.total == 0


async def test_a_session_passed_in_is_used_and_left_open(
    panel: SimulatedPanel, make_api: MakeAPI
) -> None:
    async with aiohttp.ClientSession() as session:
        async with make_api(panel, session=session) as api:
            await api.get_resources(RUNNING)
        assert not session.closed


async def test_one_unreadable_server_is_skipped_and_named_the_rest_are_listed(
    start_app: StartApp, make_api: MakeAPI, caplog: pytest.LogCaptureFixture
) -> None:
    good = {
        "object": "server",
        "attributes": {
            "server_owner": True,
            "identifier": "aaaa1111",
            "internal_id": 1,
            "uuid": "aaaa1111-0000-4000-8000-000000000001",
            "name": "Survival",
            "node": "node-1",
            "is_node_under_maintenance": False,
            "sftp_details": {"ip": "127.0.0.1", "port": 2022},
            "description": "",
            "limits": {
                "memory": 1024,
                "swap": 0,
                "disk": 2048,
                "io": 500,
                "cpu": 100,
                "threads": None,
                "oom_disabled": True,
            },
            "invocation": "java -jar server.jar",
            "docker_image": "ghcr.io/pterodactyl/yolks:java_17",
            "egg_features": None,
            "feature_limits": {"databases": 0, "allocations": 1, "backups": 0},
            "status": None,
            "is_suspended": False,
            "is_installing": False,
            "is_transferring": False,
            "relationships": {"allocations": {"object": "list", "data": []}},
        },
    }
    bad = {
        "object": "server",
        "attributes": {**good["attributes"], "identifier": "bbbb2222", "limits": "unlimited"},
    }
    body = {
        "object": "list",
        "data": [bad, good],
        "meta": {
            "pagination": {
                "total": 2,
                "count": 2,
                "per_page": 100,
                "current_page": 1,
                "total_pages": 1,
                "links": {},
            }
        },
    }

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(body)

    api = make_api(await start_app([web.get("/api/client", listing)]))
    with caplog.at_level(logging.WARNING, logger="pterodisbot.panel.client"):
        servers = await api.list_servers()

    assert [s.identifier for s in servers] == ["aaaa1111"]
    # One line per skipped server, naming the field that made it unreadable.
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "skipped an unreadable server" in warning
    assert "attributes.limits" in warning


def test_client_from_settings_takes_the_configured_panel_budget_and_retries() -> None:
    from pterodisbot.config import settings_from_sections

    settings = settings_from_sections(
        {
            "pterodactyl": {
                "url": "http://127.0.0.1:9",
                "requests_per_minute": "120",
                "max_retries": "5",
            }
        },
        env={"DISCORD_TOKEN": "x" * 59, "PTERODACTYL_API_KEY": "ptlc_fromsettings"},
    )
    api = PterodactylAPI.from_settings(settings.pterodactyl)
    assert api.base_url == "http://127.0.0.1:9"
    assert api.budget.capacity == 120
    assert api._max_retries == 5
    assert PterodactylAPI.from_settings(settings.pterodactyl, max_retries=0)._max_retries == 0
