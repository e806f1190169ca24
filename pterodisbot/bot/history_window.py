"""Read one window of a server's history: its buckets, uptime and status changes, in one range.

`/server_history`, the History button and `GET /api/servers/{id}/history` all read through
`read_window`, so the three show the same figures for the same moment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pterodisbot.store import HistorySeries, StateChange, Uptime, Window

if TYPE_CHECKING:
    from pterodisbot.store import History

# What a window is asked for when none is named (the History button, the endpoint's default).
DEFAULT_WINDOW = "24h"


@dataclass(frozen=True, slots=True)
class WindowRead:
    """What the store answered for one server over one window."""

    window: Window
    series: HistorySeries
    uptime: Uptime
    changes: Sequence[StateChange]


def window_range(window: Window, now: float) -> tuple[float, float]:
    """Return `[start, end)` of `window` ending at the last whole bucket before `now`.

    Whole buckets only: the one being filled would read as partly unknown, and equal ranges
    within a bucket let the graph cache answer a second click.
    """
    end = math.floor(now / window.step_s) * window.step_s
    return float(end - window.seconds), float(end)


async def read_window(history: History, server: str, window: Window, now: float) -> WindowRead:
    """Read a server's series, uptime and status changes over `window` (raises what they raise).

    `HistoryOff` when history is off, `StoreError` when the store fails.
    """
    start, end = window_range(window, now)
    # One after the other: a store serialises its reads anyway, and a failure ends all three.
    series = await history.series(server, start, end, window.step_s)
    uptime = await history.uptime(server, start, end)
    changes = await history.state_changes(server, start, end)
    return WindowRead(window=window, series=series, uptime=uptime, changes=tuple(changes))
