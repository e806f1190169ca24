"""Poll the panel for every visible server and turn answers into snapshots and histories."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pterodisbot.clock import Clock, SystemClock
from pterodisbot.conditions import ConditionLog, shorten
from pterodisbot.observed import ReadFault, ServerStatus
from pterodisbot.panel.errors import (
    AuthFailure,
    ConflictReason,
    PanelAuthError,
    PanelBadResponse,
    PanelConflict,
    PanelError,
    PanelNotFound,
    PanelRateLimited,
    PanelUnavailable,
    UnavailableReason,
)
from pterodisbot.panel.stream import (
    FALLBACK_TEXT,
    STREAM_STALE_AFTER,
    FallbackReason,
    NoStream,
    StatsStream,
    StreamState,
)
from pterodisbot.query import NoQueries, Players, PlayerSource

if TYPE_CHECKING:
    from pterodisbot.panel.client import PterodactylAPI
    from pterodisbot.panel.models import Resources, Server
    from pterodisbot.server_metrics_graphs import MetricSample, ServerMetricsManager

# ServerStatus and ReadFault are re-exported: the monitor is where the bot has always found them.
__all__ = [
    "STALL_CYCLES",
    "Listener",
    "Monitor",
    "MonitorLiveness",
    "ReadFault",
    "RemovalListener",
    "ServerSnapshot",
    "ServerStatus",
    "Trend",
    "conflict_status",
    "status_of",
]

log = logging.getLogger(__name__)

# Short reasons shown in an embed when a server's state cannot be read (the log has the details).
_UNAVAILABLE_TEXT: Final[Mapping[UnavailableReason, str]] = {
    UnavailableReason.NODE_DOWN: "node down: the panel cannot reach Wings",
    UnavailableReason.SERVER_ERROR: "panel error (5xx)",
    UnavailableReason.TIMEOUT: "panel not answering (timeout)",
    UnavailableReason.CONNECTION: "panel unreachable",
    UnavailableReason.TLS: "panel TLS certificate problem",
}
_AUTH_TEXT: Final[Mapping[AuthFailure, str]] = {
    AuthFailure.BAD_KEY: "the panel refused the API key",
    AuthFailure.FORBIDDEN: "the API key may not read this server",
    AuthFailure.APPLICATION_KEY: "an application key cannot use the client API",
}

# Conditions of a server that are states to show, not faults to chase: logged at INFO.
_STATE_CONDITIONS: Final[Mapping[str, str]] = {
    "installing": "installing, no resources until done",
    "suspended": "suspended, no resources until unsuspended",
}
# The ConditionLog key of conditions of the panel as a whole (its rate limit).
_PANEL: Final = "panel"
# Characters of a server's name in a log line: the identifier is what to search for.
_NAME_LIMIT: Final = 24

# Expected cycles without a sign of life (plus one budget window and one slowest call) before
# the poll loop counts as stuck.
STALL_CYCLES: Final = 3

# How a server that cannot stream (source = websocket, never polled) shows its fault.
_STREAM_FAULT: Final[Mapping[FallbackReason, ReadFault]] = {
    FallbackReason.NODE_DOWN: ReadFault.NODE_DOWN,
    FallbackReason.PANEL_DOWN: ReadFault.PANEL_DOWN,
    FallbackReason.FORBIDDEN: ReadFault.REFUSED,
    FallbackReason.ORIGIN_REFUSED: ReadFault.REFUSED,
    FallbackReason.AUTH_REFUSED: ReadFault.REFUSED,
    FallbackReason.SUSPENDED: ReadFault.CONFLICT,
    FallbackReason.CONFLICT: ReadFault.CONFLICT,
}

# The stream sampler publishes the streaming servers in this many slices of each poll interval:
# spread enough that 2,000 snapshots never land in one tick, few enough that a fake clock's
# jumps stay few in tests.
SAMPLE_SLICES: Final = 10
# Servers whose socket is still connecting are polled meanwhile while they number at most this
# share of the request budget a minute (150 at the default 600/min).
CONNECTING_POLL_SHARE: Final = 0.25

# Panel `status` values that mean the server cannot run right now.
_INSTALL_LIKE = frozenset({"installing", "install_failed", "reinstall_failed", "restoring_backup"})


@dataclass(frozen=True, slots=True)
class Trend:
    """CPU and memory averaged over the last `seconds` of live samples.

    Game servers' CPU jitters from one poll to the next; deciding whether an embed is worth
    editing on these averages keeps a busy but steady server from being edited every poll.
    """

    cpu_percent: float
    memory_bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ServerSnapshot:
    """One server as last seen by the monitor.

    `last_known` is set only while the status is unknown: the last status the panel confirmed
    (None if it never did), for "last seen Installing" rather than a claim about the present.
    `fault` says why `resources` is missing (None when the panel answered); `conflict` the
    panel's reason for a 409.
    """

    server: Server
    status: ServerStatus
    resources: Resources | None
    sample: MetricSample | None
    t: float
    error: str | None = None
    trend: Trend | None = None
    last_known: ServerStatus | None = None
    fault: ReadFault | None = None
    conflict: ConflictReason | None = None
    # What the game said of its players (`[query]`): None when it is not asked (queries off,
    # no protocol, never asked yet).
    players: Players | None = None


@dataclass(frozen=True, slots=True)
class MonitorLiveness:
    """Whether the poll loop runs and makes progress, whatever the panel answers.

    `last_progress` is the wall-clock time of its last sign of life: a panel call of the loop
    finished (answered or failed), or a cycle ended; before any, when the loop started.
    """

    running: bool
    last_progress: float | None
    expected_cycle: float
    stall_after: float


Listener = Callable[[ServerSnapshot, "ServerSnapshot | None"], None]
RemovalListener = Callable[[str], object]


def status_of(server: Server, resources: Resources | None) -> ServerStatus:
    """Decide the displayed status from the server's flags and its last resources answer."""
    if server.is_suspended or (resources is not None and resources.is_suspended):
        return ServerStatus.SUSPENDED
    if server.is_installing or (server.status or "") in _INSTALL_LIKE:
        return ServerStatus.INSTALLING
    if resources is None:
        return ServerStatus.UNKNOWN
    return ServerStatus(str(resources.state))


