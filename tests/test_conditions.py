"""Logs an operator can read: a lasting condition is said once, reminded with a count, ended once.

Through the real client and the simulated panel over HTTP, with a FakeClock; the lines are read
from the log records as an operator's terminal shows them (the bot's own format).
"""

from __future__ import annotations

import logging

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.conditions import CONDITION_LIMIT, DEFAULT_REPEAT, ConditionLog
from pterodisbot.log_setup import LOG_FORMAT
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot_sandbox.panel import SimServerSpec, SimulatedPanel
from tests.fixtures.panel import MakeSimPanel

FLEET = [
    SimServerSpec(name="Alpha", identifier="aaaa0001", state="running"),
    SimServerSpec(
        name="Charlie's Modded Creative Build Server", identifier="cccc0003", status="installing"
    ),
    SimServerSpec(name="Echo", identifier="eeee0005", node="node-9", node_down=True),
]
# What an operator's terminal shows per line, time and level included.
LINE_LIMIT = 160


async def _watch(
    make_sim_panel: MakeSimPanel, clock: FakeClock
) -> tuple[SimulatedPanel, Monitor, PterodactylAPI]:
    panel = await make_sim_panel(fleet=FLEET, clock=clock, resources_cache_seconds=0)
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    return panel, monitor, api


def bot_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return what the bot logged at INFO or louder (not the simulated panel it talks to)."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.INFO
        and r.name.startswith("pterodisbot.")
        and not r.name.startswith("pterodisbot_sandbox")
    ]


def lines_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """Return the bot's lines that mention `text`, as the terminal prints them."""
    formatter = logging.Formatter(LOG_FORMAT)
    return [formatter.format(r) for r in bot_records(caplog) if text in r.getMessage()]


async def test_an_installing_server_is_said_once_reminded_with_a_count_and_its_end_said_once(
    make_sim_panel: MakeSimPanel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(autojump=0.001)
    panel, monitor, api = await _watch(make_sim_panel, clock)
    async with api:
        await monitor.refresh_servers()
        caplog.clear()
        for _ in range(10):
            await monitor.poll_once()
        assert [line.split(": ", 1)[1] for line in lines_about(caplog, "cccc0003")] == [
            "server cccc0003 (Charlie's Modded Creati…): installing, no resources until done"
        ]
        caplog.clear()

        clock.advance(DEFAULT_REPEAT)
        await monitor.poll_once()
        await monitor.poll_once()  # right after a reminder: nothing new
        (reminder,) = lines_about(caplog, "cccc0003")
        assert reminder.endswith(
            "INFO     pterodisbot.monitor: server cccc0003 (Charlie's Modded Creati…): "
            "still installing, no resources until done (11 polls in 6m)"
        )
        caplog.clear()

        panel.server("cccc0003").status = None  # the install finished
        await monitor.poll_once()
        await monitor.poll_once()
    (end,) = lines_about(caplog, "cccc0003")
    assert end.endswith(
        ": server cccc0003 (Charlie's Modded Creati…): readable again after 6m "
        "(12 polls: installing, no resources until done)"
    )


async def test_a_node_down_is_one_short_warning_not_one_per_poll(
    make_sim_panel: MakeSimPanel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(autojump=0.001)
    _, monitor, api = await _watch(make_sim_panel, clock)
    async with api:
        await monitor.refresh_servers()
        caplog.clear()
        for _ in range(20):
            await monitor.poll_once()
    (line,) = lines_about(caplog, "eeee0005")
    assert "WARNING  pterodisbot.monitor: server eeee0005 (Echo): node down" in line
    assert "Wings" in line
    # Nothing the panel client or anyone else logged on the way is longer than a terminal line.
    formatter = logging.Formatter(LOG_FORMAT)
    too_long = [f for r in bot_records(caplog) if len(f := formatter.format(r)) > LINE_LIMIT]
    assert too_long == []


async def test_a_panel_outage_is_not_a_line_per_server_and_nothing_changed_says_nothing(
    make_sim_panel: MakeSimPanel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(autojump=0.001)
    panel, monitor, api = await _watch(make_sim_panel, clock)
    async with api:
        await monitor.poll_once()
        caplog.clear()
        panel.add_fault("5xx")
        for _ in range(5):
            await monitor.poll_once()
        assert monitor.panel_reachable is False
        panel.clear_faults()
        await monitor.poll_once()
    # The panel's reachability is the lifecycle's one line; the servers are as they were.
    assert [line for s in FLEET for line in lines_about(caplog, s.identifier)] == []


async def test_the_panels_rate_limit_is_one_line_when_it_starts_and_one_when_it_ends(
    make_sim_panel: MakeSimPanel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clock = FakeClock(autojump=0.001)
    panel = await make_sim_panel(
        fleet=FLEET[:1], clock=clock, resources_cache_seconds=0, rate_limit=3
    )
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, max_retries=0)
    monitor = Monitor(api, ServerMetricsManager(capacity=100), poll_interval=10, clock=clock)
    async with api, PterodactylAPI(panel.url, panel.api_key, clock=clock) as other:
        await monitor.refresh_servers()
        await monitor.poll_once()
        caplog.clear()
        await other.whoami()  # another user of the key spends the rest of the minute
        for _ in range(3):
            await monitor.poll_once()
        clock.advance(61)
        await monitor.poll_once()
    assert panel.stats()["rate_limited"] >= 1
    about_panel = [m for r in bot_records(caplog) if (m := r.getMessage()).startswith("panel: ")]
    assert [m.split(" after ")[0] for m in about_panel] == [
        "panel: rate limiting the API key (429)",
        "panel: readable again",
    ]


def test_a_changed_condition_is_said_and_a_forgotten_one_ends_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    conditions = ConditionLog(logging.getLogger("test.conditions"), clock=clock, repeat=60)
    with caplog.at_level(logging.INFO, logger="test.conditions"):
        said = [
            conditions.observe("s1", "installing"),
            conditions.observe("s1", "installing"),
            conditions.observe("s1", "suspended " + "x" * 80, level=logging.INFO),
            conditions.observe("s1", None, subject="server s1 (One)"),
            conditions.observe("s1", None),
            conditions.observe("s2", "node down"),
        ]
        conditions.forget("s2")
        clock.advance(61)
        said.append(conditions.observe("s2", None))
    cut = "suspended " + "x" * (CONDITION_LIMIT - len("suspended ") - 1) + "…"
    assert said == [True, False, True, True, False, True, False]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "s1: installing"),
        ("INFO", f"s1: {cut}"),
        ("INFO", f"server s1 (One): readable again after 0s (1 polls: {cut})"),
        ("WARNING", "s2: node down"),
    ]
