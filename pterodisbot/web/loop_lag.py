"""How late the event loop runs what is due: one timer at a time, measured on the real clock.

A loop that something blocks (a slow callback, a long computation on it) wakes every timer late
by as much; a sleep of `interval` that ends later than asked measures it. Real monotonic time on
purpose: the lag is the real loop's, whatever clock the services use (tests fake that one).
The web server owns the probe (started with it, cancelled when it stops): `/metrics` is the only
reader, so a bot without `[http]` runs no probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Final

# Seconds: under a millisecond is a healthy loop, 50 ms is the scale target's p99, a second is
# a stall someone will notice in Discord.
LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# A timer every 100 ms: ten wake-ups a second cost nothing and a 50 ms stall cannot hide.
PROBE_INTERVAL: Final = 0.1
# The largest lag is reported over the last minute: longer than any scrape interval.
MAX_WINDOW: Final = 60.0


@dataclass(frozen=True, slots=True)
class LoopLagStats:
    """The lags measured so far: a histogram, the newest, the largest of the recent window."""

    buckets: tuple[tuple[float, int], ...]  # (upper bound, cumulative count), +Inf not included
    count: int
    total: float
    last: float
    recent_max: float


class LoopLagProbe:
    """Sleep `interval` at a time and record how much later than asked the loop woke."""

    def __init__(
        self,
        *,
        interval: float = PROBE_INTERVAL,
        window: float = MAX_WINDOW,
        buckets: tuple[float, ...] = LAG_BUCKETS,
    ) -> None:
        self.interval = interval
        self.window = window
        self._bounds = buckets
        # Per bucket (not cumulative); the last one is above every bound.
        self._counts = [0] * (len(buckets) + 1)
        self._total = 0.0
        self._last = 0.0
        # (when, lag) with lags strictly decreasing: the window's largest is always the first.
        self._recent: deque[tuple[float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start measuring (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pterodisbot-loop-lag")

    async def close(self) -> None:
        """Stop measuring and wait for the task to end (idempotent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def stats(self) -> LoopLagStats:
        """Return the lags measured so far."""
        self._expire(time.monotonic())
        cumulative = 0
        buckets = []
        for bound, count in zip(self._bounds, self._counts, strict=False):
            cumulative += count
            buckets.append((bound, cumulative))
        return LoopLagStats(
            buckets=tuple(buckets),
            count=sum(self._counts),
            total=self._total,
            last=self._last,
            recent_max=self._recent[0][1] if self._recent else 0.0,
        )

    async def _run(self) -> None:
        while True:
            asked = time.monotonic() + self.interval
            await asyncio.sleep(self.interval)
            now = time.monotonic()
            self._observe(max(0.0, now - asked), now)

    def _observe(self, lag: float, now: float) -> None:
        index = next((i for i, bound in enumerate(self._bounds) if lag <= bound), -1)
        self._counts[index] += 1
        self._total += lag
        self._last = lag
        while self._recent and self._recent[-1][1] <= lag:
            self._recent.pop()
        self._recent.append((now, lag))
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window:
            self._recent.popleft()
