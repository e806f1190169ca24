"""Time sources: the real clock, and a fake one that tests advance by hand."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """What the bot, the panel client and the sandboxes ask of time."""

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes back."""
        ...

    def time(self) -> float:
        """Return seconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait for `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Return `time.monotonic()`."""
        return time.monotonic()

    def time(self) -> float:
        """Return `time.time()`."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that only moves when told to; sleepers wake as `advance()` passes their deadline.

    With `autojump=<real seconds>`, whenever the loop has had that much real time with sleepers
    waiting, the clock jumps to the earliest deadline (like trio's autojump). A test can then run
    minutes of simulated time in a fraction of a second while real HTTP still flows between steps.
    """

    def __init__(self, start: float = 1_700_000_000.0, *, autojump: float | None = None) -> None:
        self._now = 0.0
        self._epoch = start
        self._autojump = autojump
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._jumper: asyncio.Task[None] | None = None

    def monotonic(self) -> float:
        """Return the fake monotonic time."""
        return self._now

    def time(self) -> float:
        """Return the fake wall time."""
        return self._epoch + self._now

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has been advanced past now + seconds."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        if self._autojump is not None and (self._jumper is None or self._jumper.done()):
            self._jumper = loop.create_task(self._jump_when_idle(self._autojump))
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    async def _jump_when_idle(self, threshold: float) -> None:
        while True:
            await asyncio.sleep(threshold)
            self._sleepers = [s for s in self._sleepers if not s[2].done()]
            heapq.heapify(self._sleepers)
            if not self._sleepers:
                return
            self.advance_to(self._sleepers[0][0])

    def next_deadline(self) -> float | None:
        """Return the monotonic time the earliest sleeper wakes at, None when none is waiting."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def advance(self, seconds: float) -> None:
        """Move the clock forward and wake every sleeper whose deadline has passed."""
        self.advance_to(self._now + max(0.0, seconds))

    def advance_to(self, when: float) -> None:
        """Move the clock to `when` (never backwards) and wake due sleepers."""
        self._now = max(self._now, when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def run_for(self, seconds: float, step: float = 0.1) -> None:
        """Advance in small steps, yielding to the loop so woken tasks run in between."""
        end = self._now + seconds
        while self._now < end:
            self.advance(min(step, end - self._now))
            for _ in range(5):
                await asyncio.sleep(0)
