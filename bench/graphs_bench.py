"""Graph rendering and metric history: time per graph, and memory for 1,000 servers' histories.

Compares a naive pyplot draw+savefig with a reused figure redrawn in full and with
`GraphRenderer` (cached static layer, two collections, hand-written PNG), on the workload of
the bot: a 15-minute window of 90 samples, one new sample per render.
"""

from __future__ import annotations

import asyncio
import gc
import io
import itertools
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from pterodisbot.config import settings_from_sections
from pterodisbot.graphs import GraphRenderer
from pterodisbot.panel.models import PowerState, Resources
from pterodisbot.server_metrics_graphs import (
    BYTES_PER_SAMPLE,
    MetricArrays,
    ServerHistory,
    ServerMetricsManager,
)
from pterodisbot.units import GIB, MIB

NOW = 1_700_000_000.0
INTERVAL = 10.0
WINDOW = 900.0
DAY_SAMPLES = 8_640
SERVERS = 1_000


def reading(i: int, rng: np.random.Generator) -> Resources:
    """Return a plausible running server's reading number `i`."""
    return Resources(
        state=PowerState.RUNNING,
        is_suspended=False,
        memory_bytes=int(2.2 * GIB + rng.normal(0, 0.15 * GIB)),
        cpu_absolute=float(abs(90 + 50 * np.sin(i / 9) + rng.normal(0, 12))),
        disk_bytes=5 * GIB,
        network_rx_bytes=40_000 * i,
        network_tx_bytes=9_000 * i,
        uptime_ms=int(INTERVAL * 1000 * (i + 1)),
    )


def players_of(i: int) -> int:
    """Return a plausible players count for sample `i` (a game that answers every time)."""
    return int(14 + 10 * np.sin(i / 13))


def window_history(
    identifier: str, rng: np.random.Generator, *, players: bool = False
) -> ServerHistory:
    """Return a history holding one window of samples (90, every 10 s), up to NOW."""
    history = ServerHistory(identifier, capacity=DAY_SAMPLES)
    for i in range(90):
        count = players_of(i) if players else None
        history.record(NOW - WINDOW + INTERVAL * i, reading(i, rng), players=count)
    return history


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile of `values` (q in 0..100)."""
    return float(np.percentile(values, q))


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Run `action` `repeat` times and return each run's milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def naive_pyplot(history: ServerHistory, repeat: int) -> list[float]:
    """Time the obvious approach: a new pyplot figure, plot, savefig, close, per graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays = history.window(WINDOW, NOW)
    x = arrays.t - NOW

    def draw() -> None:
        fig, (cpu, memory) = plt.subplots(2, 1, figsize=(6, 3), dpi=100, sharex=True)
        cpu.plot(x, arrays.cpu_percent, color="#5865f2")
        cpu.fill_between(x, arrays.cpu_percent, alpha=0.2, color="#5865f2")
        memory.plot(x, arrays.memory_bytes / GIB, color="#57f287")
        memory.fill_between(x, arrays.memory_bytes / GIB, alpha=0.2, color="#57f287")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", facecolor="#2b2d31")
        plt.close(fig)

    return timed(draw, repeat)


