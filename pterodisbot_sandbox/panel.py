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
`/_sim/stats` counts every client API request that arrived (`requests`, faulted ones included)
and every power signal the panel acted on (`power`).

Run it: `python -m pterodisbot_sandbox.panel --port 8081 --servers 20`. The pieces: `_panel_fleet`
(servers, nodes, power), `_panel_http` (error envelope, pages, bodies), `_panel_faults`,
`_panel_ratelimit`; this module wires them, serves the routes and is the only one to import.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import math
import signal
import sys
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import MappingProxyType

from aiohttp import web

from pterodisbot.clock import Clock, SystemClock
from pterodisbot_sandbox._listen import Listening, listen
from pterodisbot_sandbox._panel_faults import FAULT_KINDS, FIVE_XX_CYCLE, FaultKind, SimFault
from pterodisbot_sandbox._panel_fleet import (
    POWER_SIGNALS,
    POWER_STATES,
    SERVER_STATUSES,
    SimAllocation,
    SimLimits,
    SimNode,
    SimServer,
    SimServerSpec,
    build_servers,
    default_fleet,
)
from pterodisbot_sandbox._panel_http import (
    JSON,
    REASONS,
    ApiError,
    b64,
    garbage,
    html_page,
    int_param,
    is_number,
    origin,
    read_body,
    reject_malformed_json,
    route_error,
    sim_body,
    sim_error,
    validation_error,
    wants_json,
)
from pterodisbot_sandbox._panel_ratelimit import RateLimiter

__all__ = [
    "FaultKind",
    "SimAllocation",
    "SimFault",
    "SimLimits",
    "SimNode",
    "SimServer",
    "SimServerSpec",
    "SimulatedPanel",
    "default_fleet",
    "main",
]

