"""Metric history -> PNG graph (CPU over memory) for a Discord embed, cheap enough to run often.

When the game answered its queries in the window, the CPU panel also carries the players online
(a yellow line on a right-hand axis of counts; the plots narrow to make room for its labels).

`GraphRenderer` owns one matplotlib figure (object-oriented API, Agg canvas; never pyplot or
global rcParams) and reuses it. Per render:

- The static layer (panels, grid, tick labels, headers) is drawn once per axis scale and kept as
  a pixel buffer; y axes snap to round tops so a handful of layers serve every server.
- The data goes in as two artists in pixel coordinates, one `PolyCollection` (fills and shaded
  offline/unknown stretches) and one `LineCollection` (lines, dashed limits), drawn on the restored
  layer: two draw calls instead of a dozen.
- Texts that vary (title, limits, legend) are rasterised once and blended in with numpy.
- The pixels go to PNG without Pillow's filter search (filter "none", zlib level 1).

`make bench` times it against a fresh pyplot figure per graph ("speed-up over naive pyplot").
Renders hold a lock: one figure, one thread at a time. `render_async` snapshots the history on
the event loop and draws in a worker thread; a cache keyed by (server, history version, window,
limits, title) means the same data is never drawn twice.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, cast

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgb, to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import findfont, get_font
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator
from matplotlib.transforms import IdentityTransform
from PIL import Image

from pterodisbot.server_metrics_graphs import (
    STATE_CODES,
    MetricArrays,
    MetricSample,
    ServerMetricsGraphs,
)
from pterodisbot.store import DAY, HistoryPoint, HistorySeries
from pterodisbot.units import GIB, MIB, format_bytes_compact, format_span

__all__ = [
    "BACKGROUND",
    "CPU_COLOUR",
    "HEIGHT",
    "MEMORY_COLOUR",
    "OFFLINE_COLOUR",
    "PANEL",
    "PLAYERS_COLOUR",
    "UNKNOWN_COLOUR",
    "WIDTH",
    "GraphRenderer",
    "render_graph",
]

log = logging.getLogger(__name__)

# Discord's dark theme: embed background, chat background, text, and the brand colours.
BACKGROUND: Final = "#2b2d31"
PANEL: Final = "#313338"
TEXT: Final = "#dbdee1"
MUTED: Final = "#949ba4"
GRID: Final = "#3f4147"
CPU_COLOUR: Final = "#5865f2"
MEMORY_COLOUR: Final = "#57f287"
OFFLINE_COLOUR: Final = "#ed4245"
UNKNOWN_COLOUR: Final = "#80848e"
# Discord's yellow: apart from both panels' colours and from the red and grey shades.
PLAYERS_COLOUR: Final = "#fee75c"

# An embed image shows at most ~400 px wide on desktop; 600x300 stays sharp and cheap to encode.
WIDTH: Final = 600
HEIGHT: Final = 300
_DPI: Final = 100

# Layout in pixels from the top-left corner: a title row, then per panel a header row and a plot.
_LEFT_PX: Final = 52
_RIGHT_PX: Final = 16
_TITLE_X_PX: Final = 14
_TITLE_Y_PX: Final = 14
_TITLE_MAX_CHARS: Final = 44
_CPU_HEADER_Y_PX: Final = 35
_CPU_TOP_PX: Final = 44
_MEM_HEADER_Y_PX: Final = 164
_MEM_TOP_PX: Final = 173
_PANEL_HEIGHT_PX: Final = 103
_PLOT_WIDTH_PX: Final = WIDTH - _LEFT_PX - _RIGHT_PX
# With players, the right-hand axis' counts need room ("1000" at 7.5 pt and its padding).
# (Thinning keeps counting the wider plot's columns: a little finer than the pixels, so exact.)
_RIGHT_PLAYERS_PX: Final = 40
# The players key sits in the title row, left of the window's label ("last 15 min").
_PLAYERS_KEY_X_PX: Final = WIDTH - _RIGHT_PX - 78
_LEGEND_X_PX: Final = 110
_LEGEND_GAP_PX: Final = 64

# Ceilings the y axes snap to (times a power of ten) so the static layer is reused across renders.
_NICE_STEPS: Final = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
_HEADROOM: Final = 1.12
_CPU_FLOOR_PERCENT: Final = 10.0
_MEMORY_FLOOR_BYTES: Final = 128 * MIB
# A near-empty server's axis still reads 0 to 6, in whole players.
_PLAYERS_FLOOR: Final = 5.0
# Two samples further apart than this many typical intervals mean polls were missed: no line.
_MISSED_POLL_FACTOR: Final = 3.0
_BACKGROUNDS_KEPT: Final = 12

_OFFLINE: Final = STATE_CODES["offline"]
_UNKNOWN: Final = STATE_CODES["unknown"]

FloatArray = npt.NDArray[np.float64]

_Align = Literal["left", "center", "right"]
_LineStyle = Literal["solid"] | tuple[float, tuple[float, float]]
_CacheKey = tuple[str, float, float | None, int | None, str | None]
# (server, start, end, step, hash of the buckets, CPU limit, memory limit, title)
_SeriesKey = tuple[str, float, float, float, int, float | None, int | None, str | None]


class _AggCanvas(Protocol):
    """The typed subset of `FigureCanvasAgg` used here (matplotlib leaves it unannotated)."""

    def draw(self) -> None:
        """Draw the whole figure."""
        ...

    def buffer_rgba(self) -> memoryview:
        """Return the rendered pixels (height x width x RGBA)."""
        ...

    def copy_from_bbox(self, bbox: Any) -> Any:
        """Save a region of the pixels."""
        ...

    def restore_region(self, region: Any) -> None:
        """Put saved pixels back."""
        ...


@dataclass(frozen=True, slots=True)
class _Scale:
    """One y axis: its top, tick positions and labels (all in data units)."""

    top: float
    ticks: tuple[float, ...]
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Frame:
    """What the static layer depends on; equal frames share one background buffer."""

    window: float
    cpu: _Scale
    memory: _Scale
    # History graphs label their time axis in hours or days back from the window's end.
    history: bool = False
    # The right-hand axis of player counts; None when the window holds no count.
    players: _Scale | None = None


@dataclass(frozen=True, slots=True)
class _Drawn:
    """One panel's drawable data: line runs of (x, y), min..max band polygons, the top value.

    Live samples have no bands; rolled-up history buckets draw their min..max as one.
    """

    runs: list[FloatArray]
    bands: list[FloatArray]
    peak: float


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one graph draws, in x = seconds before its end: both panels and the shaded spans."""

    cpu: _Drawn
    memory: _Drawn
    offline: list[tuple[float, float]]
    unknown: list[tuple[float, float]]
    banded: bool = False
    # Players online (avg in history graphs) and, for rolled-up buckets, the most at once.
    players: _Drawn | None = None
    players_max: list[FloatArray] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _CacheEntry:
    """One cached image and the exact history data it shows."""

    token: object
    version: int
    png: bytes


