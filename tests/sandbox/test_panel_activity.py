"""The simulated panel's activity log answers like the real panel's, over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.panel import API_USER, PowerRefused, SimServerSpec, SimulatedPanel
from tests.fixtures.panel import MakeSimPanel
from tests.sandbox.test_panel import call, error_of

UP, DOWN, WATCHER, NO_NODE, BANNED = "aaaa0001", "bbbb0002", "cccc0003", "dddd0004", "eeee0005"
FLEET = [
    SimServerSpec(name="Survival", identifier=UP, state="running"),
    SimServerSpec(name="Creative", identifier=DOWN, state="offline"),
    # A subuser who may watch and control it but not read its activity.
    SimServerSpec(
        name="Friend's",
        identifier=WATCHER,
        server_owner=False,
        permissions=("control.start", "control.stop", "websocket.connect"),
    ),
    SimServerSpec(name="Far away", identifier=NO_NODE, node_down=True),
    SimServerSpec(name="Banned", identifier=BANNED, status="suspended"),
]
# FakeClock's epoch: 2023-11-14T22:13:20+00:00.
EPOCH = 1_700_000_000.0


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def panel(make_sim_panel: MakeSimPanel) -> SimulatedPanel:
    return await make_sim_panel(fleet=FLEET, clock=FakeClock(start=EPOCH))


def activity_path(server: str, query: str = "") -> str:
    return f"/api/client/servers/{server}/activity" + (f"?{query}" if query else "")


async def test_a_power_signal_through_the_api_is_logged_with_the_keys_user(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    assert isinstance(panel.clock, FakeClock)
    panel.clock.advance(12.75)
    status, _, _ = await call(
        http, panel, "POST", f"/api/client/servers/{UP}/power", body={"signal": "stop"}
    )
    assert status == 204

    status, body, _ = await call(http, panel, "GET", activity_path(UP, "include=actor"))

    assert status == 200
    assert body["object"] == "list"
    assert body["meta"]["pagination"] == {
        "total": 1,
        "count": 1,
        "per_page": 25,
        "current_page": 1,
        "total_pages": 1,
        "links": {},
    }
    [item] = body["data"]
    assert item["object"] == "activity_log"
    attrs = item["attributes"]
    actor = attrs.pop("relationships")["actor"]
    assert attrs == {
        "id": hashlib.sha1(b"1").hexdigest(),
        "batch": None,
        "event": "server:power.stop",
        "is_api": True,
        "ip": "127.0.0.1",
        "description": None,
        "properties": {},
        "has_additional_metadata": False,
        # Whole seconds, with the offset, as the panel's toAtomString prints them.
        "timestamp": "2023-11-14T22:13:32+00:00",
    }
    assert actor["object"] == "user"
    assert actor["attributes"]["username"] == API_USER
    assert set(actor["attributes"]) == {
        "uuid",
        "username",
        "email",
        "image",
        "2fa_enabled",
        "created_at",
    }


async def test_a_refused_or_failed_signal_and_a_crash_log_nothing(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    bad, _, _ = await call(
        http, panel, "POST", f"/api/client/servers/{UP}/power", body={"signal": "explode"}
    )
    node_down, _, _ = await call(
        http, panel, "POST", f"/api/client/servers/{NO_NODE}/power", body={"signal": "stop"}
    )
    assert panel.server(UP).crash()

    assert (bad, node_down) == (422, 504)
    assert panel.activity(UP) == []
    assert panel.activity(NO_NODE) == []


async def test_a_panel_user_clicking_in_the_ui_is_logged_as_them_not_as_the_api(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(
        http, panel, "POST", f"/_sim/servers/{UP}/power", body={"signal": "stop", "user": "alice"}
    )
    assert status == 200
    assert body["activity"]["actor"] == "alice"
    assert panel.server(UP).state == "stopping"

    _, listed, _ = await call(http, panel, "GET", activity_path(UP, "include=actor"))

    [item] = listed["data"]
    assert item["attributes"]["event"] == "server:power.stop"
    assert item["attributes"]["is_api"] is False
    # Another user's address is hidden from the key's user, as the panel's transformer does.
    assert item["attributes"]["ip"] is None
    assert item["attributes"]["relationships"]["actor"]["attributes"]["username"] == "alice"
    assert panel.stats()["power"] == {UP: {"stop": 1}}


async def test_the_ui_cannot_control_a_server_whose_node_is_down(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(
        http, panel, "POST", f"/_sim/servers/{NO_NODE}/power", body={"signal": "stop", "user": "a"}
    )
    bad, _, _ = await call(
        http, panel, "POST", f"/_sim/servers/{UP}/power", body={"signal": "nap", "user": "a"}
    )

    assert (status, bad) == (409, 422)
    assert "node is down" in body["error"]
    with pytest.raises(PowerRefused):
        panel.power_as(BANNED, "stop", "alice")
    assert panel.activity(NO_NODE) == []


async def test_the_actor_comes_only_when_included_and_the_system_is_a_null_resource(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    panel.add_activity(UP, "server:power.restart", user=None)

    _, without, _ = await call(http, panel, "GET", activity_path(UP))
    _, with_actor, _ = await call(http, panel, "GET", activity_path(UP, "include=actor"))

    assert "relationships" not in without["data"][0]["attributes"]
    assert with_actor["data"][0]["attributes"]["relationships"]["actor"] == {
        "object": "null_resource",
        "attributes": None,
    }


async def test_filter_is_a_partial_match_and_sort_orders_by_timestamp(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    panel.add_activity(UP, "server:power.start", t=EPOCH + 10)
    panel.add_activity(UP, "server:console.command", t=EPOCH + 20, properties={"reason": "x"})
    panel.add_activity(UP, "server:power.kill", t=EPOCH + 30)
    panel.add_activity(DOWN, "server:power.stop", t=EPOCH + 40)

    _, newest, _ = await call(http, panel, "GET", activity_path(UP, "filter[event]=SERVER:POWER"))
    _, oldest, _ = await call(
        http, panel, "GET", activity_path(UP, "filter[event]=power&sort=timestamp")
    )
    _, everything, _ = await call(http, panel, "GET", activity_path(UP))

    assert [i["attributes"]["event"] for i in newest["data"]] == [
        "server:power.kill",
        "server:power.start",
    ]
    assert [i["attributes"]["event"] for i in oldest["data"]] == [
        "server:power.start",
        "server:power.kill",
    ]
    assert [i["attributes"]["timestamp"] for i in everything["data"]] == [
        "2023-11-14T22:13:50+00:00",
        "2023-11-14T22:13:40+00:00",
        "2023-11-14T22:13:30+00:00",
    ]
    assert everything["data"][1]["attributes"]["has_additional_metadata"] is True


async def test_per_page_is_capped_at_100_and_pages_link_to_their_neighbours(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    for n in range(105):
        panel.add_activity(UP, "server:power.start", t=EPOCH + n)

    _, first, _ = await call(http, panel, "GET", activity_path(UP, "per_page=500"))
    _, second, _ = await call(http, panel, "GET", activity_path(UP, "per_page=500&page=2"))

    assert first["meta"]["pagination"]["per_page"] == 100
    assert first["meta"]["pagination"]["total_pages"] == 2
    assert len(first["data"]) == 100
    assert set(first["meta"]["pagination"]["links"]) == {"next"}
    assert "page=2" in first["meta"]["pagination"]["links"]["next"]
    assert len(second["data"]) == 5
    assert set(second["meta"]["pagination"]["links"]) == {"previous"}


async def test_unknown_filters_and_sorts_are_refused_as_the_query_builder_does(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    bad_filter, filter_body, _ = await call(http, panel, "GET", activity_path(UP, "filter[ip]=1"))
    bad_sort, sort_body, _ = await call(http, panel, "GET", activity_path(UP, "sort=event"))

    assert (bad_filter, bad_sort) == (400, 400)
    assert error_of(filter_body)["code"] == "InvalidFilterQuery"
    assert error_of(sort_body)["code"] == "InvalidSortQuery"


async def test_without_activity_read_the_panel_answers_403(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(http, panel, "GET", activity_path(WATCHER))

    assert status == 403
    assert error_of(body) == {
        "code": "AccessDeniedHttpException",
        "status": "403",
        "detail": "This action is unauthorized.",
    }


async def test_a_suspended_server_conflicts_and_a_down_node_does_not_matter(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    panel.add_activity(NO_NODE, "server:power.stop", user="bob")

    conflict, body, _ = await call(http, panel, "GET", activity_path(BANNED))
    # The log lives in the panel's database: reading it never reaches Wings.
    readable, listed, _ = await call(http, panel, "GET", activity_path(NO_NODE))

    assert conflict == 409
    assert error_of(body)["code"] == "ServerStateConflictException"
    assert readable == 200
    assert [i["attributes"]["event"] for i in listed["data"]] == ["server:power.stop"]


async def test_a_raw_event_is_added_through_the_control_api(
    panel: SimulatedPanel, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await call(
        http,
        panel,
        "POST",
        f"/_sim/servers/{UP}/activity",
        body={"event": "server:power.kill", "user": "carol", "t": EPOCH - 60.5},
    )
    _, listed, _ = await call(http, panel, "GET", f"/_sim/servers/{UP}/activity")
    bad, _, _ = await call(http, panel, "POST", f"/_sim/servers/{UP}/activity", body={"event": 3})

    assert status == 201
    assert body["activity"]["t"] == EPOCH - 61
    assert listed["activity"] == [body["activity"]]
    assert bad == 422
