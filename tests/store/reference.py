"""An independent recomputation of history buckets straight from the samples a test wrote.

Plain Python over `SampleRow`s, sharing nothing with the store's SQL or its re-bucketing: the
store is right when what it answers equals this.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

from pterodisbot.store import HistoryPoint, SampleRow, StateSeconds

LIVE = ("running", "starting", "stopping")
BASE = 1_700_006_400.0  # 2023-11-15 00:00 UTC: a multiple of an hour (and of a day)


@dataclass(frozen=True)
class Expected:
    """A bucket as the reference computes it."""

    t: float
    live_samples: int
    cpu_avg: float | None
    cpu_min: float | None
    cpu_max: float | None
    memory_avg: float | None
    memory_min: int | None
    memory_max: int | None
    disk_bytes: int | None
    rx_rate: float | None
    tx_rate: float | None
    seconds: StateSeconds
    players_avg: float | None
    players_max: int | None
    players_samples: int


def expected_buckets(samples: Iterable[SampleRow], step: int) -> list[Expected]:
    """Return the buckets of `step` seconds the samples make, oldest first."""
    grouped: dict[int, list[SampleRow]] = {}
    for s in sorted(samples, key=lambda s: s.t):
        grouped.setdefault(math.floor(s.t / step) * step, []).append(s)
    out = []
    for start in sorted(grouped):
        rows = grouped[start]
        live = [s for s in rows if s.state in LIVE]
        n = len(live)
        players = [s.players for s in rows if s.players is not None]
        per_state = {name: sum(s.span_s for s in rows if s.state == name) for name in
                     ("running", "starting", "stopping", "offline", "unknown")}  # fmt: skip
        out.append(
            Expected(
                t=float(start),
                live_samples=n,
                cpu_avg=sum(s.cpu_percent for s in live) / n if n else None,
                cpu_min=min(s.cpu_percent for s in live) if n else None,
                cpu_max=max(s.cpu_percent for s in live) if n else None,
                memory_avg=sum(s.memory_bytes for s in live) / n if n else None,
                memory_min=min(s.memory_bytes for s in live) if n else None,
                memory_max=max(s.memory_bytes for s in live) if n else None,
                disk_bytes=live[-1].disk_bytes if n else None,
                rx_rate=sum(s.rx_rate for s in live) / n if n else None,
                tx_rate=sum(s.tx_rate for s in live) / n if n else None,
                seconds=StateSeconds(
                    per_state["running"],
                    per_state["starting"],
                    per_state["stopping"],
                    per_state["offline"],
                    per_state["unknown"],
                ),
                players_avg=sum(players) / len(players) if players else None,
                players_max=max(players) if players else None,
                players_samples=len(players),
            )
        )
    return out


def assert_points_equal(points: Sequence[HistoryPoint], expected: Sequence[Expected]) -> None:
    """Assert the store's buckets equal the reference's, field by field (floats to 1e-9)."""
    assert [p.t for p in points] == [e.t for e in expected]
    for point, want in zip(points, expected, strict=True):
        for name in Expected.__dataclass_fields__:
            got, wanted = getattr(point, name), getattr(want, name)
            if name == "seconds":
                assert got == pytest.approx(wanted), f"{name} at {point.t}"
                continue
            if isinstance(wanted, float):
                assert got == pytest.approx(wanted, rel=1e-9, abs=1e-9), f"{name} at {point.t}"
            else:
                assert got == wanted, f"{name} at {point.t}"


_STATES = ("running", "running", "running", "running", "offline", "unknown", "starting", "stopping")


def make_samples(
    server: str, start: float, count: int, *, seed: int = 0, step: float = 10.0
) -> list[SampleRow]:
    """Return `count` samples every `step` s from `start`: mixed states, values exact on disk.

    CPU has two decimals, rates are whole and times whole milliseconds: the units the store
    keeps, so every value reads back exactly. Players: while running, the game answers four
    times in five (0 to 40 online, zero included); otherwise no answer.
    """
    rows = []
    for i in range(count):
        k = i + seed * 1000
        state = _STATES[(k // 23) % len(_STATES)]
        live = state in LIVE
        rows.append(
            SampleRow(
                server=server,
                t=start + i * step + 0.125,
                state=state,
                cpu_percent=((k * 7919) % 40000) / 100 if live else 0.0,
                memory_bytes=1_000_000 + (k * 104_729) % 500_000 if live else 0,
                disk_bytes=500_000_000 + k * 4096 if live else 0,
                rx_rate=float((k * 31) % 1000) if live else 0.0,
                tx_rate=float((k * 17) % 700) if live else 0.0,
                uptime_ms=k * 10_000 if live else 0,
                span_s=step,
                players=(k * 13) % 41 if state == "running" and k % 5 else None,
            )
        )
    return rows