log = logging.getLogger(__name__)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RESOURCES_CACHE_SECONDS = 20.0
_PER_PAGE_DEFAULT = 50
_PER_PAGE_MAX = 100
_WEBSOCKET_TOKEN_SECONDS = 600
_CLIENT_API = "/api/client"
_ARRIVALS_KEPT = 100_000
_UNEXPECTED = "An unexpected error was encountered while processing this request, please try again."
_NOT_FOUND = "The requested resource could not be found on the server."
_APPLICATION_KEY_DETAIL = (
    "You are attempting to use an application API key on an endpoint that requires a client "
    "API key."
)
_PERMISSION_FOR_SIGNAL: Mapping[str, str] = MappingProxyType(
    {
        "start": "control.start",
        "stop": "control.stop",
        "kill": "control.stop",
        "restart": "control.restart",
    }
)


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
    ) -> None:
        if rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per minute")
        if servers < 0:
            raise ValueError("servers must be 0 or more")
        self._api_key = api_key
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.rate_limit = rate_limit
        self.latency_ms = latency_ms
        self.seed = seed
        self.resources_cache_seconds = resources_cache_seconds
        self.slow_seconds = slow_seconds
        self.timeout_hold_seconds = timeout_hold_seconds
        # Keys map to labels so nothing else (limiter, logs) ever holds a key.
        self._key_labels: list[tuple[str, str]] = [(api_key, "client")]
        self._key_labels += [(k, f"client#{n}") for n, k in enumerate(client_keys, start=2)]
        self._key_labels += [(k, f"application#{n}") for n, k in enumerate(application_keys, 1)]
        specs = list(fleet) if fleet is not None else default_fleet(servers, seed)
        self._servers = build_servers(specs, clock=self.clock, seed=seed)
        self._by_uuid = {server.uuid: server for server in self._servers.values()}
        self._limiter = RateLimiter(rate_limit, self.clock)
        self._cache: dict[str, tuple[float, JSON]] = {}
        self._faults: list[SimFault] = []
        self._fault_ids = itertools.count(1)
        self._fault_hits: Counter[int] = Counter()
        self._request_ids = itertools.count(1)
        self._requests: Counter[str] = Counter()
        # When each client API request arrived (panel clock), newest last: what the panel's own
        # limiter would count, for tests of the bot's pacing. Bounded so a long demo stays small.
        self._arrivals: deque[tuple[float, str]] = deque(maxlen=_ARRIVALS_KEPT)
        self._power: dict[str, Counter[str]] = {}
        self._rate_limited = 0
        self._faulted = 0
        self._shutdown = asyncio.Event()
        self._listening: Listening | None = None
        self._url: str | None = None
        self.app = self._build_app()

    def __repr__(self) -> str:
        return f"<SimulatedPanel url={self._url!r} servers={len(self._servers)}>"

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
    def servers(self) -> Mapping[str, SimServer]:
        """Return the simulated servers by identifier, in panel order."""
        return MappingProxyType(self._servers)

    def server(self, identifier_or_uuid: str) -> SimServer:
        """Return a server by identifier or uuid; raise KeyError if there is none."""
        found = self._find(identifier_or_uuid)
        if found is None:
            raise KeyError(identifier_or_uuid)
        return found

    def pick(self, state: str = "running") -> SimServer:
        """Return the first server in power `state` whose every API route works (no 409/504)."""
        for server in self._servers.values():
            if server.state == state and server.conflict() is None and not server.node_down:
                return server
        raise LookupError(f"no usable {state} server in this simulated panel")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 = any free port) and return the base URL."""
        if self._listening is not None:
            return self.url
        self._shutdown = asyncio.Event()
        self._listening = await listen(self.app, host, port, shutdown_timeout=5.0)
        self._url = self._listening.url
        log.info("simulated panel listening on %s with %d servers", self._url, len(self._servers))
        return self._url

    async def stop(self) -> None:
        """Release held requests, close connections and stop listening."""
        self._shutdown.set()
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
        """Return the faults still active on the panel clock."""
        now = self.clock.monotonic()
        self._faults = [f for f in self._faults if f.active(now)]
        return list(self._faults)

    def stats(self) -> JSON:
        """Return request counts per route, power signals per server and refusals."""
        return {
            "requests": dict(self._requests),
            "power": {ident: dict(counts) for ident, counts in self._power.items()},
            "rate_limited": self._rate_limited,
            "faulted": self._faulted,
        }

    def arrivals(self, route: str) -> list[float]:
        """Return when each request of `route` (as keyed in `stats()`) arrived, oldest first."""
        return [t for t, key in self._arrivals if key == route]

    def reset_stats(self) -> None:
        """Zero every counter in `stats()`."""
        self._requests.clear()
        self._arrivals.clear()
        self._power.clear()
        self._rate_limited = 0
        self._faulted = 0

    # ----------------------------------------------------------------- app wiring

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._client_api_middleware])
        servers = _CLIENT_API + "/servers/{server}"
        app.router.add_get(_CLIENT_API, self._list_servers)
        app.router.add_get(_CLIENT_API + "/account", self._account)
        app.router.add_get(servers, self._get_server)
        app.router.add_get(servers + "/resources", self._resources)
        app.router.add_post(servers + "/power", self._power_signal)
        app.router.add_post(servers + "/command", self._command)
        app.router.add_get(servers + "/websocket", self._websocket)
        app.router.add_get("/auth/login", self._login_page)
        app.router.add_get("/_sim/servers", self._sim_servers)
        app.router.add_get("/_sim/servers/{server}", self._sim_server)
        app.router.add_post("/_sim/servers/{server}/crash", self._sim_crash)
        app.router.add_post("/_sim/servers/{server}/crashloop", self._sim_crashloop)
        app.router.add_post("/_sim/servers/{server}/state", self._sim_state)
        app.router.add_get("/_sim/faults", self._sim_faults)
        app.router.add_post("/_sim/faults", self._sim_add_fault)
        app.router.add_delete("/_sim/faults", self._sim_clear_faults)
        app.router.add_get("/_sim/stats", self._sim_stats)
        app.router.add_delete("/_sim/stats", self._sim_reset_stats)
        return app

    @web.middleware
    async def _client_api_middleware(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        path = request.path
        if not (path == _CLIENT_API or path.startswith(_CLIENT_API + "/")):
            return await handler(request)
        route = request.match_info.route.resource
        pattern = route.canonical if route is not None else "<unmatched>"
        self._requests[f"{request.method} {pattern}"] += 1
        self._arrivals.append((self.clock.monotonic(), f"{request.method} {pattern}"))
        if self.latency_ms > 0:
            await self._hold(self.latency_ms / 1000)

        server_ref = request.match_info.get("server")
        target = self._find(server_ref) if server_ref is not None else None
        is_power = request.method == "POST" and pattern.endswith("/power")
        fault = self._fault_for(
            target.identifier if target is not None else None, daemon=False, power=is_power
        )
        if fault is None:
            return await self._answer(request, handler, pattern)
        self._faulted += 1
        if fault.kind in ("slow", "slow_power"):
            # Read the body first, as the panel does before it waits on Wings: a client that
            # gives up meanwhile does not stop the signal from being applied.
            await request.read()
            await self._hold(fault.delay if fault.delay is not None else self.slow_seconds)
            return await self._answer(request, handler, pattern)
        if fault.kind == "timeout":
            # The panel does the work (a power signal is applied) but the answer never comes
            # back in time: exactly the case where a client must not send the POST again.
            await self._answer(request, handler, pattern)
        return await self._serve_fault(request, fault)

    async def _answer(
        self, request: web.Request, handler: _Handler, pattern: str
    ) -> web.StreamResponse:
        """Answer a client API request as the panel does: route, key, rate limit, handler."""
        rate_headers: dict[str, str] = {}
        try:
            http_error = request.match_info.http_exception
            try:
                label = self._authenticate(request)
            except ApiError:
                # Like Laravel, an unknown route is a 404 whoever asks.
                if http_error is not None:
                    raise route_error(request, http_error) from None
                raise
            decision = self._limiter.hit(label)
            rate_headers = decision.headers()
            if not decision.allowed:
                self._rate_limited += 1
                if decision.first_refusal:
                    log.warning(
                        "rate limit of %d/min reached for key %s on %s; refusing for %d s",
                        self.rate_limit,
                        label,
                        pattern,
                        decision.retry_after,
                    )
                raise ApiError(
                    429, "ThrottleRequestsException", "Too Many Attempts.", headers=rate_headers
                )
            if http_error is not None:
                raise route_error(request, http_error)
            await reject_malformed_json(request)
            if label.startswith("application"):
                raise ApiError(403, "AccessDeniedHttpException", _APPLICATION_KEY_DETAIL)
            response = await handler(request)
        except ApiError as error:
            response = self._render_error(request, error)
        response.headers.update(rate_headers)
        return response

    def _authenticate(self, request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            for key, label in self._key_labels:
                if hmac.compare_digest(key.encode(), token.encode()):
                    return label
        raise ApiError(401, "AuthenticationException", "Unauthenticated.")

    def _render_error(self, request: web.Request, error: ApiError) -> web.Response:
        if wants_json(request):
            response = web.json_response(error.body(), status=error.status)
        elif error.status == 401:
            response = web.Response(
                status=302,
                headers={"Location": origin(request) + "/auth/login"},
                text=html_page("Redirecting", "Redirecting to the login page."),
                content_type="text/html",
            )
        else:
            reason = REASONS.get(error.status, "Error")
            response = web.Response(
                status=error.status,
                text=html_page(f"{error.status} {reason}", reason),
                content_type="text/html",
            )
        response.headers.update(error.headers)
        return response

    # ----------------------------------------------------------------- faults

    def _fault_for(
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

    async def _hold(self, seconds: float) -> None:
        """Wait `seconds` of real time, or less if the panel is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._shutdown.wait(), seconds)

    def _daemon_fault(self, server: SimServer) -> bool:
        return self._fault_for(server.identifier, daemon=True) is not None

    async def _serve_fault(self, request: web.Request, fault: SimFault) -> web.StreamResponse:
        hit = self._fault_hits[fault.id]
        self._fault_hits[fault.id] += 1
        log.debug("fault %s #%d answers %s %s", fault.kind, fault.id, request.method, request.path)
        if fault.kind == "down":
            # The panel answers nothing: reset the connection before a byte is written. aiohttp
            # treats CancelledError from a handler as a vanished client and logs nothing.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if fault.kind == "timeout":
            await self._hold(self.timeout_hold_seconds)
            return web.Response(
                status=504,
                text=html_page("504 Gateway Time-out", "Gateway Time-out", server="nginx"),
                content_type="text/html",
            )
        if fault.kind == "garbage":
            return garbage(hit)
        status = fault.status or FIVE_XX_CYCLE[hit % len(FIVE_XX_CYCLE)]
        if status == 500 and wants_json(request):
            return web.json_response(ApiError(500, "HttpException", _UNEXPECTED).body(), status=500)
        reason = REASONS[status]
        return web.Response(
            status=status,
            text=html_page(f"{status} {reason}", reason, server="nginx"),
            content_type="text/html",
        )

    # ----------------------------------------------------------------- client API

    async def _list_servers(self, request: web.Request) -> web.Response:
        per_page = int_param(request.query.get("per_page"), _PER_PAGE_DEFAULT)
        per_page = min(max(per_page, 1), _PER_PAGE_MAX)
        page = max(1, int_param(request.query.get("page"), 1))
        servers = list(self._servers.values())
        total = len(servers)
        total_pages = max(1, math.ceil(total / per_page))
        chunk = servers[(page - 1) * per_page : page * per_page]
        links: JSON = {}
        base = request.url.with_scheme(request.scheme)
        if page > 1:
            links["previous"] = str(base.update_query(page=page - 1))
        if page < total_pages:
            links["next"] = str(base.update_query(page=page + 1))
        return web.json_response(
            {
                "object": "list",
                "data": [{"object": "server", "attributes": s.attributes()} for s in chunk],
                "meta": {
                    "pagination": {
                        "total": total,
                        "count": len(chunk),
                        "per_page": per_page,
                        "current_page": page,
                        "total_pages": total_pages,
                        "links": links,
                    }
                },
            }
        )

    async def _account(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "user",
                "attributes": {
                    "id": 1,
                    "admin": False,
                    "username": "simulated",
                    "email": "operator@example.com",
                    "first_name": "Simulated",
                    "last_name": "Operator",
                    "language": "en",
                },
            }
        )

    async def _get_server(self, request: web.Request) -> web.Response:
        server = self._server_for(request, check_state=False)
        permissions = list(server.spec.permissions)
        return web.json_response(
            {
                "object": "server",
                "attributes": server.attributes(),
                "meta": {
                    "is_server_owner": server.spec.server_owner,
                    "user_permissions": permissions,
                },
            }
        )

    async def _resources(self, request: web.Request) -> web.Response:
        server = self._server_for(request)
        now = self.clock.monotonic()
        cached = self._cache.get(server.identifier)
        if cached is not None and now - cached[0] < self.resources_cache_seconds:
            return web.json_response(cached[1])
        self._reach_daemon(server)
        body = {"object": "stats", "attributes": server.stats()}
        self._cache[server.identifier] = (now, body)
        return web.json_response(body)

    async def _power_signal(self, request: web.Request) -> web.Response:
        server = self._server_for(request)
        body = await read_body(request)
        signal_value = body.get("signal")
        if signal_value is None or signal_value == "":
            raise validation_error("signal", "required", "The signal field is required.")
        if not isinstance(signal_value, str):
            raise validation_error("signal", "string", "The signal field must be a string.")
        permission = _PERMISSION_FOR_SIGNAL.get(signal_value, "control.start")
        if not server.has_permission(permission):
            raise ApiError(403, "AccessDeniedHttpException", "This action is unauthorized.")
        if signal_value not in POWER_SIGNALS:
            raise validation_error("signal", "in", "The selected signal is invalid.")
        self._reach_daemon(server)
        server.power(signal_value)
        self._power.setdefault(server.identifier, Counter())[signal_value] += 1
        log.info("power %s sent to %s (%s)", signal_value, server.identifier, server.name)
        return web.Response(status=204)

    async def _command(self, request: web.Request) -> web.Response:
        server = self._server_for(request)
        body = await read_body(request)
        if not server.has_permission("control.console"):
            raise ApiError(403, "AccessDeniedHttpException", "This action is unauthorized.")
        command = body.get("command")
        if command is None or command == "":
            raise validation_error("command", "required", "The command field is required.")
        if not isinstance(command, str):
            raise validation_error("command", "string", "The command field must be a string.")
        self._reach_daemon(server)
        if server.state not in ("running", "starting"):
            raise ApiError(502, "HttpException", "Server must be online in order to send commands.")
        log.info("console command sent to %s (%s)", server.identifier, server.name)
        return web.Response(status=204)

    async def _websocket(self, request: web.Request) -> web.Response:
        server = self._server_for(request)
        if not server.has_permission("websocket.connect"):
            raise ApiError(
                403,
                "HttpException",
                "You do not have permission to connect to this server's websocket.",
            )
        self._reach_daemon(server)
        return web.json_response(
            {
                "data": {
                    "token": self._websocket_token(request, server),
                    "socket": f"wss://{server.node.fqdn}:8080/api/servers/{server.uuid}/ws",
                }
            }
        )

    def _websocket_token(self, request: web.Request, server: SimServer) -> str:
        now = int(self.clock.time())
        header = {"typ": "JWT", "alg": "HS256"}
        claims = {
            "iss": origin(request),
            "aud": [f"https://{server.node.fqdn}:8080"],
            "jti": hashlib.sha256(f"{server.uuid}:{now}".encode()).hexdigest()[:32],
            "iat": now,
            "nbf": now - 300,
            "exp": now + _WEBSOCKET_TOKEN_SECONDS,
            "server_uuid": server.uuid,
            "permissions": list(server.spec.permissions),
            "user_uuid": "00000000-0000-4000-8000-000000000001",
            "user_id": 1,
            "unique_id": f"sim{next(self._request_ids)}",
        }
        signing_input = b64(json.dumps(header)) + "." + b64(json.dumps(claims))
        # A per-panel secret that is not the API key: tokens must never leak the key.
        secret = hashlib.sha256(f"simulated-wings:{self.seed}".encode()).digest()
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def _find(self, ref: str) -> SimServer | None:
        ref = ref.lower()
        if len(ref) == 8:
            return self._servers.get(ref)
        return self._by_uuid.get(ref)

    def _server_for(self, request: web.Request, *, check_state: bool = True) -> SimServer:
        server = self._find(request.match_info["server"])
        if server is None:
            raise ApiError(404, "NotFoundHttpException", _NOT_FOUND)
        if check_state:
            conflict = server.conflict()
            if conflict is not None:
                raise ApiError(409, "ServerStateConflictException", conflict)
        return server

    def _reach_daemon(self, server: SimServer) -> None:
        if server.node_down or self._daemon_fault(server):
            request_id = next(self._request_ids)
            raise ApiError(
                504,
                "DaemonConnectionException",
                "There was an exception while attempting to communicate with the daemon "
                "resulting in a HTTP/E_CONN_REFUSED response code. This exception has been "
                f"logged. (request id: sim-{request_id})",
            )

    async def _login_page(self, request: web.Request) -> web.Response:
        return web.Response(
            text=html_page("Login", "Pterodactyl (simulated): log in to continue."),
            content_type="text/html",
        )

    # ----------------------------------------------------------------- control API (/_sim/)

    def _sim_server_or_404(self, request: web.Request) -> SimServer:
        server = self._find(request.match_info["server"])
        if server is None:
            raise sim_error(404, f"no server {request.match_info['server']!r}")
        return server

    async def _sim_servers(self, request: web.Request) -> web.Response:
        return web.json_response({"servers": [s.sim_view() for s in self._servers.values()]})

    async def _sim_server(self, request: web.Request) -> web.Response:
        return web.json_response(self._sim_server_or_404(request).sim_view())

    async def _sim_crash(self, request: web.Request) -> web.Response:
        server = self._sim_server_or_404(request)
        crashed = server.crash()
        if crashed:
            log.info("server %s (%s) crashed on request", server.identifier, server.name)
        return web.json_response({"crashed": crashed, **server.sim_view()})

    async def _sim_crashloop(self, request: web.Request) -> web.Response:
        server = self._sim_server_or_404(request)
        body = await sim_body(request)
        seconds = body.get("seconds", 60)
        auto_restart = body.get("auto_restart", True)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise sim_error(422, "seconds must be a number >= 0")
        if not isinstance(auto_restart, bool):
            raise sim_error(422, "auto_restart must be true or false")
        server.crashloop(float(seconds), auto_restart=auto_restart)
        log.info("server %s (%s) crash-loops for %s s", server.identifier, server.name, seconds)
        return web.json_response({"crashloop_seconds": seconds, **server.sim_view()})

    async def _sim_state(self, request: web.Request) -> web.Response:
        server = self._sim_server_or_404(request)
        body = await sim_body(request)
        if "status" in body:
            status = body["status"]
            if status in (None, "none", ""):
                server.status = None
            elif status in SERVER_STATUSES:
                server.status = status
            else:
                raise sim_error(422, f"status must be null or one of {list(SERVER_STATUSES)}")
        for flag in ("node_down", "node_maintenance", "transferring"):
            if flag in body:
                if not isinstance(body[flag], bool):
                    raise sim_error(422, f"{flag} must be true or false")
                setattr(server, flag, body[flag])
        if "power" in body:
            state = next((s for s in POWER_STATES if s == body["power"]), None)
            if state is None:
                raise sim_error(422, "power must be offline, starting, running or stopping")
            server.set_power_state(state)
        return web.json_response(server.sim_view())

    async def _sim_faults(self, request: web.Request) -> web.Response:
        now = self.clock.monotonic()
        return web.json_response({"faults": [f.to_json(now) for f in self.faults()]})

    async def _sim_add_fault(self, request: web.Request) -> web.Response:
        body = await sim_body(request)
        kind = next((k for k in FAULT_KINDS if k == body.get("kind")), None)
        seconds = body.get("seconds")
        servers = body.get("servers")
        status = body.get("status")
        delay = body.get("delay")
        if kind is None:
            raise sim_error(422, f"kind must be one of {list(FAULT_KINDS)}")
        if seconds is not None and (not is_number(seconds) or seconds <= 0):
            raise sim_error(422, "seconds must be a number > 0 (or absent: until cleared)")
        if servers is not None and (
            not isinstance(servers, list) or not all(isinstance(s, str) for s in servers)
        ):
            raise sim_error(422, "servers must be a list of server identifiers")
        if status is not None and status not in FIVE_XX_CYCLE:
            raise sim_error(422, "status must be 500, 502 or 503")
        if delay is not None and (not is_number(delay) or delay < 0):
            raise sim_error(422, "delay must be a number >= 0")
        unknown = [s for s in servers or () if self._find(s) is None]
        if unknown:
            raise sim_error(404, f"no such servers: {unknown}")
        fault = self.add_fault(
            kind,
            None if seconds is None else float(seconds),
            servers,
            status=status,
            delay=None if delay is None else float(delay),
        )
        return web.json_response(fault.to_json(self.clock.monotonic()), status=201)

    async def _sim_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.Response(status=204)

    async def _sim_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _sim_reset_stats(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.Response(status=204)


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
    parser.add_argument("--log-level", default="INFO", help="logging level")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    panel = SimulatedPanel(
        servers=args.servers,
        api_key=args.api_key if args.api_key else "ptlc_simulated",
        rate_limit=args.rate_limit,
        latency_ms=args.latency_ms,
        seed=args.seed,
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