def render_graph(
    samples: MetricArrays | Sequence[MetricSample],
    *,
    cpu_limit_percent: float | None,
    memory_limit_bytes: int | None,
    window_seconds: float,
    now: float,
    title: str | None = None,
) -> bytes:
    """Render one graph with a throwaway renderer (for scripts; the bot keeps a GraphRenderer)."""
    return GraphRenderer().render(
        samples,
        cpu_limit_percent=cpu_limit_percent,
        memory_limit_bytes=memory_limit_bytes,
        window_seconds=window_seconds,
        now=now,
        title=title,
    )


class GraphRenderer:
    """Draw CPU/memory graphs as PNG bytes on reused figures, from any thread.

    Renders are serialised by a lock (the figures are shared state): for more throughput, use
    several renderers. `renders` counts images actually drawn, `cache_hits` answers served from
    the cache (including callers that joined a render already under way).
    """

    def __init__(self, *, cache_size: int = 256, compress_level: int = 1) -> None:
        self._draw_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[_CacheKey, _CacheEntry] = OrderedDict()
        self._cache_size = cache_size
        self._compress_level = compress_level
        self._inflight: dict[tuple[_CacheKey, object, int], asyncio.Future[bytes]] = {}
        # History graphs: few and large (a click each), so a small cache of their own.
        self._series_cache: OrderedDict[_SeriesKey, tuple[tuple[HistoryPoint, ...], bytes]] = (
            OrderedDict()
        )
        self._series_cache_size = 32
        self._series_inflight: dict[_SeriesKey, asyncio.Future[bytes]] = {}
        self._figure: _GraphFigure | None = None
        self._collecting: _CollectingFigure | None = None
        self.renders = 0
        self.cache_hits = 0

    # -- uncached -------------------------------------------------------------------------------

    def render(
        self,
        samples: MetricArrays | Sequence[MetricSample],
        *,
        cpu_limit_percent: float | None,
        memory_limit_bytes: int | None,
        window_seconds: float,
        now: float,
        title: str | None = None,
    ) -> bytes:
        """Draw `samples` (the ones inside the window are shown) and return PNG bytes."""
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds}")
        arrays = (
            samples if isinstance(samples, MetricArrays) else MetricArrays.from_samples(samples)
        )
        keep = (arrays.t >= now - window_seconds) & (arrays.t <= now)
        cpu_limit = cpu_limit_percent if cpu_limit_percent and cpu_limit_percent > 0 else None
        memory_limit = memory_limit_bytes if memory_limit_bytes and memory_limit_bytes > 0 else None
        with self._draw_lock:
            if int(np.count_nonzero(keep)) < 2:
                if self._collecting is None:
                    self._collecting = _CollectingFigure()
                pixels = self._collecting.draw(title, window_seconds)
            else:
                if self._figure is None:
                    self._figure = _GraphFigure()
                pixels = self._figure.draw(
                    arrays,
                    keep,
                    cpu_limit=cpu_limit,
                    memory_limit=memory_limit,
                    window=float(window_seconds),
                    now=float(now),
                    title=title,
                )
            png = _encode_png(pixels, self._compress_level)
            self.renders += 1
        return png

    # -- cached -------------------------------------------------------------------------------

    def render_history(
        self,
        history: ServerMetricsGraphs,
        *,
        cpu_limit_percent: float | None,
        memory_limit_bytes: int | None,
        window_seconds: float,
        now: float,
        title: str | None = None,
    ) -> bytes:
        """Return the graph of `history`'s last `window_seconds`, drawing only for new data.

        Call it from the thread that writes the history (the event loop): it snapshots the data.
        A cached image is reused while the history's version is unchanged, whatever `now` is.
        """
        key = _cache_key(history, window_seconds, cpu_limit_percent, memory_limit_bytes, title)
        cached = self._lookup(key, history)
        if cached is not None:
            return cached
        png = self.render(
            history.window(window_seconds, now),
            cpu_limit_percent=cpu_limit_percent,
            memory_limit_bytes=memory_limit_bytes,
            window_seconds=window_seconds,
            now=now,
            title=title,
        )
        self._store(key, history.instance_token, history.version, png)
        return png

    async def render_async(
        self,
        history: ServerMetricsGraphs,
        *,
        cpu_limit_percent: float | None,
        memory_limit_bytes: int | None,
        window_seconds: float,
        now: float,
        title: str | None = None,
        executor: Executor | None = None,
    ) -> bytes:
        """Like `render_history`, but draw in `executor` (default: the loop's) so the loop runs on.

        Concurrent calls for the same data share one render.
        """
        key = _cache_key(history, window_seconds, cpu_limit_percent, memory_limit_bytes, title)
        cached = self._lookup(key, history)
        if cached is not None:
            return cached
        token, version = history.instance_token, history.version
        flight = (key, token, version)
        pending = self._inflight.get(flight)
        if pending is None:
            # Snapshot here, on the loop that writes the history; the worker only sees copies.
            snapshot = history.window(window_seconds, now)
            job = functools.partial(
                self._render_and_store,
                key,
                token,
                version,
                snapshot,
                cpu_limit_percent=cpu_limit_percent,
                memory_limit_bytes=memory_limit_bytes,
                window_seconds=window_seconds,
                now=now,
                title=title,
            )
            pending = self._start(self._inflight, flight, history.identifier, job, executor)
        else:
            with self._cache_lock:
                self.cache_hits += 1
        # Shielded: one caller giving up must not cancel the render others are waiting for.
        return await asyncio.shield(pending)

    def discard(self, identifier: str) -> int:
        """Forget every cached image of server `identifier`; return how many were dropped."""
        with self._cache_lock:
            stale = [key for key in self._cache if key[0] == identifier]
            for key in stale:
                del self._cache[key]
            stale_series = [key for key in self._series_cache if key[0] == identifier]
            for series_key in stale_series:
                del self._series_cache[series_key]
        return len(stale) + len(stale_series)

    # -- stored history -------------------------------------------------------------------------

    def render_series(
        self,
        series: HistorySeries,
        *,
        cpu_limit_percent: float | None,
        memory_limit_bytes: int | None,
        title: str | None = None,
    ) -> bytes:
        """Draw a stored series over its whole `[start, end)` and return PNG bytes (uncached)."""
        if series.end <= series.start:
            raise ValueError(f"empty series range {series.start}..{series.end}")
        cpu_limit = cpu_limit_percent if cpu_limit_percent and cpu_limit_percent > 0 else None
        memory_limit = memory_limit_bytes if memory_limit_bytes and memory_limit_bytes > 0 else None
        with self._draw_lock:
            if self._figure is None:
                self._figure = _GraphFigure()
            pixels = self._figure.draw_history(
                series, cpu_limit=cpu_limit, memory_limit=memory_limit, title=title
            )
            png = _encode_png(pixels, self._compress_level)
            self.renders += 1
        return png

    async def render_series_async(
        self,
        series: HistorySeries,
        *,
        cpu_limit_percent: float | None,
        memory_limit_bytes: int | None,
        title: str | None = None,
        executor: Executor | None = None,
    ) -> bytes:
        """Like `render_series`, drawn in `executor`, cached by server, range and data.

        The series is immutable, so the worker reads it as it is; the same buckets over the
        same range (a second click within one bucket) are never drawn twice.
        """
        key: _SeriesKey = (
            series.server,
            series.start,
            series.end,
            series.step_s,
            hash(series.points),
            cpu_limit_percent,
            memory_limit_bytes,
            title,
        )
        with self._cache_lock:
            entry = self._series_cache.get(key)
            if entry is not None and entry[0] == series.points:
                self._series_cache.move_to_end(key)
                self.cache_hits += 1
                return entry[1]
        pending = self._series_inflight.get(key)
        if pending is None:
            job = functools.partial(
                self._render_series_and_store,
                key,
                series,
                cpu_limit_percent=cpu_limit_percent,
                memory_limit_bytes=memory_limit_bytes,
                title=title,
            )
            pending = self._start(self._series_inflight, key, series.server, job, executor)
        else:
            with self._cache_lock:
                self.cache_hits += 1
        return await asyncio.shield(pending)

    def _render_series_and_store(
        self, key: _SeriesKey, series: HistorySeries, **options: Any
    ) -> bytes:
        png = self.render_series(series, **options)
        with self._cache_lock:
            self._series_cache[key] = (series.points, png)
            self._series_cache.move_to_end(key)
            while len(self._series_cache) > self._series_cache_size:
                self._series_cache.popitem(last=False)
        return png

    # -- internals ----------------------------------------------------------------------------

    def _render_and_store(
        self,
        key: _CacheKey,
        token: object,
        version: int,
        snapshot: MetricArrays,
        **options: Any,
    ) -> bytes:
        png = self.render(snapshot, **options)
        self._store(key, token, version, png)
        return png

    @staticmethod
    def _start(
        inflight: dict[Any, asyncio.Future[bytes]],
        flight: Hashable,
        server: str,
        job: Callable[[], bytes],
        executor: Executor | None,
    ) -> asyncio.Future[bytes]:
        """Run `job` in `executor` as the one render of `flight`, until it lands."""
        pending = asyncio.get_running_loop().run_in_executor(executor, job)
        inflight[flight] = pending

        def landed(future: asyncio.Future[bytes]) -> None:
            if inflight.get(flight) is future:
                del inflight[flight]
            # Callers get the exception; reading it here also covers the case where all gave up.
            if not future.cancelled() and future.exception() is not None:
                log.debug("graph render failed for server %s", server, exc_info=future.exception())

        pending.add_done_callback(landed)
        return pending

    def _lookup(self, key: _CacheKey, history: ServerMetricsGraphs) -> bytes | None:
        with self._cache_lock:
            entry = self._cache.get(key)
            if (
                entry is None
                or entry.token is not history.instance_token
                or entry.version != history.version
            ):
                return None
            self._cache.move_to_end(key)
            self.cache_hits += 1
            return entry.png

    def _store(self, key: _CacheKey, token: object, version: int, png: bytes) -> None:
        with self._cache_lock:
            current = self._cache.get(key)
            # A slower render of older data must not replace a newer image.
            if current is not None and current.token is token and current.version > version:
                return
            self._cache[key] = _CacheEntry(token=token, version=version, png=png)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _cache_key(
    history: ServerMetricsGraphs,
    window_seconds: float,
    cpu_limit_percent: float | None,
    memory_limit_bytes: int | None,
    title: str | None,
) -> _CacheKey:
    return (history.identifier, float(window_seconds), cpu_limit_percent, memory_limit_bytes, title)