def reused_figure_full_redraw(history: ServerHistory, repeat: int) -> list[float]:
    """Time one reused OO figure whose lines are updated, then fully redrawn and saved."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arrays = history.window(WINDOW, NOW)
    x = arrays.t - NOW
    figure = Figure(figsize=(6, 3), dpi=100, facecolor="#2b2d31")
    FigureCanvasAgg(figure)
    cpu, memory = figure.subplots(2, 1, sharex=True)
    (cpu_line,) = cpu.plot(x, arrays.cpu_percent, color="#5865f2")
    (memory_line,) = memory.plot(x, arrays.memory_bytes / GIB, color="#57f287")
    rng = np.random.default_rng(2)

    def draw() -> None:
        cpu_line.set_ydata(arrays.cpu_percent + rng.normal(0, 1, len(x)))
        memory_line.set_ydata(arrays.memory_bytes / GIB)
        cpu.relim()
        cpu.autoscale_view()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")

    return timed(draw, repeat)


def renderer_sliding_window(
    repeat: int, *, new_titles: bool = False, players: bool = False
) -> tuple[list[float], float, list[int]]:
    """Time GraphRenderer.render with one new sample per render (as the bot does).

    With `new_titles`, every render has a title never drawn before, so its text is laid out
    and rasterised again instead of coming from the renderer's stamps. With `players`, every
    sample has a players count: the graph carries its line and right-hand axis.
    """
    rng = np.random.default_rng(1)
    history = window_history("bench0001", rng, players=players)
    renderer = GraphRenderer()
    renders = itertools.count()

    def draw(now: float) -> bytes:
        return renderer.render(
            history.window(WINDOW, now),
            cpu_limit_percent=200.0,
            memory_limit_bytes=4 * GIB,
            window_seconds=WINDOW,
            now=now,
            title=f"Survival SMP {next(renders)}" if new_titles else "Survival SMP",
        )

    first = timed(lambda: draw(NOW), 1)[0]
    times: list[float] = []
    sizes: list[int] = []
    for k in range(repeat):
        now = NOW + INTERVAL * (k + 1)
        history.record(now, reading(90 + k, rng), players=players_of(90 + k) if players else None)
        began = time.perf_counter()
        png = draw(now)  # includes the window snapshot, as the bot's call does
        times.append((time.perf_counter() - began) * 1000)
        sizes.append(len(png))
    return times, first, sizes


def renderer_cache_hit(repeat: int) -> list[float]:
    """Time `render_history` when the history has not changed since the last render."""
    history = window_history("bench0002", np.random.default_rng(3))
    renderer = GraphRenderer()

    def draw() -> None:
        renderer.render_history(
            history,
            cpu_limit_percent=200.0,
            memory_limit_bytes=4 * GIB,
            window_seconds=WINDOW,
            now=NOW,
        )

    draw()
    times = timed(draw, repeat)
    assert renderer.renders == 1
    return times


def renderer_async(repeat: int) -> list[float]:
    """Time `render_async` (snapshot, worker thread, cache store) with new data each time."""
    rng = np.random.default_rng(4)
    history = window_history("bench0003", rng)
    renderer = GraphRenderer()

    async def run() -> list[float]:
        times = []
        for k in range(repeat + 1):
            now = NOW + INTERVAL * k
            history.record(now, reading(90 + k, rng))
            began = time.perf_counter()
            await renderer.render_async(
                history,
                cpu_limit_percent=200.0,
                memory_limit_bytes=4 * GIB,
                window_seconds=WINDOW,
                now=now,
            )
            times.append((time.perf_counter() - began) * 1000)
        return times[1:]  # the first builds the figure

    return asyncio.run(run())


def renderer_day_window(repeat: int) -> list[float]:
    """Time a 24-hour window: 8,640 samples in one graph."""
    rng = np.random.default_rng(5)
    history = ServerHistory("bench0004", capacity=DAY_SAMPLES)
    for i in range(DAY_SAMPLES):
        history.record(NOW - 86_400 + INTERVAL * (i + 1), reading(i, rng))
    renderer = GraphRenderer()
    snapshot = history.window(86_400, NOW)

    def draw() -> None:
        renderer.render(
            snapshot,
            cpu_limit_percent=None,
            memory_limit_bytes=None,
            window_seconds=86_400,
            now=NOW,
        )

    draw()
    return timed(draw, repeat)


def record_cost(count: int) -> float:
    """Return microseconds per `ServerMetricsManager.record()` call."""
    rng = np.random.default_rng(6)
    readings = [reading(i, rng) for i in range(1_000)]
    manager = ServerMetricsManager(capacity=DAY_SAMPLES)
    identifiers = [f"srv{n:05d}" for n in range(100)]
    began = time.perf_counter()
    for i in range(count):
        manager.record(identifiers[i % 100], NOW + i, readings[i % 1_000])
    return (time.perf_counter() - began) / count * 1e6


def resident_bytes() -> int:
    """Return this process' resident set size (Linux), 0 where unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def auto_ring_size() -> int:
    """Return the ring size `[monitoring] history_size = auto` gives at the default settings."""
    sections = {"pterodactyl": {"url": "http://127.0.0.1:1"}}
    settings = settings_from_sections(sections, require_secrets=False)
    return settings.monitoring.history_size


