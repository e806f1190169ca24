"""Alerts at fleet scale: the rules engine's cost per snapshot and per tick, and its memory.

The engine is a monitor listener (`observe`, on the event loop for every snapshot) and is
evaluated every ~2 s by the alerts service; both run on the loop, so their cost is loop time.
Drives the real `AlertEngine` with snapshots as the monitor builds them (`ServerSnapshot`s of
2,000 servers on 20 nodes, one poll each per 10 s cycle, on a fake clock): steady state, then a
node down (100 servers), then 500 servers crashing in one cycle. Prints:
- observe: microseconds per snapshot (p50, p99 over cycles);
- evaluate: milliseconds per tick (p50, p99) in steady state, and the tick that fires a mass
  crash, with the updates it returns (one per crashed server; the delivery groups them);
- memory: bytes the engine's own code holds per server (tracemalloc, after warm-up).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import tracemalloc

from pterodisbot.alerts import AlertEngine, AlertSettings, Change, Rule
from pterodisbot.clock import FakeClock
from pterodisbot.monitor import ReadFault, ServerSnapshot, ServerStatus
from pterodisbot.panel.models import Server
from tests.snapshots import make_server, make_snapshot

SERVERS = 2_000
NODES = 20
CYCLE = 10.0
TICK = 2.0
WARM_CYCLES = 6
STEADY_CYCLES = 30


def _fleet() -> list[Server]:
    return [
        dataclasses.replace(
            make_server(identifier=f"{i:08x}", name=f"Server {i}"), node=f"node-{i % NODES}"
        )
        for i in range(SERVERS)
    ]


class _Run:
    """One engine over the fleet: a cycle polls every server once, ticks every TICK seconds."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.settings = AlertSettings(channel_id=1)
        self.engine = AlertEngine(
            lambda: self.settings, clock=self.clock, expected_cycle=lambda: CYCLE
        )
        self.fleet = _fleet()
        self.previous: dict[str, ServerSnapshot] = {}
        self.started = self.clock.time()
        self.observe_us: list[float] = []
        self.evaluate_ms: list[float] = []
        self.updates = 0

    def _snapshot(self, server: Server, status: ServerStatus, now: float) -> ServerSnapshot:
        node_down = status is ServerStatus.UNKNOWN
        snapshot = make_snapshot(
            status,
            server=server,
            t=now,
            uptime_ms=int((now - self.started) * 1000) if status is ServerStatus.RUNNING else 0,
            with_resources=not node_down,
        )
        if node_down:
            snapshot = dataclasses.replace(snapshot, fault=ReadFault.NODE_DOWN, error="node down")
        return snapshot

    def cycle(self, status_of: dict[str, ServerStatus] | None = None) -> None:
        """Poll every server once, spread over the cycle, with an evaluate every TICK."""
        spacing = CYCLE / SERVERS
        next_tick = self.clock.time() + TICK
        spent = 0.0
        for server in self.fleet:
            now = self.clock.time()
            status = (status_of or {}).get(server.identifier, ServerStatus.RUNNING)
            snapshot = self._snapshot(server, status, now)
            began = time.perf_counter()
            self.engine.observe(snapshot, self.previous.get(server.identifier))
            spent += time.perf_counter() - began
            self.previous[server.identifier] = snapshot
            self.clock.advance(spacing)
            if self.clock.time() >= next_tick:
                self.tick()
                next_tick += TICK
        self.observe_us.append(spent / SERVERS * 1e6)

    def tick(self) -> list[Change]:
        """Evaluate once and time it."""
        began = time.perf_counter()
        updates = self.engine.evaluate(self.clock.time())
        self.evaluate_ms.append((time.perf_counter() - began) * 1000)
        self.updates += len(updates)
        return [u.change for u in updates]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Run the scenarios and print the figures."""
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    run = _Run()
    for _ in range(WARM_CYCLES):
        run.cycle()
    # Only what the engine's own code allocated and still holds: the snapshots the bench keeps
    # as "previous" are the monitor's, not the engine's.
    held = sum(
        stat.size_diff
        for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
        if "pterodisbot/alerts/" in stat.traceback[0].filename
    )
    tracemalloc.stop()
    print(f"memory: ~{max(0, held) / SERVERS:,.0f} B per server held by the engine after warm-up")

    run.observe_us.clear()
    run.evaluate_ms.clear()
    for _ in range(STEADY_CYCLES):
        run.cycle()
    print(
        f"steady ({SERVERS} servers, {STEADY_CYCLES} cycles of {CYCLE:g} s): observe "
        f"{statistics.median(run.observe_us):.1f} us/snapshot p50, {_p(run.observe_us, 0.99):.1f} "
        f"p99; evaluate {statistics.median(run.evaluate_ms):.2f} ms/tick p50, "
        f"{_p(run.evaluate_ms, 0.99):.2f} ms p99; {run.updates} updates"
    )

    down = {s.identifier: ServerStatus.UNKNOWN for s in run.fleet if s.node == "node-0"}
    run.evaluate_ms.clear()
    run.updates = 0
    for _ in range(5):
        run.cycle(down)
    opened = [i for i in run.engine.open_incidents() if i.rule is Rule.NODE_DOWN]
    print(
        f"node down ({len(down)} servers of node-0, 5 cycles): {len(opened)} incident(s), "
        f"count {opened[0].count if opened else 0}; evaluate p99 {_p(run.evaluate_ms, 0.99):.2f} ms"
    )
    for _ in range(3):
        run.cycle()

    crashed = {s.identifier: ServerStatus.OFFLINE for s in run.fleet[:500]}
    run.evaluate_ms.clear()
    run.updates = 0
    run.cycle(crashed)
    run.cycle(crashed)
    crashes = [i for i in run.engine.open_incidents() if i.rule is Rule.CRASH]
    print(
        f"mass crash (500 servers in one cycle): {len(crashes)} crash incidents, {run.updates} "
        f"updates over {len(run.evaluate_ms)} ticks; evaluate max {max(run.evaluate_ms):.2f} ms"
    )


if __name__ == "__main__":
    main()
