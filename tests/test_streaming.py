"""End to end: the real monitor takes its numbers from the Wings websocket, polling as fallback."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from pterodisbot.app import build_services
from pterodisbot.clock import FakeClock
from pterodisbot.config import settings_from_sections
from pterodisbot.monitor import Monitor, ServerSnapshot, ServerStatus
from pterodisbot.panel import (
    FallbackReason,
    NoStream,
    PterodactylAPI,
    StreamState,
    WingsStreams,
)
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import (
    FAR,
    NO_SOCKET,
    NOT_STREAMED,
    OFFLINE,
    RUNNING,
    STREAMED,
    MakeSimPanel,
)

FLEET = [*STREAMED, NOT_STREAMED]
RESOURCES = "GET /api/client/servers/{server}/resources"


async def until(check: Callable[[], object], what: str, within: float = 20.0) -> None:
    """Wait (real time) until `check()` is truthy; fail naming `what`."""

    async def probe() -> object:
        return check()

    await poll_until(probe, within=within, what=what)


@dataclass
class Watching:
    """A simulated panel and the real monitor watching it through a stream."""

    panel: SimulatedPanel
    clock: FakeClock
    monitor: Monitor
    streams: WingsStreams
    seen: list[ServerSnapshot]

    cycles_done: list[float]

    def resources_polls(self) -> int:
        """Return the resources requests the panel got since its counters were reset."""
        return int(self.panel.stats()["requests"].get(RESOURCES, 0))

    async def all_streaming(self, *identifiers: str) -> None:
        await until(
            lambda: all(
                self.streams.state(i) == (StreamState.STREAMING, None) for i in identifiers
            ),
            f"{identifiers} streaming",
        )

    def newest(self, identifier: str) -> ServerSnapshot:
        return self.monitor.snapshots[identifier]

    async def cycles(self, count: int) -> None:
        """Let `count` more monitor cycles complete."""
        target = len(self.cycles_done) + count
        await until(lambda: len(self.cycles_done) >= target, f"{count} cycles")


MakeWatching = Callable[..., Awaitable[Watching]]


@pytest.fixture
async def make_watching(make_sim_panel: MakeSimPanel) -> AsyncIterator[MakeWatching]:
    made: list[tuple[Monitor, PterodactylAPI]] = []

    async def make(
        *,
        polls_fallback: bool = True,
        fleet: list[SimServerSpec] = FLEET,
        requests_per_minute: int = 600,
        **panel_options: Any,
    ) -> Watching:
        clock = FakeClock(autojump=0.005)
        panel = await make_sim_panel(fleet=fleet, clock=clock, **panel_options)
        api = PterodactylAPI(
            panel.url,
            panel.api_key,
            clock=clock,
            max_retries=0,
            timeout=5.0,
            requests_per_minute=requests_per_minute,
        )
        streams = WingsStreams(
            api, panel.url, polls_fallback=polls_fallback, clock=clock, rng=random.Random(3)
        )
        monitor = Monitor(
            api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock, stream=streams
        )
        seen: list[ServerSnapshot] = []
        monitor.add_listener(lambda snap, _previous: seen.append(snap))
        cycles: list[float] = []
        monitor.add_cycle_listener(cycles.append)
        made.append((monitor, api))
        monitor.start()
        return Watching(panel, clock, monitor, streams, seen, cycles)

    yield make
    for monitor, api in made:
        await monitor.stop()
        await api.close()


async def test_streamed_servers_are_not_polled_and_one_that_cannot_stream_is(
    make_watching: MakeWatching,
) -> None:
    w = await make_watching()
    await w.all_streaming(RUNNING, OFFLINE, FAR)
    await until(
        lambda: w.streams.state(NO_SOCKET) == (StreamState.FALLBACK, FallbackReason.FORBIDDEN),
        "NO_SOCKET forbidden",
    )
    await w.cycles(1)
    w.panel.reset_stats()
    done = len(w.cycles_done)

    await w.cycles(4)

    # Exactly one resources request a cycle: the server whose key lacks websocket.connect.
    assert w.resources_polls() == len(w.cycles_done) - done
    assert w.monitor.polled_count() == 1
    snap = w.newest(RUNNING)
    assert snap.status is ServerStatus.RUNNING
    reading = w.streams.latest(RUNNING)
    assert reading is not None
    assert snap.resources is not None
    assert snap.resources.uptime_ms <= reading.resources.uptime_ms
    assert w.newest(OFFLINE).status is ServerStatus.OFFLINE
    assert w.newest(NO_SOCKET).status is ServerStatus.RUNNING
    assert w.streams.stats().streaming == 3


async def test_streamed_samples_stay_fresh_while_the_budget_stretches_the_poll_cycle(
    make_watching: MakeWatching,
) -> None:
    # Eight servers that cannot stream, polled at 12 requests a minute: a cycle takes ~40 s.
    no_socket = [
        SimServerSpec(
            name=f"Friend's {i}",
            identifier=f"eeee000{i}",
            server_owner=False,
            permissions=("control.start",),
            state="running",
        )
        for i in range(8)
    ]
    w = await make_watching(fleet=[FLEET[0], *no_socket], requests_per_minute=12)
    await w.all_streaming(RUNNING)
    # The budget's first minute is spent (it starts full): from here on it paces every poll.
    await until(lambda: w.clock.monotonic() >= 90, "90 simulated seconds")
    start = w.clock.time()
    polls = w.resources_polls()

    def streamed_times() -> list[float]:
        return [s.t for s in w.seen if s.server.identifier == RUNNING and s.t >= start]

    await until(lambda: w.clock.time() - start >= 60, "60 simulated seconds")

    # The premise: the budget paces the polled servers to about 12 a minute.
    assert w.resources_polls() - polls <= 12
    times = streamed_times()
    # One sample per poll_interval (10 s), whatever the cycle of the polled servers takes.
    assert len(times) >= 5
    assert max(b - a for a, b in zip([start, *times], times, strict=False)) <= 11


async def test_a_big_fleet_connecting_is_not_polled_its_tokens_come_first(
    make_watching: MakeWatching,
) -> None:
    # Six servers connecting against a budget of 12 a minute: more than a quarter of it, so the
    # budget goes to their tokens, none to polls, until each streams.
    fleet = [
        SimServerSpec(name=f"Big {i}", identifier=f"abcd000{i}", state="running") for i in range(6)
    ]
    w = await make_watching(fleet=fleet, requests_per_minute=12)
    await until(lambda: w.streams.stats().streaming >= 1, "a server streaming")

    # Still more than 3 connecting: none polled (the last few are, once they are few).
    assert w.streams.stats().connecting >= 4
    assert w.resources_polls() == 0
    await w.all_streaming(*(spec.identifier for spec in fleet))
    await until(lambda: len(w.monitor.snapshots) == 6, "every server's snapshot")


async def test_source_websocket_never_polls(make_watching: MakeWatching) -> None:
    w = await make_watching(polls_fallback=False)
    await w.all_streaming(RUNNING, OFFLINE, FAR)
    await until(
        lambda: w.streams.state(NO_SOCKET) == (StreamState.FALLBACK, FallbackReason.FORBIDDEN),
        "NO_SOCKET forbidden",
    )
    await w.cycles(3)

    assert w.resources_polls() == 0
    assert w.monitor.polled_count() == 0
    snap = w.newest(NO_SOCKET)
    assert snap.status is ServerStatus.UNKNOWN
    assert snap.error == "the API key lacks websocket.connect"
    assert w.newest(RUNNING).status is ServerStatus.RUNNING


async def test_a_node_down_is_polled_meanwhile_and_streamed_again_when_back(
    make_watching: MakeWatching,
) -> None:
    w = await make_watching()
    await w.all_streaming(RUNNING, OFFLINE, FAR)
    w.panel.set_node_down("sgp-1")
    await until(
        lambda: w.streams.state(FAR) == (StreamState.FALLBACK, FallbackReason.NODE_DOWN),
        "FAR node down",
    )
    await w.cycles(2)
    down = w.newest(FAR)
    assert down.status is ServerStatus.UNKNOWN
    assert w.monitor.polled_count() == 2  # FAR and NO_SOCKET

    w.panel.set_node_down("sgp-1", False)
    await w.all_streaming(FAR)
    await w.cycles(1)
    w.panel.reset_stats()
    done = len(w.cycles_done)
    await w.cycles(3)

    assert w.newest(FAR).status is ServerStatus.RUNNING
    assert w.resources_polls() == len(w.cycles_done) - done  # NO_SOCKET only
    assert w.monitor.polled_count() == 1


async def test_a_stop_seen_in_the_stream_is_published_at_once(make_watching: MakeWatching) -> None:
    w = await make_watching(fleet=FLEET[:1])
    await w.all_streaming(RUNNING)
    await w.cycles(1)
    stop_at = w.clock.time()

    w.panel.power_as(RUNNING, "stop", "admin")

    def first(status: ServerStatus) -> float | None:
        return next((s.t for s in w.seen if s.status is status and s.t >= stop_at), None)

    await until(lambda: first(ServerStatus.OFFLINE) is not None, "an offline snapshot")
    stopping, offline = first(ServerStatus.STOPPING), first(ServerStatus.OFFLINE)
    # Each change published when Wings said it (stopping at once, offline after the 3 s stop),
    # not at the next of the 10 s polls. The margin: under load the fake clock may reach Wings'
    # next tick (1 s) while a frame is on its way.
    assert stopping is not None
    assert stopping - stop_at < 2.5
    assert offline is not None
    assert 3.0 <= offline - stop_at < 5.0


async def test_servers_added_and_removed_while_streaming(make_watching: MakeWatching) -> None:
    w = await make_watching()
    await w.all_streaming(RUNNING, OFFLINE, FAR)
    await until(lambda: RUNNING in w.monitor.snapshots, "RUNNING's first streamed snapshot")

    w.monitor.set_server_filter([RUNNING])
    await w.monitor.refresh_servers()
    await until(lambda: w.panel.open_sockets(OFFLINE) == 0, "OFFLINE's socket closed")
    assert w.panel.open_sockets(FAR) == 0
    assert w.panel.open_sockets(RUNNING) == 1
    assert sorted(w.monitor.snapshots) == [RUNNING]
    assert w.streams.stats().streaming == 1

    w.monitor.set_server_filter([RUNNING, OFFLINE])
    await w.monitor.refresh_servers()
    await w.all_streaming(OFFLINE)
    assert w.panel.open_sockets(OFFLINE) == 1
    await until(
        lambda: sorted(w.monitor.snapshots) == [RUNNING, OFFLINE], "OFFLINE's streamed snapshot"
    )
    assert w.monitor.snapshots[OFFLINE].status is ServerStatus.OFFLINE


@pytest.mark.parametrize(
    ("source", "streams"), [("poll", False), ("auto", True), ("websocket", True)]
)
async def test_build_services_streams_unless_source_is_poll(
    make_sim_panel: MakeSimPanel, source: str, streams: bool
) -> None:
    clock = FakeClock(autojump=0.005)
    panel = await make_sim_panel(fleet=FLEET[:2], clock=clock)
    settings = settings_from_sections(
        {
            "pterodactyl": {"url": panel.url},
            "monitoring": {"source": source},
            "history": {"url": "none"},
        },
        env={"PTERODACTYL_API_KEY": panel.api_key},
        require_token=False,
    )
    client = discord.Client(intents=discord.Intents.none())
    services = build_services(settings, client, clock)
    monitor = services.monitor
    monitor.start()
    try:
        await until(lambda: monitor.snapshots.keys() == {RUNNING, OFFLINE}, "both seen")
        if streams:
            assert isinstance(monitor.stream, WingsStreams)
            assert monitor.stream.polls_fallback is (source == "auto")
            await until(lambda: panel.authenticated_sockets(RUNNING) == 1, "a socket")
        else:
            assert isinstance(monitor.stream, NoStream)
            start = clock.monotonic()
            await until(lambda: clock.monotonic() - start > 30, "30 s")
            assert panel.stats()["wings"]["sockets_opened"] == 0
            assert panel.stats()["requests"].get(RESOURCES, 0) >= 6
    finally:
        await monitor.stop()
        await services.api.close()
    assert panel.open_sockets(RUNNING) == 0