# -- the figure ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Role:
    """Where and how one kind of text is written."""

    x_px: float
    y_px: float
    colour: str
    align: _Align = "left"
    size: float = 8.0
    weight: str = "normal"


_TITLE = _Role(_TITLE_X_PX, _TITLE_Y_PX, TEXT, size=10.0, weight="bold")
_CPU_LIMIT = _Role(WIDTH - _RIGHT_PX, _CPU_HEADER_Y_PX, MUTED, align="right")
_MEMORY_LIMIT = _Role(WIDTH - _RIGHT_PX, _MEM_HEADER_Y_PX, MUTED, align="right")
_OFFLINE_KEY = _Role(_LEGEND_X_PX, _CPU_HEADER_Y_PX, OFFLINE_COLOUR)
_UNKNOWN_KEY = _Role(_LEGEND_X_PX + _LEGEND_GAP_PX, _CPU_HEADER_Y_PX, UNKNOWN_COLOUR)
_BAND_KEY = _Role(_LEGEND_X_PX + 2 * _LEGEND_GAP_PX, _CPU_HEADER_Y_PX, MUTED)
_CPU_HEADER = _Role(_LEFT_PX, _CPU_HEADER_Y_PX, CPU_COLOUR, size=9.0, weight="bold")
_MEMORY_HEADER = _Role(_LEFT_PX, _MEM_HEADER_Y_PX, MEMORY_COLOUR, size=9.0, weight="bold")
_WINDOW = _Role(WIDTH - _RIGHT_PX, _TITLE_Y_PX, MUTED, align="right")
_PLAYERS_KEY = _Role(_PLAYERS_KEY_X_PX, _TITLE_Y_PX, PLAYERS_COLOUR, align="right")


def _place(figure: Figure, role: _Role, text: str = "") -> Text:
    """Add `text` to `figure` where and as `role` says (plain text: "$5" is no mathtext)."""
    return figure.text(
        role.x_px / WIDTH,
        1 - role.y_px / HEIGHT,
        text,
        color=role.colour,
        fontsize=role.size,
        fontweight=role.weight,
        ha=role.align,
        va="center",
        parse_math=False,
    )


