"""A per-minute request budget that keeps the client under the panel's rate limit."""

from __future__ import annotations

import asyncio
import bisect
import logging

from pterodisbot.clock import Clock, SystemClock

log = logging.getLogger(__name__)

# Float sums of fake-clock deadlines can land one ulp short of a token's return time.
_EPSILON = 1e-9


class RateBudget:
    """Hand out at most `requests_per_minute` request tokens in any minute.

    A token bucket whose spent tokens each come back one period (60 s plus a safety margin) after
    they were spent. Unlike a steadily refilled bucket it never lets more than the limit through
    in any 60 s window, so it stays under the panel whether the panel counts per fixed window
    (Laravel's limiter, started by the first request) or per sliding window, and still allows a
    full burst when the bucket is full.

    `observe()` folds in what the panel reports: a lower `X-RateLimit-Limit`, fewer
    `X-RateLimit-Remaining` than we think we have (another client shares the key), and the
    `Retry-After` of a 429, during which no token is handed out.
    """

    def __init__(
        self,
        requests_per_minute: int,
        *,
        clock: Clock | None = None,
        period: float = 60.0,
        margin: float = 1.0,
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError(f"requests_per_minute must be at least 1, not {requests_per_minute}")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._configured = requests_per_minute
        self._capacity = requests_per_minute
        # The margin absorbs latency jitter and clock skew between us and the panel.
        self._window = period + margin
        # When each spent token was spent, sorted; includes tokens charged for other clients'
        # use of the key (see observe()). At most a few hundred entries.
        self._spent: list[float] = []
        self._blocked_until = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def capacity(self) -> int:
        """Return how many requests a minute we may make: the configured or the panel's limit."""
        return self._capacity

    @property
    def window(self) -> float:
        """Return the seconds after which a spent token comes back (a minute plus the margin)."""
        return self._window

    @property
    def remaining(self) -> int:
        """Return how many tokens could be spent right now without waiting."""
        now = self._clock.monotonic()
        self._expire(now)
        if now < self._blocked_until:
            return 0
        return max(0, self._capacity - len(self._spent))

    async def acquire(self) -> None:
        """Wait (on the clock) until a request may be sent, and spend a token for it."""
        # One waiter at a time keeps the queue first-come first-served.
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                self._expire(now)
                wait = self._blocked_until - now
                if wait <= 0:
                    excess = len(self._spent) - self._capacity
                    if excess < 0:
                        self._spent.append(now)
                        return
                    # The token that frees a slot is the (excess+1)-th oldest.
                    wait = self._spent[excess] + self._window - now
                await self._clock.sleep(max(wait, _EPSILON))

    def observe(
        self,
        limit: int | None = None,
        remaining: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Correct the budget from the panel's rate-limit headers on an answer."""
        now = self._clock.monotonic()
        self._expire(now)
        if limit is not None and limit > 0:
            capacity = min(self._configured, limit)
            if capacity != self._capacity:
                log.info(
                    "panel rate budget now %d requests/min (configured %d, panel limit %d)",
                    capacity,
                    self._configured,
                    limit,
                )
                self._capacity = capacity
        reset_in = retry_after if retry_after is not None and retry_after > 0 else None
        if reset_in is not None:
            self._blocked_until = max(self._blocked_until, now + reset_in)
        if remaining is not None:
            available = self._capacity - len(self._spent)
            unseen = available - max(0, remaining)
            if unseen > 0:
                # Someone else spent these on the same key. Charge them so they return when the
                # panel says its window resets, or else in a full minute: never earlier than
                # the panel forgets them.
                charged_at = now if reset_in is None else min(now, now + reset_in - self._window)
                for _ in range(unseen):
                    bisect.insort(self._spent, charged_at)

    def _expire(self, now: float) -> None:
        returned = bisect.bisect_right(self._spent, now + _EPSILON - self._window)
        del self._spent[:returned]
