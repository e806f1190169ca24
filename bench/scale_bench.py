"""Scale: 2,000 servers on one key, polled, then streamed over the Wings websocket.

The simulated panel runs in its own process (as a real panel would be elsewhere), at its default
rate limit of 720 requests a minute per key. Each run is a fresh bot process (clean RSS and CPU
figures) built by the bot's own `pterodisbot.app.build_services` (through `build_bot`, without
connecting to Discord): the panel client, the monitor with the `auto` ring size, the stream
`[monitoring] source` selects, history off, and the real `/metrics` endpoint (`WebServer`).
Each run gets a fresh panel with the same seed and key: the same fleet, an empty rate-limit window.

Two runs, `source = poll` then `source = auto` (websocket, per-server fallback to polling). Each
warms up (every server sampled once and, streaming, no socket still connecting; capped), then
measures for `--minutes`:
- event-loop lag: a probe sleeping 50 ms measures how late it wakes (p50/p99/max; target p99
  < 50 ms), and the same over the probes a `/metrics` scrape overlapped;
- the bot's CPU as a share of one core (`time.process_time()` over wall time);
- RSS per server: VmRSS after warm-up and at the end, minus VmRSS before building, per server
  (target <= 300 KiB);
- panel client-API requests per minute (the sim's `/_sim/stats`), token (websocket credentials)
  requests per minute, 429s; target inside 720 with room for power actions;
- the age of each server's newest sample at four moments (target: every server <= 15 s), and,
  streaming, the age of each server's newest stream reading.

`python -m bench scale` (or `make bench`) runs it with the defaults; `python -m bench.scale_bench
--help` lists the knobs (also SCALE_BENCH_MINUTES, SCALE_BENCH_SERVERS, SCALE_BENCH_SMOKE=1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench._board import default_settings
from bench._panel_process import panel_process as shared_panel_process
from bench._scale_figures import (
    Ages,
    Lag,
    kib_per_server,
    lags_within,
    per_minute,
    routes_matching,
    rss_kib,
)

KEY = "ptlc_scalebench"
SEED = 15
PANEL_RATE_LIMIT = 720  # the sim's default, the real panel's default
AGE_TARGET = 15.0
LAG_TARGET_MS = 50.0
RSS_TARGET_KIB = 300.0
PROBE_SLEEP = 0.05
MOMENTS = 4
TOKEN_ROUTE = "/websocket"
RESULT_PREFIX = "SCALE-RESULT "
# Nothing here talks to Discord; the settings still need an address.
UNUSED_DISCORD = "http://127.0.0.1:9"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Plan:
    """The fleet size and the time each run takes."""

    servers: int = 2000
    minutes: float = 2.0
    # Seconds at most to wait for every server's first sample and, streaming, its socket: the
    # first tokens of 2,000 servers take ~400 s at the Wings client's pace (half the budget).
    warmup_cap: float = 480.0
    scrape_every: float = 30.0  # seconds between /metrics scrapes (Prometheus' usual pace)
    sources: tuple[str, ...] = ("poll", "auto")

    @classmethod
    def smoke(cls) -> Plan:
        """Return a quick check of the harness: a small fleet, seconds instead of minutes."""
        return cls(servers=100, minutes=0.5, warmup_cap=60.0, scrape_every=10.0)


# ----------------------------------------------------------------------------- the bot process


async def _sim_stats(session: aiohttp.ClientSession, panel_url: str) -> dict[str, Any]:
    async with session.get(f"{panel_url}/_sim/stats", timeout=aiohttp.ClientTimeout(10)) as r:
        stats: dict[str, Any] = await r.json()
        return stats


def _scrape(url: str) -> int:
    """GET `url` (in a worker thread, as Prometheus would from elsewhere); return its size."""
    with urllib.request.urlopen(url, timeout=30) as answer:
        return len(answer.read())


class _Probe:
    """Sleep `PROBE_SLEEP` again and again; note how late each sleep woke."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (woke at, loop time; lag in ms)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_SLEEP)
            woke = loop.time()
            self.samples.append((woke, max(0.0, woke - before - PROBE_SLEEP) * 1000))

    def since(self, start: float) -> list[float]:
        return [lag for woke, lag in self.samples if woke >= start]


