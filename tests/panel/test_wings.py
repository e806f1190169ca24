"""The Wings websocket client against the simulated panel's Wings, over real sockets."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.panel import (
    FallbackReason,
    PowerState,
    PterodactylAPI,
    Resources,
    StreamState,
    WingsStreams,
)
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import FAR, OFFLINE, RUNNING, STREAMED, MakeSimPanel

FLEET = list(STREAMED)
TOKEN_ROUTE = "GET /api/client/servers/{server}/websocket"


@dataclass
class Rig:
    """A simulated panel, a client on its clock, and the streams under test."""

    panel: SimulatedPanel
    clock: FakeClock
    api: PterodactylAPI
    streams: WingsStreams

    async def watch_all(self) -> None:
        self.streams.watch(await self.api.list_servers())
        self.streams.start()

    def wings(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.panel.stats()["wings"]
        return stats


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(make_sim_panel: MakeSimPanel) -> AsyncIterator[MakeRig]:
    """Return a factory of rigs; close their streams and clients after the test."""
    made: list[Rig] = []

    async def make(
        *,
        fleet: list[SimServerSpec] = FLEET,
        autojump: float | None = 0.01,
        origin: str | None = None,
        polls_fallback: bool = True,
        requests_per_minute: int = 720,
        **panel_options: Any,
    ) -> Rig:
        clock = FakeClock(autojump=autojump)
        panel = await make_sim_panel(fleet=fleet, clock=clock, **panel_options)
        api = PterodactylAPI(
            panel.url,
            panel.api_key,
            requests_per_minute=requests_per_minute,
            clock=clock,
            max_retries=0,
            timeout=5.0,
        )
        streams = WingsStreams(
            api,
            origin or panel.url,
            polls_fallback=polls_fallback,
            clock=clock,
            rng=random.Random(5),
        )
        rig = Rig(panel, clock, api, streams)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        await rig.streams.close()
        await rig.api.close()


def sim_resources(panel: SimulatedPanel, identifier: str) -> Resources:
    """Return what the panel's resources endpoint would answer now, as the bot parses it."""
    return Resources.from_api({"object": "stats", "attributes": panel.server(identifier).stats()})


async def until(check: Callable[[], object], what: str, within: float = 15.0) -> None:
    """Wait (real time) until `check()` is truthy; fail naming `what`."""

    async def probe() -> object:
        return check()

    await poll_until(probe, within=within, what=what)


async def until_state(
    rig: Rig, identifier: str, state: StreamState, reason: FallbackReason | None = None
) -> None:
    await until(
        lambda: rig.streams.state(identifier) == (state, reason), f"{identifier} {state} {reason}"
    )


async def test_auth_then_status_and_stats_become_the_newest_reading(make_rig: MakeRig) -> None:
    # A clock moved by hand: half a second lets the paced token requests through (one every
    # 1/6 s).
    rig = await make_rig(autojump=None)
    await rig.watch_all()
    for _ in range(5):
        rig.clock.advance(0.1)
        await asyncio.sleep(0.05)
    for identifier in (RUNNING, OFFLINE, FAR):
        await until_state(rig, identifier, StreamState.STREAMING)

    # Up to Wings' first tick (a second after the first socket opened), a tenth at a time.
    def fresh() -> bool:
        reading = rig.streams.latest(RUNNING)
        return reading is not None and reading.t == rig.clock.time()

    for _ in range(20):
        rig.clock.advance(0.1)
        await asyncio.sleep(0.05)
        if fresh():
            break
    await until(fresh, "the stats frame of the first tick")
    reading = rig.streams.latest(RUNNING)
    assert reading is not None
    assert reading.resources == sim_resources(rig.panel, RUNNING)
    assert reading.resources.state is PowerState.RUNNING
    offline = rig.streams.latest(OFFLINE)
    assert offline is not None
    assert offline.resources == sim_resources(rig.panel, OFFLINE)
    assert offline.resources.state is PowerState.OFFLINE

    # A second of Wings' work later: a new stats frame, the new figures.
    rig.clock.advance(1.0)
    await until(
        lambda: (r := rig.streams.latest(RUNNING)) is not None and r.t == rig.clock.time(),
        "the next stats frame",
    )
    after = rig.streams.latest(RUNNING)
    assert after is not None
    assert after.resources == sim_resources(rig.panel, RUNNING)
    assert after.resources.uptime_ms == reading.resources.uptime_ms + 1000
    assert rig.streams.stats().streaming == 3
    assert rig.wings()["sockets_authenticated"] == 3
    assert rig.panel.stats()["requests"].get("GET /api/client/servers/{server}/resources", 0) == 0


