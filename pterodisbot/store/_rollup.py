"""What both backends share and compute the same way: units on disk, bucket maths, re-bucketing.

On disk a sample is integers where that loses nothing a graph shows and saves bytes: time in
milliseconds, CPU in hundredths of a percent, network rates in whole bytes per second, spans in
milliseconds. A bucket row (a rolled-up bucket, or a raw sample read as a one-sample bucket) keeps
sums, not averages, so merging buckets (HOUR from MINUTE, re-bucketing a read) weights every
average by its live samples exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

import numpy as np

from pterodisbot.server_metrics_graphs import STATE_CODES, STATE_NAMES, MetricArrays
from pterodisbot.store._model import HistoryPoint, SampleRow, StateSeconds

# State codes on disk are the ring's (`STATE_NAMES`: unknown, offline, starting, running,
# stopping); starting and above are live: their numbers are real.
LIVE_FROM: Final = STATE_CODES["starting"]
# The order of a bucket row's state-seconds columns, by state code.
STATE_COLUMNS: Final = tuple(f"s_{name}" for name in STATE_NAMES)
# A bucket's players: how many of its samples the game answered, their sum and the peak; they
# merge exactly (an average of averages would not). Last, as schema 3 appended them.
PLAYER_COLUMNS: Final = ("p_n", "p_sum", "p_max")
# A bucket row's columns after (server, t), the same in every tier and on both backends.
BUCKET_COLUMNS: Final = (
    "n",
    "cpu_sum",
    "cpu_min",
    "cpu_max",
    "mem_sum",
    "mem_min",
    "mem_max",
    "disk",
    "rx_sum",
    "tx_sum",
    *STATE_COLUMNS,
    *PLAYER_COLUMNS,
)
# Where a bucket row's player columns start (after t and the columns before them).
_PLAYERS_AT: Final = 1 + BUCKET_COLUMNS.index("p_n")
# 2: the `state` table (small named texts: the alerts' persisted state).
# 3: players: `players` on raw samples (NULL: no answer), `PLAYER_COLUMNS` on buckets.
SCHEMA_VERSION: Final = 3
# A watermark before the first sample was ever written: nothing to roll up, and every tier
# "covers" a time nothing was written for.
NEVER: Final = 2**53
# A rollup transaction covers at most this much time: a backlog of days after a long stop is
# many short transactions, never one that holds the database for minutes.
MINUTE_CHUNK_S: Final = 1800
HOUR_CHUNK_S: Final = 6 * 3600

# (t seconds, n, cpu_sum, cpu_min, cpu_max, mem_sum, mem_min, mem_max, disk, rx_sum, tx_sum,
#  ms per state code..., p_n, p_sum, p_max): a bucket as read, in the units on disk.
BucketRow = Sequence[float | int | None]


def t_ms(t: float) -> int:
    """Return a time in whole milliseconds, floored, so it stays in its minute and hour."""
    return math.floor(t * 1000)


def centi(value: float) -> int:
    """Return a CPU percentage in hundredths."""
    return round(value * 100)


def whole(value: float) -> int:
    """Return a rate in whole units."""
    return round(value)


def floor_to(t: float, step: int) -> int:
    """Return the start of the `step`-second bucket holding `t`."""
    return math.floor(t / step) * step


def sample_values(row: SampleRow, server_id: int) -> tuple[int | bool | None, ...]:
    """Return a raw sample as the raw table's columns (players None: the game did not answer)."""
    return (
        server_id,
        t_ms(row.t),
        STATE_CODES.get(row.state, 0),
        centi(row.cpu_percent),
        int(row.memory_bytes),
        int(row.disk_bytes),
        whole(row.rx_rate),
        whole(row.tx_rate),
        int(row.uptime_ms),
        round(row.span_s * 1000),
        bool(row.is_suspended),
        None if row.players is None else int(row.players),
    )


