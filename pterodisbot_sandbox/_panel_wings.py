"""The simulated panel's Wings side: each node's server websocket, as Wings serves it.

Facts from pterodactyl/wings (`router/router_server_ws.go`, `router/websocket/`, `router/tokens/`),
newest release first:
- `GET /api/servers/{uuid}/ws`: an unknown server is a 404 `{"error": ...}`; a server that
  already has 30 authenticated sockets a 400 `{"error": "Too many open websocket connections."}`
  before the upgrade; an `Origin` other than the panel's URL or an allowed origin a 403
  ("Forbidden", gorilla's upgrader). A suspended server is upgraded, then closed at once with
  4409 "server is suspended" (a browser cannot read an upgrade's HTTP answer).
- Frames are `{"event", "args": [string]}`. A socket has 30 s to authenticate, else it is
  dropped (no close frame: Wings' read deadline fires). `auth [jwt]` checks the HMAC signature
  (the node's secret), `exp`, then `iat` against the node's boot time ("created too far in past
  (denylist)") and `websocket.connect`; the server uuid is only checked when events are sent.
  The first success answers `auth success`, `status [state]`, and `stats` if offline; a
  re-auth only `auth success`. A JWT error answers `jwt error`, anything else `daemon error`
  (the text hidden behind "an unexpected error...") — both as "Error Event [<uuid>]: <text>".
- Rate limits (golang.org/x/time/rate buckets per connection): every frame 1 per 200 ms, burst 10
  (`throttled ["global"]`); `auth` and `send logs` 1 per 5 s, burst 2; `send command` 1 per s,
  burst 10; anything else 1 per s, burst 4. A throttled frame is dropped; `throttled [name]` is
  sent once per throttled stretch.
- Once authenticated, the socket gets `status` on every change, `stats` (a JSON string) about
  once a second while the container runs and once with zeros when it stops, `console output`.
  Every 30 s after the first auth Wings looks at the token: `token expiring` with <= 60 s left,
  `token expired` once it has run out. An event sent with an invalid token (expired, issued
  before a restart, for another server) goes out as `jwt error [reason]` instead.
- A suspension, a node going down or Wings restarting cut the connection (no close frame).

One ticker for the whole panel, on the panel clock, builds each streamed server's `stats` frame
once per tick and writes it to that server's authenticated sockets; servers nobody watches cost
nothing. Per-socket work is a comparison of the token's expiry with the clock.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import math
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aiohttp import WSMsgType, web

from pterodisbot_sandbox._panel_fleet import SimNode, SimServer
from pterodisbot_sandbox._panel_http import JSON, b64, html_page, origin
from pterodisbot_sandbox._panel_state import PanelState, PowerRefused

log = logging.getLogger(__name__)

WS_PATH = "/api/servers/{uuid}/ws"
CLOSE_SUSPENDED = 4409
_ERR_NO_JWT = "jwt: no jwt present"
_ERR_NO_CONNECT = "jwt: missing connect permission"
_ERR_UUID_MISMATCH = "jwt: server uuid mismatch"
_ERR_DENYLIST = "jwt: created too far in past (denylist)"
_ERR_EXPIRED = "jwt: exp claim is invalid"
_ERR_HMAC = "jwt: HMAC verification failed"
_ERR_MALFORMED = "jwt: malformed token"
_JWT_ERRORS = frozenset(
    {_ERR_NO_JWT, _ERR_NO_CONNECT, _ERR_UUID_MISMATCH, _ERR_DENYLIST, _ERR_EXPIRED}
)
_UNEXPECTED = "an unexpected error was encountered while handling this request"
_EXPIRY_CHECK_SECONDS = 30.0
_EXPIRING_WITHIN_SECONDS = 60.0
_MAX_FRAME_BYTES = 32_768
# A reader that stopped reading: drop its frames rather than let one socket stall the ticker.
_MAX_WRITE_BUFFER = 256 * 1024
_LOG_LINES = 10
# (refill seconds per token, burst) per limiter, as Wings' `limitValuesFor`.
_LIMITS: Mapping[str, tuple[float, int]] = MappingProxyType(
    {
        "auth": (5.0, 2),
        "send logs": (5.0, 2),
        "send command": (1.0, 10),
        "_default": (1.0, 4),
        "global": (0.2, 10),
    }
)
_POWER_PERMISSION: Mapping[str, str] = MappingProxyType(
    {
        "start": "control.start",
        "stop": "control.stop",
        "restart": "control.restart",
        "kill": "control.stop",
    }
)
_CONSOLE_LINES = (
    "[Server thread/INFO]: Saving the game (this may take a moment!)",
    "[Server thread/INFO]: Saved the game",
    "[Server thread/INFO]: Player joined the game",
    "[Server thread/INFO]: Player left the game",
    "[Server thread/WARN]: Can't keep up! Is the server overloaded?",
    "[Server thread/INFO]: Done preparing level",
)


class _Bucket:
    """A token bucket like Go's `rate.Limiter`, on the panel clock."""

    __slots__ = ("_at", "_burst", "_every", "_tokens", "throttled")

    def __init__(self, every: float, burst: int, now: float) -> None:
        self._every = every
        self._burst = burst
        self._tokens = float(burst)
        self._at = now
        self.throttled = False

    def allow(self, now: float) -> bool:
        self._tokens = min(float(self._burst), self._tokens + (now - self._at) / self._every)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass(frozen=True, slots=True)
