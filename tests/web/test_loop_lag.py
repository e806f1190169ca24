"""Loop lag on `/metrics`: a loop blocked on purpose shows; the probe stops with the site."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pterodisbot.web import WebServer
from pterodisbot.web.loop_lag import LoopLagProbe
from tests.fixtures.discord import poll_until
from tests.fixtures.product import Product
from tests.web.served import web_endpoint
from tests.web.test_endpoint import scrape

LAG = "pterodisbot_event_loop_lag_seconds"
BOUNDS = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "+Inf"]


@pytest.fixture
async def web(product: Product) -> AsyncIterator[WebServer]:
    """Start the product and an HTTP endpoint in front of its bot."""
    async with web_endpoint(product) as server:
        yield server


def block_the_loop(seconds: float) -> None:
    """Hold the event loop on purpose, as a slow callback would."""
    time.sleep(seconds)


def lag_figures(samples: dict[str, list[Any]]) -> tuple[dict[str, float], float, float, float]:
    """Return the lag histogram's cumulative buckets by bound, its count, its sum, and the max."""
    buckets = {s.labels["le"]: float(s.value) for s in samples[f"{LAG}_bucket"]}
    [count] = samples[f"{LAG}_count"]
    [total] = samples[f"{LAG}_sum"]
    [largest] = samples["pterodisbot_event_loop_lag_max_seconds"]
    return buckets, float(count.value), float(total.value), float(largest.value)


async def test_a_blocked_loop_shows_in_the_lag_metric(product: Product, web: WebServer) -> None:
    async def measured() -> dict[str, list[Any]] | None:
        samples = await scrape(product, web)
        return samples if lag_figures(samples)[1] >= 1 else None

    before = lag_figures(await poll_until(measured, within=5, what="a first lag measure"))
    assert list(before[0]) == BOUNDS
    above_before = before[0]["+Inf"] - before[0]["0.25"]

    # The probe waits 0.1 s at a time: a 0.4 s block wakes it at least 0.3 s late.
    block_the_loop(0.4)

    async def blocked_seen() -> tuple[dict[str, float], float, float, float] | None:
        figures = lag_figures(await scrape(product, web))
        return figures if figures[0]["+Inf"] - figures[0]["0.25"] > above_before else None

    buckets, count, total, largest = await poll_until(
        blocked_seen, within=5, what="the blocked loop in the lag histogram"
    )
    assert buckets["+Inf"] == count
    assert total - before[2] >= 0.3
    assert largest >= 0.3


async def test_the_probe_stops_with_the_web_server(product: Product) -> None:
    bot = await product.start()
    server = WebServer(bot, host="127.0.0.1", port=0)
    await server.start()
    first = server.loop_lag.stats().count
    await poll_until(
        lambda: asyncio.sleep(0, server.loop_lag.stats().count > first),
        within=5,
        what="the probe to measure while the site runs",
    )

    await server.stop()
    stopped = server.loop_lag.stats().count
    await asyncio.sleep(0.5)

    assert server.loop_lag.stats().count == stopped


async def test_the_largest_lag_is_forgotten_after_its_window() -> None:
    probe = LoopLagProbe(interval=0.02, window=0.5)
    probe.start()
    try:
        # Blocking before the probe's first timer is set would measure nothing.
        await poll_until(
            lambda: asyncio.sleep(0, probe.stats().count >= 1), within=5, what="a first measure"
        )
        block_the_loop(0.4)

        largest = await poll_until(
            lambda: asyncio.sleep(0, probe.stats().recent_max >= 0.38 and probe.stats()),
            within=5,
            what="the blocked loop as the largest lag",
        )
        assert largest.last <= largest.recent_max

        # The window slides: once 0.5 s have passed, the block is no longer the largest.
        await poll_until(
            lambda: asyncio.sleep(0, probe.stats().recent_max < 0.38),
            within=5,
            what="the block to leave the window",
        )
        stats = probe.stats()
        assert stats.total >= 0.38
        # The block stays counted in the histogram: above the 0.25 s bound.
        assert dict(stats.buckets)[0.25] < stats.count
    finally:
        await probe.close()
