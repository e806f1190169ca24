"""`/api/servers` data (pure): the address is the one players type, or left out when hidden."""

from __future__ import annotations

from pterodisbot.panel.models import Allocation
from pterodisbot.query import Answering, QueryFailure, QueryProtocol
from pterodisbot.web.snapshot import server_json, servers_json
from tests.snapshots import T0, make_players, make_server, make_snapshot


def _allocation(ip: str, alias: str | None = None) -> Allocation:
    return Allocation(id=1, ip=ip, ip_alias=alias, port=25565, notes=None, is_default=True)


def test_address_is_the_alias_or_ip_with_the_port_and_ipv6_in_brackets() -> None:
    for allocation, expected in (
        (_allocation("203.0.113.7"), "203.0.113.7:25565"),
        (_allocation("203.0.113.7", "mc.example.com"), "mc.example.com:25565"),
        (_allocation("2001:db8::7"), "[2001:db8::7]:25565"),
    ):
        snap = make_snapshot(server=make_server(allocations=(allocation,)))
        assert server_json(snap, show_address=True)["address"] == expected


def test_address_is_left_out_when_hidden_or_unknown() -> None:
    assert "address" not in server_json(make_snapshot(), show_address=False)
    no_allocation = make_snapshot(server=make_server(allocations=()))
    assert "address" not in server_json(no_allocation, show_address=True)


def test_players_carry_the_games_answer_and_names_only_when_shown() -> None:
    players = make_players(
        12,
        40,
        names=("Steve", "Alex"),
        version="1.21.4",
        map_name="world",
        t=T0 - 5,
        latency_ms=4.5,
    )
    snap = make_snapshot(players=players)
    assert server_json(snap, show_address=True)["players"] == {
        "online": 12,
        "max": 40,
        "answering": "answering",
        "failure": None,
        "since": T0 - 5,
        "answered_at": T0 - 5,
        "version": "1.21.4",
        "map": "world",
        "protocol": "minecraft",
        "latency_ms": 4.5,
    }
    shown = server_json(snap, show_address=True, show_names=True)["players"]
    assert shown["names"] == ["Steve", "Alex"]


def test_a_silent_game_has_no_count_but_keeps_its_last_answer() -> None:
    players = make_players(
        7,
        20,
        names=("Steve",),
        answering=Answering.NOT_ANSWERING,
        failure=QueryFailure.TIMEOUT,
        since=T0 - 300,
        t=T0 - 300,
        protocol=QueryProtocol.SOURCE,
        latency_ms=12.0,
    )
    data = server_json(make_snapshot(players=players), show_address=False, show_names=True)
    assert data["players"] == {
        "online": None,
        "max": 20,
        "answering": "not_answering",
        "failure": "timeout",
        "since": T0 - 300,
        "answered_at": T0 - 300,
        "version": None,
        "map": None,
        "protocol": "source",
        # The last answer's latency says nothing of a game that stopped answering.
        "latency_ms": None,
        # Who played five minutes ago is not who plays now.
        "names": [],
    }


def test_players_are_null_when_the_game_is_not_asked() -> None:
    body = servers_json([make_snapshot()], show_address=True, now=T0)
    assert body["servers"][0]["players"] is None
