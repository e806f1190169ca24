"""A day and more of one server's history, written through the real store's `write()`.

The samples are 10 s apart on a grid of whole minutes, from 30 h before `now` to an hour after
it, so whatever whole-bucket range a read picks near `now` holds whole samples, and the figures
of a 24 h window do not depend on which minute the read lands in:

- running, except one hour offline (6 h to 5 h before the grid's "now"), with its changes;
- nothing at all from 10 h to 8 h before (the bot was not running): two hours unknown;
- while running the game answers with `i % 31` players (0 to 30, 15 on average), except every
  ninth query, which it does not answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from pterodisbot.config import HistoryURL
from pterodisbot.store import SampleRow, StateChange, open_store

HOUR = 3600
STEP = 10
MIB = 1024**2
GIB = 1024**3
OFFLINE_FROM, OFFLINE_TO = -6 * HOUR, -5 * HOUR
MISSING_FROM, MISSING_TO = -10 * HOUR, -8 * HOUR
# A 24 h window anywhere near "now" is 21 h running, 1 h offline, 2 h unknown.
DAY_RUNNING_S = 21 * HOUR
DAY_OFFLINE_S = 1 * HOUR
DAY_UNKNOWN_S = 2 * HOUR


@dataclass(frozen=True, slots=True)
class Written:
    """What was written: the samples by time, and the state changes."""

    grid: float
    samples: dict[float, SampleRow]
    changes: tuple[StateChange, ...]


def sample_at(server: str, grid: float, i: int) -> SampleRow | None:
    """Return the sample `i` steps after 30 h before `grid`, None where nothing was recorded."""
    t = grid - 30 * HOUR + i * STEP
    back = t - grid
    if MISSING_FROM <= back < MISSING_TO:
        return None
    if OFFLINE_FROM <= back < OFFLINE_TO:
        return SampleRow(server, t, "offline", 0.0, 0, 2 * GIB, 0.0, 0.0, 0, float(STEP))
    return SampleRow(
        server=server,
        t=t,
        state="running",
        # Exact in binary, so a float32 column would not change them either.
        cpu_percent=50.0 + 0.25 * round(160 * math.sin(i / 30)),
        memory_bytes=GIB + (i % 60) * MIB,
        disk_bytes=2 * GIB + i,
        rx_rate=float(1000 + i % 7),
        tx_rate=float(100 + i % 5),
        uptime_ms=i * STEP * 1000,
        span_s=float(STEP),
        players=None if i % 9 == 0 else i % 31,
    )


async def write_history(url: HistoryURL, server: str, now: float) -> Written:
    """Write 31 h of `server`'s samples around `now` (and its state changes) in one batch."""
    grid = math.floor(now / 60) * 60
    samples = {}
    for i in range(31 * HOUR // STEP):
        row = sample_at(server, grid, i)
        if row is not None:
            samples[row.t] = row
    changes = (
        StateChange(server, grid + OFFLINE_FROM, "running", "offline"),
        StateChange(server, grid + OFFLINE_TO, "offline", "starting"),
        StateChange(server, grid + OFFLINE_TO + STEP, "starting", "running"),
    )
    store = open_store(url)
    assert store is not None, url
    await store.open()
    try:
        await store.write(list(samples.values()), changes)
    finally:
        await store.close()
    return Written(grid, samples, changes)


def spoil(database: Path) -> None:
    """Overwrite a SQLite store and its write-ahead log in place with bytes that are no database.

    In place, so the bot's open connection reads them: its next read fails as a disk would.
    """
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            with path.open("r+b") as file:
                file.write(b"not a database any more " * 4096)