async def test_a_state_change_in_the_stream_calls_the_listener(make_rig: MakeRig) -> None:
    rig = await make_rig()
    changed: list[str] = []
    rig.streams.set_change_listener(changed.append)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)
    await until(lambda: rig.streams.latest(RUNNING) is not None, "RUNNING's first numbers")
    # The socket's first numbers are said once, so the server shows at once.
    assert changed.count(RUNNING) == 1
    changed.clear()

    rig.panel.power_as(RUNNING, "stop", "admin")

    await until(
        lambda: (
            (r := rig.streams.latest(RUNNING)) is not None
            and r.resources.state is PowerState.OFFLINE
        ),
        "RUNNING seen offline",
    )
    # running -> stopping -> offline: two changes, each said once, for that server only.
    assert [c for c in changed if c == RUNNING] == [RUNNING, RUNNING]
    assert set(changed) <= {RUNNING, FAR, OFFLINE}  # the others' first numbers may come meanwhile


async def sample_arrivals(
    rig: Rig, identifier: str, seconds: float
) -> tuple[list[float], set[StreamState]]:
    """Sample the server's newest reading every 0.25 s of panel time; return arrivals, states."""
    arrivals: list[float] = []
    states: set[StreamState] = set()

    async def sample() -> None:
        while True:
            reading = rig.streams.latest(identifier)
            if reading is not None and (not arrivals or reading.t != arrivals[-1]):
                arrivals.append(reading.t)
            states.add(rig.streams.state(identifier)[0])
            await rig.clock.sleep(0.25)

    sampler = asyncio.create_task(sample())
    start = rig.clock.monotonic()
    await until(lambda: rig.clock.monotonic() - start >= seconds, f"{seconds} s", within=90.0)
    sampler.cancel()
    return arrivals, states


async def test_the_token_is_renewed_before_expiry_on_the_same_socket(make_rig: MakeRig) -> None:
    # A 20-minute token: renewed at 80-90 % of its life (960-1080 s), before Wings' own
    # `token expiring` (sent at its first 30 s look with <= 60 s left: 1140 s).
    rig = await make_rig(fleet=FLEET[:1], autojump=0.002, websocket_token_seconds=1200.0)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)

    arrivals, states = await sample_arrivals(rig, RUNNING, 1130.0)

    wings = rig.wings()
    assert wings["sockets_opened"] == 1  # never reconnected
    assert wings["tokens_issued"] == 2
    assert wings["auths_accepted"] == 2
    assert states == {StreamState.STREAMING}
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) >= 1100
    assert max(gaps) <= 2.0


async def test_token_expiring_renews_at_once_on_the_same_socket(make_rig: MakeRig) -> None:
    # A 60 s token: every 30 s look of Wings finds <= 60 s left and says `token expiring`.
    rig = await make_rig(fleet=FLEET[:1], websocket_token_seconds=60.0)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)

    arrivals, states = await sample_arrivals(rig, RUNNING, 100.0)

    wings = rig.wings()
    assert wings["sockets_opened"] == 1
    # Connect at 0, renewals at the looks at 30, 60 and 90 s.
    assert wings["tokens_issued"] == 4
    assert wings["auths_accepted"] == 4
    assert states == {StreamState.STREAMING}
    assert max(b - a for a, b in itertools.pairwise(arrivals)) <= 2.0


async def test_an_expired_token_reconnects(make_rig: MakeRig) -> None:
    # One request a minute: the renewal's turn comes after the 45 s token has run out.
    rig = await make_rig(fleet=FLEET[:1], websocket_token_seconds=45.0, requests_per_minute=1)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)

    _arrivals, states = await sample_arrivals(rig, RUNNING, 150.0)

    # Reconnected, never given up on: no fallback.
    assert states == {StreamState.STREAMING, StreamState.CONNECTING}
    await until_state(rig, RUNNING, StreamState.STREAMING)
    assert rig.wings()["sockets_opened"] >= 2
    assert rig.wings()["sockets_authenticated"] == 1
    assert rig.streams.latest(RUNNING) is not None


async def test_a_refused_origin_falls_back_saying_why_once(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pterodisbot.panel.wings")
    rig = await make_rig(fleet=FLEET[:1], origin="https://elsewhere.example", autojump=0.002)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.FALLBACK, FallbackReason.ORIGIN_REFUSED)
    # Tried again after 10-15 minutes: refused again, not said again.
    start = rig.clock.monotonic()
    await until(lambda: rig.clock.monotonic() - start > 1000, "1,000 s", within=30)

    assert rig.streams.latest(RUNNING) is None
    assert rig.wings()["upgrades_refused"] == 2
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"server {RUNNING} cannot stream (Wings refused the panel URL as Origin): Wings refused "
        "the upgrade with Origin https://elsewhere.example (403): add the panel URL to the "
        "node's allowed origins, or set pterodactyl.url to the URL Wings knows; polling it"
    ]


