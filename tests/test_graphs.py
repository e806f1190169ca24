"""The graph renderer: what the PNG shows, gaps, the placeholder, caching and threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from pterodisbot.graphs import (
    CPU_COLOUR,
    HEIGHT,
    MEMORY_COLOUR,
    OFFLINE_COLOUR,
    PANEL,
    UNKNOWN_COLOUR,
    WIDTH,
    GraphRenderer,
    render_graph,
)
from pterodisbot.panel.models import PowerState, Resources
from pterodisbot.server_metrics_graphs import ServerMetricsGraphs
from tests.pixels import Pixels, decode, mix, near

NOW = 1_700_000_000.0
WINDOW = 900.0
GIB = 1024**3


def reading(i: int, state: PowerState = PowerState.RUNNING) -> Resources:
    running = state is not PowerState.OFFLINE
    return Resources(
        state=state,
        is_suspended=False,
        memory_bytes=int((1.5 + 0.5 * np.sin(i / 7)) * GIB) if running else 0,
        cpu_absolute=float(60 + 40 * np.sin(i / 5)) if running else 0.0,
        disk_bytes=2 * GIB,
        network_rx_bytes=1000 * i,
        network_tx_bytes=100 * i,
        uptime_ms=10_000 * (i + 1) if running else 0,
    )


def history_of(
    states: Callable[[int], str | None], *, count: int = 90, identifier: str = "a1b2c3d4"
) -> ServerMetricsGraphs:
    """Build 15 minutes of 10 s samples; `states(i)` gives each sample's state (None = unknown)."""
    history = ServerMetricsGraphs(identifier, capacity=8640)
    for i in range(count):
        t = NOW - WINDOW + 10 * (i + 1)
        state = states(i)
        if state is None:
            history.record_unknown(t)
        else:
            history.record(t, reading(i, PowerState(state)))
    return history


