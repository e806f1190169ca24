"""`PterodactylAPI.activity()` over real HTTP: against the simulated panel, and odd answers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from pterodisbot.clock import FakeClock
from pterodisbot.panel import (
    ActivityEvent,
    AuthFailure,
    PanelAuthError,
    PanelBadResponse,
    PowerSignal,
    PterodactylAPI,
)
from pterodisbot.panel.client import ROUTE_ACTIVITY
from pterodisbot_sandbox.panel import API_USER, SimServerSpec, SimulatedPanel
from tests.fixtures.panel import MakeSimPanel

KEY = "ptlc_TopSecretClientKey0123456789abcdefXYZ"
UP, WATCHER = "aaaa0001", "cccc0003"
FLEET = [
    SimServerSpec(name="Survival", identifier=UP, state="running"),
    SimServerSpec(
        name="Friend's",
        identifier=WATCHER,
        server_owner=False,
        permissions=("control.start", "control.stop", "websocket.connect"),
    ),
]
EPOCH = 1_700_000_000.0
ACTIVITY_ROUTE = "GET /api/client/servers/{server}/activity"


@pytest.fixture
async def panel(make_sim_panel: MakeSimPanel) -> SimulatedPanel:
    return await make_sim_panel(fleet=FLEET, api_key=KEY, clock=FakeClock(start=EPOCH))


@pytest.fixture
async def apis() -> AsyncIterator[list[PterodactylAPI]]:
    made: list[PterodactylAPI] = []
    yield made
    for api in made:
        await api.close()


def client(apis: list[PterodactylAPI], url: str, clock: Any = None) -> PterodactylAPI:
    api = PterodactylAPI(
        url,
        KEY,
        clock=clock if clock is not None else FakeClock(autojump=0.001),
        rng=random.Random(7),
        timeout=5.0,
    )
    apis.append(api)
    return api


async def test_power_events_come_newest_first_with_signal_actor_and_time(
    panel: SimulatedPanel, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, panel.url, panel.clock)
    await api.send_power(UP, PowerSignal.RESTART)
    panel.add_activity(UP, "server:power.stop", user="alice", t=EPOCH + 30)
    panel.add_activity(UP, "server:console.command", user="alice", t=EPOCH + 40)
    panel.add_activity(UP, "server:power.kill", user=None, t=EPOCH + 50.9)

    events = await api.activity(UP)

    assert events == [
        ActivityEvent("server:power.kill", PowerSignal.KILL, EPOCH + 50, None, False),
        ActivityEvent("server:power.stop", PowerSignal.STOP, EPOCH + 30, "alice", False),
        ActivityEvent("server:power.restart", PowerSignal.RESTART, EPOCH, API_USER, True),
    ]


async def test_one_call_asks_the_panel_for_power_events_only_in_one_request(
    panel: SimulatedPanel, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, panel.url, panel.clock)
    for n in range(30):
        panel.add_activity(UP, "server:power.start", t=EPOCH + n)
    budget_before = api.budget.remaining

    events = await api.activity(UP, limit=20)

    assert [e.t for e in events] == [EPOCH + n for n in range(29, 9, -1)]
    assert panel.stats()["requests"] == {ACTIVITY_ROUTE: 1}
    assert api.stats.count(ROUTE_ACTIVITY, "200") == 1
    assert budget_before - api.budget.remaining == 1


async def test_since_keeps_the_events_at_or_after_it(
    panel: SimulatedPanel, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, panel.url, panel.clock)
    for offset in (10, 20, 30):
        panel.add_activity(UP, "server:power.stop", t=EPOCH + offset)

    events = await api.activity(UP, since=EPOCH + 20.4)

    # The panel keeps whole seconds: the event in the second `since` falls in counts.
    assert [e.t for e in events] == [EPOCH + 30, EPOCH + 20]


async def test_a_key_without_activity_read_is_a_forbidden_auth_error(
    panel: SimulatedPanel, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, panel.url, panel.clock)

    with pytest.raises(PanelAuthError) as caught:
        await api.activity(WATCHER)

    assert caught.value.reason is AuthFailure.FORBIDDEN
    assert caught.value.server_id == WATCHER
    assert caught.value.route == ROUTE_ACTIVITY


async def test_limit_outside_the_panels_page_is_refused_before_any_request(
    panel: SimulatedPanel, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, panel.url, panel.clock)

    with pytest.raises(ValueError, match="limit must be 1 to 100"):
        await api.activity(UP, limit=101)

    assert panel.stats()["requests"] == {}


# ------------------------------------------------------------------ answers the sim never gives


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Any], Any]]:
    runners: list[web.AppRunner] = []
    seen: list[dict[str, str]] = []

    async def start(body: Any) -> str:
        async def activity(request: web.Request) -> web.Response:
            seen.append(dict(request.query))
            return web.json_response(body)

        app = web.Application()
        app.add_routes([web.get("/api/client/servers/{server}/activity", activity)])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    start.seen = seen  # type: ignore[attr-defined]
    yield start
    for runner in runners:
        await runner.cleanup()


def listing(*items: Any) -> dict[str, Any]:
    return {
        "object": "list",
        "data": list(items),
        "meta": {
            "pagination": {
                "total": len(items),
                "count": len(items),
                "per_page": 50,
                "current_page": 1,
                "total_pages": 1,
                "links": [],
            }
        },
    }


def item(**attributes: Any) -> dict[str, Any]:
    base = {"event": "server:power.stop", "is_api": False, "timestamp": "2024-05-01T12:00:00Z"}
    return {"object": "activity_log", "attributes": {**base, **attributes}}


async def test_the_query_names_the_power_filter_the_sort_the_page_and_the_actor(
    serve: Any, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, await serve(listing()))

    await api.activity(UP, limit=7)

    assert serve.seen == [
        {
            "filter[event]": "server:power",
            "sort": "-timestamp",
            "per_page": "7",
            "include": "actor",
        }
    ]


async def test_other_events_a_partial_match_lets_through_are_left_out(
    serve: Any, apis: list[PterodactylAPI]
) -> None:
    url = await serve(
        listing(
            item(event="server:power.hibernate", timestamp="2024-05-01T12:00:03+02:00"),
            item(event="server:powerline.cut"),
        )
    )
    api = client(apis, url)

    events = await api.activity(UP)

    # A signal this bot does not know is still a power event, with no signal.
    assert events == [ActivityEvent("server:power.hibernate", None, 1714557603.0, None, False)]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"timestamp": "yesterday"}, "data[0].attributes.timestamp"),
        ({"timestamp": "2024-05-01T12:00:00"}, "data[0].attributes.timestamp"),
        ({"is_api": "no"}, "data[0].attributes.is_api"),
        ({"event": None}, "data[0].attributes.event"),
        (
            {"relationships": {"actor": {"object": "user", "attributes": {"uuid": "x"}}}},
            "data[0].attributes.relationships.actor.attributes.username",
        ),
    ],
)
async def test_a_malformed_item_is_a_bad_response_naming_the_field(
    serve: Any, apis: list[PterodactylAPI], bad: dict[str, Any], field: str
) -> None:
    api = client(apis, await serve(listing(item(**bad))))

    with pytest.raises(PanelBadResponse) as caught:
        await api.activity(UP)

    assert caught.value.field == field
    assert caught.value.route == ROUTE_ACTIVITY


async def test_garbage_instead_of_a_list_is_a_bad_response(
    serve: Any, apis: list[PterodactylAPI]
) -> None:
    api = client(apis, await serve({"object": "list", "data": "nope"}))

    with pytest.raises(PanelBadResponse) as caught:
        await api.activity(UP)

    assert caught.value.field == "data"
