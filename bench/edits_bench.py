"""Edits per server-hour: the smart-update policy against "edit every poll".

One simulated hour on a `FakeClock`: the simulated panel (20 s resources cache, moving CPU and
memory, two crashes and a restart), the real panel client over HTTP, the real monitor polling every
10 s, and the status board's decision (`policy.should_update`) for one embed per server.
"""

from __future__ import annotations

import asyncio
import logging
import time

from pterodisbot.bot.policy import LastRender, Thresholds, should_update, shows_graph
from pterodisbot.clock import FakeClock
from pterodisbot.monitor import Monitor, ServerSnapshot
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.models import PowerSignal
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot_sandbox.panel import SimulatedPanel

SERVERS = 20
HOUR = 3600.0
POLL = 10.0


async def _scenario(thresholds: Thresholds) -> tuple[int, int, int]:
    clock = FakeClock(autojump=0.0005)
    panel = SimulatedPanel(servers=SERVERS, clock=clock, seed=7)
    await panel.start()
    api = PterodactylAPI(panel.url, panel.api_key, clock=clock, requests_per_minute=600)
    monitor = Monitor(api, ServerMetricsManager(capacity=400), poll_interval=POLL, clock=clock)
    last: dict[str, LastRender] = {}
    counts = {"edits": 0, "polls": 0, "state_edits": 0}

    def decide(snap: ServerSnapshot, _previous: ServerSnapshot | None) -> None:
        counts["polls"] += 1
        now = clock.time()
        reason = should_update(
            last.get(snap.server.identifier), snap, now=now, thresholds=thresholds
        )
        if reason is None:
            return
        counts["edits"] += 1
        if reason == "state":
            counts["state_edits"] += 1
        last[snap.server.identifier] = LastRender.of(
            snap, rendered_at=now, graph_at=now if shows_graph(snap.status) else None
        )

    monitor.add_listener(decide)
    running = [s.identifier for s in panel.servers.values() if s.state == "running"]
    try:
        start = clock.monotonic()
        while clock.monotonic() - start < HOUR:
            cycle = clock.monotonic()
            elapsed = cycle - start
            if running and abs(elapsed - 900) < POLL / 2:
                panel.servers[running[0]].crash()
            if len(running) > 1 and abs(elapsed - 1800) < POLL / 2:
                panel.servers[running[1]].crash()
                await api.send_power(running[0], PowerSignal.START)
            await monitor.poll_once()
            remaining = cycle + POLL - clock.monotonic()
            if remaining > 0:
                await clock.sleep(remaining)
    finally:
        await api.close()
        await panel.stop()
    return counts["edits"], counts["polls"], counts["state_edits"]


def main() -> None:
    """Print edits per server-hour for the default thresholds and the reduction achieved."""
    logging.disable(logging.WARNING)
    for label, thresholds in (
        ("defaults (graph_max_age 600 s)", Thresholds()),
        ("graph_max_age 120 s", Thresholds(graph_max_age=120.0)),
    ):
        began = time.perf_counter()
        edits, polls, state_edits = asyncio.run(_scenario(thresholds))
        per_server = edits / SERVERS
        baseline = polls / SERVERS
        print(
            f"{label:32s} edits/server-hour {per_server:6.1f}  baseline {baseline:6.1f}  "
            f"reduction {100 * (1 - edits / polls):5.1f} %  (state-change edits {state_edits}; "
            f"{time.perf_counter() - began:.1f} s wall)"
        )
