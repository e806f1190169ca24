"""`/metrics` at 500 and 2,000 servers: how long a scrape takes and how late it makes the loop.

The simulated panel runs in its own process; this process runs the real bot (`build_bot`, no
gateway, no cogs) with its real `WebServer`. Every server is polled once through the real
monitor, so the collector reads real snapshots, then the monitor is left idle: the figures are
the scrape's own. Prometheus scrapes from elsewhere, so the scraper here is a plain thread with
`urllib` (its parsing is not the loop's work); a ticker on the loop measures how late it wakes,
first with no scrape (the floor), then while scrapes follow each other back to back (the worst
case: Prometheus scrapes every 15-60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._board import default_settings
from bench._panel_process import panel_process
from pterodisbot.app import build_bot
from pterodisbot.web import WebServer

FLEETS = (500, 2000)
KEY = "ptlc_metricsbench"
TICK = 0.005
IDLE_S = 3.0
SCRAPES = 20


@dataclass(frozen=True, slots=True)
class Figures:
    """What one fleet measured."""

    servers: int
    read_ms: list[float]
    scrape_ms: list[float]
    body_bytes: int
    idle_lag_ms: list[float]
    scrape_lag_ms: list[float]


def quantile(values: list[float], q: float) -> float:
    """Return the q-th quantile (0..1) of sorted `values`."""
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


@contextlib.contextmanager
def panel(servers: int) -> Iterator[str]:
    """Run a simulated panel of `servers` in a subprocess; give its URL."""
    with panel_process(servers, KEY, "--rate-limit", "1000000") as url:
        yield url


async def _tick(seconds: float | None, stop: threading.Event | None = None) -> list[float]:
    """Return how late (ms) the loop woke from each `TICK` sleep, for `seconds` or until `stop`."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    end = loop.time() + (seconds or 0.0)
    while (stop is None and loop.time() < end) or (stop is not None and not stop.is_set()):
        before = loop.time()
        await asyncio.sleep(TICK)
        lags.append(max(0.0, loop.time() - before - TICK) * 1000)
    return sorted(lags)


def _scrape(url: str, times_ms: list[float], sizes: list[int], done: threading.Event) -> None:
    """Scrape `url` `SCRAPES` times back to back (a thread: Prometheus is another process)."""
    try:
        for _ in range(SCRAPES):
            began = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as answer:
                sizes.append(len(answer.read()))
            times_ms.append((time.perf_counter() - began) * 1000)
    finally:
        done.set()


async def _measure(servers: int, panel_url: str) -> Figures:
    with tempfile.TemporaryDirectory() as workdir:
        settings = default_settings(
            panel_url=panel_url,
            api_key=KEY,
            discord_url="http://127.0.0.1:9",  # never called: the bot does not log in
            workdir=Path(workdir),
            pterodactyl={"requests_per_minute": "100000"},
            monitoring={"poll_interval": "2", "source": "poll"},
        )
        bot = build_bot(settings, extensions=())
        web = WebServer(bot, host="127.0.0.1", port=0)
        url = await web.start()
        try:
            monitor = bot.services.monitor
            await monitor.poll_once()
            assert len(monitor.snapshots) == servers, len(monitor.snapshots)
            reads = []
            for _ in range(SCRAPES):
                # The scrape's part on the loop, as the endpoint runs it (the rest is a thread's).
                began = time.perf_counter()
                web.collector.read()
                reads.append((time.perf_counter() - began) * 1000)
            idle = await _tick(IDLE_S)
            times: list[float] = []
            sizes: list[int] = []
            done = threading.Event()
            scraper = threading.Thread(
                target=_scrape, args=(url + "/metrics", times, sizes, done), daemon=True
            )
            scraper.start()
            during = await _tick(None, done)
            scraper.join()
            return Figures(servers, sorted(reads), sorted(times), max(sizes), idle, during)
        finally:
            await web.stop()
            await bot.services.api.close()
            await bot.close()


def main() -> None:
    """Print scrape times and the loop's lag while scraping, per fleet size."""
    logging.getLogger().setLevel(logging.ERROR)
    for servers in FLEETS:
        with panel(servers) as url:
            figures = asyncio.run(_measure(servers, url))
        print(
            f"{figures.servers} servers: /metrics {figures.body_bytes / 1024:.0f} KiB, "
            f"scrape p50 {quantile(figures.scrape_ms, 0.5):.0f} ms, "
            f"max {figures.scrape_ms[-1]:.0f} ms ({SCRAPES} back to back), "
            f"of which on the loop p50 {quantile(figures.read_ms, 0.5):.2f} ms, "
            f"max {figures.read_ms[-1]:.2f} ms; "
            f"loop lag while scraping p50 {quantile(figures.scrape_lag_ms, 0.5):.1f} ms, "
            f"p99 {quantile(figures.scrape_lag_ms, 0.99):.1f} ms, "
            f"max {figures.scrape_lag_ms[-1]:.1f} ms "
            f"(idle: p99 {quantile(figures.idle_lag_ms, 0.99):.1f} ms, "
            f"max {figures.idle_lag_ms[-1]:.1f} ms)",
            flush=True,
        )