@dataclass(frozen=True, slots=True)
class _Stamp:
    """A text rendered once, as coverage (0-255) to blend onto pixels at (top, left)."""

    top: int
    left: int
    coverage: npt.NDArray[np.float32]
    colour: npt.NDArray[np.float32]


class _Stamps:
    """Render texts once and blend them onto later images in microseconds.

    Matplotlib's layout and rasterising of a string cost milliseconds (`make bench`: "one new
    text, laid out"); a title or a limit label repeats across renders, so its pixels are kept
    (bounded) and blended with numpy instead.
    """

    def __init__(self, size: int = 256) -> None:
        self.figure = Figure(figsize=(WIDTH / _DPI, HEIGHT / _DPI), dpi=_DPI, facecolor="none")
        self.canvas = cast(_AggCanvas, FigureCanvasAgg(self.figure))
        # Server names are plain text: "$5 and $10" must not be parsed as mathtext.
        self.text = self.figure.text(0, 0, "", color="white", parse_math=False)
        self._size = size
        self._kept: OrderedDict[tuple[str, _Role], _Stamp | None] = OrderedDict()

    def get(self, text: str, role: _Role) -> _Stamp | None:
        """Return the stamp of `text` written as `role` (None when it has no visible pixels)."""
        key = (text, role)
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        stamp = self._render(text, role)
        self._kept[key] = stamp
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return stamp

    def _render(self, text: str, role: _Role) -> _Stamp | None:
        label = self.text
        label.set_position((role.x_px / WIDTH, 1 - role.y_px / HEIGHT))
        label.set_horizontalalignment(role.align)
        label.set_verticalalignment("center")
        label.set_fontsize(role.size)
        label.set_fontweight(role.weight)
        label.set_text(_drawable(text, label))
        self.canvas.draw()
        alpha = np.asarray(self.canvas.buffer_rgba())[:, :, 3]
        rows = np.flatnonzero(alpha.any(axis=1))
        cols = np.flatnonzero(alpha.any(axis=0))
        if not len(rows):
            return None
        top, bottom = int(rows[0]), int(rows[-1]) + 1
        left, right = int(cols[0]), int(cols[-1]) + 1
        coverage = alpha[top:bottom, left:right, np.newaxis].astype(np.float32) / 255.0
        colour = np.array(to_rgb(role.colour), dtype=np.float32) * 255.0
        return _Stamp(top=top, left=left, coverage=coverage, colour=colour)


def _drawable(text: str, label: Text) -> str:
    """Drop the characters `label`'s font has no glyph for (emoji in server names, say).

    Matplotlib would draw an empty box and warn on every new name; the embed shows the name
    in full anyway.
    """
    font = get_font(findfont(label.get_fontproperties()))
    kept = "".join(c for c in text if c.isspace() or font.get_char_index(ord(c)) != 0)
    return " ".join(kept.split())


def _blend(pixels: npt.NDArray[np.uint8], stamp: _Stamp | None) -> None:
    """Write `stamp` over RGBA `pixels` in place (its colour blended by its coverage)."""
    if stamp is None:
        return
    height, width = stamp.coverage.shape[:2]
    area = pixels[stamp.top : stamp.top + height, stamp.left : stamp.left + width, :3]
    below = area.astype(np.float32)
    area[:] = np.rint(below + (stamp.colour - below) * stamp.coverage).astype(np.uint8)


