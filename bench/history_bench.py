"""The history store: sustained writes, a 30-day read, bytes per server, history graphs.

Every figure drives the bot's own code: `open_store()` (SQLite here; PostgreSQL too when a
throwaway cluster can be started, `tests/fixtures/postgres.py`), the recorder the bot builds
(`app.build_services`, the monitor polling a simulated panel over HTTP) and `GraphRenderer`.
Stores are filled through `HistoryStore.write()` and rolled up by `maintain()`, as the bot does;
old samples are written at a coarser step than the bot's 10 s (what each line says), since only
their rolled-up buckets are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bench._board import Pipeline, Work, default_settings

# The panel is started and awaited as the loop benchmark does, with its key.
from bench.loop_bench import KEY, _sandbox_world, outside
from pterodisbot.bot import discord_api
from pterodisbot.clock import SystemClock
from pterodisbot.config import HistoryURL
from pterodisbot.graphs import GraphRenderer
from pterodisbot.store import (
    DAY,
    HOUR,
    MINUTE,
    RAW,
    WINDOWS,
    HistoryStore,
    SampleRow,
    open_store,
)
from pterodisbot.units import GIB, MIB
from tests.fixtures.postgres import PostgresCluster, make_cluster

NOW = 1_800_000_000.0
WRITE_SERVERS = 2_000
WRITE_SECONDS = 120.0  # 12 flushes at the default 10 s
TICK = 0.02
READ_SERVERS = 200
READ_DAYS = 30
READS = 40
SIZE_SERVERS = 5


def report(label: str, figures: str) -> None:
    """Print one aligned line of results."""
    print(f"{label:<58} {figures}", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def sqlite_store(path: Path) -> HistoryStore:
    """Return the bot's SQLite store at `path` (not yet open)."""
    store = open_store(HistoryURL("sqlite", path=path))
    assert store is not None
    return store


def rows(
    server: str, start: float, end: float, step: float, seed: int, *, players: bool = True
) -> list[SampleRow]:
    """Return a running server's samples every `step` s over `[start, end)`, a wave of load.

    With `players` its game answers every query (0 to 40 online, a daily wave); without, it is
    not a game the bot asks (no players stored).
    """
    out = []
    t = start
    while t < end:
        phase = t / 3600.0 + seed
        out.append(
            SampleRow(
                server=server,
                t=t,
                state="running",
                cpu_percent=80 + 60 * math.sin(phase) + 15 * math.sin(t / 97.0),
                memory_bytes=int(3 * GIB + GIB * math.sin(phase / 5)),
                disk_bytes=12 * GIB,
                rx_rate=40_000.0 + 10_000 * math.sin(phase * 3),
                tx_rate=9_000.0,
                uptime_ms=int((t - start) * 1000),
                span_s=step,
                players=round(20 + 20 * math.sin(phase / 3.82)) if players else None,
            )
        )
        t += step
    return out


async def fill(
    store: HistoryStore,
    servers: Sequence[str],
    plan: Sequence[tuple[float, float, float]],
    *,
    batch: int = 20_000,
    players: bool = True,
) -> int:
    """Write each server's samples for every (age from, age to, step) of `plan`, then roll up."""
    written = 0
    for older, newer, step in plan:
        pending: list[SampleRow] = []
        for n, server in enumerate(servers):
            pending.extend(rows(server, NOW - older, NOW - newer, step, n, players=players))
            if len(pending) >= batch:
                await store.write(pending, [])
                written += len(pending)
                pending = []
        if pending:
            await store.write(pending, [])
            written += len(pending)
        # Rolled up chunk by chunk, as the bot's maintenance would have (pages freed by the raw
        # samples it drops are reused by the next chunk).
        await store.maintain(NOW - newer)
    await store.maintain(NOW)
    return written


# ----- read: a 30-day graph and its uptime from a store of 200 servers -----


