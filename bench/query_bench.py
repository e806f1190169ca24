"""Player queries: throughput at the concurrency cap, and the event loop's lag with 500 games.

The simulated panel runs in its own process with `--game-servers 500`: 500 running game
servers (Minecraft Java, Bedrock and the Source games in turn, every query-port layout), each
answering real Server List Ping / RakNet / A2S queries on its own 127.0.0.1 port, as games on
other machines would. This process runs what the bot runs for players: the panel client's server
list (`?include=egg`), `pterodisbot.query.detect` for each server's target (with a
`[query.<id>] port` override where the panel does not show the query port: the Palworld ones),
and the real `PlayerQueries` service with the real clients (mcstatus, python-a2s), fed one
running snapshot per server as the monitor would.

Three phases of `--seconds` each, one probe sleeping 50 ms throughout and noting how late it
wakes (p50/p99/max, as scale_bench measures it):
- idle: no queries (the loop's own lag on this machine now);
- every interval: 500 servers asked every `--interval` seconds (spread over it, as the bot does);
- sweeps: every server asked as fast as the concurrency cap allows, sweep after sweep (a
  server whose query ended is shown stopped until all have ended; one that ends early may be
  asked again before that): answers per second are the throughput at the cap, and a sweep's
  time is what it takes until each of the 500 has answered.
Figures only: nothing is asserted (the machine may be shared).

`python -m bench query` (or `make bench`); `python -m bench.query_bench --help` for the knobs
(also QUERY_BENCH_SMOKE=1: 50 servers, 3 s phases).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from bench._panel_process import panel_process
from bench._scale_figures import Lag
from pterodisbot.monitor import ServerSnapshot, ServerStatus
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.models import Server
from pterodisbot.query import Answering, QueryOverride, QuerySettings
from pterodisbot.query.detect import target_for
from pterodisbot.query.service import PlayerQueries

KEY = "ptlc_querybench"
PROBE_SLEEP = 0.05
# The sweeps' interval: a server shown running again is due at once.
SWEEP_INTERVAL = 0.001


@dataclass(frozen=True, slots=True)
class Plan:
    """The fleet, how long each phase lasts, and the service's settings."""

    servers: int = 500
    seconds: float = 30.0
    interval: float = 10.0
    timeout: float = 3.0
    concurrency: int = QuerySettings().concurrency


@dataclass(frozen=True, slots=True)
class Phase:
    """What one phase measured."""

    label: str
    seconds: float
    lag: Lag
    cpu_share: float
    outcomes: dict[str, int]
    # Servers answering at the end (the sweeps: queries seen ending).
    answered: int
    sweeps: tuple[float, ...] = ()


class _Probe:
    """Sleep `PROBE_SLEEP` again and again; note how late each sleep woke (ms)."""

    def __init__(self) -> None:
        self.lags: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_SLEEP)
            self.lags.append(max(0.0, loop.time() - before - PROBE_SLEEP) * 1000)


async def _fleet(panel_url: str) -> tuple[list[Server], dict[str, QueryOverride]]:
    """Read the fleet as the bot does; return it and the overrides its hidden ports need."""
    async with PterodactylAPI(panel_url, KEY) as api:
        servers = await api.list_servers()
    overrides: dict[str, QueryOverride] = {}
    async with aiohttp.ClientSession() as session:
        for server in servers:
            url = f"{panel_url}/_sim/servers/{server.identifier}/game"
            async with session.get(url, timeout=aiohttp.ClientTimeout(10)) as answer:
                listing = await answer.json()
            target = target_for(server)
            if target is None or target.port != listing["port"]:
                # What an operator writes in [query.<id>] for a port the panel does not show.
                overrides[server.identifier] = QueryOverride(port=int(listing["port"]))
    return servers, overrides


class _Sweeps:
    """Ask every server once, as fast as the cap allows, again and again; time each sweep.

    Through the service's own API: a server whose query ended (answered or failed) is shown
    stopped, so it is not asked again, and once all have ended all are shown running again.
    (With an interval of ~0 instead, the servers first in line would be asked over and over.)
    """

    def __init__(self, service: PlayerQueries, servers: Sequence[Server]) -> None:
        self._service = service
        self._servers = {server.identifier: server for server in servers}
        self._pending: set[str] = set()
        self._began = 0.0
        self.times: list[float] = []
        self.done = 0

    def begin(self) -> None:
        """Show every server running: a new sweep."""
        self._began = time.perf_counter()
        self._pending = set(self._servers)
        for server in self._servers.values():
            self._service.observe(_snapshot(server, ServerStatus.RUNNING), None)

    def look(self) -> None:
        """Stop the servers whose query ended; begin the next sweep when none is left."""
        for identifier in list(self._pending):
            if self._service.players(identifier) is not None:
                self._pending.discard(identifier)
                self.done += 1
                self._service.observe(
                    _snapshot(self._servers[identifier], ServerStatus.OFFLINE), None
                )
        if not self._pending:
            self.times.append(time.perf_counter() - self._began)
            self.begin()


def _snapshot(server: Server, status: ServerStatus) -> ServerSnapshot:
    return ServerSnapshot(server, status, None, None, time.time())


