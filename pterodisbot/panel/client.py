"""The async client for a Pterodactyl (or Pelican) panel's client API."""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol, Self, TypeVar

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from pterodisbot import __version__
from pterodisbot.clock import Clock, SystemClock
from pterodisbot.panel.budget import RateBudget
from pterodisbot.panel.errors import (
    AuthFailure,
    ConflictReason,
    ErrorContext,
    PanelAuthError,
    PanelBadResponse,
    PanelConflict,
    PanelError,
    PanelInvalidRequest,
    PanelNotFound,
    PanelRateLimited,
    PanelUnavailable,
    UnavailableReason,
)
from pterodisbot.panel.models import (
    POWER_EVENT_PREFIX,
    Account,
    ActivityEvent,
    Page,
    PowerSignal,
    Resources,
    Server,
    WebsocketCredentials,
)

if TYPE_CHECKING:
    from pterodisbot.config import PterodactylSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

DEFAULT_USER_AGENT = f"Pterodisbot/{__version__} aiohttp/{aiohttp.__version__}"

KeyKind = Literal["client", "application", "unknown"]
ListScope = Literal["owner", "admin", "admin-all"]
Method = Literal["GET", "POST"]

# Route templates: the labels calls are counted and logged under.
ROUTE_LIST = "GET /api/client"
ROUTE_ACCOUNT = "GET /api/client/account"
ROUTE_SERVER = "GET /api/client/servers/{server}"
ROUTE_RESOURCES = "GET /api/client/servers/{server}/resources"
ROUTE_POWER = "POST /api/client/servers/{server}/power"
ROUTE_COMMAND = "POST /api/client/servers/{server}/command"
ROUTE_WEBSOCKET = "GET /api/client/servers/{server}/websocket"
ROUTE_ACTIVITY = "GET /api/client/servers/{server}/activity"

# Pterodactyl prefixes keys ptlc_/ptla_ (client/application), Pelican plcn_/peli_.
_CLIENT_PREFIXES = ("ptlc_", "plcn_")
_APPLICATION_PREFIXES = ("ptla_", "peli_")

# An 8-character short identifier or a UUID; nothing else may reach a URL path.
_SERVER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")

_PER_PAGE = 100
# The panel's largest page of activity; `activity()` reads one page, never more.
_ACTIVITY_MAX = 100
# 100,000 servers: a panel still reporting more pages past this is broken, not big.
_MAX_PAGES = 1000

_APPLICATION_KEY_MESSAGE = (
    "This is an application API key (ptla_...), which the client API refuses (403). Create a "
    "client API key (ptlc_...) under Account → API Credentials on the panel and use that."
)


class _Parser(Protocol[T_co]):
    def __call__(self, payload: object, *, path: str = ...) -> T_co: ...


@dataclass(frozen=True, slots=True)
class _Request:
    method: Method
    route: str
    path: str
    server_id: str | None = None
    params: Mapping[str, str] | None = None
    payload: Mapping[str, str] | None = None

    @property
    def where(self) -> str:
        return f"{self.route}{_for(self.server_id)}"


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class _Failure:
    error: PanelUnavailable
    # False only when the request provably never left: the connection was never made.
    maybe_received: bool


class _ConnectionDropped(Exception):
    """A connection that dropped mid-request, carried past aiohttp's own resend."""

    def __init__(self, cause: aiohttp.ClientError) -> None:
        super().__init__(str(cause))
        self.cause = cause


