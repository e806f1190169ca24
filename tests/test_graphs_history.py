"""The history graph: bands for rolled-up windows, shaded offline and no-data periods, caching."""

from __future__ import annotations

import asyncio
import functools
import math

import numpy as np
import pytest

from pterodisbot.graphs import (
    BAND_ALPHA,
    CPU_COLOUR,
    HEIGHT,
    MEMORY_COLOUR,
    OFFLINE_COLOUR,
    PANEL,
    UNKNOWN_COLOUR,
    GraphRenderer,
)
from pterodisbot.store import WINDOWS, HistoryPoint, HistorySeries, StateSeconds
from tests.pixels import Pixels, decode, mix, near

END = 1_700_006_400.0
GIB = 1024**3

NO_LIMITS: dict[str, None] = {"cpu_limit_percent": None, "memory_limit_bytes": None}


def running(t: float, step: float, i: int) -> HistoryPoint:
    cpu = 60 + 30 * math.sin(i / 20)
    memory = 1.5 * GIB + 0.3 * GIB * math.sin(i / 50)
    return HistoryPoint(
        t=t,
        live_samples=6,
        cpu_avg=cpu,
        cpu_min=cpu - 20,
        cpu_max=cpu + 25,
        memory_avg=memory,
        memory_min=int(memory - 0.1 * GIB),
        memory_max=int(memory + 0.2 * GIB),
        disk_bytes=2 * GIB,
        rx_rate=100.0,
        tx_rate=10.0,
        seconds=StateSeconds(running_s=step),
    )


def offline(t: float, step: float) -> HistoryPoint:
    return HistoryPoint(
        t, 0, None, None, None, None, None, None, 2 * GIB, None, None, StateSeconds(offline_s=step)
    )


def series_of(
    window: str,
    *,
    offline_part: tuple[float, float] = (2.0, 2.0),
    missing_part: tuple[float, float] = (2.0, 2.0),
    server: str = "a1b2c3d4",
) -> HistorySeries:
    """Build a full window of buckets; parts (fractions of the window) offline or missing."""
    w = WINDOWS[window]
    start = END - w.seconds
    count = w.seconds // w.step_s
    points = []
    for i in range(count):
        t = start + i * w.step_s
        fraction = i / count
        if missing_part[0] <= fraction < missing_part[1]:
            continue
        if offline_part[0] <= fraction < offline_part[1]:
            points.append(offline(t, w.step_s))
        else:
            points.append(running(t, w.step_s, i))
    return HistorySeries(server, start, END, w.step_s, tuple(points))


