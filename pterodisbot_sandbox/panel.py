"""A simulated Pterodactyl panel: the client API over real HTTP, plus a `/_sim/` control API.

Answers follow the real panel (pterodactyl/panel 1.11: `ServerTransformer`, `StatsTransformer`,
`Handler.php`, `config/http.php`): the same envelopes, error shapes, 20 s resources cache and
per-minute rate limit. Everything that measures time uses the injected `Clock`, so tests with a
`FakeClock` run minutes of panel time at once; only `latency_ms` and the "slow"/"timeout" faults
use real time, because they are about real HTTP timing.

Rate limit: a fixed window per key, like Laravel's `RateLimiter`: the window opens with the key's
first request, lasts 60 s of panel time and allows `rate_limit` requests; every authenticated
client API request counts, answered or refused.

Faults (`POST /_sim/faults`) stand for a broken proxy in front of the panel:
- "5xx", "garbage" and "down" answer instead of the panel: the request never reaches it (no key
  check, no rate-limit headers or count, no power signal applied).
- "timeout": the panel handles the request (a power signal IS applied and counted) but the
  answer is held back far longer than any client waits, then a proxy-style 504 page.
- "slow": a real-time delay, then the panel's normal answer.
- "slow_power": the same, for power signals only (a slow Wings): other requests are answered at
  once; the signal is applied when the delay ends.
- "504": every Wings node unreachable; after the key check, the routes that reach Wings
  (resources, power, command, websocket) answer 504 DaemonConnectionException like a down node.
Activity (`GET .../activity`, `_panel_activity`): every power signal the panel accepted through
the API is logged as `server:power.<signal>` by the key's user (`API_USER`, `is_api` true);
`POST /_sim/servers/{id}/power {"signal", "user"}` (`power_as()`) is a panel user clicking in the
panel's UI (`is_api` false); `POST /_sim/servers/{id}/activity` (`add_activity()`) adds any entry.
A crash logs nothing, as on the real panel.
`/_sim/stats` counts every client API request that arrived (`requests`, faulted ones included)
and every power signal the panel acted on (`power`).

Wings (`_panel_wings`): the websocket credentials point at `ws://<this host:port>/api/servers/
<uuid>/ws`, served here as each node's Wings serves it (auth, status, stats once a second on the
panel clock, token expiry, Origin check, limits); `POST /_sim/nodes/{node}/state {"down"}` and
`POST /_sim/nodes/{node}/restart-wings` act on a node; `stats()["wings"]` counts sockets and frames.

Run it: `python -m pterodisbot_sandbox.panel --port 8081 --servers 20`. The pieces: `_panel_state`
(what every route shares), `_panel_client_api` (`/api/client/...`), `_panel_control` (`/_sim/`),
`_panel_wings` (the Wings websocket),
`_panel_fleet` (servers, nodes, power), `_panel_http` (error envelope, pages, bodies),
`_panel_faults`, `_panel_ratelimit`; this module wires them and is the only one to import.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from aiohttp import web

from pterodisbot.clock import Clock, SystemClock
from pterodisbot_sandbox._listen import Listening, listen
from pterodisbot_sandbox._panel_activity import API_USER, ActivityEntry
from pterodisbot_sandbox._panel_client_api import ClientApi
from pterodisbot_sandbox._panel_control import ControlApi
from pterodisbot_sandbox._panel_faults import FaultKind, SimFault
from pterodisbot_sandbox._panel_fleet import (
    GameProtocol,
    PowerStateName,
    SimAllocation,
    SimLimits,
    SimNode,
    SimServer,
    SimServerSpec,
    build_servers,
    default_fleet,
    game_fleet,
    player_names,
)
from pterodisbot_sandbox._panel_games import GAME_MODES, GameHub, GameListing, GameMode
from pterodisbot_sandbox._panel_http import JSON
from pterodisbot_sandbox._panel_state import (
    RESOURCES_CACHE_SECONDS,
    PanelOptions,
    PanelState,
    PowerRefused,
)
from pterodisbot_sandbox._panel_wings import CLOSE_SUSPENDED, WingsHub

__all__ = [
    "API_USER",
    "CLOSE_SUSPENDED",
    "GAME_MODES",
    "ActivityEntry",
    "FaultKind",
    "GameListing",
    "GameMode",
    "GameProtocol",
    "PowerRefused",
    "PowerStateName",
    "SimAllocation",
    "SimFault",
    "SimLimits",
    "SimNode",
    "SimServer",
    "SimServerSpec",
    "SimulatedPanel",
    "default_fleet",
    "game_fleet",
    "main",
    "player_names",
]

log = logging.getLogger(__name__)


class SimulatedPanel:
    """A Pterodactyl panel's client API on a real port, with simulated servers and faults."""

    def __init__(
        self,
        *,
        servers: int = 20,
        api_key: str = "ptlc_simulated",
        rate_limit: int = 720,
        latency_ms: float = 0,
        seed: int = 0,
        clock: Clock | None = None,
        fleet: Sequence[SimServerSpec] | None = None,
        application_keys: Iterable[str] = (),
        client_keys: Iterable[str] = (),
        resources_cache_seconds: float = RESOURCES_CACHE_SECONDS,
        slow_seconds: float = 3.0,
        timeout_hold_seconds: float = 300.0,
        websocket_token_seconds: float = 600.0,
        wings_allowed_origins: Iterable[str] = (),
        wings_max_sockets: int = 30,
        wings_auth_seconds: float = 30.0,
        wings_stats_seconds: float = 1.0,
        wings_console_seconds: float = 5.0,
        games: bool = False,
    ) -> None:
        if rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per minute")
        if servers < 0:
            raise ValueError("servers must be 0 or more")
        self._api_key = api_key
        clock = clock if clock is not None else SystemClock()
        options = PanelOptions(
            rate_limit=rate_limit,
            latency_ms=latency_ms,
            seed=seed,
            resources_cache_seconds=resources_cache_seconds,
            slow_seconds=slow_seconds,
            timeout_hold_seconds=timeout_hold_seconds,
            websocket_token_seconds=websocket_token_seconds,
            wings_allowed_origins=tuple(wings_allowed_origins),
            wings_max_sockets=wings_max_sockets,
            wings_auth_seconds=wings_auth_seconds,
            wings_stats_seconds=wings_stats_seconds,
            wings_console_seconds=wings_console_seconds,
            games=games,
        )
        key_labels = [(api_key, "client")]
        key_labels += [(k, f"client#{n}") for n, k in enumerate(client_keys, start=2)]
        key_labels += [(k, f"application#{n}") for n, k in enumerate(application_keys, 1)]
        specs = list(fleet) if fleet is not None else default_fleet(servers, seed)
        self._state = PanelState(
            build_servers(specs, clock=clock, seed=seed), clock=clock, options=options
        )
        self._wings = WingsHub(self._state)
        self._games = GameHub(self._state)
        self._client_api = ClientApi(self._state, key_labels, self._wings)
        self._control = ControlApi(self._state, self._wings, self._games)
        self._listening: Listening | None = None
        self._url: str | None = None
        self.app = self._build_app()

    def __repr__(self) -> str:
        return f"<SimulatedPanel url={self._url!r} servers={len(self._state.servers)}>"

    # ----------------------------------------------------------------- public API

    @property
    def api_key(self) -> str:
        """Return the client API key this panel accepts."""
        return self._api_key

    @property
    def url(self) -> str:
        """Return the base URL (e.g. `http://127.0.0.1:41234`); only once started."""
        if self._url is None:
            raise RuntimeError("the simulated panel is not started: await start() first")
        return self._url

    @property
    def clock(self) -> Clock:
        """Return the clock the panel measures time on (cache, rate limit, faults, uptime)."""
        return self._state.clock

    @property
    def rate_limit(self) -> int:
        """Return the requests per minute allowed per key."""
        return self._state.options.rate_limit

    @property
    def latency_ms(self) -> float:
        """Return the real-time delay added to every client API answer."""
        return self._state.options.latency_ms

    @property
    def seed(self) -> int:
        """Return the seed of the generated fleet and the websocket tokens."""
        return self._state.options.seed

    @property
    def resources_cache_seconds(self) -> float:
        """Return how long, in panel seconds, a resources answer is served from the cache."""
        return self._state.options.resources_cache_seconds

    @property
    def slow_seconds(self) -> float:
        """Return the real-time delay of a "slow" or "slow_power" fault without its own delay."""
        return self._state.options.slow_seconds

    @property
    def timeout_hold_seconds(self) -> float:
        """Return how long, in real seconds, a "timeout" fault holds the answer back."""
        return self._state.options.timeout_hold_seconds

    @property
    def servers(self) -> Mapping[str, SimServer]:
        """Return the simulated servers by identifier, in panel order."""
        return MappingProxyType(self._state.servers)

    def server(self, identifier_or_uuid: str) -> SimServer:
        """Return a server by identifier or uuid; raise KeyError if there is none."""
        return self._state.server(identifier_or_uuid)

    def pick(self, state: str = "running") -> SimServer:
        """Return the first server in power `state` whose every API route works (no 409/504)."""
        for server in self._state.servers.values():
            if server.state == state and server.conflict() is None and not server.node_down:
                return server
        raise LookupError(f"no usable {state} server in this simulated panel")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 = any free port) and return the base URL."""
        if self._listening is not None:
            return self.url
        self._state.shutdown = asyncio.Event()
        if self._state.options.games:
            # Before the API answers: the servers' allocations point at the listeners.
            await self._games.start()
        self._listening = await listen(self.app, host, port, shutdown_timeout=5.0)
        self._url = self._listening.url
        self._state.panel_url = self._url
        self._wings.start()
        log.info(
            "simulated panel listening on %s with %d servers", self._url, len(self._state.servers)
        )
        return self._url

    async def stop(self) -> None:
        """Release held requests, close connections and stop listening."""
        self._state.shutdown.set()
        await self._wings.stop()
        await self._games.stop()
        listening, self._listening = self._listening, None
        if listening is not None:
            await listening.close()
            log.info("simulated panel on %s stopped", self._url)

    async def __aenter__(self) -> SimulatedPanel:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def add_fault(
        self,
        kind: FaultKind,
        seconds: float | None = None,
        servers: Iterable[str] | None = None,
        *,
        status: int | None = None,
        delay: float | None = None,
    ) -> SimFault:
        """Inject a fault into client API answers for `seconds` of panel time (None: until cleared).

        `servers` (identifiers or uuids) limits it to requests about those servers; `status`
        pins the "5xx" answer (500, 502 or 503) instead of cycling; `delay` overrides the "slow"
        and "slow_power" faults' real-time delay.
        """
        return self._state.add_fault(kind, seconds, servers, status=status, delay=delay)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._state.clear_faults()

    def faults(self) -> list[SimFault]:
        """Return the faults still active on the panel clock."""
        return self._state.faults()

    def stats(self) -> JSON:
        """Return request counts per route, power signals per server, refusals, `wings`, `games`.

        `games` (queries per server and kind) only when the games answer (`games=True`).
        """
        stats = {**self._state.stats(), "wings": self._wings.stats()}
        if self.games:
            stats["games"] = self._games.stats()
        return stats

    # ----------------------------------------------------------------- games

    @property
    def games(self) -> bool:
        """Return whether the fleet's games answer queries (`games=True`)."""
        return self._state.options.games

    def set_game_mode(self, server: str, mode: str) -> None:
        """Make `server`'s game "answer" (default), "hang" (never reply) or answer "garbage"."""
        self._games.set_mode(self._state.server(server), mode)

    def game(self, server: str) -> GameListing | None:
        """Return where `server`'s game answers queries and how (None: no listener)."""
        return self._games.listing(self._state.server(server))

    def game_queries(self, server: str) -> dict[str, int]:
        """Return the queries that reached `server`'s game, by kind (a2s_info, minecraft...)."""
        return dict(self._games.queries.get(self._state.server(server).identifier, {}))

    # ----------------------------------------------------------------- Wings

    def open_sockets(self, server: str) -> int:
        """Return how many Wings websockets are open to `server` (authenticated or not)."""
        return self._wings.open_sockets(self._state.server(server))

    def authenticated_sockets(self, server: str) -> int:
        """Return how many authenticated Wings websockets `server` has."""
        return self._wings.authenticated_sockets(self._state.server(server))

    def set_node_down(self, node: str, down: bool = True) -> int:
        """Mark every server on `node` down (or back up); cut their sockets; return how many."""
        return self._control.set_node_down(node, down)

    def restart_wings(self, node: str) -> int:
        """Restart `node`'s Wings: cut its sockets, refuse tokens issued before now; return cut."""
        return self._wings.restart_wings(self._control.node_name(node))

    def set_suspended(self, server: str, suspended: bool = True) -> None:
        """Suspend `server` (its sockets are cut, new ones closed with 4409) or unsuspend it."""
        found = self._state.server(server)
        found.status = "suspended" if suspended else None
        self._wings.sync(found)

    def power_as(self, server: str, signal: str, user: str) -> ActivityEntry:
        """Apply a power signal as panel user `user` clicking in the panel's UI; log it.

        The activity log gets `server:power.<signal>` with that actor and `is_api` false.
        Raise ValueError (bad signal or user) or PowerRefused (409 state, node down).
        """
        found = self._state.server(server)
        entry = self._state.power_as(found, signal, user)
        self._wings.notify(found)
        return entry

    def add_activity(
        self,
        server: str,
        event: str,
        *,
        user: str | None = None,
        is_api: bool = False,
        t: float | None = None,
        properties: Mapping[str, object] | None = None,
    ) -> ActivityEntry:
        """Add a raw activity entry about `server` (at wall time `t`, default now); nothing else."""
        state = self._state
        return state.activity.record(
            state.server(server).identifier,
            event,
            t=state.clock.time() if t is None else t,
            actor=user,
            is_api=is_api,
            properties=properties,
        )

    def activity(self, server: str) -> list[ActivityEntry]:
        """Return the activity log of `server`, oldest first (crashes log nothing)."""
        state = self._state
        return state.activity.entries(state.server(server).identifier)

    def arrivals(self, route: str) -> list[float]:
        """Return when each request of `route` (as keyed in `stats()`) arrived, oldest first."""
        return self._state.arrivals(route)

    def reset_stats(self) -> None:
        """Zero every counter in `stats()`."""
        self._state.reset_stats()
        self._wings.reset_stats()
        self._games.reset_stats()

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._client_api.middleware])
        app.add_routes(self._client_api.routes())
        app.add_routes(self._control.routes())
        app.add_routes(self._wings.routes())
        return app


