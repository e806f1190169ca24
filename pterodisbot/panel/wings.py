"""Stream every watched server's stats over its Wings websocket, as the panel's own page does.

Per server: a token from the panel (`GET .../websocket`, one request of the shared budget), a
socket to Wings with the panel URL as `Origin`, `auth`, then `status` and `stats` frames (about
one a second while the server runs). The token is renewed before it expires, on the same socket;
a socket that drops is reopened with backoff and jitter. A server that cannot stream is in
FALLBACK with a reason (said once in the log) and the monitor polls it when the mode allows; it is
tried again later, at a pace that depends on the reason.

Cost at scale (2,000 servers, 1 frame/s each): frames are told apart by their event name, read
from the frame's first bytes, so console output is never decoded; a `stats` frame is kept as its
raw text and decoded only when the monitor asks (`latest()`, once per poll interval), its power
state read by a small regex meanwhile. Micro-bench (this machine, loaded): full decode of a stats
frame 22 µs, the name and state by regex 4 µs; at 2,000 frames/s that is 4.4 % of a core against
0.8 %.

Token calls are paced (`TokenPacer`): at most `TOKEN_SHARE` of the key's budget a minute, evenly
spaced, first connects of a big fleet included, so power actions and list refreshes keep room.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import random
import re
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

import aiohttp

from pterodisbot.clock import Clock, SystemClock
from pterodisbot.panel.errors import (
    ConflictReason,
    PanelAuthError,
    PanelBadResponse,
    PanelConflict,
    PanelError,
    PanelRateLimited,
    PanelUnavailable,
)
from pterodisbot.panel.models import PowerState, Resources
from pterodisbot.panel.stream import (
    FALLBACK_TEXT,
    FallbackReason,
    StreamReading,
    StreamState,
    StreamStats,
)

if TYPE_CHECKING:
    from pterodisbot.panel.client import PterodactylAPI
    from pterodisbot.panel.models import Server, WebsocketCredentials

log = logging.getLogger(__name__)

# Share of the key's requests a minute the token calls may use: half leaves the other half for
# power actions, list refreshes and polling the servers that fall back. 2,000 servers renewing a
# 10-minute token need ~240/min once connected, inside half of the panel's default 720.
TOKEN_SHARE: Final = 0.5
# Renew the token at this part of its life (jittered), well before Wings' `token expiring`.
REFRESH_AT: Final = (0.80, 0.90)
# Seconds: opening a socket (TCP, TLS, upgrade), authenticating, closing.
CONNECT_TIMEOUT: Final = 10.0
AUTH_TIMEOUT: Final = 15.0
CLOSE_TIMEOUT: Final = 2.0
# A ping every HEARTBEAT s, the socket counts as dead without a pong within half of it: an offline
# server is quiet, so silence alone says nothing.
HEARTBEAT: Final = 20.0
# Reconnect backoff after a dropped socket or an expired token: 1, 2, 4 ... 60 s, jittered.
BACKOFF_BASE: Final = 1.0
BACKOFF_CAP: Final = 60.0
# A socket that streamed this long resets the backoff.
STABLE_AFTER: Final = 30.0
# `jwt error` answering this many fresh tokens in a row: Wings refuses our tokens for good.
JWT_REFUSALS: Final = 2
# When a server in fallback is tried again (seconds, uniform): a node that comes back is seen
# within a minute; a key that lacks a permission is asked again only every 10-15 minutes.
RETRY_AFTER: Final[Mapping[FallbackReason, tuple[float, float]]] = {
    FallbackReason.FORBIDDEN: (600.0, 900.0),
    FallbackReason.ORIGIN_REFUSED: (600.0, 900.0),
    FallbackReason.AUTH_REFUSED: (600.0, 900.0),
    FallbackReason.NODE_DOWN: (30.0, 50.0),
    FallbackReason.PANEL_DOWN: (30.0, 60.0),
    FallbackReason.SUSPENDED: (300.0, 600.0),
    FallbackReason.CONFLICT: (300.0, 600.0),
    FallbackReason.TOO_MANY_SOCKETS: (120.0, 240.0),
    FallbackReason.DAEMON_ERROR: (60.0, 120.0),
    FallbackReason.BAD_ANSWER: (120.0, 240.0),
}
# A down node's servers but one wait for it to stream again, at most this long (s), then start
# again each within this many seconds.
NODE_WAIT_CAP: Final = 900.0
NODE_BACK_SPREAD: Final = 20.0
# Close codes Wings uses (its router's websocket handler).
CLOSE_SUSPENDED: Final = 4409
CLOSE_BAD_REQUEST: Final = 4400
CLOSE_TOO_MANY: Final = 4429
# Beyond this many servers sharing a reason, per-server lines go to debug and one summary is said.
SUMMARY_AT: Final = 5
SUMMARY_EVERY: Final = 30.0

# The event name at the start of a frame: `{"event":"stats",...` (Wings' field order).
_EVENT: Final = re.compile(r'\s*\{\s*"event"\s*:\s*"([^"\\]*)"')
# The power state inside a stats frame's (escaped) JSON string argument.
_STATS_STATE: Final = re.compile(r'\\"state\\"\s*:\s*\\"([a-z]+)\\"')
# Events the stream reads; every other one (console output...) is dropped by name alone.
_WANTED: Final = frozenset(
    {
        "stats",
        "status",
        "auth success",
        "token expiring",
        "token expired",
        "jwt error",
        "daemon error",
    }
)


# Reasons the monitor's poll of the server reports in its own words: in auto mode the stream's
# line about them is info, not a second warning.
_POLL_SAYS_IT: Final = frozenset(
    {
        FallbackReason.NODE_DOWN,
        FallbackReason.PANEL_DOWN,
        FallbackReason.SUSPENDED,
        FallbackReason.CONFLICT,
    }
)


# A token renewal refused for these reasons ends the socket at once and falls back.
_RENEWAL_ENDS: Final = frozenset(
    {FallbackReason.FORBIDDEN, FallbackReason.SUSPENDED, FallbackReason.CONFLICT}
)


class WingsFrameError(ValueError):
    """A frame from Wings that cannot be read."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One Wings message: its event and string arguments."""

    event: str
    args: tuple[str, ...]