def conflict_status(server: Server, reason: ConflictReason) -> ServerStatus:
    """Decide the status from a 409 answer: the panel's reason first, then the server's flags."""
    # The 409 is this poll's answer; the flags are as old as the last server list (minutes).
    if reason is ConflictReason.SUSPENDED:
        return ServerStatus.SUSPENDED
    if reason is ConflictReason.INSTALLING:
        return ServerStatus.INSTALLING
    return status_of(server, None)


class Monitor:
    """Poll every visible server's resources once per interval, spread over the interval.

    Owns one task (`start()`/`stop()`). Listeners are called on the event loop with each new
    snapshot and the previous one; they must be quick (queue work, don't do it).
    """

    def __init__(
        self,
        api: PterodactylAPI,
        metrics: ServerMetricsManager,
        *,
        poll_interval: float = 10.0,
        server_list_refresh: float = 300.0,
        server_filter: Collection[str] = (),
        smoothing: float = 60.0,
        clock: Clock | None = None,
        stream: StatsStream | None = None,
        players: PlayerSource | None = None,
    ) -> None:
        self._api = api
        # What the games said of their players (`pterodisbot.query`): read, never awaited, so
        # a game that hangs never slows a poll.
        self._players: PlayerSource = players or NoQueries()
        # Where live numbers come from first; polling is the fallback (or the only source).
        self._stream: StatsStream = stream or NoStream()
        self._stream.set_change_listener(self._stream_changed)
        # Servers with an immediate snapshot on its way after a state change in their stream.
        self._stream_pending: set[str] = set()
        # Publishes streaming servers' snapshots every poll_interval, apart from the poll cycle.
        self._sampler: asyncio.Task[None] | None = None
        self._metrics = metrics
        self.poll_interval = poll_interval
        self.server_list_refresh = server_list_refresh
        self._filter = frozenset(server_filter)
        self.smoothing = smoothing
        self._clock = clock or SystemClock()
        self._servers: dict[str, Server] = {}
        self._snapshots: dict[str, ServerSnapshot] = {}
        self._listeners: list[Listener] = []
        self._removal_listeners: list[RemovalListener] = []
        self._cycle_listeners: list[Callable[[float], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._list_refreshed_at: float | None = None
        self._list_dirty = True
        self.last_cycle_completed: float | None = None
        self.last_cycle_duration: float | None = None
        self.panel_reachable: bool | None = None
        self._alive_at: float | None = None
        # Polls of the current cycle that timed out: a slow cycle is then the panel's doing.
        self._timeouts = 0
        self._conditions = ConditionLog(log, clock=self._clock)
        # The last state logged for each server: the start of a change worth a line.
        self._logged_status: dict[str, ServerStatus] = {}

    @property
    def servers(self) -> Mapping[str, Server]:
        """Return the servers currently watched, by identifier."""
        return self._servers

    @property
    def stream(self) -> StatsStream:
        """Return the live stats source (`NoStream` when every server is polled)."""
        return self._stream

    @property
    def expected_cycle(self) -> float:
        """Return the seconds a cycle takes at the pace the request budget allows.

        The budget's capacity is the configured requests per minute, or the panel's own lower
        limit once its headers said so: 300 servers at 600/min take 30.5 s, not `poll_interval`.
        Only polled servers count: a streamed one costs no request per cycle.
        """
        budget = self._api.budget
        return max(self.poll_interval, self.polled_count() * budget.window / budget.capacity)

    def polled_count(self) -> int:
        """Return how many watched servers the next cycle asks the panel about."""
        if self._stream.enabled and not self._stream.polls_fallback:
            return 0
        return len(self._cycle_servers())

    def _cycle_servers(self) -> list[Server]:
        """Return the servers the poll cycle covers; the stream sampler has the streaming ones.

        Streaming servers are sampled on their own schedule: a cycle paced by the request budget
        (minutes for hundreds of fallback servers) must not make their samples that old. With
        `source = websocket` the cycle shows why the others cannot stream, asking nothing.
        """
        servers = list(self._servers.values())
        if not self._stream.enabled:
            return servers
        states = {s.identifier: self._stream.state(s.identifier)[0] for s in servers}
        if not self._stream.polls_fallback:
            return [s for s in servers if states[s.identifier] is not StreamState.STREAMING]
        # Servers still connecting are polled meanwhile while they are few. A big fleet's first
        # connects are not: one token streams a server for ten minutes where a poll is one
        # sample, and at 2,000 servers polling them kept the tokens queued behind the polls.
        connecting = sum(1 for state in states.values() if state is StreamState.CONNECTING)
        polls_connecting = connecting <= self._api.budget.capacity * CONNECTING_POLL_SHARE
        return [
            s
            for s in servers
            if states[s.identifier] is StreamState.FALLBACK
            or (polls_connecting and states[s.identifier] is StreamState.CONNECTING)
        ]

    @property
    def stall_after(self) -> float:
        """Return the seconds without a sign of life after which the poll loop counts as stuck.

        Three expected cycles, plus one budget window (a budget spent in a burst holds every call
        that long), plus the longest one panel call may take: a paced, slow or failing panel
        never reaches it; a loop that hangs does.
        """
        return STALL_CYCLES * self.expected_cycle + self._api.budget.window + self._api.longest_call

    def liveness(self) -> MonitorLiveness:
        """Return whether the poll loop runs and when it last made progress."""
        return MonitorLiveness(
            running=self._task is not None and not self._task.done(),
            last_progress=self._alive_at,
            expected_cycle=self.expected_cycle,
            stall_after=self.stall_after,
        )

    @property
    def snapshots(self) -> Mapping[str, ServerSnapshot]:
        """Return the newest snapshot of every watched server (never of one no longer watched)."""
        return self._snapshots

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(snapshot, previous)` for every new snapshot."""
        self._listeners.append(listener)

    def add_removal_listener(self, listener: RemovalListener) -> None:
        """Call `listener(identifier)` when a server disappears from the panel."""
        self._removal_listeners.append(listener)

    def add_cycle_listener(self, listener: Callable[[float], None]) -> None:
        """Call `listener(seconds)` after every completed poll cycle with its duration."""
        self._cycle_listeners.append(listener)

    def start(self) -> None:
        """Start the poll loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pterodisbot-monitor")
        if self._stream.enabled and (self._sampler is None or self._sampler.done()):
            self._sampler = asyncio.create_task(
                self._run_sampler(), name="pterodisbot-stream-sampler"
            )
        self._stream.start()

    async def stop(self) -> None:
        """Stop the poll loop, the stream sampler and the stream, and wait for them to end."""
        for task in (self._task, self._sampler):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None
        self._sampler = None
        await self._stream.close()

    def set_server_filter(self, identifiers: Collection[str]) -> None:
        """Watch only these servers (empty: all the key sees) from the next cycle on."""
        self._filter = frozenset(identifiers)
        self._list_dirty = True

    async def refresh_servers(self) -> bool:
        """Re-read the server list; return False when the panel could not be read."""
        try:
            servers = await self._api.list_servers()
        except PanelError as exc:
            self.panel_reachable = False
            log.warning("server list unavailable: %s", exc)
            return False
        self.panel_reachable = True
        visible = {
            s.identifier: s for s in servers if not self._filter or s.identifier in self._filter
        }
        removed = set(self._servers) - set(visible)
        added = set(visible) - set(self._servers)
        self._servers = visible
        self._list_refreshed_at = self._clock.monotonic()
        self._list_dirty = False
        self._metrics.retain(visible.keys())
        self._stream.watch(visible.values())
        for identifier in removed:
            self._snapshots.pop(identifier, None)
            self._logged_status.pop(identifier, None)
            self._conditions.forget(identifier)
            log.info("server %s is no longer visible to the API key", identifier)
            for removal in self._removal_listeners:
                removal(identifier)
        if added:
            log.info("watching %d new server(s): %s", len(added), ", ".join(sorted(added)))
        return True

    async def poll_server(self, identifier: str) -> ServerSnapshot | None:
        """Poll one server now (after a power action, say) and publish its snapshot."""
        server = self._servers.get(identifier)
        if server is None:
            return None
        return await self._poll_one(server)

    async def sample_streams(self) -> int:
        """Publish a snapshot of every server whose stream has a fresh reading; return how many."""
        published = 0
        for server in list(self._servers.values()):
            if await self._sample_stream(server):
                published += 1
        return published

    async def _sample_stream(self, server: Server) -> bool:
        """Publish the server's snapshot from its stream if that is fresh; never ask the panel."""
        reading = self._stream.latest(server.identifier)
        if reading is None or self._clock.time() - reading.t > STREAM_STALE_AFTER:
            return False
        # With a fresh reading `_poll_one` takes the stream's numbers and awaits nothing.
        await self._poll_one(server)
        return True

    async def _run_sampler(self) -> None:
        """Sample every streaming server once per poll_interval, in a few slices of the interval."""
        while True:
            start = self._clock.monotonic()
            try:
                servers = [
                    s
                    for s in self._servers.values()
                    if self._stream.state(s.identifier)[0] is StreamState.STREAMING
                ]
                slices = min(SAMPLE_SLICES, len(servers)) or 1
                for index in range(slices):
                    delay = start + index * self.poll_interval / slices - self._clock.monotonic()
                    if delay > 0:
                        await self._clock.sleep(delay)
                    for server in servers[index::slices]:
                        if server.identifier in self._servers:
                            await self._sample_stream(server)
                self._alive()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream sampling failed")
            remaining = start + self.poll_interval - self._clock.monotonic()
            await self._clock.sleep(max(remaining, 0.001))

    async def poll_once(self, *, streams: bool = True) -> None:
        """Run one full cycle: refresh the list if due, then poll every server, spread out.

        With `streams` (a cycle run by hand) the streaming servers are sampled first; the
        running monitor leaves them to its sampler.
        """
        start = self._clock.monotonic()
        if self._list_dirty or (
            self._list_refreshed_at is None
            or start - self._list_refreshed_at >= self.server_list_refresh
        ):
            await self.refresh_servers()
            self._alive()
        if streams and self._stream.enabled:
            await self.sample_streams()
        servers = self._cycle_servers()
        self._timeouts = 0
        spacing = self.poll_interval / len(servers) if servers else 0.0
        tasks: list[asyncio.Task[ServerSnapshot | None]] = []
        try:
            for index, server in enumerate(servers):
                delay = start + index * spacing - self._clock.monotonic()
                if delay > 0:
                    await self._clock.sleep(delay)
                task = asyncio.create_task(self._poll_one(server))
                task.add_done_callback(self._alive)
                tasks.append(task)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        self.last_cycle_completed = self._clock.time()
        self._alive()
        duration = self._clock.monotonic() - start
        stretched = duration > self.poll_interval * 1.5
        if stretched and (self.last_cycle_duration or 0.0) <= self.poll_interval * 1.5:
            self._warn_slow_cycle(len(servers), duration)
        self.last_cycle_duration = duration
        for cycle_listener in self._cycle_listeners:
            try:
                cycle_listener(duration)
            except Exception:
                log.exception("poll cycle listener failed")

    def _warn_slow_cycle(self, servers: int, duration: float) -> None:
        """Say once why cycles outlast the interval: timed-out polls, else the request budget."""
        if self._timeouts:
            log.warning(
                "polling %d servers took %.0f s, more than poll_interval = %g s: %d poll(s) "
                "timed out after %g s; the panel is slow to answer (not the request budget)",
                servers,
                duration,
                self.poll_interval,
                self._timeouts,
                self._api.timeout,
            )
            return
        log.warning(
            "polling %d servers took %.0f s, more than poll_interval = %g s: the panel "
            "request budget sets the pace (raise [pterodactyl] requests_per_minute if the "
            "panel allows more, or watch fewer servers)",
            servers,
            duration,
            self.poll_interval,
        )

    def _alive(self, _task: object = None) -> None:
        """Note a sign of life of the poll loop (a call of it finished, whatever its outcome)."""
        self._alive_at = self._clock.time()

    def _report(self, snapshot: ServerSnapshot) -> None:
        """Log a change of the server's state or condition once, not every poll."""
        server = snapshot.server
        subject = f"server {server.identifier} ({shorten(server.name, _NAME_LIMIT)})"
        if snapshot.resources is not None:
            self._conditions.observe(_PANEL, None)
        state = _STATE_CONDITIONS.get(snapshot.status) if snapshot.error is not None else None
        condition = state or snapshot.error
        self._conditions.observe(
            server.identifier,
            condition,
            subject=subject,
            level=logging.INFO if state is not None else logging.WARNING,
        )
        before = self._logged_status.get(server.identifier)
        self._logged_status[server.identifier] = snapshot.status
        if before is not None and before is not snapshot.status:
            log.info("%s: %s -> %s", subject, before, snapshot.status)

    def _trend(self, identifier: str, now: float) -> Trend | None:
        if self.smoothing <= 0:
            return None
        history = self._metrics.get(identifier)
        if history is None:
            return None
        window = history.window(self.smoothing, now)
        live = ~window.gap_mask
        if not live.any():
            return None
        return Trend(
            cpu_percent=float(window.cpu_percent[live].mean()),
            memory_bytes=int(window.memory_bytes[live].mean()),
            seconds=self.smoothing,
        )

    async def _run(self) -> None:
        self._alive()
        while True:
            start = self._clock.monotonic()
            try:
                await self.poll_once(streams=False)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One broken cycle must not end monitoring: log it and try again next interval.
                log.exception("poll cycle failed")
            remaining = start + self.poll_interval - self._clock.monotonic()
            if remaining > 0:
                await self._clock.sleep(remaining)

    def _stream_changed(self, identifier: str) -> None:
        """Publish a snapshot at once when a server's state changes in its stream.

        A stop seen as running -> stopping -> offline within a second is what tells a stop from
        a crash; waiting for the next cycle could miss the stopping state.
        """
        server = self._servers.get(identifier)
        if server is None or identifier in self._stream_pending or self._task is None:
            return
        self._stream_pending.add(identifier)
        # From the stream only: a change with no reading yet must not become a panel request.
        task = asyncio.create_task(
            self._sample_stream(server), name=f"pterodisbot-stream-{identifier}"
        )
        task.add_done_callback(lambda _t: self._stream_pending.discard(identifier))

    def _from_stream(self, server: Server, now: float) -> tuple[Resources | None, str | None]:
        """Return the stream's fresh reading, or why the server is not streaming.

        (None, None): ask the panel. (resources, None): the stream's reading. (None, reason):
        the stream cannot serve it and the mode forbids polling (source = websocket).
        """
        if not self._stream.enabled:
            return None, None
        reading = self._stream.latest(server.identifier)
        if reading is not None and now - reading.t <= STREAM_STALE_AFTER:
            return reading.resources, None
        if self._stream.polls_fallback:
            return None, None
        state, reason = self._stream.state(server.identifier)
        if state is StreamState.CONNECTING or reason is None:
            return None, "connecting to Wings"
        return None, FALLBACK_TEXT.get(reason, "cannot stream")

    async def _poll_one(self, server: Server) -> ServerSnapshot | None:
        now = self._clock.time()
        panel_wide = False
        resources: Resources | None = None
        error: str | None = None
        fault: ReadFault | None = None
        conflict: ConflictReason | None = None
        streamed, not_streaming = self._from_stream(server, now)
        try:
            if streamed is not None:
                resources = streamed
            elif not_streaming is not None:
                _state, reason = self._stream.state(server.identifier)
                fault = _STREAM_FAULT.get(reason, ReadFault.BAD_ANSWER) if reason else None
                if reason is FallbackReason.SUSPENDED:
                    conflict = ConflictReason.SUSPENDED
                error = not_streaming
            else:
                resources = await self._api.get_resources(server.identifier)
                self.panel_reachable = True
        except PanelRateLimited as exc:
            # Keep showing what we had: being throttled says nothing about the server.
            log.debug(
                "server %s: rate limited, retry in %.0f s", server.identifier, exc.retry_after
            )
            self._conditions.observe(_PANEL, "rate limiting the API key (429)")
            return self._snapshots.get(server.identifier)
        except PanelNotFound:
            log.info(
                "server %s: gone from the panel; re-reading the server list", server.identifier
            )
            self._list_dirty = True
            return self._snapshots.get(server.identifier)
        except PanelConflict as exc:
            conflict = exc.reason
            fault = ReadFault.CONFLICT
            error = exc.detail or "the panel reports a state conflict"
        except PanelUnavailable as exc:
            if exc.reason is UnavailableReason.TIMEOUT:
                self._timeouts += 1
            # A node that is down says nothing about the panel itself.
            if not exc.node_down:
                self.panel_reachable = False
                panel_wide = True
            fault = ReadFault.NODE_DOWN if exc.node_down else ReadFault.PANEL_DOWN
            error = _UNAVAILABLE_TEXT.get(exc.reason, "panel unavailable")
        except PanelAuthError as exc:
            fault = ReadFault.REFUSED
            error = _AUTH_TEXT.get(exc.reason, "the panel refused the API key")
        except PanelBadResponse:
            fault = ReadFault.BAD_ANSWER
            error = "the panel's answer could not be read"
        except PanelError:
            fault = ReadFault.BAD_ANSWER
            error = "unexpected answer from the panel"
        if server.identifier not in self._servers:
            # The server left the watched list while this answer was on its way (a one-off
            # poll racing a list refresh): publishing it would bring back what was removed.
            return None
        if error is not None:
            log.debug("server %s: %s", server.identifier, error)
        previous = self._snapshots.get(server.identifier)
        players = self._players.players(server.identifier)
        last_known: ServerStatus | None = None
        if resources is None:
            sample = self._metrics.record_unknown(server.identifier, now)
            # Only a 409 is the panel speaking about this server now. Without an answer, the
            # cached list's installing/suspended flags would be a guess shown as a fact.
            status = (
                conflict_status(server, conflict) if conflict is not None else ServerStatus.UNKNOWN
            )
            if status is ServerStatus.UNKNOWN and previous is not None:
                last_known = (
                    previous.last_known
                    if previous.status is ServerStatus.UNKNOWN
                    else previous.status
                )
        else:
            sample = self._metrics.record(
                server.identifier,
                now,
                resources,
                players=players.online if players is not None else None,
            )
            status = status_of(server, resources)
        snapshot = ServerSnapshot(
            server=server,
            status=status,
            resources=resources,
            sample=sample,
            t=now,
            error=error,
            trend=self._trend(server.identifier, now) if resources is not None else None,
            last_known=last_known,
            fault=fault,
            conflict=conflict,
            players=players,
        )
        self._snapshots[server.identifier] = snapshot
        if not panel_wide:
            # A panel that is unreachable is one line (the lifecycle's), not one per server; the
            # states logged last stay the ones to compare with when it comes back.
            self._report(snapshot)
        for listener in self._listeners:
            try:
                listener(snapshot, previous)
            except Exception:
                log.exception("snapshot listener failed for server %s", server.identifier)
        return snapshot