@dataclass(slots=True)
class _Bucket:
    """One output bucket being merged from bucket rows."""

    t: float
    n: int = 0
    cpu_sum: float = 0.0
    cpu_min: float | None = None
    cpu_max: float | None = None
    mem_sum: float = 0.0
    mem_min: int | None = None
    mem_max: int | None = None
    disk: int | None = None
    rx_sum: float = 0.0
    tx_sum: float = 0.0
    ms: list[float] = field(default_factory=lambda: [0.0] * len(STATE_NAMES))
    players_n: int = 0
    players_sum: int = 0
    players_max: int | None = None

    def add(self, row: BucketRow) -> None:
        n = int(row[1] or 0)
        if n:
            self.n += n
            self.cpu_sum += float(row[2] or 0)
            self.cpu_min = _lower(self.cpu_min, row[3])
            self.cpu_max = _higher(self.cpu_max, row[4])
            self.mem_sum += float(row[5] or 0)
            low, high = _lower(self.mem_min, row[6]), _higher(self.mem_max, row[7])
            self.mem_min = None if low is None else int(low)
            self.mem_max = None if high is None else int(high)
            self.rx_sum += float(row[9] or 0)
            self.tx_sum += float(row[10] or 0)
        if row[8] is not None:
            # Rows come oldest first: the last one with a disk reading wins.
            self.disk = int(row[8])
        for code in range(len(STATE_NAMES)):
            self.ms[code] += float(row[11 + code] or 0)
        # A bucket of a version 2 store has no player columns (NULL): no answer in it.
        answered = int(row[_PLAYERS_AT] or 0)
        if answered:
            self.players_n += answered
            self.players_sum += int(row[_PLAYERS_AT + 1] or 0)
            high = _higher(self.players_max, row[_PLAYERS_AT + 2])
            self.players_max = None if high is None else int(high)

    def point(self) -> HistoryPoint:
        n = self.n
        seconds = StateSeconds(
            running_s=self.ms[STATE_CODES["running"]] / 1000,
            starting_s=self.ms[STATE_CODES["starting"]] / 1000,
            stopping_s=self.ms[STATE_CODES["stopping"]] / 1000,
            offline_s=self.ms[STATE_CODES["offline"]] / 1000,
            unknown_s=self.ms[STATE_CODES["unknown"]] / 1000,
        )
        return HistoryPoint(
            t=self.t,
            live_samples=n,
            cpu_avg=self.cpu_sum / n / 100 if n else None,
            cpu_min=self.cpu_min / 100 if n and self.cpu_min is not None else None,
            cpu_max=self.cpu_max / 100 if n and self.cpu_max is not None else None,
            memory_avg=self.mem_sum / n if n else None,
            memory_min=self.mem_min if n else None,
            memory_max=self.mem_max if n else None,
            disk_bytes=self.disk,
            rx_rate=self.rx_sum / n if n else None,
            tx_rate=self.tx_sum / n if n else None,
            seconds=seconds,
            players_avg=self.players_sum / self.players_n if self.players_n else None,
            players_max=self.players_max if self.players_n else None,
            players_samples=self.players_n,
        )


def _lower(current: float | None, value: float | int | None) -> float | None:
    if value is None:
        return current
    return float(value) if current is None else min(current, float(value))


def _higher(current: float | None, value: float | int | None) -> float | None:
    if value is None:
        return current
    return float(value) if current is None else max(current, float(value))


def rebucket(rows: Iterable[BucketRow], step_s: int) -> tuple[HistoryPoint, ...]:
    """Merge bucket rows (oldest first) into buckets of `step_s` aligned to its multiples."""
    buckets: dict[int, _Bucket] = {}
    for row in rows:
        start = floor_to(float(row[0] or 0), step_s)
        bucket = buckets.get(start)
        if bucket is None:
            bucket = buckets[start] = _Bucket(float(start))
        bucket.add(row)
    return tuple(buckets[key].point() for key in sorted(buckets))


def state_seconds(ms_by_code: Sequence[float | int | None]) -> StateSeconds:
    """Return summed milliseconds per state code as `StateSeconds`."""
    ms = [float(v or 0) / 1000 for v in ms_by_code]
    return StateSeconds(
        running_s=ms[STATE_CODES["running"]],
        starting_s=ms[STATE_CODES["starting"]],
        stopping_s=ms[STATE_CODES["stopping"]],
        offline_s=ms[STATE_CODES["offline"]],
        unknown_s=ms[STATE_CODES["unknown"]],
    )


