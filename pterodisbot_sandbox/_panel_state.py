"""What the simulated panel's routes share: fleet, faults, counters, activity, clock, options."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pterodisbot.clock import Clock
from pterodisbot_sandbox._panel_activity import ActivityEntry, ActivityLog
from pterodisbot_sandbox._panel_faults import FAULT_KINDS, FIVE_XX_CYCLE, FaultKind, SimFault
from pterodisbot_sandbox._panel_fleet import POWER_SIGNALS, SimServer
from pterodisbot_sandbox._panel_http import JSON
from pterodisbot_sandbox._panel_ratelimit import RateLimiter

log = logging.getLogger(__name__)

RESOURCES_CACHE_SECONDS = 20.0
_ARRIVALS_KEPT = 100_000


class PowerRefused(Exception):
    """The panel's UI cannot control a server now (a 409 state, or its node is down)."""


@dataclass(frozen=True, slots=True)
class PanelOptions:
    """How the simulated panel behaves: its limits, the fleet's seed and its delays."""

    rate_limit: int = 720
    latency_ms: float = 0
    seed: int = 0
    resources_cache_seconds: float = RESOURCES_CACHE_SECONDS
    slow_seconds: float = 3.0
    timeout_hold_seconds: float = 300.0
    # Wings: how long a websocket token lives, the origins allowed besides the panel's own URL,
    # authenticated sockets per server, seconds to authenticate, the stats and console cadence.
    websocket_token_seconds: float = 600.0
    wings_allowed_origins: tuple[str, ...] = ()
    wings_max_sockets: int = 30
    wings_auth_seconds: float = 30.0
    wings_stats_seconds: float = 1.0
    wings_console_seconds: float = 5.0
    # Simulated games (`_panel_games`): a query listener per game server on 127.0.0.1. Off by
    # default, so tests that never ask a game open no extra sockets.
    games: bool = False


class PanelState:
    """The fleet, the active faults, the rate limiter and every counter, on one panel clock."""

    def __init__(
        self, servers: Mapping[str, SimServer], *, clock: Clock, options: PanelOptions
    ) -> None:
        self.clock = clock
        self.options = options
        self.servers = dict(servers)
        self._by_uuid = {server.uuid: server for server in self.servers.values()}
        self.limiter = RateLimiter(options.rate_limit, clock)
        # The last resources answer per server, and when it was made (the panel's 20 s cache).
        self.resources_cache: dict[str, tuple[float, JSON]] = {}
        self._faults: list[SimFault] = []
        self._fault_ids = itertools.count(1)
        self.fault_hits: Counter[int] = Counter()
        self.request_ids = itertools.count(1)
        self.requests: Counter[str] = Counter()
        # When each client API request arrived (panel clock), newest last: what the panel's own
        # limiter would count, for tests of the bot's pacing. Bounded so a long demo stays small.
        self._arrivals: deque[tuple[float, str]] = deque(maxlen=_ARRIVALS_KEPT)
        self.power: dict[str, Counter[str]] = {}
        self.rate_limited = 0
        self.faulted = 0
        # Not a counter: `reset_stats()` keeps it, as a panel keeps its activity.
        self.activity = ActivityLog()
        self.shutdown = asyncio.Event()
        # The panel's own URL once it listens: the Origin Wings always accepts.
        self.panel_url = ""

    # ----------------------------------------------------------------- servers

    def find(self, ref: str) -> SimServer | None:
        """Return the server with this identifier (8 characters) or uuid, or None."""
        ref = ref.lower()
        if len(ref) == 8:
            return self.servers.get(ref)
        return self._by_uuid.get(ref)

    def server(self, ref: str) -> SimServer:
        """Return a server by identifier or uuid; raise KeyError if there is none."""
        found = self.find(ref)
        if found is None:
            raise KeyError(ref)
        return found

    def power_as(self, server: SimServer, signal: str, user: str) -> ActivityEntry:
        """Apply a signal a panel user sent from the panel's UI; log it with them as actor.

        The UI's buttons go through Wings' websocket, which reports the event back to the panel:
        not through an API key, so `is_api` is false. Raise ValueError for an unknown signal or
        no user, PowerRefused for a server the UI cannot control now (a 409 state, node down).
        """
        if signal not in POWER_SIGNALS:
            raise ValueError(f"signal must be one of {list(POWER_SIGNALS)}")
        if not user:
            raise ValueError("user must name the panel user who clicked")
        refusal = server.conflict() or ("its node is down" if server.node_down else None)
        if refusal is not None:
            raise PowerRefused(f"the panel's UI cannot control {server.identifier}: {refusal}")
        server.power(signal)
        self.count_power(server.identifier, signal)
        return self.activity.record(
            server.identifier,
            f"server:power.{signal}",
            t=self.clock.time(),
            actor=user,
            is_api=False,
        )

    # ----------------------------------------------------------------- faults

    def add_fault(
        self,
        kind: FaultKind,
        seconds: float | None,
        servers: Iterable[str] | None,
        *,
        status: int | None,
        delay: float | None,
    ) -> SimFault:
        """Inject a fault for `seconds` of panel time (None: until cleared); see SimulatedPanel."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if status is not None and status not in FIVE_XX_CYCLE:
            raise ValueError("status must be 500, 502 or 503")
        identifiers: frozenset[str] | None = None
        if servers is not None:
            identifiers = frozenset(self.server(s).identifier for s in servers)
        until = None if seconds is None else self.clock.monotonic() + seconds
        fault = SimFault(next(self._fault_ids), kind, until, identifiers, status, delay)
        self._faults.append(fault)
        log.info("fault %s #%d injected (%s s)", kind, fault.id, seconds)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def faults(self) -> list[SimFault]:
        """Return the faults still active on the panel clock (and forget the others)."""
        now = self.clock.monotonic()
        self._faults = [f for f in self._faults if f.active(now)]
        return list(self._faults)

    def fault_for(
        self, identifier: str | None, *, daemon: bool, power: bool = False
    ) -> SimFault | None:
        """Return the newest active fault for this request: the "504" one, or any other kind.

        A "slow_power" fault only applies to power signals (`power`).
        """
        now = self.clock.monotonic()
        for fault in reversed(self._faults):
            if (
                (fault.kind == "504") == daemon
                and (power or fault.kind != "slow_power")
                and fault.active(now)
                and fault.applies_to(identifier)
            ):
                return fault
        return None

    async def hold(self, seconds: float) -> None:
        """Wait `seconds` of real time, or less if the panel is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.shutdown.wait(), seconds)

    # ----------------------------------------------------------------- counters

    def count_request(self, route: str) -> None:
        """Count one client API request of `route` ("GET /api/client/...") arriving now."""
        self.requests[route] += 1
        self._arrivals.append((self.clock.monotonic(), route))

    def count_power(self, identifier: str, signal: str) -> None:
        """Count one power signal the panel acted on."""
        self.power.setdefault(identifier, Counter())[signal] += 1

    def stats(self) -> JSON:
        """Return request counts per route, power signals per server and refusals."""
        return {
            "requests": dict(self.requests),
            "power": {ident: dict(counts) for ident, counts in self.power.items()},
            "rate_limited": self.rate_limited,
            "faulted": self.faulted,
        }

    def arrivals(self, route: str) -> list[float]:
        """Return when each request of `route` (as keyed in `stats()`) arrived, oldest first."""
        return [t for t, key in self._arrivals if key == route]

    def reset_stats(self) -> None:
        """Zero every counter in `stats()`."""
        self.requests.clear()
        self._arrivals.clear()
        self.power.clear()
        self.rate_limited = 0
        self.faulted = 0
