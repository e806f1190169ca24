"""`/metrics` at scale: the loop reads little, the text is built in a thread, and is unchanged.

The text of the per-server series is written without prometheus_client's objects (building them
stalled the loop); prometheus_client's own encoder of the same families is the reference.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from pterodisbot.app import build_bot
from pterodisbot.bot.bot import PterodactylBot
from pterodisbot.config import settings_from_sections
from pterodisbot.monitor import ServerStatus
from pterodisbot.web import WebServer
from pterodisbot_sandbox.panel import SimulatedPanel, default_fleet
from tests.fixtures.discord import poll_until
from tests.fixtures.panel import MakeSimPanel
from tests.fixtures.product import BOT_TOKEN, Product

FLEET = 2000
ODD_NAME = 'Say "hi" \\ then\nbye — ünï'


class Families(Collector):
    """Families already built, for prometheus_client's encoder."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class HeldExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's worker threads, holding every job until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, thread_name_prefix="held")
        self.gate = threading.Event()
        self._lock = threading.Lock()
        self.held = 0

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        def when_open() -> Any:
            with self._lock:
                self.held += 1
            self.gate.wait(30)
            return fn(*args, **kwargs)

        return super().submit(when_open)


async def test_the_text_is_what_prometheus_client_writes(product: Product) -> None:
    fleet = default_fleet(6, 0)
    # Every character a label value escapes, a unicode name, and a server without limits.
    fleet[0] = dataclasses.replace(
        fleet[0],
        name=ODD_NAME,
        identifier="0dd00001",
        uuid=None,
        limits=dataclasses.replace(fleet[0].limits, memory=2048),
    )
    fleet[1] = dataclasses.replace(
        fleet[1],
        limits=dataclasses.replace(fleet[1].limits, cpu=0, memory=0, disk=0),
        identifier="f4ee0002",
        uuid=None,
    )
    bot = await product.start(panel={"fleet": fleet})
    web = WebServer(bot, host="127.0.0.1", port=0)
    await web.start()
    try:
        read = web.collector.read()
        async with product.session.get(web.url + "/metrics") as answer:
            served = await answer.text()
    finally:
        await web.stop()

    assert read.render() == generate_latest(Families(read.families()))
    odd = read_snapshot(read.snapshots, "0dd00001")
    assert odd.server.name == ODD_NAME
    assert any(s.resources is None for s in read.snapshots)  # the node that is down
    # The odd server's labels as the text format escapes them, in the served text.
    labels = 'server_id="0dd00001",server_name="Say \\"hi\\" \\\\ then\\nbye — ünï"'
    lines = served.splitlines()
    other = next(status for status in ServerStatus if status is not odd.status)
    assert f'pterodisbot_server_state{{{labels},state="{odd.status}"}} 1.0' in lines
    assert f'pterodisbot_server_state{{{labels},state="{other}"}} 0.0' in lines
    assert f"pterodisbot_server_memory_limit_bytes{{{labels}}} 2.147483648e+09" in lines
    unlimited = [line for line in lines if 'server_id="f4ee0002"' in line]
    assert unlimited
    assert [line for line in unlimited if "_limit_" in line] == []


def read_snapshot(snapshots: Iterable[Any], identifier: str) -> Any:
    [snap] = [s for s in snapshots if s.server.identifier == identifier]
    return snap


@pytest.fixture
async def big_bot(make_sim_panel: MakeSimPanel, tmp_path: Path) -> AsyncIterator[PterodactylBot]:
    """A bot (no gateway, no cogs) that polled a 2,000-server panel once; its monitor then idle."""
    panel: SimulatedPanel = await make_sim_panel(servers=FLEET, rate_limit=1_000_000)
    sections = {
        "pterodactyl": {"url": panel.url, "requests_per_minute": "100000"},
        "discord": {"locations_file": str(tmp_path / "locations.json")},
        "monitoring": {"source": "poll"},
        "history": {"url": "none"},
    }
    env = {"DISCORD_TOKEN": BOT_TOKEN, "PTERODACTYL_API_KEY": panel.api_key}
    bot = build_bot(settings_from_sections(sections, env=env, base_dir=tmp_path), extensions=())
    bot.services.monitor.poll_interval = 0.5
    await bot.services.monitor.poll_once()
    try:
        yield bot
    finally:
        await bot.services.api.close()
        await bot.close()


async def test_a_scrape_of_2000_servers_leaves_the_loop_free(big_bot: PterodactylBot) -> None:
    monitor = big_bot.services.monitor
    assert len(monitor.snapshots) == FLEET
    web = WebServer(big_bot, host="127.0.0.1", port=0)
    await web.start()
    loop = asyncio.get_running_loop()
    workers = HeldExecutor()
    loop.set_default_executor(workers)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0)
            ticks += 1

    try:
        # On the loop, a scrape reads no per-server series: it keeps the snapshots themselves.
        read = web.collector.read()
        assert all(a is b for a, b in zip(read.snapshots, monitor.snapshots.values(), strict=True))
        on_loop = [s for family in (*read.head, *read.tail) for s in family.samples]
        assert [s for s in on_loop if "server_id" in s.labels] == []

        async with aiohttp.ClientSession() as session:
            ticking = asyncio.create_task(ticker())
            scraping = asyncio.create_task(_get(session, web.url + "/metrics"))
            # The text waits for a worker thread: the loop meanwhile ticks and answers.
            await poll_until(
                lambda: asyncio.sleep(0, workers.held == 1), within=10, what="the render job"
            )
            before = ticks
            # 503: this bot never logged in to Discord; what matters is that it answered.
            health, _ = await _get(session, web.url + "/healthz")
            assert health == 503
            assert ticks > before
            assert not scraping.done()
            workers.gate.set()
            status, text = await scraping
            stop.set()
            await ticking
    finally:
        workers.gate.set()
        await web.stop()
        workers.shutdown(wait=True)

    assert status == 200
    lines = text.splitlines()
    assert f"pterodisbot_servers_watched {float(FLEET)}" in lines
    states = [line for line in lines if line.startswith("pterodisbot_server_state{")]
    assert len(states) == FLEET * 7
    assert sum(1 for line in states if line.endswith(" 1.0")) == FLEET


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as answer:
        return answer.status, await answer.text()