class _GraphFigure:
    """The reusable two-panel figure; every method must run under the renderer's lock."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(WIDTH / _DPI, HEIGHT / _DPI), dpi=_DPI, facecolor=BACKGROUND)
        self.canvas = cast(_AggCanvas, FigureCanvasAgg(self.figure))
        self.cpu_axes = self._panel(_CPU_TOP_PX, bottom_labels=False)
        self.memory_axes = self._panel(_MEM_TOP_PX, bottom_labels=True)
        self.players_axes = self._players_panel()
        _place(self.figure, _CPU_HEADER, "CPU")
        _place(self.figure, _MEMORY_HEADER, "Memory")
        self.window_label = _place(self.figure, _WINDOW)
        # Per-render shapes of both panels, in pixels: two artists to draw instead of a dozen.
        self.areas = PolyCollection(
            [], edgecolors="none", transform=IdentityTransform(), animated=True
        )
        self.lines = LineCollection(
            [], transform=IdentityTransform(), joinstyle="round", capstyle="butt", animated=True
        )
        self.figure.add_artist(self.areas)
        self.figure.add_artist(self.lines)
        self.stamps = _Stamps()
        self._backgrounds: OrderedDict[_Frame, Any] = OrderedDict()
        self._frame: _Frame | None = None

    def _panel(self, top_px: int, *, bottom_labels: bool) -> Axes:
        axes = self.figure.add_axes(
            (
                _LEFT_PX / WIDTH,
                1 - (top_px + _PANEL_HEIGHT_PX) / HEIGHT,
                1 - (_LEFT_PX + _RIGHT_PX) / WIDTH,
                _PANEL_HEIGHT_PX / HEIGHT,
            ),
            facecolor=PANEL,
        )
        for spine in axes.spines.values():
            spine.set_visible(False)
        axes.tick_params(colors=MUTED, labelsize=7.5, length=0, pad=4, labelbottom=bottom_labels)
        axes.grid(True, color=GRID, linewidth=0.8)
        axes.set_axisbelow(True)
        axes.xaxis.set_minor_locator(NullLocator())
        axes.yaxis.set_minor_locator(NullLocator())
        if not bottom_labels:
            axes.xaxis.set_major_formatter(NullFormatter())
        axes.set_autoscale_on(False)
        return axes

    def _players_panel(self) -> Axes:
        """Add the right-hand axis of player counts over the CPU panel (hidden until needed)."""
        axes = self.cpu_axes.twinx()
        axes.patch.set_visible(False)
        for spine in axes.spines.values():
            spine.set_visible(False)
        axes.tick_params(colors=PLAYERS_COLOUR, labelsize=7.5, length=0, pad=4)
        axes.xaxis.set_minor_locator(NullLocator())
        axes.yaxis.set_minor_locator(NullLocator())
        axes.set_autoscale_on(False)
        axes.set_visible(False)
        return axes

    def draw(
        self,
        arrays: MetricArrays,
        keep: npt.NDArray[np.bool_],
        *,
        cpu_limit: float | None,
        memory_limit: int | None,
        window: float,
        now: float,
        title: str | None,
    ) -> npt.NDArray[np.uint8]:
        """Draw the samples selected by `keep`; return the canvas' RGBA pixels (a view)."""
        x = arrays.t[keep] - now
        state = arrays.state[keep]
        gap = arrays.gap_mask[keep]
        breaks = _missed_polls(x)
        counts = arrays.players[keep].astype(np.float64)
        no_count = np.isnan(counts)
        has_players = not bool(no_count.all())
        column = window / _PLOT_WIDTH_PX
        cpu = _series(x, arrays.cpu_percent[keep].astype(np.float64), gap, breaks, column)
        memory = _series(x, arrays.memory_bytes[keep].astype(np.float64), gap, breaks, column)
        players = (
            _series(x, np.nan_to_num(counts), gap | no_count, breaks, column)
            if has_players
            else None
        )
        frame = _Frame(
            window=window,
            cpu=_cpu_scale(cpu.peak, cpu_limit),
            memory=_memory_scale(memory.peak, memory_limit),
            players=_players_scale(players.peak) if players is not None else None,
        )
        offline, unknown = _gap_spans(x, state, breaks)
        plan = _Plan(cpu, memory, offline, unknown, players=players)
        return self._paint(frame, plan, cpu_limit=cpu_limit, memory_limit=memory_limit, title=title)

    def draw_history(
        self,
        series: HistorySeries,
        *,
        cpu_limit: float | None,
        memory_limit: int | None,
        title: str | None,
    ) -> npt.NDArray[np.uint8]:
        """Draw a stored series (avg lines, min..max bands when rolled up, shaded gaps)."""
        window = series.end - series.start
        plan = _plan_history(series, column=window / _PLOT_WIDTH_PX)
        frame = _Frame(
            window=window,
            cpu=_cpu_scale(plan.cpu.peak, cpu_limit),
            memory=_memory_scale(plan.memory.peak, memory_limit),
            history=True,
            players=_players_scale(plan.players.peak) if plan.players is not None else None,
        )
        return self._paint(frame, plan, cpu_limit=cpu_limit, memory_limit=memory_limit, title=title)

    def _paint(
        self,
        frame: _Frame,
        plan: _Plan,
        *,
        cpu_limit: float | None,
        memory_limit: int | None,
        title: str | None,
    ) -> npt.NDArray[np.uint8]:
        """Draw a plan on the frame's cached background; return the canvas' RGBA pixels (a view)."""
        self._use_frame(frame)
        self.canvas.restore_region(self._backgrounds[frame])
        window = frame.window
        areas = _Shapes()
        lines = _Shapes()
        for axes, drawn, limit, top, style in (
            (self.cpu_axes, plan.cpu, cpu_limit, frame.cpu.top, _CPU_STYLE),
            (self.memory_axes, plan.memory, memory_limit, frame.memory.top, _MEMORY_STYLE),
        ):
            to_px = _PixelMap(axes)
            for start, end in plan.offline:
                areas.add(to_px(_band(start, end, top)), _OFFLINE_RGBA)
            for start, end in plan.unknown:
                areas.add(to_px(_band(start, end, top)), _UNKNOWN_RGBA)
            if drawn.bands:
                for band in drawn.bands:
                    areas.add(to_px(band), style.band)
            else:
                for run in drawn.runs:
                    areas.add(to_px(_under(run)), style.fill)
            if limit is not None:
                limit_line = np.array(((-window, limit), (0.0, limit)))
                lines.add(to_px(limit_line), style.limit, width=_LIMIT_WIDTH, dashes=_LIMIT_DASHES)
            for run in drawn.runs:
                lines.add(to_px(run), style.line, width=_LINE_WIDTH)
        if plan.players is not None and frame.players is not None:
            to_px = _PixelMap(self.players_axes)
            for run in plan.players_max:
                lines.add(to_px(run), _PLAYERS_MAX_RGBA, width=_PLAYERS_MAX_WIDTH)
            for run in plan.players.runs:
                lines.add(to_px(run), _PLAYERS_RGBA, width=_PLAYERS_WIDTH)
        if areas.shapes:
            areas.load(self.areas)
            self.figure.draw_artist(self.areas)
        if lines.shapes:
            lines.load(self.lines)
            self.figure.draw_artist(self.lines)

        pixels = np.asarray(self.canvas.buffer_rgba())
        stamps = self.stamps
        if title:
            _blend(pixels, stamps.get(_shorten(title, _TITLE_MAX_CHARS), _TITLE))
        if cpu_limit is not None:
            _blend(pixels, stamps.get(f"limit {cpu_limit:g} %", _CPU_LIMIT))
        if memory_limit is not None:
            _blend(pixels, stamps.get(f"limit {format_bytes_compact(memory_limit)}", _MEMORY_LIMIT))
        if plan.offline:
            _blend(pixels, stamps.get("■ offline", _OFFLINE_KEY))
        if plan.unknown:
            _blend(pixels, stamps.get("■ no data", _UNKNOWN_KEY))
        if plan.banded and (plan.cpu.bands or plan.memory.bands):
            _blend(pixels, stamps.get("line avg · band min–max", _BAND_KEY))
        if plan.players is not None:
            key = "━ players (avg, max)" if plan.players_max else "━ players"
            _blend(pixels, stamps.get(key, _PLAYERS_KEY))
        return pixels

    def _use_frame(self, frame: _Frame) -> None:
        if frame == self._frame:
            return
        self._apply(frame)
        if frame in self._backgrounds:
            self._backgrounds.move_to_end(frame)
            return
        self.canvas.draw()
        self._backgrounds[frame] = self.canvas.copy_from_bbox(self.figure.bbox)
        while len(self._backgrounds) > _BACKGROUNDS_KEPT:
            self._backgrounds.popitem(last=False)

    def _apply(self, frame: _Frame) -> None:
        """Set limits, ticks and labels; transforms must match even when the layer is cached."""
        ticks, labels = (_history_ticks if frame.history else _time_ticks)(frame.window)
        right = _RIGHT_PLAYERS_PX if frame.players is not None else _RIGHT_PX
        for axes, top_px in (
            (self.cpu_axes, _CPU_TOP_PX),
            (self.players_axes, _CPU_TOP_PX),
            (self.memory_axes, _MEM_TOP_PX),
        ):
            axes.set_position(
                (
                    _LEFT_PX / WIDTH,
                    1 - (top_px + _PANEL_HEIGHT_PX) / HEIGHT,
                    1 - (_LEFT_PX + right) / WIDTH,
                    _PANEL_HEIGHT_PX / HEIGHT,
                )
            )
        self.players_axes.set_visible(frame.players is not None)
        if frame.players is not None:
            self.players_axes.set_xlim(-frame.window, 0)
            self.players_axes.set_ylim(0, frame.players.top)
            self.players_axes.yaxis.set_major_locator(FixedLocator(list(frame.players.ticks)))
            self.players_axes.yaxis.set_major_formatter(FixedFormatter(list(frame.players.labels)))
        for axes, scale in ((self.cpu_axes, frame.cpu), (self.memory_axes, frame.memory)):
            axes.set_xlim(-frame.window, 0)
            axes.set_ylim(0, scale.top)
            axes.xaxis.set_major_locator(FixedLocator(ticks))
            axes.yaxis.set_major_locator(FixedLocator(list(scale.ticks)))
            axes.yaxis.set_major_formatter(FixedFormatter(list(scale.labels)))
        self.memory_axes.xaxis.set_major_formatter(FixedFormatter(labels))
        self.window_label.set_text(f"last {_span_label(frame.window)}")
        self._frame = frame