async def test_a_node_down_falls_back_and_streams_again_when_it_returns(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.panel.wings")
    rig = await make_rig()
    await rig.watch_all()
    await until_state(rig, FAR, StreamState.STREAMING)

    rig.panel.set_node_down("sgp-1")
    await until_state(rig, FAR, StreamState.FALLBACK, FallbackReason.NODE_DOWN)
    assert rig.streams.latest(FAR) is None
    assert rig.streams.state(RUNNING) == (StreamState.STREAMING, None)

    rig.panel.set_node_down("sgp-1", False)
    back = rig.clock.monotonic()
    await until_state(rig, FAR, StreamState.STREAMING)
    assert rig.clock.monotonic() - back <= 60.0
    await until(lambda: rig.streams.latest(FAR) is not None, "a reading of FAR")
    assert rig.streams.stats().reasons == {}
    # Said once, as info: the monitor's poll of FAR reports the node down in its own words.
    said = [
        (r.levelno, r.getMessage()) for r in caplog.records if "cannot stream" in r.getMessage()
    ]
    assert len(said) == 1
    assert said[0][0] == logging.INFO
    assert said[0][1].startswith(f"server {FAR} cannot stream (node down: the panel cannot reach")


async def test_a_down_node_is_probed_by_one_server_and_all_stream_again_when_it_returns(
    make_rig: MakeRig,
) -> None:
    node = [
        SimServerSpec(name=f"Far {i}", identifier=f"ffff000{i}", node="sgp-1", state="running")
        for i in range(5)
    ]
    rig = await make_rig(fleet=[FLEET[0], *node])
    await rig.watch_all()
    for spec in node:
        await until_state(rig, spec.identifier, StreamState.STREAMING)

    rig.panel.set_node_down("sgp-1")
    for spec in node:
        await until_state(rig, spec.identifier, StreamState.FALLBACK, FallbackReason.NODE_DOWN)
    rig.panel.reset_stats()
    outage = rig.clock.monotonic()
    await until(lambda: rig.clock.monotonic() - outage >= 300, "five minutes of outage")

    # Five minutes of a node down: one server probes it (a token call every 30-50 s), not five.
    asked = rig.panel.stats()["requests"].get(TOKEN_ROUTE, 0)
    assert 5 <= asked <= 11

    rig.panel.set_node_down("sgp-1", False)
    back = rig.clock.monotonic()
    for spec in node:
        await until_state(rig, spec.identifier, StreamState.STREAMING)
    assert rig.clock.monotonic() - back <= 50 + 20 + 5


async def test_servers_added_and_removed_while_streaming(make_rig: MakeRig) -> None:
    rig = await make_rig()
    servers = {s.identifier: s for s in await rig.api.list_servers()}
    rig.streams.watch([servers[RUNNING]])
    rig.streams.start()
    await until_state(rig, RUNNING, StreamState.STREAMING)
    assert rig.panel.open_sockets(OFFLINE) == 0

    rig.streams.watch([servers[OFFLINE]])
    await until_state(rig, OFFLINE, StreamState.STREAMING)
    await until(lambda: rig.panel.open_sockets(RUNNING) == 0, "RUNNING's socket closed")
    assert rig.streams.latest(RUNNING) is None
    assert rig.streams.stats().streaming == 1
    assert rig.panel.open_sockets(OFFLINE) == 1


async def test_a_suspended_server_falls_back(make_rig: MakeRig) -> None:
    rig = await make_rig(fleet=FLEET[:1])
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)

    rig.panel.set_suspended(RUNNING)

    await until_state(rig, RUNNING, StreamState.FALLBACK, FallbackReason.SUSPENDED)
    assert rig.streams.stats().reasons == {FallbackReason.SUSPENDED: 1}