# --------------------------------------------------------------------- command line


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pterodisbot_sandbox.panel",
        description="Run a simulated Pterodactyl panel (client API + /_sim/ control API).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8081, help="port (0: any free port)")
    parser.add_argument("--servers", type=int, default=20, help="size of the generated fleet")
    parser.add_argument("--api-key", default=None, help="client API key (default ptlc_simulated)")
    parser.add_argument("--rate-limit", type=int, default=720, help="requests per minute per key")
    parser.add_argument("--latency-ms", type=float, default=0, help="added to every API answer")
    parser.add_argument("--seed", type=int, default=0, help="fleet seed (same seed, same fleet)")
    parser.add_argument(
        "--websocket-token-seconds",
        type=float,
        default=600.0,
        help="lifetime of a Wings websocket token (default 600)",
    )
    parser.add_argument(
        "--wings-allowed-origin",
        action="append",
        default=[],
        help="an Origin Wings accepts besides the panel's URL (repeatable; * for any)",
    )
    parser.add_argument(
        "--games",
        action="store_true",
        help="game servers answer real queries (Minecraft, Bedrock, A2S) on 127.0.0.1 ports",
    )
    parser.add_argument(
        "--game-servers",
        type=int,
        default=None,
        help="instead of --servers: this many running game servers, answering (implies --games)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    fleet = game_fleet(args.game_servers, args.seed) if args.game_servers is not None else None
    panel = SimulatedPanel(
        fleet=fleet,
        servers=args.servers,
        api_key=args.api_key if args.api_key else "ptlc_simulated",
        rate_limit=args.rate_limit,
        latency_ms=args.latency_ms,
        seed=args.seed,
        websocket_token_seconds=args.websocket_token_seconds,
        wings_allowed_origins=args.wings_allowed_origin,
        games=args.games or args.game_servers is not None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    url = await panel.start(args.host, args.port)
    key_note = "given on the command line" if args.api_key else "ptlc_simulated (the default)"
    print(f"Simulated Pterodactyl panel: {url}", flush=True)
    print(f"  key: {key_note}", flush=True)
    print(
        f"  {len(panel.servers)} servers, {args.rate_limit} requests/min per key; "
        f"control API: {url}/_sim/servers",
        flush=True,
    )
    print(
        f"  Wings websocket: ws://{url.split('://', 1)[1]}/api/servers/<uuid>/ws, "
        f"tokens last {args.websocket_token_seconds:g} s; nodes: {url}/_sim/nodes",
        flush=True,
    )
    if panel.games:
        print(
            f"  games answer queries on 127.0.0.1: {panel.stats()['games']['listening']} "
            f"listeners (ports in each server's allocations; {url}/_sim/servers/<id>/game)",
            flush=True,
        )
    try:
        await stop.wait()
    finally:
        print("Stopping the simulated panel…", flush=True)
        await panel.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulated panel until Ctrl-C or SIGTERM."""
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