@dataclass(frozen=True, slots=True)
class _SeriesStyle:
    line: tuple[float, float, float, float]
    fill: tuple[float, float, float, float]
    limit: tuple[float, float, float, float]
    band: tuple[float, float, float, float]


# The min..max band is denser than the fill under a line: the two never share a graph, and
# a test tells them apart by colour.
BAND_ALPHA: Final = 0.35
_CPU_STYLE: Final = _SeriesStyle(
    line=to_rgba(CPU_COLOUR),
    fill=to_rgba(CPU_COLOUR, 0.2),
    limit=to_rgba(CPU_COLOUR, 0.7),
    band=to_rgba(CPU_COLOUR, BAND_ALPHA),
)
_MEMORY_STYLE: Final = _SeriesStyle(
    line=to_rgba(MEMORY_COLOUR),
    fill=to_rgba(MEMORY_COLOUR, 0.2),
    limit=to_rgba(MEMORY_COLOUR, 0.7),
    band=to_rgba(MEMORY_COLOUR, BAND_ALPHA),
)
_PLAYERS_RGBA: Final = to_rgba(PLAYERS_COLOUR)
# The most players at once in a rolled-up bucket: a thin, fainter line above the average.
_PLAYERS_MAX_RGBA: Final = to_rgba(PLAYERS_COLOUR, 0.45)
_PLAYERS_WIDTH: Final = 1.5
_PLAYERS_MAX_WIDTH: Final = 0.9
_OFFLINE_RGBA: Final = to_rgba(OFFLINE_COLOUR, 0.14)
_UNKNOWN_RGBA: Final = to_rgba(UNKNOWN_COLOUR, 0.16)
_LINE_WIDTH: Final = 1.7
_LIMIT_WIDTH: Final = 1.1
_LIMIT_DASHES: Final[_LineStyle] = (0.0, (4.0, 3.0))
_SOLID: Final = "solid"


class _PixelMap:
    """Map an axes' data coordinates to canvas pixels (linear axes: one affine matrix)."""

    def __init__(self, axes: Axes) -> None:
        matrix = axes.transData.get_affine().get_matrix()
        self._linear = matrix[:2, :2].T
        self._offset = matrix[:2, 2]

    def __call__(self, points: FloatArray) -> FloatArray:
        """Return `points` (n x 2, data units) in pixels."""
        mapped: FloatArray = points @ self._linear + self._offset
        return mapped


class _Shapes:
    """Collects polygons or polylines with their colours, then loads them into one collection."""

    def __init__(self) -> None:
        self.shapes: list[FloatArray] = []
        self.colours: list[tuple[float, float, float, float]] = []
        self.widths: list[float] = []
        self.dashes: list[_LineStyle] = []

    def add(
        self,
        shape: FloatArray,
        colour: tuple[float, float, float, float],
        *,
        width: float = 0.0,
        dashes: _LineStyle = _SOLID,
    ) -> None:
        """Append one shape."""
        self.shapes.append(shape)
        self.colours.append(colour)
        self.widths.append(width)
        self.dashes.append(dashes)

    def load(self, collection: PolyCollection | LineCollection) -> None:
        """Replace the collection's shapes and styles with these."""
        if isinstance(collection, LineCollection):
            collection.set_segments(self.shapes)
            collection.set_color(self.colours)
            collection.set_linewidth(self.widths)
            collection.set_linestyle(self.dashes)
        else:
            collection.set_verts(self.shapes)
            collection.set_facecolor(self.colours)


class _CollectingFigure:
    """The image shown until a server has two samples in the window."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(WIDTH / _DPI, HEIGHT / _DPI), dpi=_DPI, facecolor=BACKGROUND)
        self.canvas = cast(_AggCanvas, FigureCanvasAgg(self.figure))
        self.figure.text(
            0.5, 0.54, "Collecting data…", color=TEXT, fontsize=13, ha="center", va="center"
        )
        self.hint = self.figure.text(
            0.5, 0.44, "", color=MUTED, fontsize=8.5, ha="center", va="center"
        )
        self.title = _place(self.figure, _TITLE)

    def draw(self, title: str | None, window: float) -> npt.NDArray[np.uint8]:
        """Draw the placeholder; return its RGB pixels."""
        self.title.set_text(_drawable(_shorten(title or "", _TITLE_MAX_CHARS), self.title))
        self.hint.set_text(
            f"CPU and memory of the last {format_span(window)} appear after two polls"
        )
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())


# -- data preparation (pure) --------------------------------------------------------------------


def _missed_polls(x: FloatArray) -> npt.NDArray[np.intp]:
    """Return the indices i where the step from sample i to i+1 is far longer than usual."""
    if len(x) < 3:
        return np.empty(0, dtype=np.intp)
    steps = np.diff(x)
    typical = float(np.median(steps))
    if typical <= 0:
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(steps > typical * _MISSED_POLL_FACTOR)


def _series(
    x: FloatArray,
    values: FloatArray,
    gap: npt.NDArray[np.bool_],
    breaks: npt.NDArray[np.intp],
    column: float,
) -> _Drawn:
    """Split the drawable samples into runs: gap samples and missed polls end a run.

    `column` is the width of one pixel in x units: runs much denser than that are thinned.
    """
    peak = float(values[~gap].max()) if not bool(gap.all()) else 0.0
    starts_after_break = np.zeros(len(x), dtype=np.bool_)
    starts_after_break[breaks + 1] = True
    runs: list[FloatArray] = []
    for start, stop in _runs(~gap):
        cuts = (np.flatnonzero(starts_after_break[start + 1 : stop]) + start + 1).tolist()
        bounds = [start, *cuts, stop]
        for first, last in itertools.pairwise(bounds):
            # A lone sample has no neighbour to draw a line to.
            if last - first >= 2:
                runs.append(_thin(x[first:last], values[first:last], column))
    return _Drawn(runs=runs, bands=[], peak=peak)


def _thin(x: FloatArray, y: FloatArray, column: float) -> FloatArray:
    """Return the run as points, keeping only each pixel column's lowest and highest value.

    A day of 10 s samples puts ~16 points in every pixel column; the column's min and max
    draw the same pixels for a fraction of the rasterising work.
    """
    bucket = np.floor((x - x[0]) / column).astype(np.int64)
    starts = np.flatnonzero(np.diff(bucket, prepend=-1))
    if len(x) <= 2 * len(starts):
        return np.column_stack((x, y))
    ends = np.append(starts[1:], len(x)) - 1
    points = np.empty((2 * len(starts), 2))
    points[0::2, 0] = x[starts]
    points[0::2, 1] = np.minimum.reduceat(y, starts)
    points[1::2, 0] = x[ends]
    points[1::2, 1] = np.maximum.reduceat(y, starts)
    return points


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Return [start, stop) index pairs of the True runs in `mask`."""
    if not len(mask):
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _under(run: FloatArray) -> FloatArray:
    """Return the polygon between a line run and zero."""
    polygon = np.empty((len(run) + 2, 2))
    polygon[0] = (run[0, 0], 0.0)
    polygon[1:-1] = run
    polygon[-1] = (run[-1, 0], 0.0)
    return polygon