async def read_30_days(workdir: Path) -> None:
    """Build 30 days of 200 servers; time series() (30d window) + uptime()."""
    store = sqlite_store(workdir / "read.sqlite3")
    await store.open()
    servers = [f"srv{n:05d}" for n in range(READ_SERVERS)]
    began = time.perf_counter()
    # Hourly samples for what only the hour tier keeps, 10 min for the minute tier's days, 60 s
    # for the raw days: every tier holds rows for the whole range, as at steady state.
    plan = ((READ_DAYS * DAY, 8 * DAY, 3600.0), (8 * DAY, 2 * DAY, 600.0), (2 * DAY, 0.0, 60.0))
    written = await fill(store, servers, plan)
    built = time.perf_counter() - began
    window = WINDOWS["30d"]
    times = []
    points = 0
    for n in range(READS):
        server = servers[(n * 37) % len(servers)]
        started = time.perf_counter()
        series = await store.series(server, NOW - window.seconds, NOW, window.step_s)
        await store.uptime(server, NOW - window.seconds, NOW)
        times.append((time.perf_counter() - started) * 1000)
        points = len(series.points)
    size = await store.size_bytes()
    day, month = WINDOWS["24h"], WINDOWS["30d"]
    graphs = {
        w.name: await store.series(servers[0], NOW - w.seconds, NOW, w.step_s) for w in (day, month)
    }
    await store.close()
    report(
        f"read 30d series (step {window.step_s} s) + uptime, {READ_SERVERS} servers",
        f"p50 {percentile(times, 50):6.1f} ms   p95 {percentile(times, 95):6.1f} ms"
        f"   ({points} points; target p95 < 100 ms)",
    )
    report(
        "  (store built through write() + maintain())",
        f"{written:,} samples (1 h / 10 min / 60 s steps by age) in {built:.0f} s;"
        f" {size / MIB:.0f} MiB",
    )
    renderer = GraphRenderer()
    for name, series in graphs.items():
        renderer.render_series(series, cpu_limit_percent=400.0, memory_limit_bytes=8 * GIB)
        drawn = []
        for _ in range(20):
            started = time.perf_counter()
            renderer.render_series(series, cpu_limit_percent=400.0, memory_limit_bytes=8 * GIB)
            drawn.append((time.perf_counter() - started) * 1000)
        report(
            f"GraphRenderer.render_series, {name} window ({len(series.points)} buckets)",
            f"p50 {percentile(drawn, 50):6.1f} ms   (target <= 15 ms)",
        )


# ----- bytes per server at steady state -----


async def bytes_per_server(workdir: Path, *, players: bool) -> None:
    """Fill a store to steady state but the hour tier's length; weigh each table in the file.

    `players`: every sample has an answer of the game's (else none: servers that are no game).
    """
    servers = [f"size{n:04d}" for n in range(SIZE_SERVERS)]
    hour_days = 30
    # One sample an hour for 30 days before the minute tier's 8 (the hour tier's rows), one a
    # minute for the minute tier's days before the raw 2 (its buckets), then the bot's 10 s.
    plan = (
        (MINUTE.retention_s + hour_days * DAY, MINUTE.retention_s, 3600.0),
        (MINUTE.retention_s, RAW.retention_s, 60.0),
        (RAW.retention_s, 0.0, 10.0),
    )
    path = workdir / f"size-{players}.sqlite3"
    store = sqlite_store(path)
    await store.open()
    await fill(store, servers, plan, players=players)
    file_bytes = await store.size_bytes()
    await store.close()
    tables = _table_bytes(path)
    per_server = {name: used / SIZE_SERVERS for name, (used, _rows) in tables.items()}
    hour_used, hour_rows = tables["hour"]
    per_hour_row = hour_used / max(1, hour_rows)
    hours_kept = HOUR.retention_s // 3600
    hour_steady = hours_kept * per_hour_row
    measured = sum(v for name, v in per_server.items() if name != "hour")
    report(
        f"bytes per server at steady state (SQLite, {'with' if players else 'no'} players)",
        f"{(measured + hour_steady) / 1e6:.2f} MB   (target ~3 MB)",
    )
    report(
        "  measured: raw 2 d @10 s, minute 8 d, changes, indexes",
        ", ".join(
            f"{name} {value / 1e6:.2f} MB"
            for name, value in sorted(per_server.items())
            if name != "hour" and value >= 1000
        ),
    )
    report(
        "  hour tier: row size measured, 400 d extrapolated",
        f"{per_hour_row:.0f} B/row ({hour_rows // SIZE_SERVERS:,} rows a server measured)"
        f" x {hours_kept:,} = {hour_steady / 1e6:.2f} MB",
    )
    report(
        "  the file (free pages and the WAL included)",
        f"{file_bytes / SIZE_SERVERS / 1e6:.2f} MB per server ({SIZE_SERVERS} servers)",
    )


