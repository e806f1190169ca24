"""`/healthz` judges the bot's own liveness: a paced, slow or failing panel is not its health."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.lifecycle import report_progress
from pterodisbot.monitor import ServerSnapshot
from pterodisbot.web import WebServer
from tests.fixtures.product import Product
from tests.web.test_endpoint import _value, scrape


class HangingClock(FakeClock):
    """A fake clock whose sleepers never wake once `hang()` is called: a loop stuck for good."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hung = False

    def hang(self) -> None:
        """Make every later sleep wait for ever."""
        self._hung = True

    async def sleep(self, seconds: float) -> None:
        if self._hung:
            await asyncio.Event().wait()
        await super().sleep(seconds)


@pytest.fixture
async def served(product: Product) -> AsyncIterator[list[WebServer]]:
    """Collect the endpoints a test starts in front of the product's bot; stop them after."""
    servers: list[WebServer] = []
    yield servers
    for server in servers:
        await server.stop()


async def _serve(product: Product, served: list[WebServer]) -> WebServer:
    assert product.bot is not None
    server = WebServer(product.bot, port=0)
    await server.start()
    served.append(server)
    return server


async def _healthz(product: Product, web: WebServer) -> tuple[int, dict[str, Any]]:
    async with product.session.get(web.url + "/healthz") as answer:
        body: dict[str, Any] = await answer.json()
        return answer.status, body


async def _sample_healthz_until(
    product: Product, web: WebServer, clock: FakeClock, done: Any
) -> list[tuple[float, int, list[str]]]:
    """Ask /healthz every few real milliseconds while simulated time runs, until `done()`."""
    start = clock.time()
    samples: list[tuple[float, int, list[str]]] = []
    # Sampled on real time: a sampler sleeping on the fake clock would be a deadline it jumps to.
    while not done():
        status, body = await _healthz(product, web)
        samples.append((round(clock.time() - start, 1), status, body["reasons"]))
        assert clock.time() - start < 900, "simulated time ran out before the cycles did"
        await asyncio.sleep(0.005)
    return samples


@pytest.mark.parametrize(
    ("servers", "panel_limit", "expected_cycle"),
    [
        (300, 720, 300 * 61 / 600),  # the bot's own budget (600/min) sets the pace
        (20, 60, 20 * 61 / 60),  # the panel's advertised limit, lower than the bot's, does
    ],
    ids=["300-servers-at-600-per-min", "20-servers-under-a-60-per-min-panel"],
)
async def test_healthz_stays_200_while_the_request_budget_paces_the_cycle(
    product: Product,
    served: list[WebServer],
    servers: int,
    panel_limit: int,
    expected_cycle: float,
) -> None:
    clock = FakeClock(autojump=0.001)
    panel = {"servers": servers, "rate_limit": panel_limit, "clock": clock}
    # Polled: the cycle the request budget allows is what this test times.
    await product.start(
        panel=panel, clock=clock, poll_interval=10, settings={"monitoring": {"source": "poll"}}
    )
    web = await _serve(product, served)
    cycles: list[float] = []
    product.services.monitor.add_cycle_listener(cycles.append)

    samples = await _sample_healthz_until(product, web, clock, lambda: len(cycles) >= 6)

    unhealthy = [s for s in samples if s[1] != 200]
    assert unhealthy == [], unhealthy[:3]
    assert len(samples) >= 20
    # The budget did stretch cycles far past poll_interval (10 s): the case that used to 503.
    assert max(cycles) > 30, cycles
    status, body = await _healthz(product, web)
    assert status == 200
    assert body["monitor"]["expected_cycle_seconds"] == pytest.approx(expected_cycle, abs=0.01)
    assert product.panel.stats()["rate_limited"] == 0


