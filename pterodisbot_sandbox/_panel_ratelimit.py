"""The simulated panel's rate limit: Laravel's fixed window per key, on the panel clock."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pterodisbot.clock import Clock

RATE_LIMIT_WINDOW_SECONDS = 60.0


@dataclass(slots=True)
class Window:
    opened_at: float
    hits: int
    refused: int = 0


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    reset_at: int
    first_refusal: bool = False

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
            headers["X-RateLimit-Reset"] = str(self.reset_at)
        return headers


class RateLimiter:
    """Count requests per key label in fixed 60 s windows opened by the first hit."""

    def __init__(self, limit: int, clock: Clock) -> None:
        self._limit = limit
        self._clock = clock
        self._windows: dict[str, Window] = {}

    def hit(self, label: str) -> RateDecision:
        now = self._clock.monotonic()
        window = self._windows.get(label)
        if window is None or now - window.opened_at >= RATE_LIMIT_WINDOW_SECONDS:
            window = Window(now, 0)
            self._windows[label] = window
        retry_after = max(1, math.ceil(window.opened_at + RATE_LIMIT_WINDOW_SECONDS - now))
        reset_at = math.ceil(self._clock.time() + retry_after)
        if window.hits >= self._limit:
            window.refused += 1
            return RateDecision(
                False, self._limit, 0, retry_after, reset_at, first_refusal=window.refused == 1
            )
        window.hits += 1
        return RateDecision(True, self._limit, self._limit - window.hits, retry_after, reset_at)