def history_memory(capacity: int = DAY_SAMPLES) -> tuple[int, int, int, float, float]:
    """Fill 1,000 full rings of `capacity`; return (nbytes, traced, RSS, fill s, snapshot ms)."""
    rng = np.random.default_rng(7)
    filler = ServerHistory("template", capacity=capacity)
    for i in range(capacity):
        filler.record(NOW + INTERVAL * i, reading(i, rng))
    day: MetricArrays = filler.samples()
    del filler
    gc.collect()
    rss_before = resident_bytes()
    tracemalloc.start()
    began = time.perf_counter()
    manager = ServerMetricsManager(capacity=capacity)
    for n in range(SERVERS):
        manager.history(f"srv{n:05d}").extend(day)
    fill_seconds = time.perf_counter() - began
    traced, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_delta = resident_bytes() - rss_before
    full = manager["srv00000"]
    end = NOW + INTERVAL * capacity
    snapshot_ms = statistics.median(timed(lambda: full.window(WINDOW, end), 200))
    nbytes = manager.nbytes
    del manager
    gc.collect()
    return nbytes, traced, rss_delta, fill_seconds, snapshot_ms


def report(label: str, figures: str) -> None:
    """Print one aligned line of results."""
    print(f"{label:<50} {figures}", flush=True)


def main() -> None:
    """Measure and print."""
    history = window_history("bench0000", np.random.default_rng(0))

    naive = naive_pyplot(history, 20)
    report(
        "naive pyplot (new figure, savefig), 20 graphs",
        f"p50 {percentile(naive, 50):6.1f} ms   mean {statistics.fmean(naive):6.1f} ms",
    )
    reused = reused_figure_full_redraw(history, 30)
    report(
        "reused OO figure, full redraw + savefig, 30",
        f"p50 {percentile(reused, 50):6.1f} ms   mean {statistics.fmean(reused):6.1f} ms",
    )
    times, first, sizes = renderer_sliding_window(200)
    report(
        "GraphRenderer.render, 200 graphs of 90 samples",
        f"p50 {percentile(times, 50):6.1f} ms   p95 {percentile(times, 95):6.1f} ms"
        f"   max {max(times):6.1f} ms",
    )
    report(
        "  (first render, building the figure; PNG size)",
        f"{first:.0f} ms; ~{statistics.fmean(sizes) / 1024:.0f} KiB per PNG",
    )
    report(
        "  speed-up over naive pyplot at p50",
        f"x{percentile(naive, 50) / percentile(times, 50):.1f}",
    )
    counted, _, _ = renderer_sliding_window(200, players=True)
    report(
        "  with a players line (right-hand axis), 200 graphs",
        f"p50 {percentile(counted, 50):6.1f} ms   p95 {percentile(counted, 95):6.1f} ms"
        f"   max {max(counted):6.1f} ms",
    )
    titled, _, _ = renderer_sliding_window(100, new_titles=True)
    report(
        "  a new title on every render, 100 graphs",
        f"p50 {percentile(titled, 50):6.1f} ms; one new text, laid out:"
        f" {percentile(titled, 50) - percentile(times, 50):.1f} ms at p50",
    )
    hits = renderer_cache_hit(500)
    report(
        "render_history, unchanged data (cache hit)", f"p50 {percentile(hits, 50) * 1000:.1f} us"
    )
    async_times = renderer_async(50)
    report(
        "render_async, new data each time, 50 graphs",
        f"p50 {percentile(async_times, 50):6.1f} ms   p95 {percentile(async_times, 95):6.1f} ms",
    )
    day = renderer_day_window(10)
    report(
        "GraphRenderer.render, 24 h window (8,640 samples)", f"p50 {percentile(day, 50):6.1f} ms"
    )
    report("ServerMetricsManager.record()", f"{record_cost(100_000):.1f} us per sample")

    nbytes, traced, rss_delta, fill_seconds, snapshot_ms = history_memory()
    report(
        f"memory, {SERVERS:,} histories x {DAY_SAMPLES:,} samples",
        f"{nbytes / MIB:.0f} MiB of arrays ({nbytes / 1e6:.0f} MB, {BYTES_PER_SAMPLE} B/sample);"
        f" traced {traced / MIB:.0f} MiB; RSS +{rss_delta / MIB:.0f} MiB; filled in"
        f" {fill_seconds:.1f} s",
    )
    report(
        "  15-min window snapshot of a full history",
        f"{snapshot_ms * 1000:.0f} us",
    )
    # The rings the bot keeps by default now that the store holds the long history.
    ring = auto_ring_size()
    # (No RSS delta: the allocator reuses what the day-long rings above gave back.)
    nbytes, traced, _, _, _ = history_memory(ring)
    report(
        f"memory, {SERVERS:,} rings x {ring} (history_size auto)",
        f"{nbytes / MIB:.1f} MiB of arrays ({nbytes / SERVERS / 1024:.1f} KiB a server);"
        f" traced {traced / MIB:.1f} MiB",
    )