async def test_healthz_stays_200_with_the_panel_down_and_the_metric_and_log_say_so(
    product: Product, served: list[WebServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.lifecycle")
    clock = FakeClock(autojump=0.001)
    await product.start(panel={"clock": clock}, clock=clock, poll_interval=10)
    web = await _serve(product, served)
    assert product.bot is not None
    progress = asyncio.create_task(report_progress(product.bot, product.settings()))
    try:
        await product.sim("POST", "/faults", json={"kind": "down"})
        start = clock.time()
        samples = await _sample_healthz_until(
            product, web, clock, lambda: clock.time() - start > 600
        )

        unhealthy = [s for s in samples if s[1] != 200]
        assert unhealthy == [], unhealthy[:3]
        status, body = await _healthz(product, web)
        assert status == 200
        assert body["panel_reachable"] is False
        assert _value(await scrape(product, web), "pterodisbot_panel_reachable") == 0
        host = product.settings().pterodactyl.host
        lines = [r.getMessage() for r in caplog.records]
        assert any(line.startswith(f"panel {host} is not reachable") for line in lines), lines
    finally:
        progress.cancel()


async def test_healthz_stays_200_while_the_panel_is_too_slow_to_answer_and_the_log_says_so(
    product: Product, served: list[WebServer], caplog: pytest.LogCaptureFixture
) -> None:
    # Real time: the client's timeout is aiohttp's. Every poll now takes two 1 s timeouts and a
    # backoff, so a cycle outlasts three poll intervals (0.3 s) many times over.
    caplog.set_level(logging.WARNING, logger="pterodisbot.monitor")
    # Polling: a stream (to Wings, not the panel) would go on while the panel times out.
    await product.start(
        settings={
            "pterodactyl": {"timeout": "1", "max_retries": "1"},
            "monitoring": {"source": "poll"},
        }
    )
    web = await _serve(product, served)
    cycles: list[float] = []
    product.services.monitor.add_cycle_listener(cycles.append)
    await product.sim("POST", "/faults", json={"kind": "timeout"})

    samples: list[tuple[int, list[str]]] = []
    while len(cycles) < 3:
        status, body = await _healthz(product, web)
        samples.append((status, body["reasons"]))
        await asyncio.sleep(0.05)

    assert [s for s in samples if s[0] != 200] == []
    assert max(cycles) > 2
    status, body = await _healthz(product, web)
    assert body["panel_reachable"] is False
    lines = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"polling 6 servers took \d+ s, more than poll_interval = 0\.3 s: \d poll\(s\) timed out "
        r"after 1 s; the panel is slow to answer \(not the request budget\)",
        lines[0],
    ), lines[0]


async def test_healthz_is_503_when_the_monitor_loop_has_ended(
    product: Product, served: list[WebServer]
) -> None:
    await product.start()
    web = await _serve(product, served)

    await product.services.monitor.stop()  # as if its task had died

    status, body = await _healthz(product, web)
    assert status == 503
    assert body["reasons"] == ["the monitor's poll loop is not running"]
    assert body["monitor"]["running"] is False


async def test_healthz_is_503_when_the_monitor_loop_hangs(
    product: Product, served: list[WebServer]
) -> None:
    clock = HangingClock(autojump=0.001)
    # No history store: its flush and maintenance deadlines, set before the hang, would let the
    # clock jump past the stall this test times.
    await product.start(
        panel={"clock": clock},
        clock=clock,
        poll_interval=10,
        # Polled: the hang is a poll that never returns.
        settings={"history": {"url": "none"}, "monitoring": {"source": "poll"}},
    )
    web = await _serve(product, served)
    monitor = product.services.monitor
    hung = asyncio.Event()

    def hang_at_the_next_snapshot(_snap: ServerSnapshot, _previous: ServerSnapshot | None) -> None:
        # The loop has just polled one more server and hangs at its next wait. Hung from the
        # test instead, it could be caught between a request and its answer, polling no more.
        clock.hang()
        hung.set()

    monitor.add_listener(hang_at_the_next_snapshot)
    await asyncio.wait_for(hung.wait(), 5)
    await asyncio.sleep(0.2)  # its answer handled: the loop's last sign of life
    stall_after = monitor.stall_after
    clock.advance(stall_after - 2)
    status, _ = await _healthz(product, web)
    assert status == 200  # slow is not stuck
    clock.advance(5)

    status, body = await _healthz(product, web)
    assert status == 503
    assert body["monitor"]["running"] is True
    (reason,) = body["reasons"]
    assert reason.startswith("the monitor's poll loop has made no progress for ")
