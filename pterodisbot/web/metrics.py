"""Prometheus metrics read from the bot's services at scrape time.

Nothing is copied into long-lived gauges: each scrape walks the monitor's current snapshots, so
a server that left the panel (or was renamed) loses its series at the next scrape. Only the
histograms keep state, because a distribution cannot be rebuilt from the last value.

A scrape has two halves. `BotCollector.read()` runs on the event loop, where the services change:
it reads the counters (a few dozen families whatever the fleet) and copies the references to the
monitor's snapshots, nothing more. `Scrape.render()` writes the per-server series (about 15
per server: 30,000 at 2,000 servers) straight as text, and encodes the rest with
prometheus_client; it reads only frozen values, so the web server runs it in a worker thread and
the loop stays free (`bench/metrics_bench.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

import pterodisbot
from pterodisbot.alerts import Rule
from pterodisbot.monitor import ServerSnapshot, ServerStatus
from pterodisbot.panel import FallbackReason, StreamState
from pterodisbot.web.discord_traffic import DiscordTraffic
from pterodisbot.web.gateway import GatewayWatch
from pterodisbot.web.loop_lag import LoopLagProbe

if TYPE_CHECKING:
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)

SERVER_LABELS = ("server_id", "server_name")
# Seconds; a panel answer takes tens of milliseconds, a whole poll cycle up to its interval.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CYCLE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)
# Why an incident was not posted; every one is exported, zeros included, so a rate() over
# them starts at the first scrape rather than at the first suppression.
SUPPRESSED_WHY = ("muted", "grouped", "debounced")
# Every state a stream can be in is exported, zeros included (so is every fallback reason).
STREAM_STATES = (StreamState.STREAMING, StreamState.CONNECTING, StreamState.FALLBACK)


class _Families(Collector):
    """Metric families already built, for `generate_latest`."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        """Return the families."""
        return self._families


@dataclass(frozen=True, slots=True)
class Scrape:
    """One scrape as read on the loop: finished families, and the snapshots to turn into series.

    Everything here is frozen or no longer touched by the loop (the families were built for
    this scrape alone; the snapshots are frozen values), so `families()` and `render()` may run
    in any thread.
    """

    head: tuple[Metric, ...]
    snapshots: tuple[ServerSnapshot, ...]
    watched: int
    tail: tuple[Metric, ...]

    def families(self) -> list[Metric]:
        """Return every family, the per-server ones built now."""
        return [*self.head, *server_families(self.snapshots, self.watched), *self.tail]

    def render(self) -> bytes:
        """Return the Prometheus text of every family (grows with the fleet: use a thread)."""
        return b"".join(
            (
                generate_latest(_Families(self.head)),
                server_text(self.snapshots, self.watched).encode(),
                generate_latest(_Families(self.tail)),
            )
        )


# The per-server families, in the order they are written: (name, help text).
SERVER_STATE = ("pterodisbot_server_state", "1 for the server's current state, 0 for the others.")
SERVER_GAUGES = (
    ("cpu_percent", "CPU use in % of one core (200 = two cores busy)."),
    ("cpu_limit_percent", "CPU limit in % of one core; absent when unlimited."),
    ("memory_bytes", "Memory in use."),
    ("memory_limit_bytes", "Memory limit; absent when unlimited."),
    ("disk_bytes", "Disk in use."),
    ("disk_limit_bytes", "Disk limit; absent when unlimited."),
    ("uptime_seconds", "Seconds since the server's container started."),
    ("players", "Players online, as the game answered its last query; absent when it did not."),
    ("players_max", "Most players the game takes, from its last answer; absent before one."),
    (
        "game_answering",
        "1 when the game answered its last query, 0 when it did not; absent when not asked.",
    ),
)
SERVER_COUNTERS = (
    ("network_rx_bytes", "Bytes received since the container started."),
    ("network_tx_bytes", "Bytes sent since the container started."),
)
WATCHED = ("pterodisbot_servers_watched", "Servers the bot watches.")
# prometheus_client's own number format (Go's: 1.5e+09, +Inf), untyped in its package.
_go_float: Callable[[float], str] = floatToGoString


def server_families(snapshots: Sequence[ServerSnapshot], watched: int) -> Iterator[Metric]:
    """Yield the per-server families of `snapshots`, and the count of watched servers.

    The reference for `server_text()`, which writes the same bytes without building them.
    """
    states = GaugeMetricFamily(*SERVER_STATE, labels=[*SERVER_LABELS, "state"])
    gauges = {
        name: GaugeMetricFamily(f"pterodisbot_server_{name}", doc, labels=list(SERVER_LABELS))
        for name, doc in SERVER_GAUGES
    }
    counters = {
        name: CounterMetricFamily(f"pterodisbot_server_{name}", doc, labels=list(SERVER_LABELS))
        for name, doc in SERVER_COUNTERS
    }
    for snap in snapshots:
        server = snap.server
        labels = [server.identifier, server.name]
        for status in ServerStatus:
            states.add_metric([*labels, str(status)], 1 if snap.status is status else 0)
        limits = server.limits
        if limits.cpu > 0:
            gauges["cpu_limit_percent"].add_metric(labels, limits.cpu)
        if limits.memory_bytes is not None:
            gauges["memory_limit_bytes"].add_metric(labels, limits.memory_bytes)
        if limits.disk_bytes is not None:
            gauges["disk_limit_bytes"].add_metric(labels, limits.disk_bytes)
        players = snap.players
        if players is not None:
            if players.online is not None:
                gauges["players"].add_metric(labels, players.online)
            if players.answer is not None:
                gauges["players_max"].add_metric(labels, players.answer.max_players)
            gauges["game_answering"].add_metric(labels, 1 if players.online is not None else 0)
        res = snap.resources
        if res is None:
            continue
        gauges["cpu_percent"].add_metric(labels, res.cpu_absolute)
        gauges["memory_bytes"].add_metric(labels, res.memory_bytes)
        gauges["disk_bytes"].add_metric(labels, res.disk_bytes)
        gauges["uptime_seconds"].add_metric(labels, res.uptime_ms / 1000)
        counters["network_rx_bytes"].add_metric(labels, res.network_rx_bytes)
        counters["network_tx_bytes"].add_metric(labels, res.network_tx_bytes)
    yield GaugeMetricFamily(*WATCHED, value=watched)
    yield states
    yield from gauges.values()
    yield from counters.values()


def _label(value: str) -> str:
    """Escape a label value as the text format wants it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _header(name: str, doc: str, kind: str) -> str:
    doc = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def server_text(snapshots: Sequence[ServerSnapshot], watched: int) -> str:
    """Return the text of `server_families()`, byte for byte, at a fraction of the cost.

    Strings only: building 30,000 samples as objects (2,000 servers) took 150 ms and set off
    full garbage collections of the whole heap (100 ms each, holding every thread), which is what
    stalled the loop even with the work in a thread.
    """
    state_name = SERVER_STATE[0]
    marks = {
        status: (
            f',state="{_label(str(status))}"}} 1.0\n',
            f',state="{_label(str(status))}"}} 0.0\n',
        )
        for status in ServerStatus
    }
    states: list[str] = []
    gauges: dict[str, list[str]] = {name: [] for name, _ in SERVER_GAUGES}
    counters: dict[str, list[str]] = {name: [] for name, _ in SERVER_COUNTERS}
    cpu, cpu_limit = gauges["cpu_percent"], gauges["cpu_limit_percent"]
    memory, memory_limit = gauges["memory_bytes"], gauges["memory_limit_bytes"]
    disk, disk_limit = gauges["disk_bytes"], gauges["disk_limit_bytes"]
    uptime = gauges["uptime_seconds"]
    online, most, answering = gauges["players"], gauges["players_max"], gauges["game_answering"]
    rx, tx = counters["network_rx_bytes"], counters["network_tx_bytes"]
    for snap in snapshots:
        server = snap.server
        labels = f'{{server_id="{_label(server.identifier)}",server_name="{_label(server.name)}"'
        for status, (on, off) in marks.items():
            states.append(f"{state_name}{labels}{on if snap.status is status else off}")
        limits = server.limits
        if limits.cpu > 0:
            cpu_limit.append(f"{labels}}} {_go_float(limits.cpu)}\n")
        if limits.memory_bytes is not None:
            memory_limit.append(f"{labels}}} {_go_float(limits.memory_bytes)}\n")
        if limits.disk_bytes is not None:
            disk_limit.append(f"{labels}}} {_go_float(limits.disk_bytes)}\n")
        players = snap.players
        if players is not None:
            if players.online is not None:
                online.append(f"{labels}}} {_go_float(players.online)}\n")
            if players.answer is not None:
                most.append(f"{labels}}} {_go_float(players.answer.max_players)}\n")
            answered = players.online is not None
            answering.append(f"{labels}}} {'1.0' if answered else '0.0'}\n")
        res = snap.resources
        if res is None:
            continue
        cpu.append(f"{labels}}} {_go_float(res.cpu_absolute)}\n")
        memory.append(f"{labels}}} {_go_float(res.memory_bytes)}\n")
        disk.append(f"{labels}}} {_go_float(res.disk_bytes)}\n")
        uptime.append(f"{labels}}} {_go_float(res.uptime_ms / 1000)}\n")
        rx.append(f"{labels}}} {_go_float(res.network_rx_bytes)}\n")
        tx.append(f"{labels}}} {_go_float(res.network_tx_bytes)}\n")
    parts = [
        _header(WATCHED[0], WATCHED[1], "gauge"),
        f"{WATCHED[0]} {_go_float(watched)}\n",
        _header(*SERVER_STATE, "gauge"),
        *states,
    ]
    for kind, suffix, docs, families in (
        ("gauge", "", SERVER_GAUGES, gauges),
        ("counter", "_total", SERVER_COUNTERS, counters),
    ):
        for name, doc in docs:
            full = f"pterodisbot_server_{name}{suffix}"
            parts.append(_header(full, doc, kind))
            parts.extend(f"{full}{line}" for line in families[name])
    return "".join(parts)


