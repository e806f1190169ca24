"""The scale benchmark's arithmetic: quantiles, sample ages, rates, RSS per server.

Pure functions on plain numbers, apart from `rss_kib` (which reads /proc), so the figures the
benchmark prints can be checked on known inputs (tests/test_bench_scale.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


def quantile(values: Sequence[float], q: float) -> float:
    """Return the q-th quantile (0..1) of `values` by nearest rank; NaN when there are none.

    Nearest rank (the smallest value with at least q of them at or below it): the p99 of 100
    lags is the 99th smallest, a value that was measured, never an interpolation.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Lag:
    """Event-loop lag over a span: how late a probe's sleeps woke, in milliseconds."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, lags_ms: Sequence[float]) -> Lag:
        """Summarise the probe's overshoots."""
        return cls(
            count=len(lags_ms),
            p50=quantile(lags_ms, 0.5),
            p99=quantile(lags_ms, 0.99),
            max=max(lags_ms, default=math.nan),
        )


def lags_within(
    probes: Iterable[tuple[float, float]], spans: Iterable[tuple[float, float]]
) -> list[float]:
    """Return the lags (ms) of the probes `(woke_at, lag_ms)` whose sleep overlapped a span.

    A probe that woke at `woke_at` slept from `woke_at - lag - its sleep`; counting those that
    woke inside a span or within a second after it catches every sleep a scrape delayed.
    """
    windows = list(spans)
    return [
        lag for woke, lag in probes if any(start <= woke <= end + 1.0 for start, end in windows)
    ]


@dataclass(frozen=True, slots=True)
class Ages:
    """How old each watched server's newest sample is at one moment, in seconds."""

    at: float  # seconds since the run's measurement began (negative: during warm-up)
    servers: int
    missing: int  # watched servers without any sample yet
    p50: float
    p99: float
    max: float
    over: int  # servers whose newest sample is older than the target (missing ones included)

    @classmethod
    def of(
        cls,
        sampled_at: Mapping[str, float | None],
        now: float,
        *,
        at: float,
        target: float,
    ) -> Ages:
        """Summarise `sampled_at` (server -> wall time of its newest sample, None if none)."""
        ages = [max(0.0, now - t) for t in sampled_at.values() if t is not None]
        missing = len(sampled_at) - len(ages)
        return cls(
            at=at,
            servers=len(sampled_at),
            missing=missing,
            p50=quantile(ages, 0.5),
            p99=quantile(ages, 0.99),
            max=max(ages, default=math.nan),
            over=missing + sum(1 for age in ages if age > target),
        )


def per_minute(before: Mapping[str, int], after: Mapping[str, int], seconds: float) -> float:
    """Return the requests per minute between two counts by route (all routes together)."""
    if seconds <= 0:
        return math.nan
    total = sum(after.values()) - sum(before.get(route, 0) for route in after)
    return total * 60.0 / seconds


def routes_matching(counts: Mapping[str, int], suffix: str) -> dict[str, int]:
    """Return the counts of the routes whose pattern ends with `suffix`."""
    return {route: n for route, n in counts.items() if route.endswith(suffix)}


def kib_per_server(baseline_kib: int, now_kib: int, servers: int) -> float:
    """Return the memory grown since the baseline, per server, in KiB."""
    if servers <= 0:
        return math.nan
    return (now_kib - baseline_kib) / servers


def rss_kib(status: Path = Path("/proc/self/status")) -> int:
    """Return this process's resident set size (VmRSS) in KiB, 0 where /proc has none."""
    try:
        text = status.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
