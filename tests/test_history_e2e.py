"""The history's write path end to end: the real bot, both sandboxes, real SQLite and PostgreSQL.

A store made unusable for a while (SQLite files made immutable with `chattr +i`, which binds
root too; the PostgreSQL cluster stopped) must cost neither monitoring nor the embeds, and what
waited in memory must land when it is back; a restart refills the live graphs from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pterodisbot.clock import FakeClock
from pterodisbot.config import HistoryURL
from pterodisbot.monitor import ServerSnapshot, ServerStatus
from pterodisbot.server_metrics_graphs import MetricArrays, ServerMetricsManager
from pterodisbot.store import (
    HistoryRecorder,
    HistorySeries,
    HistoryStore,
    MaintenanceReport,
    SampleRow,
    StateChange,
    Uptime,
    open_store,
)
from pterodisbot.web import WebServer
from tests.fixtures.discord import poll_until
from tests.fixtures.postgres import PostgresCluster
from tests.fixtures.product import Product
from tests.snapshots import make_server, make_snapshot

RED = 0xED4245
FAST = {"history": {"flush_interval": "1"}}


class CountingStore:
    """A real store, and how many times the recorder called `write()` on it."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.writes = 0

    @property
    def shown(self) -> str:
        return self.store.shown

    async def open(self) -> None:
        await self.store.open()

    async def write(self, samples: Sequence[SampleRow], changes: Sequence[StateChange]) -> None:
        self.writes += 1
        await self.store.write(samples, changes)

    async def series(self, server: str, start: float, end: float, step_s: int) -> HistorySeries:
        return await self.store.series(server, start, end, step_s)

    async def uptime(self, server: str, start: float, end: float) -> Uptime:
        return await self.store.uptime(server, start, end)

    async def state_changes(self, server: str, start: float, end: float) -> Sequence[StateChange]:
        return await self.store.state_changes(server, start, end)

    async def recent(self, since: float) -> Mapping[str, MetricArrays]:
        return await self.store.recent(since)

    async def maintain(self, now: float) -> MaintenanceReport:
        return await self.store.maintain(now)

    async def size_bytes(self) -> int:
        return await self.store.size_bytes()

    async def close(self) -> None:
        await self.store.close()


def sqlite_url(path: Path) -> HistoryURL:
    return HistoryURL("sqlite", path=path)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> HistoryURL:
    """A fresh store of each backend: a file in the test's folder, a database of its own."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "history.sqlite3")
    from pterodisbot.config import settings_from_sections

    url: str = request.getfixturevalue("postgres_url")
    sections = {"pterodactyl": {"url": "http://127.0.0.1:1"}, "history": {"url": url}}
    settings = settings_from_sections(sections, require_secrets=False, base_dir=tmp_path)
    return settings.history.url


@contextlib.contextmanager
def immutable(folder: Path) -> Iterator[None]:
    """Make a folder and its files immutable (root included); undo it whatever happens."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    # Not SQLite's -shm: it is mapped into memory, and a write to an immutable mapped page is a
    # SIGBUS that kills the process rather than an error; the database and its WAL are enough.
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith("-shm"))
    paths = [folder, *files]
    done: list[Path] = []
    try:
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)