async def _phase(
    label: str,
    servers: Sequence[Server],
    settings: QuerySettings | None,
    seconds: float,
    *,
    sweeps: bool = False,
) -> Phase:
    """Run the service (None: nothing) for `seconds` beside the probe; return the figures."""
    probe = _Probe()
    probing = asyncio.create_task(probe.run(), name="query-bench-probe")
    service = PlayerQueries(settings) if settings is not None else None
    sweeper = _Sweeps(service, servers) if service is not None and sweeps else None
    began_cpu, began = time.process_time(), time.perf_counter()
    try:
        if sweeper is not None:
            sweeper.begin()
        elif service is not None:
            for server in servers:
                service.observe(_snapshot(server, ServerStatus.RUNNING), None)
        if service is not None:
            service.start()
        deadline = began + seconds
        while time.perf_counter() < deadline:
            await asyncio.sleep(0.01 if sweeper is not None else 0.1)
            if sweeper is not None:
                sweeper.look()
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - began_cpu
        outcomes: Counter[str] = Counter()
        if service is not None:
            for (protocol, outcome), count in service.stats().queries.items():
                outcomes[f"{protocol} {outcome}"] += count
        answered = _answered(service, servers) if service is not None else 0
    finally:
        if service is not None:
            await service.close()
        probing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probing
    return Phase(
        label,
        elapsed,
        Lag.of(sorted(probe.lags)),
        cpu / elapsed,
        dict(outcomes),
        sweeper.done if sweeper is not None else answered,
        tuple(sweeper.times) if sweeper is not None else (),
    )


def _answered(service: PlayerQueries, servers: Sequence[Server]) -> int:
    return sum(
        1
        for server in servers
        if (players := service.players(server.identifier)) is not None
        and players.answering is Answering.ANSWERING
    )


async def _run(panel_url: str, plan: Plan) -> list[Phase]:
    servers, overrides = await _fleet(panel_url)
    print(
        f"{len(servers)} game servers; {len(overrides)} need a [query.<id>] port override "
        f"(the query port is in neither the allocations nor the variables)",
        flush=True,
    )

    def settings(interval: float) -> QuerySettings:
        return QuerySettings(
            interval=interval,
            timeout=plan.timeout,
            concurrency=plan.concurrency,
            servers=overrides,
        )

    phases = [await _phase("idle (no queries)", servers, None, plan.seconds)]
    phases.append(
        await _phase(f"every {plan.interval:g} s", servers, settings(plan.interval), plan.seconds)
    )
    phases.append(
        await _phase(
            "sweeps (at the cap)",
            servers,
            settings(SWEEP_INTERVAL),
            plan.seconds,
            sweeps=True,
        )
    )
    return phases


def report(plan: Plan, phases: Sequence[Phase]) -> list[str]:
    """Return the figures as lines, one phase per line, then the throughput."""
    lines = [
        f"{plan.servers} servers, timeout {plan.timeout:g} s, concurrency cap {plan.concurrency}",
        f"{'phase':<20} {'loop lag p50/p99/max ms':>24} {'CPU':>5} {'queries/s':>10}",
    ]
    for phase in phases:
        total = sum(phase.outcomes.values())
        lag = f"{phase.lag.p50:.1f}/{phase.lag.p99:.1f}/{phase.lag.max:.1f}"
        lines.append(
            f"{phase.label:<20} {lag:>24} {phase.cpu_share:>5.0%} {total / phase.seconds:>10.1f}"
        )
    every = phases[1]
    lines.append(f"{every.label}: {every.answered}/{plan.servers} answering at the end")
    swept = phases[-1]
    ok = sum(n for key, n in swept.outcomes.items() if key.endswith(" ok"))
    mean = sum(swept.sweeps) / len(swept.sweeps) if swept.sweeps else math.nan
    lines.append(
        f"throughput at the cap: {ok / swept.seconds:.0f} servers/s answered "
        f"({ok} answers in {swept.seconds:.1f} s); {len(swept.sweeps)} sweeps, every one of "
        f"the {plan.servers} answered in {mean:.2f} s on average"
    )
    for phase in phases[1:]:
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(phase.outcomes.items()))
        lines.append(f"  {phase.label}: {outcomes}")
    return lines


def plan_from(argv: Sequence[str] | None, env: dict[str, str]) -> Plan:
    """Return the plan from the command line and QUERY_BENCH_SMOKE."""
    parser = argparse.ArgumentParser(prog="python -m bench.query_bench", description=__doc__)
    parser.add_argument("--servers", type=int, default=None, help="game servers (500)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per phase (30)")
    parser.add_argument("--interval", type=float, default=None, help="query interval (10 s)")
    parser.add_argument("--concurrency", type=int, default=None, help="queries at once (64)")
    args = parser.parse_args(argv)
    plan = Plan(servers=50, seconds=3.0) if env.get("QUERY_BENCH_SMOKE") == "1" else Plan()
    return Plan(
        servers=args.servers or plan.servers,
        seconds=args.seconds or plan.seconds,
        interval=args.interval or plan.interval,
        timeout=plan.timeout,
        concurrency=args.concurrency or plan.concurrency,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the three phases against a panel process of game servers; print the figures."""
    plan = plan_from([] if argv is None and __name__ != "__main__" else argv, dict(os.environ))
    logging.basicConfig(level=logging.WARNING)
    with panel_process(plan.servers, KEY, "--game-servers", str(plan.servers)) as url:
        phases = asyncio.run(_run(url, plan))
    for line in report(plan, phases):
        print(line, flush=True)


if __name__ == "__main__":
    main()