class _Token:
    """The claims of a websocket JWT Wings accepted."""

    server_uuid: str
    exp: float
    iat: float
    permissions: tuple[str, ...]

    def has(self, permission: str) -> bool:
        # As Wings: "*" grants everything but the admin permissions.
        return permission in self.permissions or (
            "*" in self.permissions and not permission.startswith("admin")
        )


@dataclass(eq=False, slots=True)
class _Socket:
    """One open server websocket."""

    id: int
    server: SimServer
    ws: web.WebSocketResponse
    request: web.Request
    opened: float
    token: _Token | None = None
    # Panel time of the next 30 s token look (set at the first auth).
    next_expiry_check: float = math.inf
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    dropped: bool = False

    def bucket(self, name: str, now: float) -> _Bucket:
        found = self.buckets.get(name)
        if found is None:
            every, burst = _LIMITS[name]
            found = self.buckets[name] = _Bucket(every, burst, now)
        return found


@dataclass(slots=True)
class WingsCounters:
    """What the Wings side counted since the last reset."""

    sockets_opened: int = 0
    upgrades_refused: int = 0
    auths_accepted: int = 0
    auths_refused: int = 0
    auths_throttled: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    frames_received: int = 0
    tokens_issued: int = 0


class WingsHub:
    """Every node's Wings websocket: tokens, sockets, the stats ticker and the node controls."""

    def __init__(self, state: PanelState) -> None:
        self._state = state
        self._jti = itertools.count(1)
        self._socket_ids = itertools.count(1)
        self._sockets: set[_Socket] = set()
        # Authenticated sockets per server identifier: the only ones the ticker writes to.
        self._subscribers: dict[str, set[_Socket]] = {}
        self._last_state: dict[str, str] = {}
        # When each node's Wings booted (wall seconds, whole as a token's iat): older tokens fail.
        self._boot: dict[str, float] = {}
        self._ticks = 0
        self._ticker: asyncio.Task[None] | None = None
        # Immediate status announcements (power signals), cancelled on stop.
        self._tasks: set[asyncio.Task[None]] = set()
        self._socket_opened = asyncio.Event()
        self.counters = WingsCounters()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the stats ticker (idempotent)."""
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(
                self._tick_forever(), name="simulated-wings-ticker"
            )

    async def stop(self) -> None:
        """Stop the ticker and close every socket (going away), as a Wings shutting down."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        for task in list(self._tasks):
            task.cancel()
        for sock in list(self._sockets):
            self._forget(sock)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sock.ws.close(code=1001, message=b"going away"), 1.0)

    # ----------------------------------------------------------------- credentials

    def boot_time(self, node: SimNode) -> float:
        """Return when `node`'s Wings booted (wall seconds, whole)."""
        boot = self._boot.get(node.name)
        if boot is None:
            boot = self._boot[node.name] = float(math.floor(self._state.clock.time()))
        return boot

    def boot_time_of(self, node_name: str) -> float:
        """Return when the node called `node_name` last booted its Wings (wall seconds)."""
        return self._boot.get(node_name, float(math.floor(self._state.clock.time())))

    def socket_url(self, request: web.Request, server: SimServer) -> str:
        """Return the `socket` URL the credentials point at: this sim, as ws(s)://."""
        scheme = "wss" if request.scheme == "https" else "ws"
        return f"{scheme}://{request.host}/api/servers/{server.uuid}/ws"

    def issue_token(self, request: web.Request, server: SimServer) -> str:
        """Return a websocket JWT for `server`, signed with its node's secret."""
        self.boot_time(server.node)
        now = int(self._state.clock.time())
        jti = next(self._jti)
        claims = {
            "iss": origin(request),
            "aud": [f"https://{server.node.fqdn}:8080"],
            "jti": hashlib.sha256(f"{server.uuid}:{jti}".encode()).hexdigest()[:32],
            "iat": now,
            "nbf": now - 300,
            "exp": now + int(self._state.options.websocket_token_seconds),
            "server_uuid": server.uuid,
            "permissions": list(server.spec.permissions),
            "user_uuid": "00000000-0000-4000-8000-000000000001",
            "user_id": 1,
            "unique_id": f"sim{jti}",
        }
        header = {"typ": "JWT", "alg": "HS256"}
        signing_input = b64(json.dumps(header)) + "." + b64(json.dumps(claims))
        self.counters.tokens_issued += 1
        return signing_input + "." + _b64_bytes(self._sign(server.node, signing_input))

    def _sign(self, node: SimNode, signing_input: str) -> bytes:
        # A secret per node and panel seed, never the API key: a token must not leak the key.
        secret = hashlib.sha256(
            f"simulated-wings:{self._state.options.seed}:{node.name}".encode()
        ).digest()
        return hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    # ----------------------------------------------------------------- controls

    def restart_wings(self, node_name: str) -> int:
        """Restart `node_name`'s Wings: cut its sockets, refuse tokens issued before now."""
        self._boot[node_name] = float(math.floor(self._state.clock.time()))
        dropped = self._drop_all([s for s in self._sockets if s.server.node.name == node_name])
        log.info("wings on node %s restarted: %d sockets cut", node_name, dropped)
        return dropped

    def sync(self, server: SimServer) -> None:
        """Cut `server`'s sockets now if it became unreachable or suspended (else the next tick)."""
        if self._unreachable(server) or server.status == "suspended":
            self._drop_server(server)

    def notify(self, server: SimServer) -> None:
        """Send `status` to `server`'s sockets now if its state changed (a power signal...)."""
        if not self._subscribers.get(server.identifier):
            return
        task = asyncio.get_running_loop().create_task(self._announce(server))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(self, server: SimServer) -> None:
        state = server.state
        if self._last_state.get(server.identifier) == state:
            return
        self._last_state[server.identifier] = state
        frames = [_frame("status", state)]
        if state == "offline":
            frames.append(self._stats_frame(server))
        for sock in list(self._subscribers.get(server.identifier, ())):
            for text in frames:
                await self._send_event(sock, text)

    def open_sockets(self, server: SimServer) -> int:
        """Return how many sockets are open to `server` (authenticated or not)."""
        return sum(1 for s in self._sockets if s.server is server)

    def authenticated_sockets(self, server: SimServer) -> int:
        """Return how many authenticated sockets `server` has."""
        return len(self._subscribers.get(server.identifier, ()))

    def stats(self) -> JSON:
        """Return the counters and the sockets open now."""
        counters = self.counters
        return {
            "sockets_open": len(self._sockets),
            "sockets_authenticated": sum(len(s) for s in self._subscribers.values()),
            "sockets_opened": counters.sockets_opened,
            "upgrades_refused": counters.upgrades_refused,
            "auths_accepted": counters.auths_accepted,
            "auths_refused": counters.auths_refused,
            "auths_throttled": counters.auths_throttled,
            "frames_sent": counters.frames_sent,
            "frames_dropped": counters.frames_dropped,
            "frames_received": counters.frames_received,
            "tokens_issued": counters.tokens_issued,
        }

    def reset_stats(self) -> None:
        """Zero the counters (open sockets stay open)."""
        self.counters = WingsCounters()

    # ----------------------------------------------------------------- the socket route

    def routes(self) -> list[web.RouteDef]:
        """Return the Wings websocket route."""
        return [web.get(WS_PATH, self._handle)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        server = self._state.find(request.match_info["uuid"])
        if server is None or len(request.match_info["uuid"]) != 36:
            self.counters.upgrades_refused += 1
            return web.json_response(
                {"error": "The requested resource does not exist on this instance."}, status=404
            )
        if self._unreachable(server):
            # Wings is not answering: the proxy (or the client's connect) fails.
            self.counters.upgrades_refused += 1
            return web.Response(
                status=502,
                text=html_page("502 Bad Gateway", "Bad Gateway", server="nginx"),
                content_type="text/html",
            )
        if self.authenticated_sockets(server) >= self._state.options.wings_max_sockets:
            self.counters.upgrades_refused += 1
            return web.json_response({"error": "Too many open websocket connections."}, status=400)
        ws = web.WebSocketResponse(max_msg_size=4 * _MAX_FRAME_BYTES)
        if not ws.can_prepare(request).ok:
            self.counters.upgrades_refused += 1
            return web.Response(status=400, text="Bad Request\n")
        if not self._origin_allowed(request):
            self.counters.upgrades_refused += 1
            return web.Response(
                status=403, text="Forbidden\n", headers={"Sec-Websocket-Version": "13"}
            )
        await ws.prepare(request)
        self.counters.sockets_opened += 1
        if server.status == "suspended":
            await ws.close(code=CLOSE_SUSPENDED, message=b"server is suspended")
            return ws
        sock = _Socket(next(self._socket_ids), server, ws, request, self._state.clock.monotonic())
        self._sockets.add(sock)
        self._socket_opened.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._inbound(sock, message.data)
                elif message.type == WSMsgType.BINARY:
                    self._allow_frame(sock)
                if sock.dropped:
                    break
        finally:
            self._forget(sock)
        return ws

    def _origin_allowed(self, request: web.Request) -> bool:
        sent = request.headers.get("Origin")
        if sent is None:
            return False
        allowed = set(self._state.options.wings_allowed_origins)
        if self._state.panel_url:
            allowed.add(self._state.panel_url)
        # The sim is the panel at the address the socket was reached on.
        allowed.add(origin(request))
        return sent in allowed or "*" in allowed

    def _allow_frame(self, sock: _Socket) -> bool:
        now = self._state.clock.monotonic()
        bucket = sock.bucket("global", now)
        if bucket.allow(now):
            bucket.throttled = False
            return True
        if not bucket.throttled:
            bucket.throttled = True
            self._spawn_send(sock, _frame("throttled", "global"))
        return False

    async def _inbound(self, sock: _Socket, data: str) -> None:
        self.counters.frames_received += 1
        if not self._allow_frame(sock) or len(data) > _MAX_FRAME_BYTES:
            return
        try:
            message = json.loads(data)
        except ValueError:
            return  # Wings drops what does not parse and keeps the socket
        if not isinstance(message, dict) or not isinstance(message.get("event"), str):
            return
        event: str = message["event"]
        raw_args = message.get("args")
        args = [a for a in raw_args if isinstance(a, str)] if isinstance(raw_args, list) else []
        server = sock.server
        if server.status == "suspended":
            self._drop(sock)
            return
        now = self._state.clock.monotonic()
        limiter = event if event in ("auth", "send logs", "send command") else "_default"
        bucket = sock.bucket(limiter, now)
        if not bucket.allow(now):
            if event == "auth":
                self.counters.auths_throttled += 1
            if not bucket.throttled:
                bucket.throttled = True
                await self._send(sock, _frame("throttled", limiter))
            return
        bucket.throttled = False
        if event != "auth":
            problem = self._token_problem(sock)
            if problem is not None:
                await self._send(sock, _frame("jwt error", problem))
                return
        if event == "auth":
            await self._auth(sock, "".join(args))
        elif event == "send stats":
            await self._send_event(sock, self._stats_frame(server))
        elif event == "send logs":
            if server.state != "offline":
                for line in _CONSOLE_LINES[:_LOG_LINES]:
                    await self._send_event(sock, _frame("console output", line))
        elif event == "set state":
            await self._set_state(sock, "".join(args))
        elif (
            event == "send command"
            and sock.token is not None
            and sock.token.has("control.console")
            and server.state in ("running", "starting")
        ):
            await self._send_event(sock, _frame("console output", "> " + "".join(args)))

    async def _auth(self, sock: _Socket, jwt: str) -> None:
        token, problem = self._verify(sock.server, jwt)
        if token is None:
            self.counters.auths_refused += 1
            event = "jwt error" if problem in _JWT_ERRORS else "daemon error"
            text = problem if event == "jwt error" else _UNEXPECTED
            log.debug("wings auth refused for %s: %s", sock.server.identifier, problem)
            await self._send(sock, _frame(event, f"Error Event [{uuid_module.uuid4()}]: {text}"))
            return
        first = sock.token is None
        if first:
            subscribers = self._subscribers.setdefault(sock.server.identifier, set())
            if len(subscribers) >= self._state.options.wings_max_sockets:
                # Wings cancels the connection: too many open websocket connections.
                self.counters.auths_refused += 1
                self._drop(sock)
                return
            subscribers.add(sock)
            sock.next_expiry_check = self._state.clock.monotonic() + _EXPIRY_CHECK_SECONDS
        sock.token = token
        self.counters.auths_accepted += 1
        await self._send(sock, _frame("auth success"))
        if not first:
            return
        state = sock.server.state
        self._last_state.setdefault(sock.server.identifier, state)
        await self._send_event(sock, _frame("status", state))
        if state == "offline":
            await self._send_event(sock, self._stats_frame(sock.server))

    async def _set_state(self, sock: _Socket, action: str) -> None:
        permission = _POWER_PERMISSION.get(action)
        if permission is None or sock.token is None or not sock.token.has(permission):
            return
        try:
            self._state.power_as(sock.server, action, "websocket")
            self.notify(sock.server)
        except (PowerRefused, ValueError):
            await self._send(
                sock, _frame("daemon error", f"Error Event [{uuid_module.uuid4()}]: {_UNEXPECTED}")
            )

    def _verify(self, server: SimServer, jwt: str) -> tuple[_Token | None, str]:
        parts = jwt.split(".")
        if len(parts) != 3:
            return None, _ERR_MALFORMED
        try:
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except (ValueError, binascii.Error):
            return None, _ERR_MALFORMED
        if not isinstance(claims, dict):
            return None, _ERR_MALFORMED
        expected = self._sign(server.node, parts[0] + "." + parts[1])
        if not hmac.compare_digest(expected, signature):
            return None, _ERR_HMAC
        exp, iat = claims.get("exp"), claims.get("iat")
        now = self._state.clock.time()
        if isinstance(exp, int | float) and now > exp:
            return None, _ERR_EXPIRED
        if not isinstance(iat, int | float) or iat < self.boot_time(server.node):
            return None, _ERR_DENYLIST
        permissions = claims.get("permissions")
        perms = (
            tuple(p for p in permissions if isinstance(p, str))
            if isinstance(permissions, list)
            else ()
        )
        token = _Token(
            str(claims.get("server_uuid", "")),
            float(exp) if isinstance(exp, int | float) else math.inf,
            float(iat),
            perms,
        )
        if not token.has("websocket.connect"):
            return None, _ERR_NO_CONNECT
        return token, ""

    def _token_problem(self, sock: _Socket) -> str | None:
        token = sock.token
        if token is None:
            return _ERR_NO_JWT
        if self._state.clock.time() > token.exp:
            return _ERR_EXPIRED
        if token.iat < self.boot_time(sock.server.node):
            return _ERR_DENYLIST
        if token.server_uuid != sock.server.uuid:
            return _ERR_UUID_MISMATCH
        return None

    # ----------------------------------------------------------------- the ticker

    async def _tick_forever(self) -> None:
        clock = self._state.clock
        interval = self._state.options.wings_stats_seconds
        next_tick = clock.monotonic() + interval
        while True:
            if not self._sockets:
                # Nothing to do: wait without a sleeper on the panel clock, or a FakeClock
                # with autojump would race ahead of tests that never open a socket.
                self._socket_opened.clear()
                await self._socket_opened.wait()
                next_tick = clock.monotonic() + interval
            await clock.sleep(max(0.0, next_tick - clock.monotonic()))
            next_tick = max(next_tick + interval, clock.monotonic())
            try:
                await self.tick()
            except Exception:
                log.exception("simulated wings ticker failed; it keeps going")

    async def tick(self) -> None:
        """Do one second of Wings' work: timeouts, status changes, stats, console, token looks."""
        self._ticks += 1
        now = self._state.clock.monotonic()
        options = self._state.options
        for sock in [s for s in self._sockets if s.token is None]:
            if now - sock.opened >= options.wings_auth_seconds:
                self._drop(sock)
        console_every = max(1, round(options.wings_console_seconds / options.wings_stats_seconds))
        for identifier, subscribers in list(self._subscribers.items()):
            if not subscribers:
                del self._subscribers[identifier]
                continue
            server = next(iter(subscribers)).server
            if self._unreachable(server) or server.status == "suspended":
                self._drop_server(server)
                continue
            state = server.state
            frames: list[str] = []
            if self._last_state.get(identifier) != state:
                self._last_state[identifier] = state
                frames.append(_frame("status", state))
                if state == "offline":
                    frames.append(self._stats_frame(server))
            if state != "offline":
                frames.append(self._stats_frame(server))
                if (self._ticks + server.internal_id) % console_every == 0:
                    line = _CONSOLE_LINES[(self._ticks + server.internal_id) % len(_CONSOLE_LINES)]
                    frames.append(_frame("console output", line))
            for sock in list(subscribers):
                if sock.next_expiry_check <= now:
                    await self._look_at_token(sock)
                for text in frames:
                    await self._send_event(sock, text)

    async def _look_at_token(self, sock: _Socket) -> None:
        sock.next_expiry_check += _EXPIRY_CHECK_SECONDS
        token = sock.token
        if token is None:
            return
        left = token.exp - self._state.clock.time()
        if left <= 0:
            await self._send(sock, _frame("token expired"))
        elif left <= _EXPIRING_WITHIN_SECONDS:
            await self._send_event(sock, _frame("token expiring"))

    # ----------------------------------------------------------------- sending

    async def _send_event(self, sock: _Socket, text: str) -> None:
        """Send a server event the way Wings' `SendJson` does: `jwt error` if the token is bad."""
        problem = self._token_problem(sock)
        if problem is not None:
            text = _frame("jwt error", problem)
        await self._send(sock, text)

    async def _send(self, sock: _Socket, text: str) -> None:
        if sock.dropped or sock.ws.closed:
            return
        transport = sock.request.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > _MAX_WRITE_BUFFER:
            self.counters.frames_dropped += 1
            return
        try:
            await sock.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            self._drop(sock)
            return
        self.counters.frames_sent += 1

    def _spawn_send(self, sock: _Socket, text: str) -> None:
        # Only for the rare "throttled" notice from a synchronous check.
        transport = sock.request.transport
        if transport is not None and not transport.is_closing() and not sock.ws.closed:
            asyncio.get_running_loop().create_task(self._send(sock, text))

    def _stats_frame(self, server: SimServer) -> str:
        live = server.stats()
        resources = live["resources"]
        payload = {
            "memory_bytes": resources["memory_bytes"],
            "memory_limit_bytes": server.memory_limit_bytes(),
            "cpu_absolute": resources["cpu_absolute"],
            "network": {
                "rx_bytes": resources["network_rx_bytes"],
                "tx_bytes": resources["network_tx_bytes"],
            },
            "uptime": resources["uptime"],
            "state": live["current_state"],
            "disk_bytes": resources["disk_bytes"],
        }
        return _frame("stats", json.dumps(payload, separators=(",", ":")))

    # ----------------------------------------------------------------- dropping

    def _unreachable(self, server: SimServer) -> bool:
        return server.node_down or self._state.fault_for(server.identifier, daemon=True) is not None

    def _drop_server(self, server: SimServer) -> int:
        return self._drop_all([s for s in self._sockets if s.server is server])

    def _drop_all(self, doomed: list[_Socket]) -> int:
        for sock in doomed:
            self._drop(sock)
        return len(doomed)

    def _drop(self, sock: _Socket) -> None:
        """Cut the connection without a close frame, as a dying Wings or a read deadline does."""
        sock.dropped = True
        self._forget(sock)
        transport = sock.request.transport
        if transport is not None:
            transport.abort()

    def _forget(self, sock: _Socket) -> None:
        self._sockets.discard(sock)
        subscribers = self._subscribers.get(sock.server.identifier)
        if subscribers is not None:
            subscribers.discard(sock)


def _frame(event: str, *args: str) -> str:
    body: dict[str, Any] = {"event": event}
    if args:
        body["args"] = list(args)
    return json.dumps(body, separators=(",", ":"))


def _b64_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def nodes_of(servers: Iterable[SimServer]) -> dict[str, SimNode]:
    """Return the nodes the fleet runs on, by name."""
    return {server.node.name: server.node for server in servers}