async def _run(panel_url: str, source: str, plan: Plan) -> dict[str, Any]:
    """Build the bot's monitoring as the bot does, warm up, measure; return the figures."""
    # Imported here: the baseline RSS is taken after the imports, before anything is built.
    from pterodisbot.app import build_bot
    from pterodisbot.clock import SystemClock
    from pterodisbot.web import WebServer

    loop = asyncio.get_running_loop()
    baseline = rss_kib()
    probe = _Probe()
    probing = asyncio.create_task(probe.run(), name="bench-probe")
    sim = aiohttp.ClientSession()
    with tempfile.TemporaryDirectory() as workdir:
        settings = default_settings(
            panel_url=panel_url,
            api_key=KEY,
            discord_url=UNUSED_DISCORD,
            workdir=Path(workdir),
            monitoring={"source": source},
        )
        bot = build_bot(settings, clock=SystemClock(), extensions=())
        services = bot.services
        monitor = services.monitor
        web = WebServer(bot, port=0)
        metrics_url = f"{await web.start()}/metrics"
        try:
            began = loop.time()
            cpu_began = time.process_time()
            freshness = _Freshness(monitor)
            monitor.start()
            stream = monitor.stream
            # Warm-up: every watched server sampled once and no socket still connecting.
            while loop.time() - began < plan.warmup_cap:
                await asyncio.sleep(1.0)
                watched = monitor.servers
                sampled = sum(1 for s in watched if s in monitor.snapshots)
                connecting = stream.stats().connecting if stream.enabled else 0
                if watched and sampled == len(watched) and connecting == 0:
                    break
            warmup = loop.time() - began
            warm_ages = freshness.ages(at=0.0)
            warm_lag = Lag.of(probe.since(began))
            warm_cpu = (time.process_time() - cpu_began) / warmup
            rss_warm = rss_kib()

            # Measurement.
            start = loop.time()
            before = await _sim_stats(sim, panel_url)
            cpu_start = time.process_time()
            token_calls_start = stream.stats().token_calls
            calls_start = services.api.stats.snapshot()
            span = plan.minutes * 60.0
            scrapes: list[tuple[float, float, int]] = []
            scraping = asyncio.create_task(
                _scrape_every(metrics_url, plan.scrape_every, scrapes), name="bench-scrapes"
            )
            moments: list[Ages] = []
            readings: list[Ages] = []
            by_stream: list[tuple[Ages, Ages]] = []
            for k in range(1, MOMENTS + 1):
                await asyncio.sleep(max(0.0, start + span * k / MOMENTS - loop.time()))
                at = loop.time() - start
                moments.append(freshness.ages(at=at))
                if stream.enabled:
                    readings.append(_reading_ages(monitor, at=at))
                    by_stream.append(
                        (
                            freshness.ages(at=at, streaming=True),
                            freshness.ages(at=at, streaming=False),
                        )
                    )
            scraping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraping
            elapsed = loop.time() - start
            cpu = (time.process_time() - cpu_start) / elapsed
            after = await _sim_stats(sim, panel_url)
            rss_end = rss_kib()
            lags = probe.since(start)
            scrape_lags = lags_within(
                [(w, lag) for w, lag in probe.samples if w >= start],
                [(s, e) for s, e, _ in scrapes],
            )
            requests_before, requests_after = before["requests"], after["requests"]
            stream_stats = stream.stats()
            servers = len(monitor.servers)
            return {
                "source": source,
                "servers": servers,
                "stream_wired": stream.enabled,
                "ring_capacity": services.metrics.capacity,
                "poll_interval": monitor.poll_interval,
                "expected_cycle": monitor.expected_cycle,
                "budget_per_minute": settings.pterodactyl.requests_per_minute,
                "warmup_s": warmup,
                "warm_lag": asdict(warm_lag),
                "warm_cpu": warm_cpu,
                "warm_ages": asdict(warm_ages),
                "seconds": elapsed,
                "lag": asdict(Lag.of(lags)),
                "scrape_lag": asdict(Lag.of(scrape_lags)),
                "scrapes": len(scrapes),
                "scrape_s": max((e - s for s, e, _ in scrapes), default=math.nan),
                "scrape_bytes": max((n for _, _, n in scrapes), default=0),
                "cpu": cpu,
                "rss_baseline_kib": baseline,
                "rss_warm_kib": rss_warm,
                "rss_end_kib": rss_end,
                "kib_per_server_warm": kib_per_server(baseline, rss_warm, servers),
                "kib_per_server_end": kib_per_server(baseline, rss_end, servers),
                "requests_per_minute": per_minute(requests_before, requests_after, elapsed),
                "token_per_minute": per_minute(
                    routes_matching(requests_before, TOKEN_ROUTE),
                    routes_matching(requests_after, TOKEN_ROUTE),
                    elapsed,
                ),
                "stream_token_per_minute": (stream_stats.token_calls - token_calls_start)
                * 60.0
                / elapsed,
                "rate_limited": after["rate_limited"] - before["rate_limited"],
                "wings": after.get("wings"),
                # The bot's own count of its panel calls, by route and outcome.
                "api_calls": {
                    f"{route} {outcome}": n - calls_start.get((route, outcome), 0)
                    for (route, outcome), n in sorted(services.api.stats.snapshot().items())
                    if n - calls_start.get((route, outcome), 0)
                },
                "api_retries": services.api.stats.retries,
                "routes": {
                    route: n - requests_before.get(route, 0)
                    for route, n in sorted(requests_after.items())
                    if n - requests_before.get(route, 0)
                },
                "ages": [asdict(a) for a in moments],
                "reading_ages": [asdict(a) for a in readings],
                "streamed_ages": [asdict(a) for a, _b in by_stream],
                "polled_ages": [asdict(b) for _a, b in by_stream],
                "stream": {
                    "streaming": stream_stats.streaming,
                    "connecting": stream_stats.connecting,
                    "fallback": stream_stats.fallback,
                    "token_calls": stream_stats.token_calls,
                    "token_calls_per_minute": stream_stats.token_calls_per_minute,
                    "reasons": {str(k): v for k, v in stream_stats.reasons.items()},
                },
            }
        finally:
            probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probing
            await web.stop()
            await bot.close()
            await sim.close()


