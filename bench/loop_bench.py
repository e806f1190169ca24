"""Event-loop lag while the bot's core watches 1,000 servers.

The simulated panel runs in its own process (as a real panel would be elsewhere); this process runs
what the bot runs per poll: the panel client, the monitor (1,000 resources calls every 10 s, spread
over the interval), the metric histories, the update policy for 50 embeds and, as a worst case, a
graph render in a worker thread for each of those 50 embeds on every poll (the policy would skip
most). A ticker measures how late the loop wakes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time

from pterodisbot.bot.policy import LastRender, Thresholds, should_update, shows_graph
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor, ServerSnapshot
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.server_metrics_graphs import ServerMetricsManager

SERVERS = 1000
EMBEDS = 50
SECONDS = 35.0
TICK = 0.02
KEY = "ptlc_loopbench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_up(url: str) -> None:
    api = PterodactylAPI(url, KEY, max_retries=0, timeout=2)
    try:
        for _ in range(200):
            try:
                await api.whoami()
                return
            except Exception:
                await asyncio.sleep(0.1)
        raise RuntimeError("the simulated panel did not start")
    finally:
        await api.close()


async def _measure(url: str) -> dict[str, float]:
    api = PterodactylAPI(url, KEY, requests_per_minute=100_000, timeout=10)
    metrics = ServerMetricsManager(capacity=8640)
    monitor = Monitor(api, metrics, poll_interval=10.0)
    renderer = GraphRenderer()
    thresholds = Thresholds()
    last: dict[str, LastRender] = {}
    renders = 0
    watched: set[str] = set()

    async def render(snap: ServerSnapshot) -> None:
        nonlocal renders
        history = metrics.get(snap.server.identifier)
        if history is not None and len(history) > 1:
            await renderer.render_async(
                history,
                cpu_limit_percent=float(snap.server.limits.cpu) or None,
                memory_limit_bytes=snap.server.limits.memory_bytes,
                window_seconds=900,
                now=snap.t,
            )
            renders += 1

    tasks: set[asyncio.Task[None]] = set()

    def on_snapshot(snap: ServerSnapshot, _previous: ServerSnapshot | None) -> None:
        identifier = snap.server.identifier
        if identifier not in watched and len(watched) < EMBEDS:
            watched.add(identifier)
        if identifier not in watched:
            return
        reason = should_update(last.get(identifier), snap, now=snap.t, thresholds=thresholds)
        if reason is not None:
            last[identifier] = LastRender.of(
                snap, rendered_at=snap.t, graph_at=snap.t if shows_graph(snap.status) else None
            )
        # Worst case on purpose: every watched embed's graph is drawn again on every poll.
        task = asyncio.create_task(render(snap))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    monitor.add_listener(on_snapshot)
    lags: list[float] = []
    monitor.start()
    loop = asyncio.get_running_loop()
    end = loop.time() + SECONDS
    while loop.time() < end:
        before = loop.time()
        await asyncio.sleep(TICK)
        lags.append(max(0.0, loop.time() - before - TICK))
    await monitor.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    await api.close()
    lags.sort()
    polls = sum(n for (route, _), n in api.stats.snapshot().items() if "resources" in route)
    return {
        "p50": lags[len(lags) // 2] * 1000,
        "p99": lags[int(len(lags) * 0.99)] * 1000,
        "max": lags[-1] * 1000,
        "polls": float(polls),
        "failed": float(sum(n for (r, o), n in api.stats.snapshot().items() if o != "200")),
        "renders": float(renders),
        "servers": float(len(monitor.servers)),
    }


def main() -> None:
    """Start a 1,000-server simulated panel in a subprocess and print the loop lag figures."""
    logging.disable(logging.WARNING)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    panel = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pterodisbot_sandbox.panel",
            "--port",
            str(port),
            "--servers",
            str(SERVERS),
            "--api-key",
            KEY,
            "--rate-limit",
            "1000000",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        asyncio.run(_wait_up(url))
        began = time.perf_counter()
        figures = asyncio.run(_measure(url))
    finally:
        panel.terminate()
        panel.wait(10)
    print(
        f"{int(figures['servers'])} servers, poll 10 s, {EMBEDS} embeds, "
        f"{time.perf_counter() - began:.0f} s: loop lag p50 {figures['p50']:.1f} ms, "
        f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms; "
        f"{figures['polls']:.0f} resources calls ({figures['failed']:.0f} not 200), "
        f"{figures['renders']:.0f} graph renders"
    )