def _table_bytes(path: Path) -> dict[str, tuple[int, int]]:
    """Return the bytes of pages each table (and its indexes) uses in a closed SQLite file."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        used = dict(db.execute("SELECT name, SUM(pgsize - unused) FROM dbstat GROUP BY name"))
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
        counts = {n: db.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0] for n in names}
    out: dict[str, tuple[int, int]] = {}
    for name, size in used.items():
        table = name if name in counts else next((n for n in counts if n in name), name)
        previous, _ = out.get(table, (0, 0))
        out[table] = (previous + int(size), counts.get(table, 0))
    return out


# ----- sustained writes: 2,000 servers polled every 10 s through the bot's recorder -----


async def _write_run(panel_url: str, discord_url: str, url: str, workdir: Path) -> str:
    settings = default_settings(
        panel_url=panel_url,
        api_key=KEY,
        discord_url=discord_url,
        workdir=workdir,
        pterodactyl={"requests_per_minute": "100000"},
        history={"url": url},
    )
    pipeline = await Pipeline.start(settings, clock=SystemClock(), work=Work())
    history = pipeline.services.history
    try:
        await history.start(pipeline.services.metrics, time.time() - 3600)
        monitor = pipeline.monitor
        polled = asyncio.Event()
        monitor.add_listener(
            lambda _s, _p: polled.set() if len(monitor.snapshots) >= WRITE_SERVERS else None
        )
        monitor.start()
        await polled.wait()
        loop = asyncio.get_running_loop()
        lags: list[float] = []
        flushes: list[float] = []
        before = history.stats()
        last = before
        end = loop.time() + WRITE_SECONDS
        while loop.time() < end:
            started = loop.time()
            await asyncio.sleep(TICK)
            lags.append(max(0.0, loop.time() - started - TICK) * 1000)
            now = history.stats()
            if now.flushes > last.flushes:
                flushes.append((now.flush_seconds - last.flush_seconds) * 1000)
                last = now
        rows_written = last.rows_written - before.rows_written
    finally:
        # The monitor first (no more samples), then the recorder's last flush.
        await pipeline.close()
        await history.close()
    flush = (
        f"flush p50 {percentile(flushes, 50):.0f} ms p95 {percentile(flushes, 95):.0f} ms"
        f" max {max(flushes):.0f} ms ({len(flushes)} flushes, {rows_written:,} rows); "
        if flushes
        else ""
    )
    return f"{flush}loop lag p99 {percentile(lags, 99):.1f} ms"


def sustained_writes(workdir: Path, stores: Sequence[tuple[str, Callable[[], str]]]) -> None:
    """Run the monitor over a 2,000-server panel with each store, then without one."""
    with outside(WRITE_SERVERS) as (panel_url, discord_url):
        _sandbox_world(discord_url)
        for label, url in (*stores, ("none", lambda: "none")):
            with discord_api.api_base(discord_url):
                figures = asyncio.run(_write_run(panel_url, discord_url, url(), workdir))
            report(
                f"writes, {WRITE_SERVERS:,} servers @10 s, {WRITE_SECONDS:.0f} s, {label}", figures
            )


def postgres() -> PostgresCluster | None:
    """Start a throwaway PostgreSQL cluster as the tests do, or say why not and return None."""
    try:
        return make_cluster()
    except (pytest.skip.Exception, pytest.fail.Exception) as why:
        report("PostgreSQL", f"not measured: {why}")
        return None


def main() -> None:
    """Measure and print."""
    logging.getLogger().setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        asyncio.run(read_30_days(workdir))
        asyncio.run(bytes_per_server(workdir, players=True))
        asyncio.run(bytes_per_server(workdir, players=False))
        stores: list[tuple[str, Callable[[], str]]] = [
            ("sqlite", lambda: f"sqlite:///{workdir / 'writes.sqlite3'}")
        ]
        cluster = postgres()
        if cluster is not None:
            stores.append(("postgresql", lambda: cluster.url(cluster.create_database())))
        try:
            sustained_writes(workdir, stores)
        finally:
            if cluster is not None:
                cluster.remove()
