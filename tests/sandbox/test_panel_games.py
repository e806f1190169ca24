"""The simulated fleet's games: players from the load model, and real game queries over sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import a2s
import aiohttp
import pytest
from mcstatus import BedrockServer, JavaServer
from mcstatus.responses import JavaStatusResponse

from pterodisbot.clock import FakeClock
from pterodisbot.demo import demo_fleet
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel, game_fleet, player_names
from tests.fixtures.panel import GAMES, MakeSimPanel

NOW = 1_000_000.0


def _panel(*specs: SimServerSpec) -> SimulatedPanel:
    return SimulatedPanel(fleet=list(specs), clock=FakeClock(NOW))


def test_players_follow_the_cpu_load_the_resources_endpoint_answers() -> None:
    panel = _panel(
        SimServerSpec("Busy", identifier="busy0001", cpu_load=0.5, max_players=40),
        SimServerSpec("Full", identifier="full0001", cpu_load=3.0, max_players=40),
        SimServerSpec("Idle", identifier="idle0001", cpu_load=-1.0, max_players=40),
    )
    busy = panel.server("busy0001")
    bound = busy.spec.limits.cpu
    checked = 0
    for at in (NOW + 7.0 * k for k in range(40)):
        cpu = busy.load_at(at, "running", running_for=60.0, ran_before=0.0)["cpu_absolute"]
        if cpu / bound > busy.spec.cpu_load + 0.2:
            continue  # a CPU spike: work, not people
        assert busy.players_at(at) == round(40 * cpu / bound), at
        checked += 1
    assert checked >= 30
    assert panel.server("full0001").players_at(NOW) == 40
    assert panel.server("idle0001").players_at(NOW) == 0


def test_players_are_zero_unless_running() -> None:
    panel = _panel(
        SimServerSpec("Up", identifier="upup0001", cpu_load=0.5, max_players=20),
        SimServerSpec("Down", identifier="down0001", cpu_load=0.5, max_players=20, state="offline"),
    )
    up, down = panel.server("upup0001"), panel.server("down0001")
    assert up.players_at(NOW) > 0
    assert down.players_at(NOW) == 0
    assert down.players_at(NOW, "running") > 0  # what a past running stretch had (history)
    assert up.players_at(NOW, "starting") == 0
    assert up.players_at(NOW, "stopping") == 0
    up.power("kill")
    assert up.players_at(NOW) == 0


def test_player_names_are_distinct_and_stable() -> None:
    assert player_names(3) == ("Steve", "Alex", "Notch")
    many = player_names(40)
    assert len(set(many)) == 40
    assert many[39] == "player40"
    assert player_names(40) == many


# ----- real clients over real sockets -----

# Short: every answer is local; only a hung or silent game waits this long.
TIMEOUT = 0.2


@pytest.fixture
async def games(make_sim_panel: MakeSimPanel) -> SimulatedPanel:
    """Start a panel whose game servers answer queries."""
    return await make_sim_panel(fleet=list(GAMES), clock=FakeClock(NOW), games=True)


def _where(panel: SimulatedPanel, identifier: str) -> tuple[str, int]:
    listing = panel.game(identifier)
    assert listing is not None
    return listing.host, listing.port


async def _java(panel: SimulatedPanel, identifier: str) -> JavaStatusResponse:
    host, port = _where(panel, identifier)
    return await JavaServer(host, port, timeout=TIMEOUT).async_status(tries=1)


async def test_minecraft_status_follows_players_at_with_names(games: SimulatedPanel) -> None:
    server = games.server("mcjava01")
    clock = games.clock
    assert isinstance(clock, FakeClock)
    seen = set()
    for _ in range(4):
        expected = server.players_at(clock.monotonic())
        status = await _java(games, "mcjava01")
        assert status.players.online == expected
        assert status.players.max == 20
        assert [p.name for p in status.players.sample or []] == list(player_names(expected))
        assert status.version.name == "Paper 1.21.4"
        assert status.motd.to_plain() == "Paper SMP"
        seen.add(expected)
        clock.advance(9.0)
    assert len(seen) > 1  # the count moves with the load
    assert games.game_queries("mcjava01") == {"minecraft": 4}


async def test_bedrock_pong_says_players_and_version(games: SimulatedPanel) -> None:
    expected = games.server("bedrock1").players_at(games.clock.monotonic())
    host, port = _where(games, "bedrock1")
    status = await BedrockServer(host, port, timeout=TIMEOUT).async_status(tries=1)
    assert (status.players.online, status.players.max) == (expected, 10)
    assert status.version.name == "1.21.50"
    assert status.motd.to_plain() == "Bedrock Friends"
    assert games.game_queries("bedrock1") == {"bedrock": 1}


async def test_a2s_info_and_players_answer_after_the_challenge(games: SimulatedPanel) -> None:
    for identifier, max_players, game_map in (
        ("rust0001", 100, "Procedural Map"),
        ("valheim1", 10, "Dedicated"),
        ("palworld", 32, "Palpagos"),
    ):
        server = games.server(identifier)
        expected = server.players_at(games.clock.monotonic())
        address = _where(games, identifier)
        info = await a2s.ainfo(address, timeout=TIMEOUT)
        players = await a2s.aplayers(address, timeout=TIMEOUT)
        assert (info.server_name, info.player_count, info.max_players) == (
            server.name,
            expected,
            max_players,
        )
        assert info.map_name == game_map
        default = next(a for a in server.allocations if a.is_default)
        assert info.port == default.port  # the game port, not the query port
        assert [p.name for p in players] == list(player_names(expected))
        # The challenge's retry is the same query: one of each.
        assert games.game_queries(identifier) == {"a2s_info": 1, "a2s_player": 1}


async def test_a2s_info_without_the_challenge_gets_a_challenge(games: SimulatedPanel) -> None:
    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
            answers.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(
        Client, remote_addr=_where(games, "rust0001")
    )
    try:
        transport.sendto(b"\xff\xff\xff\xffTSource Engine Query\x00")
        challenge = await asyncio.wait_for(answers.get(), TIMEOUT)
        assert challenge[:5] == b"\xff\xff\xff\xff\x41"
        assert len(challenge) == 9
        transport.sendto(b"\xff\xff\xff\xffTSource Engine Query\x00" + b"\x00\x00\x00\x00")
        again = await asyncio.wait_for(answers.get(), TIMEOUT)
        assert again == challenge  # a wrong challenge is answered with the right one
        transport.sendto(b"\xff\xff\xff\xffTSource Engine Query\x00" + challenge[5:])
        info = await asyncio.wait_for(answers.get(), TIMEOUT)
        assert info[:5] == b"\xff\xff\xff\xff\x49"
    finally:
        transport.close()


async def test_stopped_servers_answer_nothing_but_are_counted(games: SimulatedPanel) -> None:
    games.server("mcjava01").power("kill")
    games.server("rust0001").power("kill")
    with pytest.raises(ConnectionError):  # reset at once, not silence
        await _java(games, "mcjava01")
    with pytest.raises(TimeoutError):
        await a2s.ainfo(_where(games, "rust0001"), timeout=TIMEOUT)
    assert games.stats()["games"]["queries"] == {
        "mcjava01": {"minecraft": 1},
        "rust0001": {"a2s_info": 1},
    }


async def test_a_hung_game_never_answers(games: SimulatedPanel) -> None:
    games.set_game_mode("mcjava01", "hang")
    games.set_game_mode("valheim1", "hang")
    games.set_game_mode("bedrock1", "hang")
    host, port = _where(games, "bedrock1")
    # At once: three timeouts cost one.
    outcomes = await asyncio.gather(
        _java(games, "mcjava01"),
        a2s.ainfo(_where(games, "valheim1"), timeout=TIMEOUT),
        BedrockServer(host, port, timeout=TIMEOUT).async_status(tries=1),
        return_exceptions=True,
    )
    assert [type(outcome) for outcome in outcomes] == [TimeoutError] * 3
    assert games.server("mcjava01").state == "running"
    assert games.game_queries("mcjava01") == {"minecraft": 1}


async def test_garbage_fails_to_parse_at_once(games: SimulatedPanel) -> None:
    for identifier in ("mcjava01", "rust0001", "bedrock1"):
        games.set_game_mode(identifier, "garbage")
    with pytest.raises(OSError, match="invalid status response packet"):
        await _java(games, "mcjava01")
    with pytest.raises(a2s.BrokenMessageError):
        await a2s.ainfo(_where(games, "rust0001"), timeout=TIMEOUT)
    host, port = _where(games, "bedrock1")
    with pytest.raises(IndexError):  # mcstatus's parser finds too few fields
        await BedrockServer(host, port, timeout=TIMEOUT).async_status(tries=1)
    games.set_game_mode("mcjava01", "answer")
    assert (await _java(games, "mcjava01")).players.max == 20


# ----- what the panel serves for a game server -----


async def _get(panel: SimulatedPanel, path: str) -> Any:
    headers = {"Authorization": f"Bearer {panel.api_key}", "Accept": "application/json"}
    async with aiohttp.ClientSession() as http, http.get(panel.url + path, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.json()


def _by_id(listing: Any) -> dict[str, Any]:
    return {item["attributes"]["identifier"]: item["attributes"] for item in listing["data"]}


def _variable(server: Any, env: str) -> Any:
    data = server["relationships"]["variables"]["data"]
    return next((v["attributes"] for v in data if v["attributes"]["env_variable"] == env), None)


async def test_the_panel_points_each_game_at_its_listener(games: SimulatedPanel) -> None:
    servers = _by_id(await _get(games, "/api/client?include=egg"))

    java = servers["mcjava01"]
    assert java["docker_image"] == "ghcr.io/pterodactyl/yolks:java_21"
    assert java["relationships"]["egg"] == {
        "object": "egg",
        "attributes": {"uuid": games.server("mcjava01").egg_uuid, "name": "Paper"},
    }
    default = next(
        a["attributes"]
        for a in java["relationships"]["allocations"]["data"]
        if a["attributes"]["is_default"]
    )
    assert (default["ip"], default["ip_alias"], default["port"]) == (
        "127.0.0.1",
        None,
        _where(games, "mcjava01")[1],
    )

    # Rust keeps its query port in the QUERY_PORT variable (egg default 27015).
    rust = servers["rust0001"]
    assert rust["docker_image"] == "ghcr.io/pterodactyl/games:rust"
    query_port = _variable(rust, "QUERY_PORT")
    assert query_port["default_value"] == "27015"
    assert query_port["server_value"] == str(_where(games, "rust0001")[1])

    # Valheim answers on the game port + 1, the server's second allocation.
    valheim = [a["attributes"] for a in servers["valheim1"]["relationships"]["allocations"]["data"]]
    game_port = next(a["port"] for a in valheim if a["is_default"])
    assert _where(games, "valheim1")[1] == game_port + 1
    assert game_port + 1 in [a["port"] for a in valheim if not a["is_default"]]

    # Palworld's query port is in neither: only an override finds it.
    pal = servers["palworld"]
    pal_ports = [a["attributes"]["port"] for a in pal["relationships"]["allocations"]["data"]]
    assert _where(games, "palworld")[1] not in pal_ports
    assert _variable(pal, "QUERY_PORT") is None

    assert games.game("factorio") is None  # no query protocol: no listener
    plain = _by_id(await _get(games, "/api/client"))
    assert "egg" not in plain["mcjava01"]["relationships"]
    one = await _get(games, "/api/client/servers/rust0001?include=egg")
    assert one["attributes"]["relationships"]["egg"]["attributes"]["name"] == "Rust"


async def test_games_are_off_unless_asked(make_sim_panel: MakeSimPanel) -> None:
    panel = await make_sim_panel(fleet=list(GAMES), clock=FakeClock(NOW))
    assert panel.game("mcjava01") is None
    assert "games" not in panel.stats()
    default = next(a for a in panel.server("mcjava01").allocations if a.is_default)
    assert default.ip != "127.0.0.1"
    with pytest.raises(ValueError, match="runs no simulated game"):
        panel.set_game_mode("factorio", "hang")


async def test_the_control_api_sets_a_game_mode(games: SimulatedPanel) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{games.url}/_sim/servers/valheim1/game"
        async with http.post(url, json={"mode": "hang"}) as response:
            assert response.status == 200
            body = await response.json()
        assert (body["mode"], body["protocol"], body["port"]) == (
            "hang",
            "source",
            _where(games, "valheim1")[1],
        )
        async with http.post(url, json={"mode": "sleep"}) as response:
            assert response.status == 422
        async with http.get(f"{games.url}/_sim/servers/factorio/game") as response:
            assert response.status == 404
        async with http.get(f"{games.url}/_sim/stats") as response:
            assert (await response.json())["games"]["modes"] == {"valheim1": "hang"}
    with pytest.raises(TimeoutError):
        await a2s.ainfo(_where(games, "valheim1"), timeout=TIMEOUT)


async def test_the_demo_fleet_has_an_answering_a_hung_and_a_hidden_game(
    make_sim_panel: MakeSimPanel,
) -> None:
    panel = await make_sim_panel(fleet=demo_fleet(8), clock=FakeClock(NOW), games=True)
    protocols = {
        ident: listing.protocol
        for ident in panel.servers
        if (listing := panel.game(ident)) is not None
    }
    assert protocols == {
        "mcmodded": "minecraft",
        "mcsurviv": "bedrock",
        "valheim1": "source",
        "rustwipe": "source",
        "palworld": "source",
        "cs2retak": "source",
    }
    assert (await _java(panel, "mcmodded")).players.max == 20
    assert panel.server("valheim1").state == "running"
    with pytest.raises(TimeoutError):
        await a2s.ainfo(_where(panel, "valheim1"), timeout=TIMEOUT)
    # Palworld answers on a port the panel shows nowhere: the demo's [query.palworld] port.
    palworld = panel.server("palworld")
    assert _where(panel, "palworld")[1] not in [a.port for a in palworld.allocations]
    info = await a2s.ainfo(_where(panel, "palworld"), timeout=TIMEOUT)
    assert info.player_count == palworld.players_at(panel.clock.monotonic())


def test_a_game_fleet_runs_every_protocol_and_layout() -> None:
    panel = SimulatedPanel(fleet=game_fleet(24, seed=3), clock=FakeClock(NOW))
    servers = list(panel.servers.values())
    assert len(servers) == 24
    assert {s.state for s in servers} == {"running"}
    assert {s.game_protocol for s in servers} == {"minecraft", "bedrock", "source"}
    assert {s.query_port_layout for s in servers} == {
        "game",
        "next_allocation",
        "variable",
        "hidden",
    }
    assert len({s.name for s in servers}) == 24
    assert [s.name for s in servers] == [s.name for s in game_fleet(24, seed=3)]