def metric_arrays(rows: Sequence[Sequence[int | float | bool | None]]) -> MetricArrays:
    """Build a ring refill from raw rows (t_ms, state, cpu, mem, disk, rx, tx, uptime, susp.,
    players: None when the game did not answer)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * 10
    return MetricArrays(
        t=np.array(columns[0], dtype=np.float64) / 1000,
        state=np.array(columns[1], dtype=np.uint8),
        suspended=np.array(columns[8], dtype=np.bool_),
        cpu_percent=(np.array(columns[2], dtype=np.float64) / 100).astype(np.float32),
        memory_bytes=np.array(columns[3], dtype=np.int64),
        disk_bytes=np.array(columns[4], dtype=np.int64),
        rx_rate=np.array(columns[5], dtype=np.float32),
        tx_rate=np.array(columns[6], dtype=np.float32),
        uptime_ms=np.array(columns[7], dtype=np.int64),
        players=np.array(
            [np.nan if n is None else n for n in columns[9]], dtype=np.float32
        ).reshape(-1),
    )


def group_recent(
    rows: Iterable[Sequence[int | float | bool | None]], names: Mapping[int, str]
) -> dict[str, MetricArrays]:
    """Split raw rows (server id first, ordered by server then time) into each server's arrays."""
    grouped: dict[str, list[Sequence[int | float | bool | None]]] = {}
    for row in rows:
        grouped.setdefault(names[int(cast("int", row[0]))], []).append(row[1:])
    return {name: metric_arrays(server_rows) for name, server_rows in grouped.items()}


@dataclass(frozen=True, slots=True)
class Marks:
    """Where each tier stands, in seconds.

    Buckets starting before `minute`/`hour` (the watermarks; `NEVER` until the first write)
    are rolled up; raw samples exist from `raw_floor` on and minute buckets from `minute_floor`
    on (what retention dropped is below them; a floor is 0 until something was dropped).
    Invariants the writers keep:
    hour <= minute, minute_floor <= hour, raw_floor <= minute.
    """

    minute: int = NEVER
    hour: int = NEVER
    raw_floor: int = 0
    minute_floor: int = 0


Piece = tuple[str, float, float]


def series_pieces(marks: Marks, start: float, end: float, step_s: int) -> list[Piece]:
    """Return (tier, lo, hi) ranges for a read at `step_s`: the coarsest tier that fits first.

    The coarsest tier whose step divides `step_s` covers up to its watermark, the next finer
    one up to its own, raw samples the rest: data not rolled up yet is read too.
    """
    pieces: list[Piece] = []
    lo = start
    for tier, step, mark in (("hour", 3600, marks.hour), ("minute", 60, marks.minute)):
        if step_s % step:
            continue
        hi = min(end, mark)
        if hi > lo:
            pieces.append((tier, lo, hi))
            lo = hi
    if end > lo:
        pieces.append(("raw", lo, end))
    return pieces


def uptime_pieces(marks: Marks, start: float, end: float) -> list[Piece]:
    """Return (tier, lo, hi) ranges for uptime: the finest tier that still holds each part."""
    hour_hi = min(end, marks.minute_floor, marks.raw_floor)
    minute_lo, minute_hi = max(start, hour_hi), min(end, marks.raw_floor)
    pieces: list[Piece] = [
        ("hour", start, hour_hi),
        ("minute", minute_lo, minute_hi),
        ("raw", max(start, marks.raw_floor), end),
    ]
    return [piece for piece in pieces if piece[2] > piece[1]]


def lowered(marks: Marks, earliest: float) -> Marks:
    """Return the watermarks after a write whose earliest sample is at `earliest` seconds.

    A sample behind a watermark (late, or retried) sends the tier back to its bucket so the
    next `maintain` computes it again; the hour tier follows, as its buckets hold that minute.
    """
    return Marks(
        minute=min(marks.minute, floor_to(earliest, 60)),
        hour=min(marks.hour, floor_to(earliest, 3600)),
        raw_floor=marks.raw_floor,
        minute_floor=marks.minute_floor,
    )