async def _send_once(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Send the request once: a dropped connection is the client's to retry, not aiohttp's."""
    try:
        return await handler(request)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
        raise  # never resent by aiohttp: the connection was not made
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        # aiohttp would send a GET again at once, outside the rate budget and the attempt count:
        # with connections dropping, the panel saw twice the requests the bot believed it sent.
        raise _ConnectionDropped(exc) from exc


class RequestStats:
    """Count the client's HTTP attempts by route and outcome, for metrics."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self.retries = 0

    def record(self, route: str, outcome: str) -> None:
        """Count one attempt; `outcome` is the HTTP status, or timeout/connection/tls."""
        self._counts[(route, outcome)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """Return a copy of the counts keyed by (route, outcome)."""
        return dict(self._counts)

    def count(self, route: str | None = None, outcome: str | None = None) -> int:
        """Return how many attempts matched the route and outcome (None matches any)."""
        return sum(
            n
            for (r, o), n in self._counts.items()
            if (route is None or r == route) and (outcome is None or o == outcome)
        )

    @property
    def total(self) -> int:
        """Return the number of attempts made."""
        return sum(self._counts.values())


class PterodactylAPI:
    """Talk to one panel's client API with one key: typed answers, typed errors, a rate budget."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        requests_per_minute: int = 720,
        timeout: float = 10.0,
        max_retries: int = 3,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        rng: random.Random | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        max_retry_after: float = 60.0,
    ) -> None:
        self._base = _normalise_base_url(base_url)
        # A key read from a file or .env often brings a trailing newline along.
        key = api_key.strip()
        if not key:
            raise ValueError("The panel API key is empty: set a client API key (ptlc_...).")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
        self._key = key
        self._timeout = timeout
        self._max_retries = max_retries
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._rng = rng if rng is not None else random.Random()
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._session = session
        self._owns_session = session is None
        self._headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "Application/vnd.pterodactyl.v1+json",
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        self.budget = RateBudget(requests_per_minute, clock=self._clock)
        self.stats = RequestStats()

    @classmethod
    def from_settings(
        cls,
        panel: PterodactylSettings,
        *,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        max_retries: int | None = None,
    ) -> Self:
        """Build a client from `[pterodactyl]`; `max_retries` overrides the configured count."""
        return cls(
            panel.url,
            panel.api_key.reveal(),
            requests_per_minute=panel.requests_per_minute,
            timeout=panel.timeout,
            max_retries=panel.max_retries if max_retries is None else max_retries,
            clock=clock,
            session=session,
        )

    def __repr__(self) -> str:
        return f"PterodactylAPI(base_url={self.base_url!r}, key_kind={self.key_kind!r})"

    @property
    def base_url(self) -> str:
        """Return the panel's root address."""
        return str(self._base).rstrip("/")

    @property
    def timeout(self) -> float:
        """Return the seconds one attempt may take before it counts as timed out."""
        return self._timeout

    @property
    def longest_call(self) -> float:
        """Return the longest one call may take, budget aside: every try timing out."""
        # A 429's Retry-After (up to max_retry_after) is the longest wait between two tries.
        wait = max(self._backoff_max, self._max_retry_after)
        return (self._max_retries + 1) * self._timeout + self._max_retries * wait

    @property
    def key_kind(self) -> KeyKind:
        """Return what kind of key this is, judged by its prefix."""
        if self._key.startswith(_CLIENT_PREFIXES):
            return "client"
        if self._key.startswith(_APPLICATION_PREFIXES):
            return "application"
        return "unknown"

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Return the client; its session opens on first use."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it; a later call opens a new one."""
        if not self._owns_session:
            return
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # --- the API --------------------------------------------------------------------------------

    async def list_servers(self, *, scope: ListScope | None = None) -> list[Server]:
        """Return every server the key's user can see, across all pages, allocations included.

        `scope` is the panel's `type` filter: "owner" (own servers only), or for a root admin
        "admin" (other users' servers) and "admin-all" (every server on the panel).
        """
        servers: dict[str, Server] = {}
        unreadable: list[PanelBadResponse] = []
        page_number = 1
        while True:
            # The egg's name picks how the game is asked for its players (`pterodisbot.query`).
            params = {"page": str(page_number), "per_page": str(_PER_PAGE), "include": "egg"}
            if scope is not None:
                params["type"] = scope
            request = _Request("GET", ROUTE_LIST, "/api/client", params=params)
            answer = await self._call(request)
            page = self._parse(request, answer, Page.from_api)
            for item, path in page.items:
                try:
                    server = self._parse_value(request, answer, Server.from_api, item, path)
                except PanelBadResponse as exc:
                    # One odd server (a panel plugin, a Pelican difference) must not hide the
                    # rest of the fleet: skip it and say which one and why.
                    unreadable.append(exc)
                    log.warning("server list: skipped an unreadable server: %s", exc)
                    continue
                # A server created while we page pushes another onto the next page as well.
                servers.setdefault(server.identifier, server)
            if not page.items or page_number >= page.total_pages or page_number >= _MAX_PAGES:
                if unreadable and not servers:
                    self._log_failure(request, unreadable[0], 1)
                    raise unreadable[0]
                return list(servers.values())
            page_number += 1

    async def get_server(self, server_id: str) -> Server:
        """Return one server by its short identifier or UUID."""
        request = _server_request("GET", ROUTE_SERVER, server_id, "", params={"include": "egg"})
        return self._parse(request, await self._call(request), Server.from_api)

    async def get_resources(self, server_id: str) -> Resources:
        """Return the server's power state and resource use (the panel caches it for 20 s)."""
        request = _server_request("GET", ROUTE_RESOURCES, server_id, "/resources")
        return self._parse(request, await self._call(request), Resources.from_api)

    async def send_power(self, server_id: str, signal: PowerSignal | str) -> None:
        """Ask the panel to start/stop/restart/kill the server; Wings acts in the background."""
        payload = {"signal": PowerSignal(signal).value}
        await self._call(_server_request("POST", ROUTE_POWER, server_id, "/power", payload))

    async def send_command(self, server_id: str, command: str) -> None:
        """Send one console command to a running server."""
        # No local checks: the panel's 422 (PanelInvalidRequest) names what is wrong.
        payload = {"command": command}
        await self._call(_server_request("POST", ROUTE_COMMAND, server_id, "/command", payload))

    async def websocket_credentials(self, server_id: str) -> WebsocketCredentials:
        """Return a fresh token (valid 10 min) and URL for the server's console websocket."""
        request = _server_request("GET", ROUTE_WEBSOCKET, server_id, "/websocket")
        return self._parse(request, await self._call(request), WebsocketCredentials.from_api)

    async def activity(
        self, server_id: str, *, since: float | None = None, limit: int = 50
    ) -> list[ActivityEvent]:
        """Return the server's newest power events (`server:power.*`), newest first.

        One request (one token of the budget): the newest `limit` (at most 100) power events,
        only those at or after `since` (wall-clock seconds; the panel keeps whole seconds, so
        the second `since` falls in counts). Needs the key's user to have `activity.read`:
        without it the panel answers 403, a `PanelAuthError` with reason FORBIDDEN.
        """
        if not 1 <= limit <= _ACTIVITY_MAX:
            raise ValueError(f"limit must be 1 to {_ACTIVITY_MAX}, got {limit}")
        params = {
            # A partial match on the panel's side: the prefix is checked again below.
            "filter[event]": POWER_EVENT_PREFIX.rstrip("."),
            "sort": "-timestamp",
            "per_page": str(limit),
            "include": "actor",
        }
        request = _server_request("GET", ROUTE_ACTIVITY, server_id, "/activity", params=params)
        answer = await self._call(request)
        page = self._parse(request, answer, Page.from_api)
        events: list[ActivityEvent] = []
        for item, path in page.items:
            try:
                event = self._parse_value(request, answer, ActivityEvent.from_api, item, path)
            except PanelBadResponse as exc:
                self._log_failure(request, exc, 1)
                raise
            if not event.event.startswith(POWER_EVENT_PREFIX):
                continue
            if since is not None and event.t < math.floor(since):
                continue
            events.append(event)
        events.sort(key=lambda e: e.t, reverse=True)
        return events[:limit]

    async def whoami(self) -> Account:
        """Return the user the key belongs to."""
        request = _Request("GET", ROUTE_ACCOUNT, "/api/client/account")
        return self._parse(request, await self._call(request), Account.from_api)

    async def check_key(self) -> Account:
        """Check that the key works on the client API and return its user; raise if not."""
        if self.key_kind == "application":
            # Certain to fail: say why without spending a request.
            raise PanelAuthError(
                _APPLICATION_KEY_MESSAGE, reason=AuthFailure.APPLICATION_KEY, route=ROUTE_ACCOUNT
            )
        return await self.whoami()

    # --- one call: budget, attempts, retries ----------------------------------------------------

    async def _call(self, request: _Request) -> _Answer:
        """Make one API call, retrying what is safe to retry; raise a PanelError on failure."""
        attempt = 0
        while True:
            outcome = await self._attempt(request)
            if isinstance(outcome, _Answer):
                if outcome.status < 300:
                    return outcome
                error: PanelError = self._error_from_answer(request, outcome)
                maybe_received = True
            else:
                error, maybe_received = outcome.error, outcome.maybe_received
            # Reads may repeat; a power signal or a command only if it provably never left.
            repeatable = request.method == "GET" or not maybe_received
            delay = self._retry_delay(error, attempt) if repeatable else None
            if delay is None or attempt >= self._max_retries:
                self._log_failure(request, error, attempt + 1)
                raise error
            attempt += 1
            self.stats.retries += 1
            log.debug(
                "retrying %s server=%s in %.2f s (retry %d of %d): %s",
                request.route,
                request.server_id or "-",
                delay,
                attempt,
                self._max_retries,
                error,
            )
            await self._clock.sleep(delay)

    def _retry_delay(self, error: PanelError, attempt: int) -> float | None:
        """Return how long to wait before trying again, or None if retrying cannot help."""
        if isinstance(error, PanelRateLimited):
            # The panel dropped the request before acting on it; waiting out its window is enough.
            if error.retry_after <= self._max_retry_after:
                return error.retry_after
            return None
        if isinstance(error, PanelUnavailable):
            if error.reason in (UnavailableReason.TLS, UnavailableReason.NODE_DOWN):
                # A bad certificate stays bad; a down node already cost the panel its own
                # connect timeout, and the next poll asks again anyway.
                return None
            ceiling = min(self._backoff_max, self._backoff_base * 2.0**attempt)
            # Equal jitter: the wait still grows every attempt, yet many clients spread out.
            return ceiling / 2 + self._rng.uniform(0.0, ceiling / 2)
        return None

    def _log_failure(self, request: _Request, error: PanelError, attempts: int) -> None:
        # Debug only: every caller says what a failure means in its own words (the monitor once
        # per change of a server's condition, the power cog in the audit trail, doctor on
        # screen); a line per failed call here would repeat them at every poll.
        log.debug(
            "panel call failed: %s server=%s status=%s attempts=%d: %s",
            request.route,
            request.server_id or "-",
            error.status if error.status is not None else "-",
            attempts,
            error,
        )

    async def _attempt(self, request: _Request) -> _Answer | _Failure:
        """Send one HTTP request under the budget and the timeout."""
        await self.budget.acquire()
        session = self._ensure_session()
        url = self._base.with_path(self._base.path.rstrip("/") + request.path)
        if request.params:
            url = url.with_query(request.params)
        data = json.dumps(request.payload).encode() if request.payload is not None else None
        try:
            answer = await self._exchange(session, request.method, url, data)
        except aiohttp.ClientSSLError as exc:
            return self._failure(request, UnavailableReason.TLS, exc, maybe_received=False)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never established: the panel cannot have seen the request.
            return self._failure(request, UnavailableReason.CONNECTION, exc, maybe_received=False)
        except TimeoutError as exc:
            return self._failure(request, UnavailableReason.TIMEOUT, exc, maybe_received=True)
        except _ConnectionDropped as exc:
            return self._failure(
                request, UnavailableReason.CONNECTION, exc.cause, maybe_received=True
            )
        except (aiohttp.ClientError, OSError) as exc:
            return self._failure(request, UnavailableReason.CONNECTION, exc, maybe_received=True)
        self.stats.record(request.route, str(answer.status))
        self._observe_limits(answer)
        return answer

    async def _exchange(
        self, session: aiohttp.ClientSession, method: Method, url: URL, data: bytes | None
    ) -> _Answer:
        async with session.request(
            method,
            url,
            data=data,
            headers=self._headers,
            # A redirect is reported, not followed: following it would send the key elsewhere.
            allow_redirects=False,
            # Connecting has its own, shorter limit: a connect timeout proves the request never
            # left, so even a power signal may be retried after it.
            timeout=aiohttp.ClientTimeout(total=self._timeout, sock_connect=self._timeout / 2),
            # Every request that leaves is one attempt, under one token of the budget.
            middlewares=(_send_once,),
        ) as response:
            body = await response.read()
            return _Answer(response.status, response.headers, body, response.content_type)

    def _failure(
        self,
        request: _Request,
        reason: UnavailableReason,
        exc: BaseException,
        *,
        maybe_received: bool,
    ) -> _Failure:
        """Count and describe an attempt that got no answer."""
        self.stats.record(request.route, reason.value)
        # Only the exception's class and text: its attributes can hold the request's headers.
        text = str(exc)
        what = self._redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
        if reason is UnavailableReason.TLS:
            message = (
                f"TLS to the panel at {self.base_url} failed on {request.where} ({what}): check "
                "its certificate, and that the URL's scheme (https/http) is right."
            )
        elif reason is UnavailableReason.TIMEOUT:
            message = (
                f"The panel at {self.base_url} did not answer {request.where} within "
                f"{self._timeout:g} s."
            )
        else:
            message = f"Could not talk to the panel at {self.base_url} on {request.where} ({what})."
        error = PanelUnavailable(
            message, reason=reason, route=request.route, server_id=request.server_id
        )
        return _Failure(error, maybe_received)

    def _observe_limits(self, answer: _Answer) -> None:
        limit = _header_int(answer.headers, "X-RateLimit-Limit")
        remaining = _header_int(answer.headers, "X-RateLimit-Remaining")
        retry_after = self._retry_after(answer.headers) if answer.status == 429 else None
        if limit is not None or remaining is not None or retry_after is not None:
            self.budget.observe(limit, remaining, retry_after)

    def _retry_after(self, headers: Mapping[str, str]) -> float:
        """Return the seconds the panel asks us to wait after a 429."""
        value = headers.get("Retry-After", "").strip()
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - self._clock.time())
            except (TypeError, ValueError):
                pass
        reset = _header_int(headers, "X-RateLimit-Reset")
        if reset is not None:
            return max(0.0, reset - self._clock.time())
        return 1.0

    # --- answers into values and errors ---------------------------------------------------------

    def _parse(self, request: _Request, answer: _Answer, parser: _Parser[T]) -> T:
        """Decode the JSON body and parse it; log and raise PanelBadResponse naming the fault."""
        try:
            document = json.loads(answer.body)
        except ValueError:
            error = PanelBadResponse(
                f"The panel's answer to {request.where} is not JSON "
                f"({answer.content_type or 'no content type'}, {len(answer.body)} bytes): check "
                "that the panel URL points at the panel itself, not a login page or a proxy.",
                status=answer.status,
                route=request.route,
                server_id=request.server_id,
            )
        else:
            try:
                return self._parse_value(request, answer, parser, document, "")
            except PanelBadResponse as exc:
                error = exc
        self._log_failure(request, error, 1)
        raise error from None

    def _parse_value(
        self, request: _Request, answer: _Answer, parser: _Parser[T], document: object, path: str
    ) -> T:
        """Parse one value of an answer; raise (without logging) PanelBadResponse naming it."""
        try:
            return parser(document, path=path)
        except PanelBadResponse as exc:
            raise PanelBadResponse(
                f"The panel's answer to {request.where} is not what its API promises: "
                f"{self._redact(exc.message)}.",
                field=exc.field,
                status=answer.status,
                route=request.route,
                server_id=request.server_id,
            ) from None

    def _error_from_answer(self, request: _Request, answer: _Answer) -> PanelError:
        """Map a non-2xx answer to the typed error an operator can act on."""
        route, server_id, status = request.route, request.server_id, answer.status
        code, detail, source_field = _panel_error(answer.body)
        code = self._redact(code) if code is not None else None
        detail = self._redact(detail) if detail is not None else None
        context: ErrorContext = {
            "status": status,
            "code": code,
            "detail": detail,
            "route": route,
            "server_id": server_id,
        }
        said = f": {detail}" if detail else ""
        if 300 <= status < 400:
            location = self._redact(answer.headers.get("Location", "?"))
            return PanelError(
                f"The panel redirected {request.where} to {location} ({status}): set the panel "
                "URL to the address it redirects to (often https:// instead of http://).",
                **context,
            )
        if status == 401:
            return PanelAuthError(
                f"The panel rejected the API key (401{said}). Use a client API key (ptlc_...) "
                "from Account → API Credentials, copied whole and not revoked.",
                reason=AuthFailure.BAD_KEY,
                **context,
            )
        if status == 403:
            if self.key_kind == "application":
                return PanelAuthError(
                    _APPLICATION_KEY_MESSAGE, reason=AuthFailure.APPLICATION_KEY, **context
                )
            target = f"server {server_id}" if server_id else "the panel"
            return PanelAuthError(
                f"The panel refused {route} on {target} (403{said}): the key's user lacks the "
                "permission for it, or the key is limited to other IP addresses.",
                reason=AuthFailure.FORBIDDEN,
                **context,
            )
        if status == 404:
            if server_id:
                message = (
                    f"The panel has no server {server_id!r} (404): it was deleted, or the key's "
                    "user is neither its owner nor a subuser."
                )
            else:
                message = (
                    f"The panel has no {route} (404): check that the panel URL is the panel's "
                    "root address and that it runs Pterodactyl 1.x or Pelican."
                )
            return PanelNotFound(message, **context)
        if status == 409:
            return PanelConflict(
                f"Server {server_id or '?'} cannot do that right now (409{said}).",
                reason=conflict_reason(code, detail),
                **context,
            )
        if status == 429:
            retry_after = self._retry_after(answer.headers)
            return PanelRateLimited(
                f"The panel is rate limiting this key (429); retry in {retry_after:.0f} s. If this "
                "repeats, lower the requests per minute or poll less often.",
                retry_after=retry_after,
                **context,
            )
        if status in (400, 422):
            return PanelInvalidRequest(
                f"The panel rejected {request.where} as invalid ({status}{said}).",
                source_field=source_field,
                **context,
            )
        if status == 502 and route == ROUTE_COMMAND and code == "HttpException":
            # The panel turns Wings' 502 into this: the server is not running.
            return PanelConflict(
                f"Server {server_id} is not running, so it cannot take console commands "
                f"(502{said}).",
                reason=ConflictReason.OFFLINE,
                **context,
            )
        if status == 504 and code == "DaemonConnectionException":
            return PanelUnavailable(
                f"The panel cannot reach the node (Wings) hosting server {server_id or '?'} "
                f"(504{said}): the node is down or unreachable from the panel.",
                reason=UnavailableReason.NODE_DOWN,
                **context,
            )
        if status >= 500:
            return PanelUnavailable(
                f"The panel failed on {request.where} ({status}{said or ': no detail'}).",
                reason=UnavailableReason.SERVER_ERROR,
                **context,
            )
        return PanelError(f"The panel answered {request.where} with {status}{said}.", **context)

    def _redact(self, text: str) -> str:
        """Remove the key from text that came from elsewhere (the panel, aiohttp)."""
        return text.replace(self._key, "[redacted]")


def _for(server_id: str | None) -> str:
    return f" for server {server_id}" if server_id else ""


def _server_request(
    method: Method,
    route: str,
    server_id: str,
    suffix: str,
    payload: Mapping[str, str] | None = None,
    *,
    params: Mapping[str, str] | None = None,
) -> _Request:
    if not _SERVER_ID.fullmatch(server_id):
        raise ValueError(f"{server_id!r} is not a server identifier (8 characters) or UUID")
    path = f"/api/client/servers/{server_id}{suffix}"
    return _Request(method, route, path, server_id=server_id, params=params, payload=payload)


def _normalise_base_url(base_url: str) -> URL:
    url = URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"The panel URL {base_url!r} is not an http(s) address such as https://panel.example.com"
        )
    path = url.path.rstrip("/")
    # Operators often paste the API's address; the routes add that part themselves.
    for suffix in ("/api/client", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return url.with_path(path or "/").with_query(None).with_fragment(None)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


# The panel's 409 for a server it will not touch now is its `ServerStateConflictException`
# (app/Exceptions/Http/Server/, the same in Pterodactyl 1.x and Pelican). The error's `code` is
# the class name whatever the state, so only its detail names the state, one sentence per state,
# checked here in the panel's own order: "...currently suspended...", "The node of this server is
# currently under maintenance...", "...has not yet completed its installation process...",
# "...restoring from a backup...", "...being transferred to a new machine...".
STATE_CONFLICT_CODE = "ServerStateConflictException"
_STATE_CONFLICT_WORDS: tuple[tuple[str, ConflictReason], ...] = (
    ("suspend", ConflictReason.SUSPENDED),
    ("maintenance", ConflictReason.NODE_MAINTENANCE),
    ("install", ConflictReason.INSTALLING),
    ("backup", ConflictReason.RESTORING_BACKUP),
    ("transfer", ConflictReason.TRANSFERRING),
)


def conflict_reason(code: str | None, detail: str | None) -> ConflictReason:
    """Name the state behind a 409 from the panel's `errors[0]` code and detail."""
    # Another 409 (a locked backup, a file that exists...) is no server state, whatever its words.
    if code != STATE_CONFLICT_CODE:
        return ConflictReason.OTHER
    words = (detail or "").lower()
    for word, reason in _STATE_CONFLICT_WORDS:
        if word in words:
            return reason
    # "This server is currently in an unsupported state": the panel did not say which.
    return ConflictReason.OTHER


def _panel_error(body: bytes) -> tuple[str | None, str | None, str | None]:
    """Return (code, detail, source_field) from the panel's `{"errors": [...]}`, if present."""
    try:
        document = json.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(document, dict):
        return None, None, None
    errors = document.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, None, None
    first = errors[0]
    code, detail, meta = first.get("code"), first.get("detail"), first.get("meta")
    source_field = meta.get("source_field") if isinstance(meta, dict) else None
    return (
        code if isinstance(code, str) else None,
        detail if isinstance(detail, str) else None,
        source_field if isinstance(source_field, str) else None,
    )