async def until(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Wait until `condition()` holds; fail saying `what` was awaited."""

    async def probe() -> bool:
        return condition()

    await poll_until(probe, within=within, what=what)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def snapshots(clock: FakeClock) -> list[ServerSnapshot]:
    """Two servers polled twice; the second one crashes in between."""
    a, b = make_server(identifier="aaaa0001"), make_server(identifier="bbbb0002")
    t = clock.time()
    return [
        make_snapshot(server=a, t=t, cpu_percent=10),
        make_snapshot(server=b, t=t + 1, cpu_percent=20),
        make_snapshot(server=a, t=t + 5, cpu_percent=30),
        make_snapshot(ServerStatus.OFFLINE, server=b, t=t + 6, cpu_percent=0),
    ]


async def test_samples_and_state_changes_land_after_one_flush_interval_in_one_write(
    store_url: HistoryURL,
) -> None:
    clock = FakeClock()
    real = open_store(store_url)
    assert real is not None
    store = CountingStore(real)
    recorder = HistoryRecorder(
        store, flush_interval=10, buffer_limit=1000, expected_cycle=lambda: 10.0, clock=clock
    )
    await recorder.start(ServerMetricsManager(capacity=10), since=clock.time() - 100)
    try:
        previous: dict[str, ServerSnapshot] = {}
        for snapshot in snapshots(clock):
            identifier = snapshot.server.identifier
            recorder.observe(snapshot, previous.get(identifier))
            previous[identifier] = snapshot
        clock.advance(9)
        await settle()
        assert store.writes == 0
        clock.advance(1)
        await until(lambda: store.writes == 1, "the flush", 5)
        await until(lambda: recorder.stats().rows_written == 7, "7 rows written", 5)
        t0 = clock.time() - 10
        recent = await store.recent(t0 - 1)
        assert [float(x) for x in recent["aaaa0001"].t] == [t0, t0 + 5]
        assert [float(x) for x in recent["aaaa0001"].cpu_percent] == [10.0, 30.0]
        assert [float(x) for x in recent["bbbb0002"].t] == [t0 + 1, t0 + 6]
        changes = await store.state_changes("bbbb0002", t0 - 1, t0 + 100)
        assert [(c.t - t0, c.before, c.after) for c in changes] == [
            (1.0, None, "running"),
            (6.0, "running", "offline"),
        ]
        # Spans: one cycle for the first, then the time since: 10 s running, then 5 s offline.
        uptime = await store.uptime("bbbb0002", t0 - 20, t0 + 20)
        assert (uptime.running_s, uptime.offline_s) == (10.0, 5.0)
        assert store.writes == 1
    finally:
        await recorder.close()


def _rows(product: Product) -> int:
    return product.services.history.stats().rows_written


def _sqlite_folder(product: Product) -> Path:
    path = product.settings().history.url.path
    assert path is not None
    return path.parent


def sample_times(server: str, into: list[float]) -> Callable[[ServerSnapshot, object], None]:
    """Return a monitor listener noting the time of each sample `server` gets."""

    def note(snapshot: ServerSnapshot, _previous: object) -> None:
        if snapshot.server.identifier == server and snapshot.sample is not None:
            into.append(snapshot.sample.t)

    return note


async def assert_landed(product: Product, server: str, taken: list[float], since: float) -> None:
    """Check, from a connection of the test's own, that every sample taken is in the store."""
    store = open_store(product.settings().history.url)
    assert store is not None
    await store.open()
    try:
        stored = [float(t) for t in (await store.recent(since - 1))[server].t]
        changes = await store.state_changes(server, since, since + 600)
    finally:
        await store.close()
    assert len(taken) >= 3
    # The store keeps times to the millisecond.
    missing = [t for t in taken if not any(abs(t - s) <= 0.001 for s in stored)]
    assert missing == [], (len(missing), len(taken))
    assert [(c.before, c.after) for c in changes] == [("running", "offline")]


async def test_sqlite_unwritable_for_a_while_embeds_go_on_and_samples_land_when_back(
    product: Product, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pterodisbot.store")
    await product.start(settings=FAST)
    history = product.services.history
    await until(lambda: _rows(product) > 0, "a first flush", 10)
    running = product.panel.pick("running")
    message_id = await product.post_status(running.identifier)
    taken: list[float] = []
    with immutable(_sqlite_folder(product)):
        failing_since = product.services.clock.time()
        product.services.monitor.add_listener(sample_times(running.identifier, taken))
        await until(lambda: not history.stats().writable, "a failed flush", 10)
        written = history.stats().rows_written
        await product.sim("POST", f"/servers/{running.identifier}/crash")

        async def red() -> bool:
            message = await product.control.message("status", message_id)
            return bool(message["embeds"][0]["color"] == RED)

        await poll_until(red, within=8, what="the embed to turn red while the store is down")
        await asyncio.sleep(2)
        assert history.stats().rows_written == written
        waiting = history.stats().buffered
        assert waiting > 0
    await until(lambda: history.stats().writable, "the store back", 10)
    assert history.stats().buffered < waiting
    # What waited is in the store: every sample taken during the outage, and the crash itself.
    await product.services.monitor.stop()
    await history.close()
    await assert_landed(product, running.identifier, taken, failing_since)
    lines = [r.getMessage() for r in caplog.records if r.name == "pterodisbot.store._recorder"]
    assert len([line for line in lines if line.startswith("history store unreachable:")]) == 1
    assert len([line for line in lines if " is back: " in line]) == 1


async def test_postgresql_stopped_for_a_while_embeds_go_on_and_samples_land_when_back(
    product: Product, own_postgres_cluster: PostgresCluster
) -> None:
    cluster = own_postgres_cluster
    database = await asyncio.to_thread(cluster.create_database)
    await product.start(settings={"history": {"url": cluster.url(database), "flush_interval": "1"}})
    history = product.services.history
    await until(lambda: _rows(product) > 0, "a first flush", 10)
    running = product.panel.pick("running")
    message_id = await product.post_status(running.identifier)
    await asyncio.to_thread(cluster.stop, "fast")
    stopped_at = product.services.clock.time()
    taken: list[float] = []
    product.services.monitor.add_listener(sample_times(running.identifier, taken))
    await until(lambda: not history.stats().writable, "a failed flush", 10)
    written = history.stats().rows_written
    await product.sim("POST", f"/servers/{running.identifier}/crash")

    async def red() -> bool:
        message = await product.control.message("status", message_id)
        return bool(message["embeds"][0]["color"] == RED)

    await poll_until(red, within=8, what="the embed to turn red while the database is down")
    assert history.stats().rows_written == written
    assert history.stats().buffered > 0
    await asyncio.to_thread(cluster.start)
    await until(lambda: history.stats().writable, "the store back", 20)
    await product.services.monitor.stop()
    assert await history.flush()
    await assert_landed(product, running.identifier, taken, stopped_at)


async def test_a_store_that_cannot_open_at_start_is_one_line_and_opens_later(
    product: Product, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    folder = tmp_path / "locked"
    folder.mkdir()
    url = f"sqlite:///{folder / 'history.sqlite3'}"
    with immutable(folder):
        await product.start(settings={"history": {"url": url, "flush_interval": "1"}})
        assert product.bot is not None
        assert product.bot.is_watching()
        await asyncio.sleep(1.5)
        assert product.services.history.stats().rows_written == 0
    await until(lambda: _rows(product) > 0, "the store opened and written", 10)
    problems = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    assert problems[0].levelno == logging.ERROR
    assert problems[0].exc_info is None
    assert problems[0].getMessage().startswith(f"history store sqlite:///{folder}/history.sqlite3 ")
    assert "Traceback" not in caplog.text
    # Nothing of the wait was lost: the samples taken while it was closed are in the store.
    assert product.services.history.stats().dropped == 0


async def test_after_a_restart_the_live_graph_is_full_from_the_store(product: Product) -> None:
    await product.start(settings=FAST)
    running = product.panel.pick("running")
    ring = product.services.metrics[running.identifier]
    await until(lambda: len(ring) >= 6, "six polls", 10)
    await product.stop_bot()  # flushes everything on close
    before = ring.samples()
    bot = await product.restart(settings=FAST)
    refilled = bot.services.metrics[running.identifier].samples()
    # The store keeps times to the millisecond; the new bot's first poll came 0.3 s later.
    old = refilled.t <= before.t[-1] + 0.001
    assert len(refilled.t[old]) == len(before)
    assert max(abs(refilled.t[old] - before.t)) <= 0.001
    # ... and CPU to the hundredth of a percent.
    assert max(abs(refilled.cpu_percent[old] - before.cpu_percent)) <= 0.005 + 1e-6
    assert list(refilled.state[old]) == list(before.state)
    # The graph the embed draws now has the whole restored window, not "Collecting data…".
    window = bot.services.settings.monitoring.graph_window
    now = bot.services.clock.time()
    shown = bot.services.metrics[running.identifier].window(window, now)
    assert len(shown) >= len(before) + 1


async def test_history_metrics_are_the_recorders_exact_counts(product: Product) -> None:
    await product.start(settings=FAST)
    services = product.services
    history = services.history
    assert isinstance(history, HistoryRecorder)
    server = WebServer(product.bot, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    await server.start()
    try:
        await until(lambda: _rows(product) > 0, "a first flush", 10)
        await services.monitor.stop()
        assert await history.flush()
        await history.maintain()
        # What the files take now: the database and its write-ahead log.
        path = product.settings().history.url.path
        assert path is not None
        on_disk = sum(
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
        samples = await _scrape(product, server)
        stored_rows = await open_and_count(product)
        assert samples["pterodisbot_history_rows_written_total"] == stored_rows
        assert samples["pterodisbot_history_flush_seconds_count"] == history.stats().flushes
        assert samples["pterodisbot_history_buffered_samples"] == 0
        assert samples["pterodisbot_history_dropped_samples_total"] == 0
        assert samples["pterodisbot_history_store_up"] == 1
        assert samples["pterodisbot_history_database_bytes"] == on_disk
        # The store failing, with room for 3 samples: the rest are dropped and counted.
        history.buffer_limit = 3
        with immutable(_sqlite_folder(product)):
            for _ in range(5):
                assert await services.monitor.poll_server(product.panel.pick("running").identifier)
            assert not await history.flush()
            samples = await _scrape(product, server)
        assert samples["pterodisbot_history_buffered_samples"] == 3
        assert samples["pterodisbot_history_dropped_samples_total"] == 2
        assert samples["pterodisbot_history_store_up"] == 0
    finally:
        await server.stop()


async def open_and_count(product: Product) -> int:
    """Count the rows in the bot's store, from a connection of the test's own."""
    store = open_store(product.settings().history.url)
    assert store is not None
    await store.open()
    try:
        recent = await store.recent(0)
        samples = sum(len(arrays) for arrays in recent.values())
        changes = 0
        for identifier in recent:
            changes += len(await store.state_changes(identifier, 0, 2**40))
        return samples + changes
    finally:
        await store.close()


async def _scrape(product: Product, server: WebServer) -> dict[str, float]:
    async with product.session.get(server.url + "/metrics") as answer:
        text = await answer.text()
    return {
        sample.name: float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("pterodisbot_history_")
    }