async def test_a_key_without_websocket_connect_is_said_once_for_the_fleet(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.panel.wings")
    fleet = [
        SimServerSpec(name=f"Shared {i}", identifier=f"eeee{i:04d}", permissions=("control.start",))
        for i in range(12)
    ]
    rig = await make_rig(fleet=fleet)
    await rig.watch_all()
    await until(lambda: rig.streams.stats().fallback == 12, "12 in fallback")
    start = rig.clock.monotonic()
    await until(lambda: rig.clock.monotonic() - start > 40, "a summary", within=30)

    stats = rig.streams.stats()
    assert stats.reasons == {FallbackReason.FORBIDDEN: 12}
    assert stats.token_calls == 12
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # Five servers named, then one line for all of them.
    assert len(warnings) == 6
    assert warnings[-1] == (
        "12 servers cannot stream: the API key lacks websocket.connect; polling them"
    )
    assert all("websocket.connect" in line for line in warnings[:5])


async def test_too_many_sockets_to_a_server_is_a_reason(make_rig: MakeRig) -> None:
    rig = await make_rig(fleet=FLEET[:1], wings_max_sockets=1)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)
    other = WingsStreams(rig.api, rig.panel.url, clock=rig.clock, rng=random.Random(1))
    try:
        other.watch(await rig.api.list_servers())
        other.start()
        await until(
            lambda: other.state(RUNNING) == (StreamState.FALLBACK, FallbackReason.TOO_MANY_SOCKETS),
            "the second client refused",
        )
    finally:
        await other.close()
    assert rig.streams.state(RUNNING) == (StreamState.STREAMING, None)


async def test_token_requests_are_paced_never_a_burst(make_rig: MakeRig) -> None:
    fleet = [SimServerSpec(name=f"S{i}", identifier=f"ffff{i:04d}") for i in range(40)]
    # 60 requests a minute: tokens may use 30 of them, one every 2 s.
    rig = await make_rig(fleet=fleet, requests_per_minute=60, websocket_token_seconds=120.0)
    await rig.watch_all()
    start = rig.clock.monotonic()
    await until(lambda: rig.clock.monotonic() - start > 300, "5 minutes", within=60)

    arrivals = rig.panel.arrivals(TOKEN_ROUTE)
    # 40 connects and every 2-minute token renewed: more asked than the pace allows.
    assert len(arrivals) >= 140
    # At the panel: 30 a minute, one more when the fake clock outran a request's trip.
    per_minute = [sum(1 for t in arrivals if a <= t < a + 60.0) for a in arrivals]
    assert max(per_minute) in (30, 31)
    stats = rig.streams.stats()
    now = rig.clock.monotonic()
    last_minute = sum(1 for t in arrivals if t > now - 60.0)
    # What the stream reports is what reached the panel (one may be on its way).
    assert stats.token_calls - len(arrivals) in (0, 1)
    # Over the last minute, one may be on its way (counted by the stream, not yet by the panel) or
    # have left just before the minute began and arrived inside it, when the fake clock outran
    # its trip (counted by the panel only).
    assert stats.token_calls_per_minute - last_minute in (-1, 0, 1)
    assert stats.token_calls_per_minute <= 30


async def test_no_token_reaches_the_log(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig = await make_rig(websocket_token_seconds=60.0)
    await rig.watch_all()
    rig.panel.restart_wings("sgp-1")
    start = rig.clock.monotonic()
    await until(lambda: rig.clock.monotonic() - start > 130, "two renewals", within=30)

    assert rig.wings()["tokens_issued"] >= 8
    # Every JWT starts with the base64 of '{"typ"' or '{"alg"': "eyJ".
    assert "eyJ" not in caplog.text
    assert any("token renewed" in r.getMessage() for r in caplog.records)


async def test_close_ends_every_reading_and_start_streams_again(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.watch_all()
    await until_state(rig, OFFLINE, StreamState.STREAMING)

    await rig.streams.close()

    # A closed socket vouches for nothing, an offline server's reading included.
    assert rig.streams.latest(OFFLINE) is None
    assert rig.streams.state(OFFLINE) == (StreamState.CONNECTING, None)
    await until(lambda: rig.panel.open_sockets(OFFLINE) == 0, "OFFLINE's socket closed")

    rig.streams.start()
    await until_state(rig, OFFLINE, StreamState.STREAMING)
    assert rig.panel.authenticated_sockets(OFFLINE) == 1


async def test_a_server_that_starts_installing_falls_back_at_its_next_token(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(fleet=FLEET[:1], websocket_token_seconds=60.0)
    await rig.watch_all()
    await until_state(rig, RUNNING, StreamState.STREAMING)

    # A reinstall: Wings keeps the socket, the panel answers 409 for a new token.
    rig.panel.server(RUNNING).status = "installing"
    changed = rig.clock.monotonic()

    await until_state(rig, RUNNING, StreamState.FALLBACK, FallbackReason.CONFLICT)
    # Refused at the renewal (Wings says `token expiring` at its 30 s look), not when the token
    # has run out at 60 s. Timed by the refused request's arrival, not by when this test saw the
    # state: the autojumping clock may pass 60 s before a test on a loaded machine looks.
    refused = next(t for t in rig.panel.arrivals(TOKEN_ROUTE) if t > changed)
    assert refused - changed < 45.0
    await until(lambda: rig.panel.open_sockets(RUNNING) == 0, "the socket closed")
    assert rig.streams.latest(RUNNING) is None