def frame_event(text: str) -> str | None:
    """Return a frame's event name from its first bytes, None when it must be decoded to tell."""
    match = _EVENT.match(text)
    return match.group(1) if match else None


def parse_frame(text: str) -> Frame:
    """Decode a frame `{"event": ..., "args": [...]}`; raise WingsFrameError when malformed."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WingsFrameError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise WingsFrameError("no event name")
    args = data.get("args") or []
    if not isinstance(args, list):
        raise WingsFrameError("args is not a list")
    return Frame(data["event"], tuple(a if isinstance(a, str) else json.dumps(a) for a in args))


def stats_state(text: str) -> PowerState | None:
    """Return the power state of a raw `stats` frame cheaply, None when it cannot be read so."""
    match = _STATS_STATE.search(text)
    if match is None:
        return None
    return _power_state(match.group(1))


def _power_state(raw: str) -> PowerState | None:
    if raw == "stopped":
        return PowerState.OFFLINE
    try:
        return PowerState(raw)
    except ValueError:
        return None


def parse_stats(text: str) -> Resources:
    """Decode a raw `stats` frame into `Resources`; raise WingsFrameError when malformed."""
    frame = parse_frame(text)
    if not frame.args:
        raise WingsFrameError("stats without an argument")
    try:
        data = json.loads(frame.args[0])
    except ValueError as exc:
        raise WingsFrameError(f"stats argument is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WingsFrameError("stats argument is not an object")
    network = data.get("network") or {}
    if not isinstance(network, dict):
        raise WingsFrameError("stats network is not an object")
    state = _power_state(str(data.get("state", "")))
    if state is None:
        raise WingsFrameError(f"stats state {data.get('state')!r} is not a power state")
    try:
        return Resources(
            state=state,
            is_suspended=False,
            memory_bytes=_whole(data, "memory_bytes"),
            cpu_absolute=float(_number(data, "cpu_absolute")),
            disk_bytes=_whole(data, "disk_bytes"),
            network_rx_bytes=_whole(network, "rx_bytes"),
            network_tx_bytes=_whole(network, "tx_bytes"),
            uptime_ms=_whole(data, "uptime"),
        )
    except (TypeError, ValueError) as exc:
        raise WingsFrameError(f"stats field unreadable: {exc}") from None


def _number(data: Mapping[str, object], key: str) -> float | int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WingsFrameError(f"stats field {key!r} is not a number")
    return value


def _whole(data: Mapping[str, object], key: str) -> int:
    return int(_number(data, key))


def offline_resources() -> Resources:
    """Return the reading of a server Wings reports offline before any stats arrived."""
    return Resources(PowerState.OFFLINE, False, 0, 0.0, 0, 0, 0, 0)


def token_expiry(token: str) -> float | None:
    """Return a JWT's `exp` (epoch seconds) read without verifying it, None when absent."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def refresh_delay(now: float, expires: float | None, rng: random.Random) -> float | None:
    """Return the seconds until a token expiring at `expires` is renewed (80-90 % of its life)."""
    if expires is None:
        return None
    life = expires - now
    if life <= 0:
        return 0.0
    return life * rng.uniform(*REFRESH_AT)


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Return the wait before reconnect `attempt` (0 first): exponential, capped, jittered."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * float(2 ** min(attempt, 16)))
    # Half fixed, half random: never a thundering herd, never a zero wait.
    return ceiling * rng.uniform(0.5, 1.0)


