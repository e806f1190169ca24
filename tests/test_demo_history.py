"""The demo's generated week: from the panel's load model, ending where the panel starts."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.demo import HISTORY_DAYS, GeneratedHistory, demo_fleet, generate_history
from pterodisbot.store import SampleRow
from pterodisbot_sandbox.panel import SimulatedPanel

NOW = 1_800_000_000.0  # the panel's FakeClock reads this (Unix time), its monotonic 0
DAY = 86_400.0


def _by_server(samples: tuple[SampleRow, ...]) -> dict[str, list[SampleRow]]:
    rows: dict[str, list[SampleRow]] = defaultdict(list)
    for row in samples:
        rows[row.server].append(row)
    return rows


@dataclass(frozen=True)
class Week:
    """The demo's panel and the week generated for it."""

    panel: SimulatedPanel
    history: GeneratedHistory


@pytest.fixture(scope="module")
def week() -> Week:
    """Generate the week once for the module: about a second each, and nothing changes it."""
    panel = SimulatedPanel(fleet=demo_fleet(8), clock=FakeClock(NOW))
    return Week(panel, generate_history(panel, now=NOW))


def test_every_server_has_a_week_at_steps_that_grow_with_age(week: Week) -> None:
    panel, history = week.panel, week.history
    rows = _by_server(history.samples)
    assert set(rows) == set(panel.servers)
    for identifier, samples in rows.items():
        assert all(NOW - HISTORY_DAYS * DAY <= row.t < NOW for row in samples)
        if identifier == "terraria":  # being installed: the panel has known it for half an hour
            assert NOW - samples[0].t <= 1800
            continue
        assert NOW - samples[0].t >= HISTORY_DAYS * DAY - 1
        covered = sum(row.span_s for row in samples)
        # A week but the 25 minutes the bot "was not running".
        assert HISTORY_DAYS * DAY - 3600 < covered <= HISTORY_DAYS * DAY
        recent = [row for row in samples if NOW - row.t < 3000]
        old = [row for row in samples if NOW - row.t > 2 * DAY]
        assert {row.span_s for row in recent[1:]} == {10.0}
        # (the first sample after the bot's gap stands for one poll, as the recorder counts it)
        assert {row.span_s for row in old[1:]} <= {300.0, 10.0}
    assert len(history.samples) < 40_000


def test_the_week_has_crashes_an_unknown_hour_and_ends_in_the_live_state(week: Week) -> None:
    panel, history = week.panel, week.history
    rows = _by_server(history.samples)
    for identifier, server in panel.servers.items():
        last = rows[identifier][-1]
        live = server.stats()
        assert last.state == live["current_state"]
        if live["current_state"] == "running":
            # The figures run into the live ones: same disk, uptime within one sample.
            assert abs(last.uptime_ms - live["resources"]["uptime"]) <= 10_000
            assert abs(last.disk_bytes - live["resources"]["disk_bytes"]) < 50 * 1024 * 1024
    unknown = Counter(row.server for row in history.samples if row.state == "unknown")
    assert set(unknown) >= {"mcmodded", "valheim1", "rustwipe", "factorio"}
    crashes = [
        c
        for c in history.changes
        if c.server == "rustwipe" and c.before == "running" and c.after == "offline"
    ]
    assert len(crashes) >= 2
    suspended = [c for c in history.changes if c.server == "cs2retak" and c.after == "suspended"]
    assert len(suspended) == 1
    assert all(row.is_suspended for row in rows["cs2retak"] if row.t > suspended[0].t)

    # CPU follows the load model: the busy server is busier than the quiet one.
    def mean_cpu(identifier: str) -> float:
        live = [row.cpu_percent for row in rows[identifier] if row.state == "running"]
        return sum(live) / len(live)

    assert mean_cpu("mcmodded") > 5 * mean_cpu("valheim1")
    assert max(row.cpu_percent for row in rows["mcmodded"]) > 0


def test_network_rates_come_from_the_counters_as_the_bot_reads_them(week: Week) -> None:
    history = week.history
    running = ("running", "starting", "stopping")
    resumed = 0
    for samples in _by_server(history.samples).values():
        for before, after in itertools.pairwise(samples):
            if before.state not in running or after.state not in running:
                continue
            if after.t - before.t > 20 * 60:
                # The bot "was not running": a restarted bot has no counters to compare with.
                assert (after.rx_rate, after.tx_rate) == (0.0, 0.0)
                resumed += 1
            elif after.uptime_ms > before.uptime_ms:
                # Within one run the counters only grow: every rate is a real difference.
                assert after.rx_rate > 0
                assert after.tx_rate > 0
    assert resumed >= 2


def test_a_games_players_come_from_the_sim_while_running_and_nothing_else_answers(
    week: Week,
) -> None:
    panel, history = week.panel, week.history
    rows = _by_server(history.samples)
    for identifier, server in panel.servers.items():
        answered = [row for row in rows[identifier] if row.players is not None]
        if server.game_protocol is None:  # not a game the bot asks (Terraria, Factorio here)
            assert answered == [], identifier
            continue
        # Only while running, each the count the game's listener gives at that time (the
        # panel's monotonic clock is 0 at NOW).
        assert answered == [row for row in rows[identifier] if row.state == "running"]
        assert [row.players for row in answered] == [
            server.players_at(row.t - NOW, "running") for row in answered
        ]
    assert {"mcmodded", "rustwipe"} <= {row.server for row in history.samples if row.players}
