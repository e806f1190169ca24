"""Discord-style rate limits: per-route buckets keyed by major parameter, and a global cap."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from pterodisbot.clock import Clock


@dataclass(frozen=True, slots=True)
class Bucket:
    """`limit` requests per `per` seconds."""

    limit: int
    per: float


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The sandbox's limits; the defaults are close to what Discord answers a bot today."""

    # Discord: 5 messages per 5 s per channel, edits about the same.
    message_create: Bucket = field(default_factory=lambda: Bucket(5, 5.0))
    message_edit: Bucket = field(default_factory=lambda: Bucket(5, 5.0))
    message_delete: Bucket = field(default_factory=lambda: Bucket(5, 1.0))
    # Interaction follow-ups and @original edits, per interaction token.
    webhook: Bucket = field(default_factory=lambda: Bucket(5, 2.0))
    # Every other route, per route and major parameter.
    default: Bucket = field(default_factory=lambda: Bucket(50, 1.0))
    # All authenticated requests of the bot; interaction endpoints are exempt as on Discord.
    global_limit: Bucket = field(default_factory=lambda: Bucket(50, 1.0))
    enabled: bool = True

    @classmethod
    def off(cls) -> RateLimits:
        """Return limits that never answer 429 and send no rate limit headers."""
        return cls(enabled=False)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against the limiter, and the headers to send."""

    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0
    is_global: bool = False
    scope: str = "user"


class _Window:
    __slots__ = ("count", "reset_at")

    def __init__(self, reset_at: float) -> None:
        self.count = 0
        self.reset_at = reset_at


class RateLimiter:
    """Fixed-window counters per (bucket, major parameter) plus one global window."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._global: _Window | None = None

    @property
    def limits(self) -> RateLimits:
        """Return the configured limits."""
        return self._limits

    def bucket_for(self, method: str, route: str) -> tuple[str, Bucket]:
        """Return (bucket name, limit) for a route template such as `/channels/{channel_id}`."""
        lim = self._limits
        if route.startswith("/interactions/"):
            # The initial callback can only happen once per interaction; it has its own bucket.
            return "interaction_callback", lim.default
        if route.startswith("/webhooks/"):
            return "webhook", lim.webhook
        if route.endswith("/channels/{channel_id}/messages") and method == "POST":
            return "message_create", lim.message_create
        if route.endswith("/messages/{message_id}"):
            if method == "PATCH":
                return "message_edit", lim.message_edit
            if method == "DELETE":
                return "message_delete", lim.message_delete
        return f"{method} {route}", lim.default

    def check(self, method: str, route: str, major: str, *, global_exempt: bool) -> Decision:
        """Count one request and decide whether it may proceed."""
        now = self._clock.monotonic()
        name, bucket = self.bucket_for(method, route)
        bucket_hash = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:32]

        if self._limits.enabled and not global_exempt:
            g = self._global
            if g is None or now >= g.reset_at:
                g = self._global = _Window(now + self._limits.global_limit.per)
            if g.count >= self._limits.global_limit.limit:
                retry = g.reset_at - now
                return Decision(
                    allowed=False,
                    headers={
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                        "Retry-After": str(max(1, math.ceil(retry))),
                    },
                    retry_after=retry,
                    is_global=True,
                    scope="global",
                )
            g.count += 1

        key = (bucket_hash, major)
        w = self._windows.get(key)
        if w is None or now >= w.reset_at:
            w = self._windows[key] = _Window(now + bucket.per)
        reset_after = max(0.0, w.reset_at - now)
        wall_reset = self._clock.time() + reset_after
        if self._limits.enabled and w.count >= bucket.limit:
            return Decision(
                allowed=False,
                headers={
                    "X-RateLimit-Limit": str(bucket.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{wall_reset:.3f}",
                    "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                    "X-RateLimit-Bucket": bucket_hash,
                    "X-RateLimit-Scope": "user",
                    "Retry-After": str(max(1, math.ceil(reset_after))),
                },
                retry_after=reset_after,
                scope="user",
            )
        w.count += 1
        if not self._limits.enabled:
            return Decision(allowed=True, headers={})
        return Decision(
            allowed=True,
            headers={
                "X-RateLimit-Limit": str(bucket.limit),
                "X-RateLimit-Remaining": str(max(0, bucket.limit - w.count)),
                "X-RateLimit-Reset": f"{wall_reset:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket_hash,
            },
        )