def _gap_spans(
    x: FloatArray, state: npt.NDArray[np.uint8], breaks: npt.NDArray[np.intp]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Return x ranges shaded as offline and as unknown (which includes missed polls)."""
    ends = np.append(x[1:], 0.0)  # a stretch lasts until the next sample, or until now
    offline = [(float(x[a]), float(ends[b - 1])) for a, b in _runs(state == _OFFLINE)]
    unknown = [(float(x[a]), float(ends[b - 1])) for a, b in _runs(state == _UNKNOWN)]
    unknown.extend((float(x[i]), float(x[i + 1])) for i in breaks.tolist())
    return offline, unknown


def _band(start: float, end: float, top: float) -> FloatArray:
    return np.array(((start, 0.0), (start, top), (end, top), (end, 0.0)))


# -- stored history (pure) ----------------------------------------------------------------------

# Buckets of a minute or more hold many samples: their min..max is drawn as a band.
BAND_MIN_STEP_S: Final = 60


def _plan_history(series: HistorySeries, *, column: float) -> _Plan:
    """Turn a series' buckets into lines, bands and shaded spans.

    A bucket is drawn at its middle; a run of lines ends at a bucket without live samples or a
    missing one. A bucket spent mostly offline is shaded red, mostly unknown grey, and so is
    every stretch of the window no bucket covers (the bot was not recording).
    """
    step = float(series.step_s)
    end = series.end
    points = [p for p in series.points if series.start <= p.t < end]
    banded = series.step_s >= BAND_MIN_STEP_S
    live = [p for p in points if p.cpu_avg is not None and p.memory_avg is not None]
    x = np.fromiter((p.t + step / 2 - end for p in live), dtype=np.float64, count=len(live))
    # A missing bucket between two live ones breaks the line.
    breaks = np.flatnonzero(np.diff(x) > step * 1.5) if len(x) > 1 else np.empty(0, np.intp)

    def column_of(values: list[float]) -> FloatArray:
        return np.asarray(values, dtype=np.float64)

    cpu = _drawn(
        x,
        column_of([p.cpu_avg or 0.0 for p in live]),
        low=column_of([_or(p.cpu_min, p.cpu_avg) for p in live]),
        high=column_of([_or(p.cpu_max, p.cpu_avg) for p in live]),
        breaks=breaks,
        column=column,
        banded=banded,
    )
    memory = _drawn(
        x,
        column_of([p.memory_avg or 0.0 for p in live]),
        low=column_of([_or(p.memory_min, p.memory_avg) for p in live]),
        high=column_of([_or(p.memory_max, p.memory_avg) for p in live]),
        breaks=breaks,
        column=column,
        banded=banded,
    )
    offline: list[tuple[float, float]] = []
    unknown: list[tuple[float, float]] = []
    covered_to = series.start
    for point in points:
        if point.t > covered_to:
            _extend(unknown, covered_to - end, point.t - end)
        stop = min(point.t + step, end)
        state = point.state
        if state == "offline":
            _extend(offline, point.t - end, stop - end)
        elif state == "unknown":
            _extend(unknown, point.t - end, stop - end)
        covered_to = max(covered_to, stop)
    if covered_to < end:
        _extend(unknown, covered_to - end, 0.0)
    players, players_max = _history_players(
        points, step=step, end=end, column=column, banded=banded
    )
    return _Plan(cpu, memory, offline, unknown, banded, players, players_max)


def _history_players(
    points: Sequence[HistoryPoint], *, step: float, end: float, column: float, banded: bool
) -> tuple[_Drawn | None, list[FloatArray]]:
    """Return the players' avg line and, for rolled-up buckets, their max line (runs of each)."""
    counted = [p for p in points if p.players_avg is not None]
    if not counted:
        return None, []
    x = np.fromiter((p.t + step / 2 - end for p in counted), dtype=np.float64, count=len(counted))
    avg = np.asarray([p.players_avg or 0.0 for p in counted], dtype=np.float64)
    most = np.asarray([_or(p.players_max, p.players_avg) for p in counted], dtype=np.float64)
    breaks = np.flatnonzero(np.diff(x) > step * 1.5) if len(x) > 1 else np.empty(0, np.intp)
    line = _drawn(x, avg, low=avg, high=most, breaks=breaks, column=column, banded=False)
    if not banded:
        return line, []
    peaks = _drawn(x, most, low=most, high=most, breaks=breaks, column=column, banded=False)
    return _Drawn(line.runs, [], max(line.peak, peaks.peak)), peaks.runs


def _or(value: float | None, fallback: float | None) -> float:
    if value is not None:
        return float(value)
    return float(fallback or 0.0)


def _extend(spans: list[tuple[float, float]], start: float, end: float) -> None:
    """Append [start, end) to `spans`, merged with the last span when they touch."""
    if end <= start:
        return
    if spans and start <= spans[-1][1] + 1e-6:
        spans[-1] = (spans[-1][0], max(spans[-1][1], end))
    else:
        spans.append((start, end))


def _drawn(
    x: FloatArray,
    avg: FloatArray,
    *,
    low: FloatArray,
    high: FloatArray,
    breaks: npt.NDArray[np.intp],
    column: float,
    banded: bool,
) -> _Drawn:
    """Split one metric into runs (avg lines) and, when `banded`, min..max band polygons."""
    if not len(x):
        return _Drawn(runs=[], bands=[], peak=0.0)
    peak = float((high if banded else avg).max())
    bounds = [0, *(breaks + 1).tolist(), len(x)]
    runs: list[FloatArray] = []
    bands: list[FloatArray] = []
    for first, last in itertools.pairwise(bounds):
        if last - first < 2:
            continue  # a lone bucket has no neighbour to draw a line to
        runs.append(_thin(x[first:last], avg[first:last], column))
        if banded:
            bands.append(_envelope(x[first:last], low[first:last], high[first:last], column))
    return _Drawn(runs=runs, bands=bands, peak=peak)


def _envelope(x: FloatArray, low: FloatArray, high: FloatArray, column: float) -> FloatArray:
    """Return the polygon from `low` to `high` along x, one lowest/highest pair per pixel column."""
    bucket = np.floor((x - x[0]) / column).astype(np.int64)
    starts = np.flatnonzero(np.diff(bucket, prepend=-1))
    xs = x[starts]
    tops = np.maximum.reduceat(high, starts)
    bottoms = np.minimum.reduceat(low, starts)
    # The last bucket of each column reaches its x too, so the band is as wide as the line.
    ends = np.append(starts[1:], len(x)) - 1
    xs = np.column_stack((xs, x[ends])).ravel()
    tops = np.repeat(tops, 2)
    bottoms = np.repeat(bottoms, 2)
    return np.concatenate((np.column_stack((xs, tops)), np.column_stack((xs, bottoms))[::-1]))


# -- scales and labels (pure) -------------------------------------------------------------------


def _nice_ceiling(value: float) -> float:
    """Return the smallest round number (1, 1.2, 1.5, 2, 2.5 ... x 10^k) >= `value`."""
    if value <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    for step in _NICE_STEPS:
        if step * base >= value * (1 - 1e-9):
            return step * base
    return 10.0 * base


def _scale(top: float, unit: float, suffix: str) -> _Scale:
    """Put two to four round ticks from 0 to `top` (data units), labelled in `unit`."""
    span = top / unit
    base = 10.0 ** math.floor(math.log10(span))
    step = next(
        (m * b for b in (base / 10, base) for m in (1.0, 2.0, 2.5, 5.0) if span / (m * b) <= 3),
        10 * base,
    )
    count = math.floor(span / step + 1e-9)
    ticks = tuple(k * step * unit for k in range(count + 1))
    labels = tuple(f"{k * step:g}{suffix}" for k in range(count + 1))
    return _Scale(top=top, ticks=ticks, labels=labels)


def _cpu_scale(peak: float, limit: float | None) -> _Scale:
    # Round tops shared by many limits keep the number of static layers small.
    top = _nice_ceiling(max(peak, limit or 0.0, _CPU_FLOOR_PERCENT) * _HEADROOM)
    return _scale(top, 1.0, "%")


def _players_scale(peak: float) -> _Scale:
    # Whole players: the floor keeps the ticks integers (0, 2, 4, 6 for an empty server).
    return _scale(_nice_ceiling(max(peak, _PLAYERS_FLOOR) * _HEADROOM), 1.0, "")


def _memory_scale(peak: float, limit: int | None) -> _Scale:
    wanted = max(peak, float(limit or 0), _MEMORY_FLOOR_BYTES) * _HEADROOM
    unit = GIB if wanted >= GIB else MIB
    return _scale(_nice_ceiling(wanted / unit) * unit, unit, " GiB" if unit == GIB else " MiB")


def _time_ticks(window: float) -> tuple[list[float], list[str]]:
    """Return x ticks at round minutes/hours back from now, labelled "−10 min" ... "now"."""
    steps = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
    step = next((s for s in steps if window / s <= 4), steps[-1])
    ticks = [-float(k * step) for k in range(int(window // step), 0, -1)] + [0.0]
    labels = [f"−{format_span(-tick)}" if tick else "now" for tick in ticks]
    return ticks, labels


def _span_label(seconds: float) -> str:
    """Format a window or a time back: days from two whole days on ("7 d"), else `format_span`."""
    if seconds >= 2 * DAY and seconds % DAY == 0:
        return f"{seconds / DAY:g} d"
    return format_span(seconds)


def _history_ticks(window: float) -> tuple[list[float], list[str]]:
    """Return x ticks back from the window's end: minutes or hours up to a day, then days."""
    steps = (900, 1800, 3600, 7200, 10800, 21600, 43200, DAY, 2 * DAY, 5 * DAY, 7 * DAY)
    step = next((s for s in steps if window / s <= 8), steps[-1])
    if window <= DAY:
        step = next((s for s in steps if window / s <= 4), steps[-1])
    ticks = [-float(k * step) for k in range(int(window // step), 0, -1)] + [0.0]

    def label(back: float) -> str:
        return f"−{back / DAY:g} d" if step >= DAY else f"−{format_span(back)}"

    return ticks, [label(-tick) if tick else "now" for tick in ticks]


def _shorten(text: str, limit: int) -> str:
    """Return `text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- PNG ----------------------------------------------------------------------------------------


def _encode_png(rgba: npt.NDArray[np.uint8], level: int) -> bytes:
    """Encode opaque RGBA pixels as an RGB PNG: filter "none" on every row, then zlib at `level`.

    Writing the few chunks by hand skips Pillow's per-row filter search, which costs more time
    than it saves bytes on these mostly flat images (Pillow still drops the alpha channel:
    its C loop is several times faster than a strided numpy copy).
    """
    height, width = rgba.shape[:2]
    rgb = Image.frombuffer("RGBA", (width, height), rgba, "raw", "RGBA", 0, 1).convert("RGB")
    rows = np.empty((height, width * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 0  # the filter type byte that starts each scanline
    rows[:, 1:] = np.frombuffer(rgb.tobytes(), dtype=np.uint8).reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.data, level)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return b"".join(
        (struct.pack(">I", len(body)), kind, body, struct.pack(">I", zlib.crc32(kind + body)))
    )
