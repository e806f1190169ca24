"""The monitor polls every server through the real client over HTTP to the simulated panel."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from pterodisbot.bot.embeds import build_status_embed
from pterodisbot.clock import FakeClock
from pterodisbot.monitor import Monitor, ServerSnapshot, ServerStatus
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.errors import ConflictReason, PanelConflict
from pterodisbot.panel.models import Resources, Server
from pterodisbot.query import (
    Answering,
    GameAnswer,
    Players,
    QueryFailure,
    QueryProtocol,
    QueryTarget,
)
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot_sandbox.panel import SimServerSpec
from tests.fixtures.panel import MakeSimPanel
from tests.snapshots import make_server

FLEET = [
    SimServerSpec(name="Alpha", identifier="aaaa0001", state="running"),
    SimServerSpec(name="Bravo", identifier="bbbb0002", state="offline"),
    SimServerSpec(name="Charlie", identifier="cccc0003", status="installing"),
    SimServerSpec(name="Delta", identifier="dddd0004", status="suspended"),
    SimServerSpec(name="Echo", identifier="eeee0005", node="node-9", node_down=True),
]


async def _monitor(
    make_sim_panel: MakeSimPanel, clock: FakeClock, **panel_kwargs: object
) -> tuple[Monitor, PterodactylAPI, list[ServerSnapshot]]:
    panel = await make_sim_panel(fleet=FLEET, clock=clock, **panel_kwargs)
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    seen: list[ServerSnapshot] = []
    monitor.add_listener(lambda snap, _previous: seen.append(snap))
    return monitor, api, seen


async def test_each_server_gets_its_status_and_one_failure_does_not_stop_the_others(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    monitor, api, seen = await _monitor(make_sim_panel, clock)
    async with api:
        await monitor.poll_once()
    statuses = {snap.server.identifier: snap.status for snap in seen}
    assert statuses == {
        "aaaa0001": ServerStatus.RUNNING,
        "bbbb0002": ServerStatus.OFFLINE,
        "cccc0003": ServerStatus.INSTALLING,
        "dddd0004": ServerStatus.SUSPENDED,
        "eeee0005": ServerStatus.UNKNOWN,  # node down: not "offline"
    }
    down = next(s for s in seen if s.server.identifier == "eeee0005")
    assert down.error is not None
    assert "node" in down.error.lower()


async def test_polls_are_spread_over_the_interval_not_sent_in_a_burst(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    monitor, api, seen = await _monitor(make_sim_panel, clock)
    async with api:
        await monitor.poll_once()
    times = sorted(snap.t for snap in seen)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 10 / len(FLEET) - 1e-6
    assert times[-1] - times[0] < 10


async def test_a_panel_outage_marks_servers_unknown_and_they_recover(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET[:2], clock=clock, resources_cache_seconds=0)
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    async with api:
        await monitor.poll_once()
        assert monitor.snapshots["aaaa0001"].status is ServerStatus.RUNNING
        panel.add_fault("5xx", seconds=30)
        await monitor.poll_once()
        assert {s.status for s in monitor.snapshots.values()} == {ServerStatus.UNKNOWN}
        assert monitor.panel_reachable is False
        panel.clear_faults()
        await monitor.poll_once()
    assert monitor.snapshots["aaaa0001"].status is ServerStatus.RUNNING
    assert monitor.snapshots["bbbb0002"].status is ServerStatus.OFFLINE
    assert monitor.panel_reachable is True


async def test_a_cut_off_panel_makes_installing_and_suspended_servers_unknown_too(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET, clock=clock)
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    async with api:
        await monitor.poll_once()
        panel.add_fault("down")  # the panel answers nothing at all
        await monitor.poll_once()
        await monitor.poll_once()  # a second unknown poll still knows what was last seen
        cut_off = dict(monitor.snapshots)
        panel.clear_faults()
        await monitor.poll_once()
    # The server list is cached, and says installing/suspended; with no answer that is history.
    assert {i: (s.status, s.last_known) for i, s in cut_off.items()} == {
        "aaaa0001": (ServerStatus.UNKNOWN, ServerStatus.RUNNING),
        "bbbb0002": (ServerStatus.UNKNOWN, ServerStatus.OFFLINE),
        "cccc0003": (ServerStatus.UNKNOWN, ServerStatus.INSTALLING),
        "dddd0004": (ServerStatus.UNKNOWN, ServerStatus.SUSPENDED),
        "eeee0005": (ServerStatus.UNKNOWN, None),  # node down from the start: never known
    }
    assert cut_off["cccc0003"].error == "panel unreachable"
    back = {i: (s.status, s.last_known) for i, s in monitor.snapshots.items()}
    assert back["cccc0003"] == (ServerStatus.INSTALLING, None)
    assert back["dddd0004"] == (ServerStatus.SUSPENDED, None)


async def test_a_removed_server_loses_its_history_and_its_snapshot(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    monitor, api, _ = await _monitor(make_sim_panel, clock)
    removed: list[str] = []
    monitor.add_removal_listener(removed.append)
    async with api:
        await monitor.poll_once()
        assert "aaaa0001" in monitor.snapshots
        monitor.set_server_filter(["bbbb0002"])  # the operator narrowed `servers`
        await monitor.poll_once()
    assert sorted(removed) == ["aaaa0001", "cccc0003", "dddd0004", "eeee0005"]
    assert "aaaa0001" not in monitor.snapshots
    assert list(monitor.servers) == ["bbbb0002"]


async def test_an_answer_arriving_after_its_server_was_removed_is_not_published(
    make_sim_panel: MakeSimPanel, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(autojump=0.001)
    monitor, api, seen = await _monitor(make_sim_panel, clock)
    async with api:
        await monitor.refresh_servers()
        gate = asyncio.Event()
        read = api.get_resources

        async def held(identifier: str) -> Resources:
            await gate.wait()
            return await read(identifier)

        monkeypatch.setattr(api, "get_resources", held)
        late = asyncio.create_task(monitor.poll_server("aaaa0001"))  # e.g. after a power action
        await asyncio.sleep(0)
        monitor.set_server_filter(["bbbb0002"])
        assert await monitor.refresh_servers()
        gate.set()
        assert await late is None
    assert seen == []
    assert "aaaa0001" not in monitor.snapshots
    assert monitor._metrics.get("aaaa0001") is None


async def test_more_servers_than_the_budget_allows_stretch_the_cycle_and_say_so(
    make_sim_panel: MakeSimPanel, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET, clock=clock)
    # 3 requests a minute for a list call plus five servers every 10 s: the budget sets the pace.
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, requests_per_minute=3)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    with caplog.at_level(logging.WARNING, logger="pterodisbot.monitor"):
        async with api:
            await monitor.poll_once()
    assert len(monitor.snapshots) == len(FLEET)
    assert monitor.last_cycle_duration is not None
    assert monitor.last_cycle_duration > 60
    assert any("budget sets the pace" in r.getMessage() for r in caplog.records)
    stats = panel.stats()
    assert stats["rate_limited"] == 0


async def test_an_unreadable_answer_is_said_in_words_on_the_embed_not_as_a_class_name(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET[:1], clock=clock)
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    async with api:
        await monitor.refresh_servers()
        panel.add_fault("garbage")  # a 200 with an HTML page where JSON belongs
        snap = await monitor.poll_server("aaaa0001")

    assert snap is not None
    assert snap.status is ServerStatus.UNKNOWN
    assert snap.error == "the panel's answer could not be read"
    embed = build_status_embed(snap, graph_filename=None, now=clock.time())
    status = next(f.value for f in embed.fields if f.name == "Status")
    assert status == "Unknown — the panel's answer could not be read"


async def test_cycle_listeners_hear_the_duration_of_every_cycle(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    monitor, api, _ = await _monitor(make_sim_panel, clock)
    durations: list[float] = []
    monitor.add_cycle_listener(durations.append)
    async with api:
        await monitor.poll_once()
        await monitor.poll_once()
    assert len(durations) == 2
    # Five servers spread over a 10 s interval: the last is asked 8 s after the first.
    assert all(8 <= d < 10 for d in durations)


class _ConflictingPanel:
    """Answers every resources request with a 409 for `reason`, carrying `detail` (its words)."""

    def __init__(self, server: Server, reason: ConflictReason, detail: str | None) -> None:
        self.server = server
        self.reason = reason
        self.detail = detail

    async def list_servers(self) -> list[Server]:
        return [self.server]

    async def get_resources(self, identifier: str) -> Resources:
        raise PanelConflict("409", reason=self.reason, status=409, detail=self.detail)


@pytest.mark.parametrize(
    ("reason", "detail", "status"),
    [
        (
            ConflictReason.INSTALLING,
            "This server has not yet completed its installation process.",
            ServerStatus.INSTALLING,
        ),
        (ConflictReason.SUSPENDED, "This server is currently suspended.", ServerStatus.SUSPENDED),
        (ConflictReason.TRANSFERRING, "The server is being transferred.", ServerStatus.UNKNOWN),
        (ConflictReason.OTHER, None, ServerStatus.UNKNOWN),
    ],
)
async def test_a_conflict_says_installing_or_suspended_when_the_panel_says_so(
    reason: ConflictReason, detail: str | None, status: ServerStatus
) -> None:
    server = make_server(identifier="aaaa0001")
    panel = _ConflictingPanel(server, reason, detail)
    monitor = Monitor(panel, ServerMetricsManager(capacity=10), clock=FakeClock())  # type: ignore[arg-type]
    await monitor.refresh_servers()
    snap = await monitor.poll_server("aaaa0001")
    assert snap is not None
    assert snap.status is status
    assert snap.error == (detail or "the panel reports a state conflict")


class _KnownPlayers:
    """A player source that knows one answer per server, as the query service would."""

    enabled = True

    def __init__(self, known: dict[str, Players]) -> None:
        self.known = known

    def players(self, server: str) -> Players | None:
        return self.known.get(server)


async def test_snapshots_carry_the_players_and_samples_their_online_count(
    make_sim_panel: MakeSimPanel,
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(fleet=FLEET[:2], clock=clock)
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    target = QueryTarget(QueryProtocol.MINECRAFT, "127.0.0.1", 25565)
    answered = Players(target, Answering.ANSWERING, GameAnswer(online=7, max_players=20, t=1.0))
    silent = Players(target, Answering.NO_ANSWER, failure=QueryFailure.TIMEOUT)
    source = _KnownPlayers({"aaaa0001": answered, "bbbb0002": silent})
    metrics = ServerMetricsManager(capacity=10)
    monitor = Monitor(api, metrics, poll_interval=10, clock=clock, players=source)
    async with api:
        await monitor.poll_once()
        assert monitor.snapshots["aaaa0001"].players == answered
        assert monitor.snapshots["bbbb0002"].players == silent
        assert [s.players for s in metrics["aaaa0001"].samples()] == [7]
        assert [s.players for s in metrics["bbbb0002"].samples()] == [None]
        # The next poll reads the source again: what it knows now is what the snapshot says.
        source.known = {}
        await monitor.poll_once()
        assert monitor.snapshots["aaaa0001"].players is None
        assert [s.players for s in metrics["aaaa0001"].samples()] == [7, None]