class BotCollector(Collector):
    """Read the bot's metrics from its services each time Prometheus scrapes.

    `read()` on the loop, then `Scrape.render()` anywhere (the web server: a worker thread);
    `collect()` does both at once for a plain registry.
    """

    def __init__(
        self,
        services: BotServices,
        gateway: GatewayWatch,
        traffic: DiscordTraffic | None,
        registry: CollectorRegistry,
        *,
        loop_lag: LoopLagProbe | None = None,
    ) -> None:
        self._services = services
        self._gateway = gateway
        self._traffic = traffic
        self._loop_lag = loop_lag
        # Not registered on their own: `read()` collects them first, in the order they always had.
        self.poll_duration = Histogram(
            "pterodisbot_poll_duration_seconds",
            "Time one poll cycle over every watched server took.",
            buckets=CYCLE_BUCKETS,
            registry=None,
        )
        self.panel_latency = Histogram(
            "pterodisbot_panel_resources_latency_seconds",
            "Time from asking the panel for a server's resources to having the answer.",
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        services.monitor.add_listener(self._on_snapshot)
        services.monitor.add_cycle_listener(self.poll_duration.observe)
        if services.monitor.last_cycle_duration is not None:
            # Started after the bot had already polled: count that cycle too.
            self.poll_duration.observe(services.monitor.last_cycle_duration)
        registry.register(self)

    def _on_snapshot(self, snap: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        # Listeners run right after the panel answered, so "now - asked at" is the request's time.
        if snap.resources is not None:
            self.panel_latency.observe(max(0.0, self._services.clock.time() - snap.t))

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family, read from the services now (on the loop, all of it)."""
        yield from self.read().families()

    def read(self) -> Scrape:
        """Read the services now, on the loop: bounded work, plus one copy of the snapshot refs.

        The per-server series are left to `Scrape.render()`: built as objects on the loop they
        cost the loop p99 151 ms at 2,000 servers (`bench/metrics_bench.py`, before the split).
        """
        monitor = self._services.monitor
        head = [
            *self.poll_duration.collect(),
            *self.panel_latency.collect(),
            *self._process(),
        ]
        tail = [
            *self._panel(),
            *self._discord(),
            *self._history(),
            *self._alerts(),
            *self._stream(),
            *self._games(),
            *self._lag(),
        ]
        return Scrape(
            head=tuple(head),
            snapshots=tuple(monitor.snapshots.values()),
            watched=len(monitor.servers),
            tail=tuple(tail),
        )

    def _process(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "pterodisbot_build_info", "The running Pterodisbot version.", labels=["version"]
        )
        info.add_metric([pterodisbot.__version__], 1)
        yield info
        state = self._gateway.state()
        yield GaugeMetricFamily(
            "pterodisbot_gateway_connected",
            "1 while the Discord gateway is connected, else 0.",
            value=1 if state.connected else 0,
        )
        yield CounterMetricFamily(
            "pterodisbot_gateway_disconnects",
            "Times the Discord gateway dropped since the bot started.",
            value=state.disconnects,
        )
        if state.latency is not None:
            yield GaugeMetricFamily(
                "pterodisbot_gateway_latency_seconds",
                "Discord gateway heartbeat round trip.",
                value=state.latency,
            )

    def _panel(self) -> Iterator[Metric]:
        services = self._services
        monitor = services.monitor
        if monitor.last_cycle_completed is not None:
            yield GaugeMetricFamily(
                "pterodisbot_last_poll_timestamp_seconds",
                "Unix time the last poll cycle finished.",
                value=monitor.last_cycle_completed,
            )
        if monitor.panel_reachable is not None:
            yield GaugeMetricFamily(
                "pterodisbot_panel_reachable",
                "1 if the panel answered the last request, else 0.",
                value=1 if monitor.panel_reachable else 0,
            )
        requests = CounterMetricFamily(
            "pterodisbot_panel_requests",
            "Panel API attempts by route and outcome (HTTP status, timeout, connection, tls).",
            labels=["route", "outcome"],
        )
        for (route, outcome), count in sorted(services.api.stats.snapshot().items()):
            requests.add_metric([route, outcome], count)
        yield requests
        yield CounterMetricFamily(
            "pterodisbot_panel_retries",
            "Panel requests retried after a timeout, 5xx or 429.",
            value=services.api.stats.retries,
        )
        budget = services.api.budget
        yield GaugeMetricFamily(
            "pterodisbot_panel_rate_budget_remaining",
            "Panel requests the bot may still make in the current minute.",
            value=budget.remaining,
        )
        yield GaugeMetricFamily(
            "pterodisbot_panel_rate_budget_capacity",
            "Panel requests the bot allows itself per minute.",
            value=budget.capacity,
        )

    def _discord(self) -> Iterator[Metric]:
        services = self._services
        board = services.board.stats
        pump = services.pump.stats
        for name, doc, value in (
            ("discord_embeds_posted", "Status embeds posted.", board.posted),
            ("discord_edits", "Status embeds edited.", board.edits),
            (
                "discord_edits_skipped",
                "Snapshots that changed nothing significant, so no edit was sent.",
                board.skipped,
            ),
            (
                "discord_edits_failed",
                "Edits Discord refused (retried on the next change).",
                board.failed,
            ),
            (
                "discord_embeds_removed",
                "Status embeds forgotten because Discord lost them.",
                board.removed,
            ),
            ("discord_edits_queued", "Edits handed to the per-channel pump.", pump.submitted),
            (
                "discord_edits_coalesced",
                "Queued edits replaced by a newer one before they were sent.",
                pump.coalesced,
            ),
        ):
            yield CounterMetricFamily(f"pterodisbot_{name}", doc, value=value)
        yield GaugeMetricFamily(
            "pterodisbot_discord_edits_pending",
            "Edits waiting in the pump.",
            value=services.pump.pending(),
        )
        yield GaugeMetricFamily(
            "pterodisbot_embed_locations",
            "Status embeds the bot keeps current.",
            value=len(services.locations),
        )
        yield GaugeMetricFamily(
            "pterodisbot_embeds_blocked",
            "Status embeds Discord refuses to let the bot edit (missing access or permissions).",
            value=len(services.board.blocked),
        )
        yield CounterMetricFamily(
            "pterodisbot_locations_save_failures",
            "Failed writes of the embed locations file (retried every 30 s).",
            value=services.locations.failed_saves,
        )
        yield GaugeMetricFamily(
            "pterodisbot_locations_saved",
            "1 while the embed locations file holds the current embeds, 0 while saves fail.",
            value=0 if services.locations.save_failure is not None else 1,
        )
        responses = CounterMetricFamily(
            "pterodisbot_discord_responses",
            "Discord HTTP answers by method and status.",
            labels=["method", "status"],
        )
        limited = 0
        if self._traffic is not None:
            for (method, status), count in sorted(self._traffic.snapshot().items()):
                responses.add_metric([method, str(status)], count)
            limited = self._traffic.rate_limited
        yield responses
        yield CounterMetricFamily(
            "pterodisbot_discord_rate_limited",
            "Discord HTTP 429 answers (discord.py waits them out and retries).",
            value=limited,
        )

    def _history(self) -> Iterator[Metric]:
        history = self._services.history
        if not history.enabled:
            return
        stats = history.stats()
        yield CounterMetricFamily(
            "pterodisbot_history_rows_written",
            "Samples and state changes written to the history store.",
            value=stats.rows_written,
        )
        flushes = SummaryMetricFamily(
            "pterodisbot_history_flush_seconds",
            "Time one write of the samples gathered since the last took (one transaction).",
            count_value=stats.flushes,
            sum_value=stats.flush_seconds,
        )
        yield flushes
        yield GaugeMetricFamily(
            "pterodisbot_history_buffered_samples",
            "Samples waiting in memory to be written (they pile up while the store fails).",
            value=stats.buffered,
        )
        yield CounterMetricFamily(
            "pterodisbot_history_dropped_samples",
            "Samples dropped because the buffer was full while the store could not be written.",
            value=stats.dropped,
        )
        yield GaugeMetricFamily(
            "pterodisbot_history_store_up",
            "1 while the history store is open and its last write worked, else 0.",
            value=1 if stats.writable else 0,
        )
        if stats.size_bytes is not None:
            yield GaugeMetricFamily(
                "pterodisbot_history_database_bytes",
                "Bytes the history store takes on disk (read once a minute).",
                value=stats.size_bytes,
            )

    def _alerts(self) -> Iterator[Metric]:
        # Like the history's series: absent while alerts are off ([alerts] channel_id empty),
        # so a dashboard tells "off" from "nothing firing".
        alerts = self._services.alerts
        if not alerts.enabled:
            return
        stats = alerts.stats()
        firing = GaugeMetricFamily(
            "pterodisbot_alerts_firing",
            "Open incidents by rule (muted ones included).",
            labels=["rule"],
        )
        for rule in Rule:
            firing.add_metric([rule.value], stats.firing.get(rule, 0))
        yield firing
        yield CounterMetricFamily(
            "pterodisbot_alerts_posted",
            "Alert messages posted in the alerts channel (grouped ones count once).",
            value=stats.posted,
        )
        yield CounterMetricFamily(
            "pterodisbot_alerts_edited",
            "Edits of alert messages (a crash loop's count, a recovery).",
            value=stats.edited,
        )
        suppressed = CounterMetricFamily(
            "pterodisbot_alerts_suppressed",
            "Incidents not posted on their own, by why: muted, grouped (into another "
            "message), debounced (cleared before firing, or a repeat too soon).",
            labels=["why"],
        )
        for why in sorted({*SUPPRESSED_WHY, *stats.suppressed}):
            suppressed.add_metric([why], stats.suppressed.get(why, 0))
        yield suppressed

    def _stream(self) -> Iterator[Metric]:
        # Polled servers in every mode (all of them with source = poll); the stream's own series
        # only while there is a stream, so a dashboard tells "polling by choice" from "no socket
        # works" (like the history's and the alerts' series).
        monitor = self._services.monitor
        yield GaugeMetricFamily(
            "pterodisbot_servers_polled",
            "Watched servers the monitor asks the panel about each cycle (the others stream).",
            value=monitor.polled_count(),
        )
        stream = monitor.stream
        if not stream.enabled:
            return
        stats = stream.stats()
        servers = GaugeMetricFamily(
            "pterodisbot_stream_servers",
            "Watched servers by where their Wings websocket stands: streaming (stats arrive), "
            "connecting (token, socket or a wait before retrying), fallback (cannot stream now).",
            labels=["state"],
        )
        counts = {
            StreamState.STREAMING: stats.streaming,
            StreamState.CONNECTING: stats.connecting,
            StreamState.FALLBACK: stats.fallback,
        }
        for state in STREAM_STATES:
            servers.add_metric([str(state)], counts[state])
        yield servers
        reasons = GaugeMetricFamily(
            "pterodisbot_stream_fallback_servers",
            "Servers that cannot stream, by why (polled instead with source = auto).",
            labels=["reason"],
        )
        for reason in FallbackReason:
            reasons.add_metric([str(reason)], stats.reasons.get(reason, 0))
        yield reasons
        yield CounterMetricFamily(
            "pterodisbot_stream_token_requests",
            "Websocket credentials (token) requests to the panel since the bot started.",
            value=stats.token_calls,
        )
        yield GaugeMetricFamily(
            "pterodisbot_stream_token_requests_per_minute",
            "Websocket credentials requests over the last minute (they spend the request budget).",
            value=stats.token_calls_per_minute,
        )

    def _games(self) -> Iterator[Metric]:
        # Absent while `[query] enabled = false`, like the history's and the alerts' series.
        players = self._services.players
        if not players.enabled:
            return
        stats = players.stats()
        queries = CounterMetricFamily(
            "pterodisbot_game_queries",
            "Queries of the games (players online) by protocol and outcome: ok, timeout, "
            "refused, garbage, unreachable.",
            labels=["protocol", "outcome"],
        )
        for (protocol, outcome), count in sorted(stats.queries.items()):
            queries.add_metric([protocol, outcome], count)
        yield queries
        yield GaugeMetricFamily(
            "pterodisbot_game_query_targets",
            "Servers whose game is asked (running, with a protocol).",
            value=stats.targets,
        )
        yield GaugeMetricFamily(
            "pterodisbot_game_queries_in_flight",
            "Game queries under way now (at most [query] concurrency).",
            value=stats.in_flight,
        )

    def _lag(self) -> Iterator[Metric]:
        if self._loop_lag is None:
            return
        stats = self._loop_lag.stats()
        yield HistogramMetricFamily(
            "pterodisbot_event_loop_lag_seconds",
            "How much later than due the event loop ran a timer (one measure every "
            f"{self._loop_lag.interval:g} s); a blocked loop delays every reply and poll.",
            # `repr` writes bounds as prometheus_client writes its histograms (1.0, 0.0025).
            buckets=[
                *((repr(float(bound)), count) for bound, count in stats.buckets),
                ("+Inf", stats.count),
            ],
            sum_value=stats.total,
        )
        yield GaugeMetricFamily(
            "pterodisbot_event_loop_lag_max_seconds",
            f"The largest event loop lag over the last {self._loop_lag.window:g} s.",
            value=stats.recent_max,
        )