class TokenPacer:
    """Space token requests at least 60 / (`share` × capacity) s apart: never a burst.

    The budget's capacity is read at each request, so a lower limit the panel announced slows
    the pace at once. One waiter at a time, first come first served; the gap is measured from
    when the previous request was let through, so a late wake-up never lets two through close.
    """

    def __init__(
        self, capacity: Callable[[], int], *, share: float = TOKEN_SHARE, clock: Clock
    ) -> None:
        self._capacity = capacity
        self._share = share
        self._clock = clock
        self._last = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def per_minute(self) -> float:
        """Return the token requests a minute the pacer allows."""
        return max(1.0, self._capacity() * self._share)

    async def acquire(self) -> None:
        """Wait until the gap since the previous request has passed, then let this one through."""
        async with self._lock:
            wait = self._last + 60.0 / self.per_minute - self._clock.monotonic()
            if wait > 0:
                await self._clock.sleep(wait)
            self._last = self._clock.monotonic()


class _Ended(Exception):
    """A socket's end: `reason` None means reconnect with backoff, else fall back."""

    def __init__(self, reason: FallbackReason | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class _Watched:
    """One server's stream (mutable, owned by `WingsStreams`)."""

    __slots__ = (
        "ending",
        "expiring",
        "jwt_refusals",
        "parsed",
        "parsed_from",
        "power",
        "power_t",
        "raw",
        "raw_t",
        "reason",
        "said",
        "server",
        "state",
        "task",
    )

    def __init__(self, server: Server) -> None:
        self.server = server
        self.state = StreamState.CONNECTING
        self.reason: FallbackReason | None = None
        self.said: FallbackReason | None = None
        self.task: asyncio.Task[None] | None = None
        self.raw: str | None = None  # the newest stats frame, undecoded
        self.raw_t = 0.0
        self.parsed: Resources | None = None
        self.parsed_from: str | None = None
        self.power: PowerState | None = None
        self.power_t = 0.0
        self.expiring = asyncio.Event()
        self.jwt_refusals = 0
        # Why the token renewal closed the socket (suspended, installing, forbidden...).
        self.ending: _Ended | None = None

    def forget_readings(self) -> None:
        self.raw = None
        self.parsed = None
        self.parsed_from = None
        self.power = None


class WingsStreams:
    """The Wings websocket of every watched server; implements `StatsStream`."""

    def __init__(
        self,
        api: PterodactylAPI,
        panel_url: str,
        *,
        polls_fallback: bool = True,
        clock: Clock | None = None,
        token_share: float = TOKEN_SHARE,
        rng: random.Random | None = None,
    ) -> None:
        self._api = api
        self._origin = panel_url.rstrip("/")
        self._polls_fallback = polls_fallback
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._pacer = TokenPacer(lambda: api.budget.capacity, share=token_share, clock=self._clock)
        self._watched: dict[str, _Watched] = {}
        # A node that is down is probed by one of its servers; the others wait for it to stream
        # again (`_node_back`) instead of each asking for a token every minute.
        self._node_prober: dict[str, str] = {}
        self._node_back: dict[str, asyncio.Event] = {}
        self._listener: Callable[[str], None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._started = False
        self._housekeeper: asyncio.Task[None] | None = None
        self._token_calls = 0
        self._token_times: deque[float] = deque()
        # Per reason: the count last summarised in the log (a new line when it doubles).
        self._summarised: dict[FallbackReason, int] = {}

    @property
    def enabled(self) -> bool:
        """Return True: servers are streamed."""
        return True

    @property
    def polls_fallback(self) -> bool:
        """Return True when a server that cannot stream is polled (source = auto)."""
        return self._polls_fallback

    @property
    def pacer(self) -> TokenPacer:
        """Return the pacer of token requests."""
        return self._pacer

    def set_change_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(identifier)` when a server's power state changes in its stream."""
        self._listener = listener

    def watch(self, servers: Collection[Server]) -> None:
        """Stream exactly these servers from now on (open new sockets, close removed ones)."""
        wanted = {server.identifier: server for server in servers}
        for identifier in list(self._watched):
            if identifier not in wanted:
                watched = self._watched.pop(identifier)
                if self._node_prober.get(watched.server.node) == identifier:
                    # Its node's waiting servers must not wait for a probe that stopped.
                    self._node_streams(watched.server.node)
                if watched.task is not None:
                    # Cancelling closes its socket (the task's finally) within this loop turn.
                    watched.task.cancel()
        for identifier, server in wanted.items():
            known = self._watched.get(identifier)
            if known is not None:
                known.server = server
                continue
            added = self._watched[identifier] = _Watched(server)
            if self._started:
                self._spawn(added)

    def start(self) -> None:
        """Start streaming the watched servers (idempotent; again after `close()`)."""
        if self._started:
            return
        self._started = True
        # Its own pool: thousands of long-lived sockets must not wait for the panel client's
        # 100 connections, nor starve it.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
        )
        for watched in self._watched.values():
            self._spawn(watched)
        self._housekeeper = asyncio.create_task(self._summarise(), name="pterodisbot-wings-log")

    async def close(self) -> None:
        """Close every socket and stop every task (idempotent)."""
        self._started = False
        tasks = [w.task for w in self._watched.values() if w.task is not None]
        if self._housekeeper is not None:
            tasks.append(self._housekeeper)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for watched in self._watched.values():
            # Nothing vouches for a reading once its socket is closed: the monitor polls.
            watched.task = None
            watched.state = StreamState.CONNECTING
            watched.reason = None
            watched.said = None
            watched.forget_readings()
        self._housekeeper = None
        self._node_prober.clear()
        self._node_back.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def latest(self, identifier: str) -> StreamReading | None:
        """Return the server's newest reading while its socket is authenticated, else None."""
        watched = self._watched.get(identifier)
        if watched is None or watched.state is not StreamState.STREAMING:
            return None
        resources = self._decoded(watched)
        if resources is None:
            if watched.power is not PowerState.OFFLINE:
                return None
            resources = offline_resources()
        t = watched.raw_t
        power = watched.power
        if power is not None and power is not resources.state and watched.power_t >= t:
            # A status event came after the last stats: it is the newer word on the state.
            resources = replace(resources, state=power)
            t = watched.power_t
        if resources.state is PowerState.OFFLINE:
            # An offline server is quiet: its open, authenticated socket vouches for the reading
            # (a start would arrive as a status event).
            t = self._clock.time()
        return StreamReading(resources, t)

    def state(self, identifier: str) -> tuple[StreamState, FallbackReason | None]:
        """Return where the server's stream stands and, in fallback, why."""
        watched = self._watched.get(identifier)
        if watched is None:
            return StreamState.CONNECTING, None
        return watched.state, watched.reason

    def stats(self) -> StreamStats:
        """Return the current counters."""
        counts = Counter(w.state for w in self._watched.values())
        reasons = Counter(
            w.reason
            for w in self._watched.values()
            if w.state is StreamState.FALLBACK and w.reason is not None
        )
        return StreamStats(
            streaming=counts[StreamState.STREAMING],
            connecting=counts[StreamState.CONNECTING],
            fallback=counts[StreamState.FALLBACK],
            token_calls=self._token_calls,
            token_calls_per_minute=float(self._calls_last_minute()),
            reasons=dict(reasons),
        )

    def _calls_last_minute(self) -> int:
        horizon = self._clock.monotonic() - 60.0
        while self._token_times and self._token_times[0] <= horizon:
            self._token_times.popleft()
        return len(self._token_times)

    def _spawn(self, watched: _Watched) -> None:
        identifier = watched.server.identifier
        watched.task = asyncio.create_task(
            self._follow(watched), name=f"pterodisbot-wings-{identifier}"
        )

    def _decoded(self, watched: _Watched) -> Resources | None:
        raw = watched.raw
        if raw is None:
            return None
        if watched.parsed_from is not raw:
            try:
                watched.parsed = parse_stats(raw)
            except WingsFrameError as exc:
                log.debug("server %s: unreadable stats frame: %s", watched.server.identifier, exc)
                watched.raw = None
                watched.parsed = None
                return None
            watched.parsed_from = raw
        return watched.parsed

    # The per-server task -------------------------------------------------------------------

    async def _follow(self, watched: _Watched) -> None:
        """Keep one server streaming: connect, read, reconnect or fall back, while watched."""
        attempt = 0
        while True:
            opened_at: list[float] = []
            try:
                await self._stream_once(watched, opened_at)
                ended = _Ended(None, "the socket closed")
            except _Ended as exc:
                ended = exc
            if watched.ending is not None:
                ended, watched.ending = watched.ending, None
            streamed_for = self._clock.monotonic() - opened_at[0] if opened_at else 0.0
            if streamed_for >= STABLE_AFTER:
                attempt = 0
            watched.forget_readings()
            if ended.reason is FallbackReason.NODE_DOWN and not self._probes_node(watched):
                self._fall_back(watched, ended.reason, ended.detail)
                await self._wait_for_node(watched.server.node)
                continue
            if ended.reason is not None:
                self._fall_back(watched, ended.reason, ended.detail)
                delay = self._rng.uniform(*RETRY_AFTER[ended.reason])
            else:
                if watched.state is StreamState.STREAMING:
                    watched.state = StreamState.CONNECTING
                log.debug("server %s: %s; reconnecting", watched.server.identifier, ended.detail)
                delay = backoff_delay(attempt, self._rng)
                attempt += 1
            await self._clock.sleep(delay)

    async def _stream_once(self, watched: _Watched, opened_at: list[float]) -> None:
        """Open one socket and read it until it ends; raise `_Ended` saying how."""
        credentials = await self._credentials(watched)
        session = self._session
        if session is None:
            raise asyncio.CancelledError
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                ws = await session.ws_connect(
                    credentials.socket,
                    origin=self._origin,
                    heartbeat=HEARTBEAT,
                    autoping=True,
                    max_msg_size=0,
                    # Wings does not compress; inflating 2,000 small frames a second would cost
                    # more than the bytes saved.
                    compress=0,
                )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 403:
                raise _Ended(
                    FallbackReason.ORIGIN_REFUSED,
                    f"Wings refused the upgrade with Origin {self._origin} (403): add the "
                    "panel URL to the node's allowed origins, or set pterodactyl.url to the "
                    "URL Wings knows",
                ) from None
            if exc.status == 400:
                # Wings refuses the upgrade (400) once a server has 30 authenticated sockets.
                raise _Ended(
                    FallbackReason.TOO_MANY_SOCKETS,
                    "Wings refused the upgrade (400): too many open sockets to this server "
                    "(other bots or panel tabs)",
                ) from None
            if exc.status == 404:
                raise _Ended(
                    FallbackReason.DAEMON_ERROR,
                    "Wings does not know this server (404 on the upgrade)",
                ) from None
            raise _Ended(
                FallbackReason.NODE_DOWN, f"Wings answered the upgrade with HTTP {exc.status}"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Ended(
                FallbackReason.NODE_DOWN, f"cannot open the socket to Wings ({type(exc).__name__})"
            ) from None
        refresher: asyncio.Task[None] | None = None
        try:
            await ws.send_str(_auth_frame(credentials.token))
            await self._await_auth(watched, ws)
            opened_at.append(self._clock.monotonic())
            self._streaming(watched)
            # A reading at once, offline servers included (they send no stats on their own).
            await ws.send_str(json.dumps({"event": "send stats", "args": [None]}))
            refresher = asyncio.create_task(
                self._refresh(watched, ws, credentials),
                name=f"pterodisbot-wings-token-{watched.server.identifier}",
            )
            await self._read(watched, ws)
        finally:
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await refresher
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await ws.close()

    async def _credentials(self, watched: _Watched) -> WebsocketCredentials:
        """Ask the panel for a token, paced; raise `_Ended` with the reason it refused."""
        await self._pacer.acquire()
        self._token_calls += 1
        self._token_times.append(self._clock.monotonic())
        identifier = watched.server.identifier
        try:
            return await self._api.websocket_credentials(identifier)
        except PanelAuthError as exc:
            raise _Ended(FallbackReason.FORBIDDEN, str(exc)) from None
        except PanelConflict as exc:
            reason = (
                FallbackReason.SUSPENDED
                if exc.reason is ConflictReason.SUSPENDED
                else FallbackReason.CONFLICT
            )
            raise _Ended(reason, str(exc)) from None
        except PanelUnavailable as exc:
            reason = FallbackReason.NODE_DOWN if exc.node_down else FallbackReason.PANEL_DOWN
            raise _Ended(reason, str(exc)) from None
        except PanelRateLimited as exc:
            # Throttled says nothing about the server: try again after a backoff.
            raise _Ended(None, f"token request rate limited ({exc.retry_after:.0f} s)") from None
        except PanelBadResponse as exc:
            raise _Ended(FallbackReason.BAD_ANSWER, str(exc)) from None
        except PanelError as exc:
            raise _Ended(FallbackReason.BAD_ANSWER, str(exc)) from None

    async def _await_auth(self, watched: _Watched, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read until `auth success`; raise `_Ended` on a refusal, a close or a timeout."""
        try:
            async with asyncio.timeout(AUTH_TIMEOUT):
                while True:
                    message = await ws.receive()
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        raise self._closed_by(ws, message)
                    text = message.data
                    event = frame_event(text)
                    if event is None:
                        event = self._decode(text).event
                    if event == "auth success":
                        watched.jwt_refusals = 0
                        return
                    if event == "jwt error":
                        # Refused a token we fetched just now: twice in a row is final.
                        watched.jwt_refusals += 1
                        if watched.jwt_refusals >= JWT_REFUSALS:
                            watched.jwt_refusals = 0
                            raise _Ended(
                                FallbackReason.AUTH_REFUSED,
                                f"Wings refused {JWT_REFUSALS} fresh tokens in a row (jwt error)",
                            )
                        raise _Ended(None, "Wings refused the token (jwt error)")
                    if event == "daemon error":
                        raise _Ended(FallbackReason.DAEMON_ERROR, _daemon_detail(text))
        except TimeoutError:
            raise _Ended(None, f"no auth success within {AUTH_TIMEOUT:g} s") from None

    async def _read(self, watched: _Watched, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read frames until the socket ends; raise `_Ended` saying how."""
        identifier = watched.server.identifier
        while True:
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise self._closed_by(ws, message)
            text: str = message.data
            event = frame_event(text)
            if event is None:
                event = self._decode(text).event
            if event not in _WANTED:
                continue
            if event == "stats":
                first = watched.raw is None
                watched.raw = text
                watched.raw_t = self._clock.time()
                state = stats_state(text)
                if state is None:
                    resources = self._decoded(watched)
                    state = resources.state if resources is not None else None
                if state is not None:
                    self._power(watched, state, watched.raw_t)
                if first and self._listener is not None:
                    # The socket's first numbers: the monitor shows the server at once rather
                    # than at its next sampling slice.
                    self._listener(identifier)
            elif event == "status":
                frame = self._decode(text)
                state = _power_state(frame.args[0]) if frame.args else None
                if state is not None:
                    self._power(watched, state, self._clock.time())
            elif event == "token expiring":
                watched.expiring.set()
            elif event == "token expired":
                raise _Ended(None, "the token expired")
            elif event == "jwt error":
                raise _Ended(None, "Wings refused the token (jwt error)")
            elif event == "daemon error":
                raise _Ended(FallbackReason.DAEMON_ERROR, _daemon_detail(text))
            elif event == "auth success":
                log.debug("server %s: token renewed", identifier)

    def _decode(self, text: str) -> Frame:
        try:
            return parse_frame(text)
        except WingsFrameError as exc:
            raise _Ended(FallbackReason.BAD_ANSWER, f"unreadable frame from Wings: {exc}") from None

    def _closed_by(self, ws: aiohttp.ClientWebSocketResponse, message: aiohttp.WSMessage) -> _Ended:
        code = ws.close_code
        if message.type is aiohttp.WSMsgType.CLOSE:
            code = message.data
        if code == CLOSE_SUSPENDED:
            return _Ended(
                FallbackReason.SUSPENDED, "Wings closed the socket: server suspended (4409)"
            )
        if code == CLOSE_BAD_REQUEST:
            return _Ended(FallbackReason.BAD_ANSWER, "Wings closed the socket: bad request (4400)")
        if code == CLOSE_TOO_MANY:
            return _Ended(
                FallbackReason.TOO_MANY_SOCKETS,
                "Wings closed the socket: too many open sockets to this server (4429)",
            )
        if message.type is aiohttp.WSMsgType.BINARY:
            return _Ended(FallbackReason.BAD_ANSWER, "Wings sent a binary frame")
        return _Ended(None, f"the socket closed (code {code})")

    async def _refresh(
        self,
        watched: _Watched,
        ws: aiohttp.ClientWebSocketResponse,
        credentials: WebsocketCredentials,
    ) -> None:
        """Renew the token before expiry (or on `token expiring`); re-`auth` on the same socket."""
        identifier = watched.server.identifier
        expires = token_expiry(credentials.token)
        failures = 0
        while True:
            watched.expiring.clear()
            delay = refresh_delay(self._clock.time(), expires, self._rng)
            await self._sleep_or_event(delay, watched.expiring)
            try:
                fresh = await self._credentials(watched)
            except _Ended as exc:
                if exc.reason in _RENEWAL_ENDS:
                    # The panel says this server cannot stream now: no use waiting for expiry.
                    watched.ending = exc
                    await ws.close()
                    return
                # The socket lives on until Wings says the token expired; try again soon.
                failures += 1
                log.debug("server %s: token renewal failed: %s", identifier, exc.detail)
                expires = None
                await self._clock.sleep(backoff_delay(failures, self._rng))
                watched.expiring.set()
                continue
            failures = 0
            expires = token_expiry(fresh.token)
            await ws.send_str(_auth_frame(fresh.token))

    async def _sleep_or_event(self, delay: float | None, event: asyncio.Event) -> None:
        if delay is None:
            await event.wait()
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waiter):
                task.cancel()

    # State and what is said about it -------------------------------------------------------------

    def _power(self, watched: _Watched, state: PowerState, t: float) -> None:
        previous = watched.power
        watched.power = state
        watched.power_t = t
        if previous is not None and previous is not state and self._listener is not None:
            self._listener(watched.server.identifier)

    def _streaming(self, watched: _Watched) -> None:
        was = watched.reason
        watched.state = StreamState.STREAMING
        watched.reason = None
        if watched.server.node in self._node_back or watched.server.node in self._node_prober:
            self._node_streams(watched.server.node)
        if was is not None and watched.said is not None:
            log.info(
                "server %s: streaming again over the Wings websocket", watched.server.identifier
            )
        watched.said = None

    def _probes_node(self, watched: _Watched) -> bool:
        """Return True when this server is (or now becomes) the one probing its down node."""
        node = watched.server.node
        prober = self._watched.get(self._node_prober.get(node, ""))
        if prober is None or prober is watched or prober.reason is not FallbackReason.NODE_DOWN:
            self._node_prober[node] = watched.server.identifier
            return True
        return False

    async def _wait_for_node(self, node: str) -> None:
        """Wait until a server of `node` streams again (at most NODE_WAIT_CAP), then a jitter.

        The jitter and the token pacer spread the reconnects of a node's servers.
        """
        back = self._node_back.setdefault(node, asyncio.Event())
        await self._sleep_or_event(NODE_WAIT_CAP, back)
        await self._clock.sleep(self._rng.uniform(0.0, NODE_BACK_SPREAD))

    def _node_streams(self, node: str) -> None:
        """Wake the servers of `node` waiting for it: one of them streams again."""
        self._node_prober.pop(node, None)
        back = self._node_back.pop(node, None)
        if back is not None:
            back.set()

    def _fall_back(self, watched: _Watched, reason: FallbackReason, detail: str) -> None:
        watched.state = StreamState.FALLBACK
        watched.reason = reason
        if watched.said is reason:
            return
        watched.said = reason
        sharing = sum(1 for w in self._watched.values() if w.reason is reason)
        # The first few servers of a reason are named; beyond that the summary speaks for them.
        # A reason the monitor's poll reports itself (node down, suspended...) is only info.
        level = self._level(reason) if sharing <= SUMMARY_AT else logging.DEBUG
        log.log(
            level,
            "server %s cannot stream (%s): %s; %s",
            watched.server.identifier,
            FALLBACK_TEXT[reason],
            detail.rstrip("."),
            self._fallback_action(),
        )

    def _level(self, reason: FallbackReason) -> int:
        if self._polls_fallback and reason in _POLL_SAYS_IT:
            return logging.INFO
        return logging.WARNING

    def _fallback_action(self) -> str:
        if self._polls_fallback:
            return "polling it"
        return "not polled (monitoring.source = websocket)"

    async def _summarise(self) -> None:
        """Say once (again when it doubles) how many servers share a reason not to stream."""
        while True:
            await self._clock.sleep(SUMMARY_EVERY)
            self.summarise_now()

    def summarise_now(self) -> None:
        """Log one line per reason many servers share, when new or doubled since last said."""
        counts = Counter(
            w.reason
            for w in self._watched.values()
            if w.state is StreamState.FALLBACK and w.reason is not None
        )
        for reason in list(self._summarised):
            if counts[reason] == 0:
                del self._summarised[reason]
        for reason, count in counts.items():
            said = self._summarised.get(reason, 0)
            if count > SUMMARY_AT and count >= 2 * said:
                self._summarised[reason] = count
                log.log(
                    self._level(reason),
                    "%s servers cannot stream: %s; %s",
                    f"{count:,}",
                    FALLBACK_TEXT[reason],
                    "polling them"
                    if self._polls_fallback
                    else "not polled (monitoring.source = websocket)",
                )


def _auth_frame(token: str) -> str:
    return json.dumps({"event": "auth", "args": [token]})


def _daemon_detail(text: str) -> str:
    with contextlib.suppress(WingsFrameError):
        frame = parse_frame(text)
        if frame.args:
            return f"Wings reported an error: {frame.args[0][:200]}"
    return "Wings reported an error"
