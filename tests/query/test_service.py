"""`PlayerQueries`: the running servers' games asked over real sockets, as the panel lists them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.monitor import ServerStatus
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.models import Server
from pterodisbot.query import (
    Answering,
    QueryFailure,
    QueryOverride,
    QueryProtocol,
    QuerySettings,
    QueryTarget,
    TargetSource,
)
from pterodisbot.query.service import PlayerQueries
from pterodisbot_sandbox.panel import SimulatedPanel
from tests.fixtures.discord import poll_until
from tests.snapshots import make_snapshot

INTERVAL = 30.0
# Every answer is local; only a hung game waits this long (real seconds).
TIMEOUT = 0.3
ANSWERED_BY_DEFAULT = (
    "mcjava01",
    "bedrock1",
    "rust0001",
    "valheim1",
    "gmod0001",
    "ark00001",
    "cs2r0001",
    "sdtd0001",
)


class Fleet:
    """The simulated panel's servers as the real client lists them, and the service asking them."""

    def __init__(self, panel: SimulatedPanel, servers: dict[str, Server]) -> None:
        self.panel = panel
        self.servers = servers
        clock = panel.clock
        assert isinstance(clock, FakeClock)
        self.clock = clock
        self.queries: PlayerQueries | None = None

    def start(self, **settings: object) -> PlayerQueries:
        """Start a service with `settings` and show it every server in its panel state."""
        defaults: dict[str, object] = {"interval": INTERVAL, "timeout": TIMEOUT}
        self.queries = PlayerQueries(QuerySettings(**(defaults | settings)), clock=self.clock)  # type: ignore[arg-type]
        for server in self.servers.values():
            self.show(server.identifier)
        self.queries.start()
        return self.queries

    def show(self, identifier: str, status: ServerStatus | None = None) -> None:
        """Give the service the server's snapshot (its sim state unless `status` is given)."""
        assert self.queries is not None
        if status is None:
            state = self.panel.server(identifier).state
            status = ServerStatus.RUNNING if state == "running" else ServerStatus.OFFLINE
        self.queries.observe(make_snapshot(status, server=self.servers[identifier]), None)

    def players_now(self, identifier: str) -> int:
        return self.panel.server(identifier).players_at(self.clock.monotonic())

    async def round(self, *identifiers: str, answering: Answering | None = None) -> None:
        """Move one interval on and wait until each of `identifiers` was asked again."""
        assert self.queries is not None
        queries = self.queries
        before = {i: sum(self.panel.game_queries(i).values()) for i in identifiers}
        self.clock.advance(INTERVAL)

        async def asked() -> bool:
            return (
                all(
                    sum(self.panel.game_queries(i).values()) > before[i]
                    and (p := queries.players(i)) is not None
                    and (answering is None or p.answering is answering)
                    for i in identifiers
                )
                and not queries.stats().in_flight
            )

        await poll_until(asked, within=5.0, what=f"a query of {identifiers}")


@pytest.fixture
async def fleet(games: SimulatedPanel) -> AsyncIterator[Fleet]:
    clock = games.clock
    async with PterodactylAPI(games.url, games.api_key, clock=clock) as api:
        servers = {s.identifier: s for s in await api.list_servers()}
    result = Fleet(games, servers)
    try:
        yield result
    finally:
        if result.queries is not None:
            await result.queries.close()


async def test_each_running_game_answers_the_count_the_simulation_has(fleet: Fleet) -> None:
    palworld = fleet.panel.game("palworld")
    assert palworld is not None
    # Palworld keeps its query port nowhere the panel shows: the operator names it.
    queries = fleet.start(servers={"palworld": QueryOverride(port=palworld.port)})
    await fleet.round(*ANSWERED_BY_DEFAULT, "palworld", answering=Answering.ANSWERING)
    for identifier in (*ANSWERED_BY_DEFAULT, "palworld"):
        players = queries.players(identifier)
        assert players is not None
        assert players.online == fleet.players_now(identifier), identifier
        assert players.failure is None
    rust = queries.players("rust0001")
    assert rust is not None
    rust_listing = fleet.panel.game("rust0001")
    assert rust_listing is not None
    # Rust is asked at its QUERY_PORT variable, Valheim at the game port + 1: the detected ports.
    assert rust.target == QueryTarget(QueryProtocol.SOURCE, "127.0.0.1", rust_listing.port)
    valheim = queries.players("valheim1")
    assert valheim is not None
    valheim_alloc = fleet.servers["valheim1"].primary_allocation
    assert valheim_alloc is not None
    assert valheim.target.port == valheim_alloc.port + 1
    pal = queries.players("palworld")
    assert pal is not None
    assert (pal.target.port, pal.target.source) == (palworld.port, TargetSource.CONFIGURED)
    # Factorio answers no query the bot knows; the offline server is never asked.
    assert queries.players("factorio") is None
    assert queries.players("mcoff001") is None
    assert fleet.panel.game_queries("mcoff001") == {}
    stats = queries.stats()
    assert stats.targets == 9
    assert stats.queries == {
        ("minecraft", "ok"): 1,
        ("bedrock", "ok"): 1,
        ("source", "ok"): 7,
    }


