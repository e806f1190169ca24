"""`ask`: the real mcstatus and python-a2s clients against the simulated games over sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pterodisbot.query import GameAnswer, QueryFailure, QueryProtocol, QueryTarget
from pterodisbot.query.protocols import QueryError, ask
from pterodisbot_sandbox.panel import SimulatedPanel, player_names

# Every answer is local; only a hung game waits this long.
TIMEOUT = 0.3


def target(panel: SimulatedPanel, identifier: str, protocol: QueryProtocol) -> QueryTarget:
    listing = panel.game(identifier)
    assert listing is not None
    return QueryTarget(protocol, listing.host, listing.port)


def players_now(panel: SimulatedPanel, identifier: str) -> int:
    return panel.server(identifier).players_at(panel.clock.monotonic())


async def test_minecraft_java_answers_its_players_names_and_version(games: SimulatedPanel) -> None:
    expected = players_now(games, "mcjava01")
    answer = await ask(
        target(games, "mcjava01", QueryProtocol.MINECRAFT), timeout=TIMEOUT, clock=games.clock
    )
    assert (answer.online, answer.max_players) == (expected, 20)
    assert answer.names == player_names(expected)[:12]
    assert answer.version == "Paper 1.21.4"
    assert answer.map is None
    assert answer.t == games.clock.time()
    assert games.game_queries("mcjava01") == {"minecraft": 1}


async def test_bedrock_answers_its_players_and_version(games: SimulatedPanel) -> None:
    expected = players_now(games, "bedrock1")
    answer = await ask(target(games, "bedrock1", QueryProtocol.BEDROCK), timeout=TIMEOUT)
    assert (answer.online, answer.max_players) == (expected, 10)
    assert answer.names == ()
    assert answer.version is not None


async def test_source_answers_players_map_and_names_only_when_asked(
    games: SimulatedPanel,
) -> None:
    expected = players_now(games, "rust0001")
    where = target(games, "rust0001", QueryProtocol.SOURCE)
    answer = await ask(where, timeout=TIMEOUT)
    assert (answer.online, answer.max_players, answer.names) == (expected, 100, ())
    assert answer.map is not None
    assert games.game_queries("rust0001") == {"a2s_info": 1}
    named = await ask(where, timeout=TIMEOUT, names=True)
    assert named.names == player_names(expected)
    assert games.game_queries("rust0001") == {"a2s_info": 2, "a2s_player": 1}


@pytest.mark.parametrize(
    ("identifier", "protocol"),
    [
        ("mcjava01", QueryProtocol.MINECRAFT),
        ("bedrock1", QueryProtocol.BEDROCK),
        ("gmod0001", QueryProtocol.SOURCE),
    ],
)
async def test_a_hung_game_is_a_timeout_and_garbage_is_garbage(
    games: SimulatedPanel, identifier: str, protocol: QueryProtocol
) -> None:
    where = target(games, identifier, protocol)
    games.set_game_mode(identifier, "hang")
    before = asyncio.all_tasks()
    with pytest.raises(QueryError) as hung:
        await ask(where, timeout=TIMEOUT)
    assert hung.value.failure is QueryFailure.TIMEOUT
    await asyncio.sleep(0)
    # Nothing of the query outlives it (a pending task is logged when collected).
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    games.set_game_mode(identifier, "garbage")
    asked = sum(games.game_queries(identifier).values())
    with pytest.raises(QueryError) as garbage:
        await ask(where, timeout=TIMEOUT)
    assert garbage.value.failure is QueryFailure.GARBAGE
    # One query, one packet: a garbage answer is not asked again within the same query.
    assert sum(games.game_queries(identifier).values()) == asked + 1


async def test_the_wrong_protocol_at_a_port_is_garbage_or_no_answer(
    games: SimulatedPanel,
) -> None:
    # A2S asked at a Bedrock server: it answers RakNet or nothing, never A2S.
    wrong = target(games, "bedrock1", QueryProtocol.SOURCE)
    with pytest.raises(QueryError) as caught:
        await ask(wrong, timeout=TIMEOUT)
    assert caught.value.failure is QueryFailure.TIMEOUT


def closed_port(kind: socket.SocketKind) -> int:
    """Return a local port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("protocol", "kind"),
    [
        (QueryProtocol.MINECRAFT, socket.SOCK_STREAM),
        (QueryProtocol.SOURCE, socket.SOCK_DGRAM),
        (QueryProtocol.BEDROCK, socket.SOCK_DGRAM),
    ],
)
async def test_a_closed_port_is_refused(protocol: QueryProtocol, kind: socket.SocketKind) -> None:
    where = QueryTarget(protocol, "127.0.0.1", closed_port(kind))
    with pytest.raises(QueryError) as caught:
        await ask(where, timeout=TIMEOUT)
    assert caught.value.failure is QueryFailure.REFUSED


async def test_a_stopped_game_resets_the_connection_and_nothing_else_escapes(
    games: SimulatedPanel,
) -> None:
    where = target(games, "mcoff001", QueryProtocol.MINECRAFT)
    with pytest.raises(QueryError) as caught:
        await ask(where, timeout=TIMEOUT)
    assert caught.value.failure is QueryFailure.REFUSED


async def test_a_query_that_is_cancelled_stays_cancelled(games: SimulatedPanel) -> None:
    games.set_game_mode("mcjava01", "hang")
    task = asyncio.create_task(ask(target(games, "mcjava01", QueryProtocol.MINECRAFT), timeout=5.0))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_answers_are_values() -> None:
    answer = GameAnswer(online=3, max_players=10, t=1.0)
    assert answer == GameAnswer(online=3, max_players=10, t=1.0)
