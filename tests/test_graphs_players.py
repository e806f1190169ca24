"""Players on the graphs: a yellow line on a right-hand axis of counts, live and from history."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from pterodisbot.graphs import CPU_COLOUR, PANEL, PLAYERS_COLOUR, WIDTH, GraphRenderer
from pterodisbot.server_metrics_graphs import ServerMetricsGraphs
from pterodisbot.store import HistorySeries
from tests.pixels import Pixels, decode, mix, near
from tests.test_graphs import NOW, WINDOW, history_of, reading, render
from tests.test_graphs_history import NO_LIMITS, series_of

# The CPU panel's plot rows (44 to 147) and the memory panel's (173 to 276), from the layout.
CPU_ROWS = slice(44, 147)
MEMORY_ROWS = slice(173, 276)
TITLE_ROWS = slice(6, 23)


def with_players(players: Callable[[int], int | None]) -> ServerMetricsGraphs:
    """Build 15 minutes of 10 s samples, running, with `players(i)` online (None: no count)."""
    history = ServerMetricsGraphs("a1b2c3d4", capacity=8640)
    for i in range(90):
        history.record(NOW - WINDOW + 10 * (i + 1), reading(i), players=players(i))
    return history


def plot_right_edge(pixels: Pixels) -> int:
    """Return the last pixel column of the plot area (the panel's colour, top to bottom)."""
    columns = np.flatnonzero(near(pixels[CPU_ROWS], PANEL, 2).sum(axis=0) > 50)
    return int(columns[-1])


@pytest.fixture(scope="module")
def renderer() -> GraphRenderer:
    return GraphRenderer()


def test_players_are_a_yellow_line_in_the_cpu_panel_on_their_own_axis(
    renderer: GraphRenderer,
) -> None:
    pixels = decode(render(renderer, with_players(lambda i: 20)))
    line = near(pixels, PLAYERS_COLOUR, 10)
    # 20 players on an axis up to 25 (20 x 1.12 rounded up): a fifth of the plot below its top.
    rows = np.flatnonzero(line[CPU_ROWS].sum(axis=1) > 100) + CPU_ROWS.start
    assert len(rows) > 0
    assert rows.min() >= 63
    assert rows.max() <= 67
    assert line[MEMORY_ROWS].sum() == 0
    # The counts' labels and the key are yellow too: right of the plot, and in the title row.
    right = plot_right_edge(pixels)
    # (Small antialiased text: its core pixels are near the colour, not on it.)
    labels = near(pixels, PLAYERS_COLOUR, 60)
    assert labels[CPU_ROWS, right + 1 :].sum() > 20
    assert labels[TITLE_ROWS, WIDTH // 2 :].sum() > 40
    plain = near(decode(render(renderer, history_of(lambda i: "running"))), PLAYERS_COLOUR, 60)
    assert plain[CPU_ROWS, right + 1 :].sum() == plain[TITLE_ROWS].sum() == 0
    # The CPU line is still drawn under it.
    assert near(pixels[CPU_ROWS], CPU_COLOUR).sum() > 300


def test_without_counts_the_graph_is_as_before(renderer: GraphRenderer) -> None:
    plain = decode(render(renderer, history_of(lambda i: "running")))
    uncounted = decode(render(renderer, with_players(lambda i: None)))
    assert np.array_equal(plain, uncounted)
    assert near(plain, PLAYERS_COLOUR, 10).sum() == 0
    assert plot_right_edge(plain) == WIDTH - 16 - 1
    counted = decode(render(renderer, with_players(lambda i: 3)))
    # Room for the counts on the right: the plots narrow by 24 px.
    assert plot_right_edge(counted) == WIDTH - 40 - 1


def test_samples_without_a_count_break_the_players_line(renderer: GraphRenderer) -> None:
    silent = decode(render(renderer, with_players(lambda i: None if 30 <= i < 60 else 12)))
    columns = near(silent[CPU_ROWS], PLAYERS_COLOUR, 10).any(axis=0)
    # Only the plot: the labels of the counts sit right of it.
    hits = np.flatnonzero(columns[: plot_right_edge(silent)])
    assert int(np.diff(hits).max()) > 0.25 * (hits[-1] - hits[0])


def test_a_new_count_is_a_new_image(renderer: GraphRenderer) -> None:
    history = with_players(lambda i: 10)
    first = render(renderer, history)
    drawn = renderer.renders
    assert render(renderer, history) == first  # the same data: the cached image
    assert renderer.renders == drawn
    history.record(NOW + 1, reading(91), players=30)
    second = render(renderer, history, now=NOW + 1)
    assert renderer.renders == drawn + 1
    assert second != first


def peaks(series: HistorySeries, players: Callable[[int], float | None]) -> HistorySeries:
    """Give every running bucket `players(i)` on average and 6 more at its busiest."""
    points = []
    for i, point in enumerate(series.points):
        avg = players(i) if point.cpu_avg is not None else None
        most = None if avg is None else round(avg) + 6
        points.append(dataclasses.replace(point, players_avg=avg, players_max=most))
    return dataclasses.replace(series, points=tuple(points))


def test_history_draws_the_average_and_a_fainter_line_of_the_most_at_once() -> None:
    renderer = GraphRenderer()
    day = decode(renderer.render_series(peaks(series_of("24h"), lambda i: 10.0), **NO_LIMITS))
    hour = decode(renderer.render_series(peaks(series_of("1h"), lambda i: 10.0), **NO_LIMITS))
    faint = mix(PANEL, PLAYERS_COLOUR, 0.45)

    def rows_of(
        pixels: Pixels, colour: str | tuple[float, float, float], tolerance: int
    ) -> list[int]:
        hits = near(pixels[CPU_ROWS, : plot_right_edge(pixels)], colour, tolerance)
        return (np.flatnonzero(hits.sum(axis=1) > 100) + CPU_ROWS.start).tolist()

    # Axis up to 20 (16 x 1.12 rounded up): 10 players half-way down, 16 at 4/20 from the top.
    average, most = rows_of(day, PLAYERS_COLOUR, 10), rows_of(day, faint, 6)
    assert average
    assert set(average) <= {94, 95, 96, 97}
    assert most
    assert set(most) <= {63, 64, 65, 66}
    # Raw buckets (the 1 h window) have no busiest moment of their own.
    assert rows_of(hour, faint, 6) == []
    assert rows_of(hour, PLAYERS_COLOUR, 10)


async def test_history_images_differ_by_their_players() -> None:
    renderer = GraphRenderer()
    base = series_of("24h")
    few = await renderer.render_series_async(peaks(base, lambda i: 2.0), **NO_LIMITS)
    many = await renderer.render_series_async(peaks(base, lambda i: 40.0), **NO_LIMITS)
    again = await renderer.render_series_async(peaks(base, lambda i: 2.0), **NO_LIMITS)
    assert (renderer.renders, renderer.cache_hits) == (2, 1)
    assert few != many
    assert again == few
