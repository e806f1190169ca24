"""Event-loop lag while the bot watches 1,000 servers and keeps 50 status embeds current.

The simulated panel and the Discord sandbox run in their own processes (as a real panel and
Discord would be elsewhere); this process runs what the bot runs: the panel client, the monitor
(1,000 resources calls every 10 s, spread over the interval), the metric histories, and the real
`StatusBoard` and `EditPump` deciding, drawing (in a worker thread) and uploading the edits of 50
embeds spread over three channels, for servers spread over the poll order. A ticker measures how
late the loop wakes.

One bot, two runs back to back once every server has been polled once and the embeds posted:
the default settings (what the bot does), then a worst case where every poll of a watched server
asks for an edit (all thresholds 0), so the pump sends as fast as it may (one edit per channel
per `edit_interval`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._board import Pipeline, Work, default_settings
from pterodisbot.bot import discord_api
from pterodisbot.bot.policy import Thresholds
from pterodisbot.clock import SystemClock
from pterodisbot.monitor import ServerSnapshot
from pterodisbot.panel.client import PterodactylAPI

SERVERS = 1000
EMBEDS = 50
TICK = 0.02
KEY = "ptlc_loopbench"
# (label, measured seconds, thresholds replacing the defaults or None)
RUNS: tuple[tuple[str, float, Thresholds | None], ...] = (
    ("defaults", 25.0, None),
    ("every poll an edit", 15.0, Thresholds(0.0, 0.0, 0.0, 0.0)),
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one run measured."""

    lags_ms: list[float]
    polls: int
    failed: int
    edits: int
    renders: int
    servers: int

    def lag(self, q: float) -> float:
        """Return the q-th quantile (0..1) of the lag, in milliseconds."""
        return self.lags_ms[min(len(self.lags_ms) - 1, int(len(self.lags_ms) * q))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(module: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )


async def _wait_for_panel(url: str) -> None:
    api = PterodactylAPI(url, KEY, max_retries=0, timeout=2)
    try:
        for _ in range(200):
            try:
                await api.whoami()
                return
            except Exception:
                await asyncio.sleep(0.1)
        raise RuntimeError("the simulated panel did not start")
    finally:
        await api.close()


def _sandbox_world(url: str) -> dict[str, Any]:
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/_sandbox/world", timeout=2) as answer:
                world: dict[str, Any] = json.load(answer)
                return world
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the Discord sandbox did not start")


async def _measure(panel_url: str, discord_url: str, world: dict[str, Any]) -> list[Figures]:
    guild = world["guilds"][0]
    guild_id = int(guild["id"])
    channel_ids = [int(channel["id"]) for channel in guild["channels"]]
    with tempfile.TemporaryDirectory() as workdir, discord_api.api_base(discord_url):
        settings = default_settings(
            panel_url=panel_url,
            api_key=KEY,
            discord_url=discord_url,
            workdir=Path(workdir),
            # Lets 1,000 servers be polled every 10 s (the default budget is 600 a minute).
            pterodactyl={"requests_per_minute": "100000"},
        )
        pipeline = await Pipeline.start(settings, clock=SystemClock(), work=Work())
        try:
            monitor = pipeline.monitor
            polled = asyncio.Event()

            def watch(_snap: ServerSnapshot, _previous: ServerSnapshot | None) -> None:
                if len(monitor.snapshots) >= SERVERS:
                    polled.set()

            monitor.add_listener(watch)
            monitor.start()
            await polled.wait()
            # Embeds for servers spread over the poll order, so their polls (and the edits
            # they ask for) come all through the cycle rather than in one burst.
            order = list(monitor.snapshots)
            await pipeline.post(guild_id, channel_ids, order[:: len(order) // EMBEDS][:EMBEDS])
            pipeline.board.attach()
            figures = []
            for _label, seconds, thresholds in RUNS:
                if thresholds is not None:
                    pipeline.board.thresholds = thresholds
                figures.append(await _run(pipeline, seconds))
            return figures
        finally:
            await pipeline.close()


async def _run(pipeline: Pipeline, seconds: float) -> Figures:
    """Tick for `seconds` and return how late the loop woke, and what the bot did meanwhile."""
    edits, renders = pipeline.board.stats.edits, pipeline.renderer.renders
    calls_before = _resources_calls(pipeline.api)
    lags: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        before = loop.time()
        await asyncio.sleep(TICK)
        lags.append(max(0.0, loop.time() - before - TICK) * 1000)
    calls = _resources_calls(pipeline.api)
    return Figures(
        lags_ms=sorted(lags),
        polls=calls[0] - calls_before[0],
        failed=calls[1] - calls_before[1],
        edits=pipeline.board.stats.edits - edits,
        renders=pipeline.renderer.renders - renders,
        servers=len(pipeline.monitor.servers),
    )


def _resources_calls(api: PterodactylAPI) -> tuple[int, int]:
    """Return the resources calls made so far, and how many were not answered 200."""
    counts = [(o, n) for (route, o), n in api.stats.snapshot().items() if "resources" in route]
    return sum(n for _, n in counts), sum(n for o, n in counts if o != "200")


@contextlib.contextmanager
def outside(servers: int) -> Iterator[tuple[str, str]]:
    """Run a simulated panel of `servers` and a Discord sandbox in subprocesses; give their URLs."""
    panel_port, discord_port = _free_port(), _free_port()
    panel_url = f"http://127.0.0.1:{panel_port}"
    discord_url = f"http://127.0.0.1:{discord_port}"
    panel = _spawn(
        "pterodisbot_sandbox.panel",
        *("--port", str(panel_port), "--servers", str(servers), "--api-key", KEY),
        *("--rate-limit", "1000000", "--log-level", "WARNING"),
    )
    # Discord's answers to a pump that keeps its pace never include a 429: none are simulated.
    sandbox = _spawn(
        "pterodisbot_sandbox.discord_server", "--port", str(discord_port), "--no-rate-limits"
    )
    try:
        asyncio.run(_wait_for_panel(panel_url))
        yield panel_url, discord_url
    finally:
        for process in (panel, sandbox):
            process.terminate()
            process.wait(10)


def main() -> None:
    """Start a 1,000-server panel and a Discord sandbox in subprocesses; print the lag figures."""
    logging.getLogger().setLevel(logging.ERROR)
    with outside(SERVERS) as (panel_url, discord_url):
        world = _sandbox_world(discord_url)
        began = time.perf_counter()
        results = asyncio.run(_measure(panel_url, discord_url, world))
        for (label, seconds, _), figures in zip(RUNS, results, strict=True):
            print(
                f"{label}: {figures.servers} servers, poll 10 s, {EMBEDS} embeds, "
                f"{seconds:.0f} s: loop lag p50 {figures.lag(0.5):.1f} ms, "
                f"p99 {figures.lag(0.99):.1f} ms, max {figures.lags_ms[-1]:.1f} ms; "
                f"{figures.polls} resources calls ({figures.failed} not 200), "
                f"{figures.edits} edits sent, {figures.renders} graph renders",
                flush=True,
            )
        print(
            f"(one bot; the first poll of every server and the posts before: "
            f"{time.perf_counter() - began:.0f} s in all)"
        )