async def test_a_hung_game_is_no_answer_then_not_answering_then_answers_again(
    fleet: Fleet,
) -> None:
    queries = fleet.start(not_answering_after=75.0)
    await fleet.round("mcjava01", answering=Answering.ANSWERING)
    answered = queries.players("mcjava01")
    assert answered is not None
    assert answered.answer is not None
    fleet.panel.set_game_mode("mcjava01", "hang")
    # 30 s silent: no answer; the last answer is kept for "last seen".
    await fleet.round("mcjava01", answering=Answering.NO_ANSWER)
    silent = queries.players("mcjava01")
    assert silent is not None
    assert (silent.failure, silent.answer, silent.online) == (
        QueryFailure.TIMEOUT,
        answered.answer,
        None,
    )
    assert silent.since == answered.since
    await fleet.round("mcjava01", answering=Answering.NO_ANSWER)  # 60 s
    await fleet.round("mcjava01", answering=Answering.NOT_ANSWERING)  # 90 s >= 75 s
    fleet.panel.set_game_mode("mcjava01", "answer")
    await fleet.round("mcjava01", answering=Answering.ANSWERING)
    back = queries.players("mcjava01")
    assert back is not None
    assert back.online == fleet.players_now("mcjava01")


async def test_a_game_that_never_answered_counts_from_when_it_started_running(
    fleet: Fleet,
) -> None:
    fleet.panel.set_game_mode("gmod0001", "garbage")
    queries = fleet.start(not_answering_after=45.0)
    await fleet.round("gmod0001", answering=Answering.NO_ANSWER)
    first = queries.players("gmod0001")
    assert first is not None
    assert (first.failure, first.answer) == (QueryFailure.GARBAGE, None)
    await fleet.round("gmod0001", answering=Answering.NOT_ANSWERING)
    # Stopped, then running again: the count starts over.
    fleet.show("gmod0001", ServerStatus.OFFLINE)
    assert queries.players("gmod0001") is None
    fleet.show("gmod0001", ServerStatus.RUNNING)
    await fleet.round("gmod0001", answering=Answering.NO_ANSWER)


async def test_servers_that_do_not_run_are_never_asked(fleet: Fleet) -> None:
    queries = fleet.start()
    await fleet.round("mcjava01", "rust0001")
    fleet.show("rust0001", ServerStatus.STOPPING)
    fleet.show("mcjava01", ServerStatus.UNKNOWN)  # the panel unreadable: it ran, still asked
    asked = fleet.panel.game_queries("rust0001")
    await fleet.round("mcjava01")
    await fleet.round("mcjava01")
    assert queries.players("rust0001") is None
    assert fleet.panel.game_queries("rust0001") == asked
    assert fleet.panel.game_queries("mcoff001") == {}
    assert fleet.panel.game_queries("mcjava01") == {"minecraft": 3}
    # A server that never ran is not asked because the panel went unreadable.
    fleet.show("mcoff001", ServerStatus.UNKNOWN)
    queries.forget("mcjava01")
    assert queries.players("mcjava01") is None
    # Left: Bedrock, Valheim, Garry's Mod, ARK, CS2, 7 Days to Die and Palworld (asked at its
    # default port, 27015).
    assert queries.stats().targets == 7


async def test_at_most_concurrency_queries_are_in_flight(fleet: Fleet) -> None:
    hung = ANSWERED_BY_DEFAULT
    for identifier in hung:
        fleet.panel.set_game_mode(identifier, "hang")
    queries = fleet.start(concurrency=2)
    fleet.clock.advance(INTERVAL)

    def arrived() -> int:
        return sum(sum(fleet.panel.game_queries(i).values()) for i in hung)

    async def two_in_flight() -> bool:
        return queries.stats().in_flight == 2 and arrived() == 2

    await poll_until(two_in_flight, what="the first two queries in flight")

    # Each hangs for the timeout; the next start only as earlier ones end.
    async def all_asked() -> bool:
        assert queries.stats().in_flight <= 2
        return arrived() == len(hung) and queries.stats().in_flight == 0

    await poll_until(all_asked, within=5.0, interval=0.01, what="every hung game asked once")
    # Palworld is asked at its default query port, where nothing listens here.
    assert queries.stats().queries == {
        ("minecraft", "timeout"): 1,
        ("bedrock", "timeout"): 1,
        ("source", "timeout"): 6,
        ("source", "refused"): 1,
    }


async def test_at_the_cap_the_most_overdue_games_are_asked_first(fleet: Fleet) -> None:
    # Eight hung games, two at a time: a sweep outlasts the interval. The two asked first are
    # due again before the other six were ever asked; those six go first all the same.
    hung = ANSWERED_BY_DEFAULT
    for identifier in hung:
        fleet.panel.set_game_mode(identifier, "hang")
    queries = fleet.start(concurrency=2)
    fleet.clock.advance(INTERVAL)

    def asked() -> dict[str, int]:
        return {i: sum(fleet.panel.game_queries(i).values()) for i in hung}

    async def two_in_flight() -> bool:
        return queries.stats().in_flight == 2 and sum(asked().values()) == 2

    await poll_until(two_in_flight, what="the first two queries in flight")
    fleet.clock.advance(2 * INTERVAL)

    async def every_game_asked() -> bool:
        return min(asked().values()) >= 1

    await poll_until(every_game_asked, within=5.0, interval=0.01, what="every hung game asked")
    assert max(asked().values()) == 1, asked()


async def test_close_leaves_no_task_of_its_own_pending() -> None:
    queries = PlayerQueries(QuerySettings(), clock=FakeClock())
    queries.start()
    for _ in range(3):
        await asyncio.sleep(0)  # the scheduler is waiting for its next due query
    await queries.close()
    # A task still pending when the loop closes is "destroyed but pending" in the log.
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