async def _scrape_every(url: str, every: float, out: list[tuple[float, float, int]]) -> None:
    """Scrape `/metrics` every `every` seconds (the first after half of it); note each span."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(every / 2)
    while True:
        began = loop.time()
        size = await asyncio.to_thread(_scrape, url)
        out.append((began, loop.time(), size))
        await asyncio.sleep(max(0.0, began + every - loop.time()))


class _Freshness:
    """When the numbers of each server's newest snapshot were measured (wall clock).

    Not `snapshot.t`: the monitor stamps a poll when it starts, and a poll waiting its turn in
    the request budget starts long before the panel answers (a whole cycle at 2,000 servers).
    Polled numbers date from their answer (the snapshot's publication); streamed ones from the
    stream reading the snapshot was taken from.
    """

    def __init__(self, monitor: Any) -> None:
        self._monitor = monitor
        self.measured_at: dict[str, float] = {}
        monitor.add_listener(self._observe)

    def _observe(self, snap: Any, _previous: Any) -> None:
        identifier = snap.server.identifier
        t = time.time()
        stream = self._monitor.stream
        if stream.enabled and snap.resources is not None:
            reading = stream.latest(identifier)
            if reading is not None and reading.resources == snap.resources:
                t = min(t, reading.t)
        self.measured_at[identifier] = t

    def ages(self, *, at: float, streaming: bool | None = None) -> Ages:
        """Return the ages of the watched servers' newest samples now.

        `streaming` True: only the servers whose socket streams; False: only the others.
        """
        stream = self._monitor.stream
        sampled_at = {
            identifier: self.measured_at.get(identifier)
            for identifier in self._monitor.servers
            if streaming is None or (stream.state(identifier)[0].value == "streaming") is streaming
        }
        return Ages.of(sampled_at, time.time(), at=at, target=AGE_TARGET)


def _reading_ages(monitor: Any, *, at: float) -> Ages:
    """Return the ages of every watched server's newest stream reading now (None: none)."""
    stream = monitor.stream
    sampled_at: dict[str, float | None] = {}
    for identifier in monitor.servers:
        reading = stream.latest(identifier)
        sampled_at[identifier] = None if reading is None else reading.t
    return Ages.of(sampled_at, time.time(), at=at, target=AGE_TARGET)


def _child(panel_url: str, source: str, plan: Plan) -> None:
    """Run one measured run in this process and print its figures as one JSON line."""
    logging.basicConfig(level=logging.ERROR)
    figures = asyncio.run(_run(panel_url, source, plan))
    print(RESULT_PREFIX + json.dumps(figures), flush=True)


# ----------------------------------------------------------------------------- the orchestrator


@contextlib.contextmanager
def panel_process(servers: int) -> Iterator[str]:
    """Run a simulated panel of `servers` in a subprocess (any free port); give its URL."""
    with shared_panel_process(servers, KEY, "--seed", str(SEED)) as url:
        yield url


def run_source(source: str, plan: Plan) -> dict[str, Any]:
    """Start a fresh panel (same seed and key), run one bot process against it; its figures."""
    with panel_process(plan.servers) as panel_url:
        limit = plan.warmup_cap + plan.minutes * 60 + 120
        done = subprocess.run(
            [
                *(sys.executable, "-m", "bench.scale_bench"),
                *("--child", source, "--panel", panel_url),
                *_plan_args(plan),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=limit,
            check=False,
        )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            figures: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return figures
    raise RuntimeError(f"the {source} run failed (exit {done.returncode}): {done.stdout[-2000:]}")


def _plan_args(plan: Plan) -> list[str]:
    return [
        *("--servers", str(plan.servers), "--minutes", str(plan.minutes)),
        *("--warmup-cap", str(plan.warmup_cap), "--scrape-every", str(plan.scrape_every)),
    ]


def _fmt(value: float, digits: int = 1) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def report(plan: Plan, results: dict[str, dict[str, Any] | str]) -> list[str]:
    """Return the side-by-side table of the runs (a string instead of figures: why none)."""
    runs = [(source, results[source]) for source in plan.sources]
    width = 44
    lines = [
        f"{plan.servers} servers, one key, panel limit {PANEL_RATE_LIMIT}/min; "
        f"{plan.minutes:g} min measured per run after warm-up"
    ]
    header = f"{'':<{width}}" + "".join(f"{f'source = {s}':>26}" for s, _ in runs)
    lines.append(header)

    def row(label: str, cell: Any) -> None:
        cells = []
        for _source, figures in runs:
            cells.append(f"{(cell(figures) if isinstance(figures, dict) else '—'):>26}")
        lines.append(f"{label:<{width}}" + "".join(cells))

    row("warm-up (s)", lambda f: _fmt(f["warmup_s"], 0))
    row("warm-up loop lag p99 / max (ms)", lambda f: _lag(f["warm_lag"], ("p99", "max")))
    row("warm-up CPU (share of a core)", lambda f: _fmt(f["warm_cpu"], 2))
    row(
        f"loop lag p50/p99/max (ms, <{LAG_TARGET_MS:g})",
        lambda f: _lag(f["lag"], ("p50", "p99", "max")),
    )
    row("CPU (share of one core)", lambda f: _fmt(f["cpu"], 2))
    row(
        f"RSS/server KiB warm/end (<={RSS_TARGET_KIB:g})",
        lambda f: f"{_fmt(f['kib_per_server_warm'])} / {_fmt(f['kib_per_server_end'])}",
    )
    row("ring capacity (samples)", lambda f: str(f["ring_capacity"]))
    row(
        f"panel requests/min (<{PANEL_RATE_LIMIT})",
        lambda f: _fmt(f["requests_per_minute"], 0),
    )
    row("token requests/min (reaching the panel)", lambda f: _fmt(f["token_per_minute"], 0))
    row(
        "token requests/min (asked: stream's count)",
        lambda f: _fmt(f["stream_token_per_minute"], 0) if f["stream_wired"] else "—",
    )
    row("429s from the panel", lambda f: str(f["rate_limited"]))
    row("expected poll cycle (s)", lambda f: _fmt(f["expected_cycle"], 0))
    row("sample age max/p99 s, warm-up end", lambda f: _ages_cell(f["warm_ages"]))
    for k in range(MOMENTS):
        row(
            f"sample age max/p99 s @{k + 1}/{MOMENTS} (<={AGE_TARGET:g})",
            lambda f, k=k: _ages_cell(f["ages"][k]),
        )
    for k in range(MOMENTS):
        row(
            f"  of streaming servers @{k + 1}/{MOMENTS}",
            lambda f, k=k: _ages_cell(f["streamed_ages"][k]) if f.get("streamed_ages") else "—",
        )
    for k in range(MOMENTS):
        row(
            f"  of polled servers (fallback) @{k + 1}/{MOMENTS}",
            lambda f, k=k: _ages_cell(f["polled_ages"][k]) if f.get("polled_ages") else "—",
        )
    for k in range(MOMENTS):
        row(
            f"stream reading age max/p99 @{k + 1}/{MOMENTS}",
            lambda f, k=k: _ages_cell(f["reading_ages"][k]) if f["reading_ages"] else "—",
        )
    row(
        "streaming/connecting/fallback",
        lambda f: (
            f"{f['stream']['streaming']}/{f['stream']['connecting']}/{f['stream']['fallback']}"
            if f["stream_wired"]
            else "—"
        ),
    )
    row(
        "/metrics scrapes: n, max s, KiB",
        lambda f: f"{f['scrapes']}, {_fmt(f['scrape_s'], 2)}, {f['scrape_bytes'] // 1024}",
    )
    row("loop lag p99/max during scrapes", lambda f: _lag(f["scrape_lag"], ("p99", "max")))
    for source, figures in runs:
        if isinstance(figures, str):
            lines.append(f"source = {source}: {figures}")
        else:
            if source != "poll" and not figures["stream_wired"]:
                lines.append(
                    f"source = {source}: build_services wired no stream (monitor.stream is "
                    "disabled): every server was polled"
                )
            reasons = figures["stream"]["reasons"]
            if reasons:
                lines.append(f"source = {source}: fallback reasons {reasons}")
            lines.append(f"source = {source}: requests by route {figures['routes']}")
    return lines


def _lag(lag: dict[str, float], keys: Sequence[str]) -> str:
    return "/".join(_fmt(lag[k]) for k in keys)


def _ages_cell(ages: dict[str, Any]) -> str:
    cell = f"{_fmt(ages['max'], 0)}/{_fmt(ages['p99'], 0)}"
    if ages["missing"]:
        cell += f" ({ages['missing']} unsampled)"
    elif ages["over"]:
        cell += f" ({ages['over']} over)"
    return cell


def plan_from(
    argv: Sequence[str] | None, env: Mapping[str, str]
) -> tuple[Plan, argparse.Namespace]:
    """Return the plan the command line and SCALE_BENCH_* ask for, and the parsed arguments."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale_bench", description=__doc__)
    smoke_env = env.get("SCALE_BENCH_SMOKE", "") not in ("", "0")
    parser.add_argument("--smoke", action="store_true", default=smoke_env, help="a quick check")
    parser.add_argument("--servers", type=int, default=None, help="fleet size (2000)")
    parser.add_argument("--minutes", type=float, default=None, help="measured per run (2)")
    parser.add_argument("--warmup-cap", type=float, default=None, help="seconds (480)")
    parser.add_argument("--scrape-every", type=float, default=None, help="seconds (30)")
    parser.add_argument("--sources", default=None, help="comma-separated: poll,auto")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--panel", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    plan = Plan.smoke() if args.smoke else Plan()
    servers = args.servers or int(env.get("SCALE_BENCH_SERVERS", 0)) or plan.servers
    minutes = args.minutes or float(env.get("SCALE_BENCH_MINUTES", 0)) or plan.minutes
    plan = Plan(
        servers=servers,
        minutes=minutes,
        warmup_cap=args.warmup_cap or plan.warmup_cap,
        scrape_every=args.scrape_every or plan.scrape_every,
        sources=tuple(args.sources.split(",")) if args.sources else plan.sources,
    )
    return plan, args


def main(argv: Sequence[str] | None = None) -> None:
    """Run the poll and the streaming run on the same fleet; print their figures side by side."""
    plan, args = plan_from([] if argv is None and __name__ != "__main__" else argv, os.environ)
    if args.child:
        _child(args.panel, args.child, plan)
        return
    results: dict[str, dict[str, Any] | str] = {}
    for source in plan.sources:
        began = time.perf_counter()
        results[source] = run_source(source, plan)
        print(f"({source}: {time.perf_counter() - began:.0f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    command = " ".join(["python -m bench.scale_bench", *_plan_args(plan)])
    for line in report(plan, results):
        print(line, flush=True)
    print(f"(command: {command} --sources {','.join(plan.sources)})")


if __name__ == "__main__":
    main()