def widest_gap(columns: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """Return (widest run of columns without the colour between the first and last, span)."""
    hits = np.flatnonzero(columns)
    assert len(hits) >= 2
    return int(np.diff(hits).max()), int(hits[-1] - hits[0])


def render(renderer: GraphRenderer, history: ServerMetricsGraphs, **options: object) -> bytes:
    settings: dict[str, object] = {
        "cpu_limit_percent": 200.0,
        "memory_limit_bytes": 4 * GIB,
        "window_seconds": WINDOW,
        "now": NOW,
    }
    settings.update(options)
    return renderer.render_history(history, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def renderer() -> GraphRenderer:
    # One renderer for the module: building the figure once keeps these tests fast.
    return GraphRenderer()


def test_graph_is_a_dark_600x300_png_showing_cpu_and_memory(renderer: GraphRenderer) -> None:
    pixels = decode(render(renderer, history_of(lambda i: "running"), title="Survival SMP"))
    assert pixels.mean() < 80  # a dark image for Discord's dark theme
    assert near(pixels, PANEL, 2).sum() > WIDTH * HEIGHT // 4
    assert near(pixels, CPU_COLOUR).sum() > 300
    assert near(pixels, MEMORY_COLOUR).sum() > 300
    # CPU sits above memory: two stacked panels.
    cpu_rows = np.flatnonzero(near(pixels, CPU_COLOUR).any(axis=1))
    memory_rows = np.flatnonzero(near(pixels, MEMORY_COLOUR).any(axis=1))
    assert np.median(cpu_rows) < np.median(memory_rows)


def test_offline_stretch_leaves_a_gap_in_both_lines_and_is_shaded(renderer: GraphRenderer) -> None:
    steady = decode(render(renderer, history_of(lambda i: "running")))
    pixels = decode(
        render(renderer, history_of(lambda i: "offline" if 30 <= i < 60 else "running"))
    )
    for colour in (CPU_COLOUR, MEMORY_COLOUR):
        gap, span = widest_gap(near(pixels, colour).any(axis=0))
        steady_gap, steady_span = widest_gap(near(steady, colour).any(axis=0))
        assert gap > span * 0.25  # a third of the window is offline
        assert steady_gap < steady_span * 0.05
    reddish = near(pixels, mix(PANEL, OFFLINE_COLOUR, 0.14), 6).sum()
    assert reddish > 5_000
    assert near(steady, mix(PANEL, OFFLINE_COLOUR, 0.14), 6).sum() < 100


def test_unknown_samples_leave_a_gap_instead_of_a_line_to_zero(renderer: GraphRenderer) -> None:
    steady = decode(render(renderer, history_of(lambda i: "running")))
    pixels = decode(render(renderer, history_of(lambda i: None if 40 <= i < 70 else "running")))
    # No line was drawn down to the floor of either panel during the outage.
    for colour in (CPU_COLOUR, MEMORY_COLOUR):
        gap, span = widest_gap(near(pixels, colour).any(axis=0))
        assert gap > span * 0.25
    assert near(pixels, MEMORY_COLOUR).sum() > 300
    # The outage is shaded grey ("no data"); the grid is a similar grey, hence the comparison.
    shade = mix(PANEL, UNKNOWN_COLOUR, 0.16)
    assert near(pixels, shade, 3).sum() > near(steady, shade, 3).sum() + 20_000


def test_missed_polls_break_the_line(renderer: GraphRenderer) -> None:
    history = ServerMetricsGraphs("a1b2c3d4", capacity=100)
    for i in range(90):
        if 20 <= i < 50:
            continue  # the bot was down: no samples at all for five minutes
        history.record(NOW - WINDOW + 10 * (i + 1), reading(i))
    gap, span = widest_gap(near(decode(render(renderer, history)), CPU_COLOUR).any(axis=0))
    assert gap > span * 0.25


def test_known_limits_are_drawn_as_dashed_lines(renderer: GraphRenderer) -> None:
    history = history_of(lambda i: "running")

    def dashed_rows(pixels: Pixels) -> list[int]:
        rows = []
        signed = pixels.astype(np.int16)
        # Blurple at any coverage: blue well above red and green (the panel is grey).
        bluish = (signed[:, :, 2] - signed[:, :, 0] > 50) & (signed[:, :, 2] - signed[:, :, 1] > 50)
        for y in range(HEIGHT):
            row = bluish[y]
            starts = np.flatnonzero(np.diff(row.astype(np.int8)) == 1)
            if row.sum() > 150 and len(starts) > 20:  # long, and broken into many dashes
                rows.append(y)
        return rows

    with_limit = decode(render(renderer, history, cpu_limit_percent=200.0))
    without = decode(render(renderer, history, cpu_limit_percent=None, memory_limit_bytes=None))
    assert dashed_rows(with_limit)
    assert not dashed_rows(without)


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_samples_draw_a_collecting_data_image(
    renderer: GraphRenderer, count: int
) -> None:
    history = history_of(lambda i: "running", count=count)
    png = render(renderer, history, title="New server")
    pixels = decode(png)
    assert pixels.mean() < 80
    assert near(pixels, CPU_COLOUR).sum() == 0
    assert near(pixels, MEMORY_COLOUR).sum() == 0
    assert (pixels.max(axis=2) > 200).sum() > 100  # the light "Collecting data…" text


def test_collecting_image_is_the_same_for_zero_and_one_sample(renderer: GraphRenderer) -> None:
    empty = render(renderer, history_of(lambda i: "running", count=0), title="X")
    single = render(renderer, history_of(lambda i: "running", count=1), title="X")
    assert empty == single


def test_samples_outside_the_window_count_as_missing(renderer: GraphRenderer) -> None:
    history = history_of(lambda i: "running")
    pixels = decode(render(renderer, history, now=NOW + 3 * WINDOW))
    assert near(pixels, CPU_COLOUR).sum() == 0


def test_render_graph_accepts_sample_objects() -> None:
    history = history_of(lambda i: "running")
    png = render_graph(
        list(history.samples()),
        cpu_limit_percent=None,
        memory_limit_bytes=None,
        window_seconds=WINDOW,
        now=NOW,
    )
    assert near(decode(png), CPU_COLOUR).sum() > 300


def test_same_history_version_is_served_from_cache_without_drawing() -> None:
    renderer = GraphRenderer()
    history = history_of(lambda i: "running")
    first = render(renderer, history)
    again = render(renderer, history, now=NOW + 5)  # time moved on, the data did not
    assert again is first
    assert (renderer.renders, renderer.cache_hits) == (1, 1)

    history.record(NOW + 10, reading(91))
    newer = render(renderer, history, now=NOW + 10)
    assert newer != first
    assert renderer.renders == 2


def test_cache_tells_windows_limits_titles_and_servers_apart() -> None:
    renderer = GraphRenderer()
    history = history_of(lambda i: "running")
    other = history_of(lambda i: "running", identifier="e5f6a7b8")
    render(renderer, history)
    render(renderer, history, window_seconds=600.0)
    render(renderer, history, cpu_limit_percent=400.0)
    render(renderer, history, memory_limit_bytes=8 * GIB)
    render(renderer, history, title="Named")
    render(renderer, other)
    assert renderer.renders == 6
    assert renderer.cache_hits == 0


def test_a_recreated_history_with_the_same_version_is_drawn_again() -> None:
    renderer = GraphRenderer()
    old = history_of(lambda i: "running")
    render(renderer, old)
    new = history_of(lambda i: "offline" if i > 45 else "running")
    assert (new.identifier, new.version) == (old.identifier, old.version)
    render(renderer, new)
    assert renderer.renders == 2


def test_discard_forgets_a_removed_servers_images() -> None:
    renderer = GraphRenderer()
    history = history_of(lambda i: "running")
    render(renderer, history)
    render(renderer, history, window_seconds=300.0)
    assert renderer.discard(history.identifier) == 2
    render(renderer, history)
    assert renderer.renders == 3


async def test_concurrent_async_renders_of_the_same_data_draw_once() -> None:
    renderer = GraphRenderer()
    history = history_of(lambda i: "running")
    options = {"cpu_limit_percent": 200.0, "memory_limit_bytes": 4 * GIB}
    results = await asyncio.gather(
        *(
            renderer.render_async(history, window_seconds=WINDOW, now=NOW, **options)  # type: ignore[arg-type]
            for _ in range(3)
        )
    )
    assert results[0] == results[1] == results[2]
    assert renderer.renders == 1
    cached = await renderer.render_async(history, window_seconds=WINDOW, now=NOW, **options)  # type: ignore[arg-type]
    assert cached is results[0]
    assert renderer.renders == 1


async def test_render_async_keeps_the_event_loop_running_while_drawing() -> None:
    renderer = GraphRenderer()
    history = history_of(lambda i: "running")
    drawing = threading.Event()
    draw = renderer.render

    def spied_render(*args: Any, **kwargs: Any) -> bytes:
        drawing.set()
        try:
            return draw(*args, **kwargs)
        finally:
            drawing.clear()

    renderer.render = spied_render  # type: ignore[method-assign]
    ticks_while_drawing = 0
    finished = False

    async def ticker() -> None:
        nonlocal ticks_while_drawing
        while not finished:
            ticks_while_drawing += drawing.is_set()
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    png = await renderer.render_async(
        history, cpu_limit_percent=None, memory_limit_bytes=None, window_seconds=WINDOW, now=NOW
    )
    finished = True
    await task
    # The loop ran other tasks while the picture was being drawn (in a worker thread).
    assert ticks_while_drawing > 0
    assert near(decode(png), CPU_COLOUR).sum() > 300


async def test_render_async_snapshots_data_before_the_worker_draws() -> None:
    renderer = GraphRenderer()
    history = history_of(lambda i: "running")
    gate = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(gate.wait)  # hold the worker so the render waits in the queue
        pending = asyncio.ensure_future(
            renderer.render_async(
                history,
                cpu_limit_percent=None,
                memory_limit_bytes=None,
                window_seconds=WINDOW,
                now=NOW,
                executor=executor,
            )
        )
        await asyncio.sleep(0)
        for i in range(90, 120):  # the loop keeps writing: the render must not see these
            history.record(NOW + 10 * (i - 89), reading(i, PowerState.OFFLINE))
        gate.set()
        png = await pending
    expected = GraphRenderer().render(
        history_of(lambda i: "running").samples(),
        cpu_limit_percent=None,
        memory_limit_bytes=None,
        window_seconds=WINDOW,
        now=NOW,
    )
    assert png == expected


def test_renders_from_several_threads_match_single_threaded_ones() -> None:
    renderer = GraphRenderer()
    histories = [
        history_of(lambda i, k=k: "offline" if (i // (10 + k)) % 3 == 2 else "running")
        for k in range(6)
    ]

    def draw(history: ServerMetricsGraphs) -> bytes:
        return renderer.render(
            history.samples(),
            cpu_limit_percent=100.0 * (1 + len(history) % 3),
            memory_limit_bytes=4 * GIB,
            window_seconds=WINDOW,
            now=NOW,
        )

    expected = [draw(h) for h in histories]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(draw, histories)) == expected


@pytest.mark.parametrize(
    "title", ["Costs $5 and $10 a month", "two\nlines", "Dragon 🐉 server", "x" * 300]
)
def test_any_server_name_is_written_as_plain_text(renderer: GraphRenderer, title: str) -> None:
    history = history_of(lambda i: "running")
    untitled = decode(render(renderer, history))
    titled = decode(render(renderer, history, title=title))
    top_rows = slice(0, 28)
    assert (titled[top_rows] != untitled[top_rows]).any()
    assert (titled[40:] == untitled[40:]).all()  # the title stays in its row


def title_width(renderer: GraphRenderer, history: ServerMetricsGraphs, title: str) -> int:
    """Return how many pixel columns `title` spans in its row of the image."""
    untitled = decode(render(renderer, history))[:28]
    titled = decode(render(renderer, history, title=title))[:28]
    columns = np.flatnonzero((titled != untitled).any(axis=(0, 2)))
    assert len(columns), title
    return int(columns[-1] - columns[0] + 1)


@pytest.mark.parametrize("samples", [90, 0], ids=["graph", "collecting placeholder"])
def test_dollar_signs_in_a_name_are_drawn_not_read_as_mathtext(
    renderer: GraphRenderer, samples: int
) -> None:
    history = history_of(lambda i: "running", count=samples)
    # As plain text "$5$" is three glyphs; mathtext would draw one "5" and drop both "$".
    assert title_width(renderer, history, "$5$") > 2 * title_width(renderer, history, "5")