@functools.cache
def plot_area() -> tuple[int, int]:
    """Return the first and last pixel column of the plot area, read from an unshaded graph."""
    pixels = decode(GraphRenderer().render_series(series_of("6h"), **NO_LIMITS))
    panel_columns = np.flatnonzero(near(pixels, PANEL, 2).sum(axis=0) > HEIGHT // 4)
    return int(panel_columns[0]), int(panel_columns[-1])


def plot_columns(pixels: Pixels) -> tuple[int, int]:
    """Return the plot area's columns (the layout is the same in every history graph)."""
    del pixels
    return plot_area()


def columns_of(pixels: Pixels, part: tuple[float, float]) -> slice:
    """Return the pixel columns well inside a part of the window (fractions from its start)."""
    left, right = plot_columns(pixels)
    width = right - left + 1
    a, b = left + part[0] * width, left + part[1] * width
    return slice(math.ceil(a) + 3, math.floor(b) - 3)


def render(renderer: GraphRenderer, series: HistorySeries, **options: object) -> bytes:
    settings: dict[str, object] = {"cpu_limit_percent": 200.0, "memory_limit_bytes": 4 * GIB}
    settings.update(options)
    return renderer.render_series(series, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def renderer() -> GraphRenderer:
    return GraphRenderer()


OFFLINE_SHADE = mix(PANEL, OFFLINE_COLOUR, 0.14)
UNKNOWN_SHADE = mix(PANEL, UNKNOWN_COLOUR, 0.16)
# Rows of the CPU panel's plot, clear of the line and the band (the values stay under 115 %).
CPU_UPPER_ROWS = slice(50, 60)
CPU_PLOT_ROWS = slice(44, 147)


@pytest.mark.parametrize("window", ["1h", "24h", "7d", "30d"])
def test_an_offline_period_is_shaded_red_where_it_was(renderer: GraphRenderer, window: str) -> None:
    part = (0.40, 0.50)
    pixels = decode(render(renderer, series_of(window, offline_part=part)))
    shaded = near(pixels[CPU_UPPER_ROWS], OFFLINE_SHADE, 6).all(axis=0)
    inside = columns_of(pixels, part)
    assert shaded[inside].mean() > 0.9  # a vertical grid line may cross it
    left, right = plot_columns(pixels)
    # Nowhere else: before the period and after it the plot is the plain panel.
    assert not shaded[left : inside.start - 6].any()
    assert not shaded[inside.stop + 6 : right].any()
    # No line crosses the period in either panel.
    for colour in (CPU_COLOUR, MEMORY_COLOUR):
        assert not near(pixels[:, inside], colour).any()


def test_a_stretch_without_buckets_is_shaded_grey_not_red(renderer: GraphRenderer) -> None:
    missing = (0.70, 0.78)
    pixels = decode(render(renderer, series_of("24h", missing_part=missing)))
    inside = columns_of(pixels, missing)
    rows = pixels[CPU_UPPER_ROWS, inside]
    assert near(rows, UNKNOWN_SHADE, 4).mean() > 0.9
    assert not near(rows, OFFLINE_SHADE, 6).any()
    for colour in (CPU_COLOUR, MEMORY_COLOUR):
        assert not near(pixels[:, inside], colour).any()


def test_time_before_the_first_bucket_counts_as_no_data(renderer: GraphRenderer) -> None:
    full = series_of("7d")
    # The bot has recorded only the last three days of the week.
    recent = HistorySeries(
        full.server,
        full.start,
        full.end,
        full.step_s,
        tuple(p for p in full.points if p.t >= END - 3 * 86_400),
    )
    pixels = decode(render(renderer, recent))
    older = columns_of(pixels, (0.0, 4 / 7))
    assert near(pixels[CPU_UPPER_ROWS, older], UNKNOWN_SHADE, 4).mean() > 0.9
    newer = columns_of(pixels, (4 / 7, 1.0))
    # (The grid is a grey close to the shade: a few of its pixels match.)
    assert near(pixels[CPU_UPPER_ROWS, newer], UNKNOWN_SHADE, 4).mean() < 0.1


def test_rolled_up_windows_draw_a_min_max_band_and_the_1h_window_does_not(
    renderer: GraphRenderer,
) -> None:
    band = mix(PANEL, CPU_COLOUR, BAND_ALPHA)
    day = decode(render(renderer, series_of("24h")))
    hour = decode(render(renderer, series_of("1h")))
    assert near(day, band, 6).sum() > 5_000
    assert near(hour, band, 6).sum() < 200  # only where the line's antialiased edge passes
    # Both draw the average as a line.
    assert near(day, CPU_COLOUR).sum() > 300
    assert near(hour, CPU_COLOUR).sum() > 300


def test_the_band_reaches_the_buckets_max_above_the_line(renderer: GraphRenderer) -> None:
    # Every bucket's max is 25 points above its average: the band rises above the line.
    pixels = decode(render(renderer, series_of("24h")))[CPU_PLOT_ROWS]
    band = near(pixels, mix(PANEL, CPU_COLOUR, BAND_ALPHA), 6)
    line = near(pixels, CPU_COLOUR)
    # The CPU panel is on top: its highest pixels of each are the band's and the line's peaks.
    band_top = int(np.flatnonzero(band.any(axis=1)).min())
    line_top = int(np.flatnonzero(line.any(axis=1)).min())
    assert band_top < line_top - 5


def test_same_series_is_drawn_once_and_new_buckets_are_drawn_again() -> None:
    renderer = GraphRenderer()
    options = {"cpu_limit_percent": 200.0, "memory_limit_bytes": 4 * GIB, "title": "Survival"}

    async def scenario() -> tuple[bytes, bytes, bytes]:
        series = series_of("24h")
        first, again = await asyncio.gather(
            renderer.render_series_async(series, **options),  # type: ignore[arg-type]
            renderer.render_series_async(series_of("24h"), **options),  # type: ignore[arg-type]
        )
        later = await renderer.render_series_async(series_of("24h"), **options)  # type: ignore[arg-type]
        assert later is first  # from the cache
        changed = series_of("24h", offline_part=(0.9, 1.0))
        third = await renderer.render_series_async(changed, **options)  # type: ignore[arg-type]
        return first, again, third

    first, again, third = asyncio.run(scenario())
    assert first == again
    assert third != first
    assert (renderer.renders, renderer.cache_hits) == (2, 2)
    assert first == GraphRenderer().render_series(series_of("24h"), **options)  # type: ignore[arg-type]


def test_cached_history_images_are_told_apart_by_server_and_dropped_with_it() -> None:
    renderer = GraphRenderer()

    async def draw(series: HistorySeries) -> bytes:
        return await renderer.render_series_async(
            series, cpu_limit_percent=None, memory_limit_bytes=None
        )

    async def scenario() -> None:
        await draw(series_of("6h"))
        await draw(series_of("6h", server="e5f6a7b8"))
        await draw(series_of("6h"))

    asyncio.run(scenario())
    assert (renderer.renders, renderer.cache_hits) == (2, 1)
    assert renderer.discard("a1b2c3d4") == 1
    asyncio.run(draw(series_of("6h")))
    assert renderer.renders == 3
