"""The simulated panel's client API (`/api/client/...`): faults, key check, rate limit, routes.

A request goes through `middleware` first: counted, delayed by `latency_ms`, then either answered
by an active fault (a broken proxy in front of the panel) or by the panel itself — key check,
rate limit, then the route's handler. Errors are rendered as the panel renders them: JSON for an
API client, a login redirect or an HTML page for a browser.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType

from aiohttp import web

from pterodisbot_sandbox._panel_activity import (
    ACTIVITY_PER_PAGE_DEFAULT,
    ACTIVITY_PER_PAGE_MAX,
    API_USER,
    API_USER_EMAIL,
)
from pterodisbot_sandbox._panel_faults import FIVE_XX_CYCLE, SimFault
from pterodisbot_sandbox._panel_fleet import POWER_SIGNALS, SimServer
from pterodisbot_sandbox._panel_http import (
    JSON,
    REASONS,
    ApiError,
    garbage,
    html_page,
    int_param,
    origin,
    read_body,
    reject_malformed_json,
    route_error,
    validation_error,
    wants_json,
)
from pterodisbot_sandbox._panel_state import PanelState
from pterodisbot_sandbox._panel_wings import WingsHub

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT_API = "/api/client"
_PER_PAGE_DEFAULT = 50
_PER_PAGE_MAX = 100
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


class ClientApi:
    """The panel's client API routes, the middleware in front of them and the login page."""

    def __init__(
        self, state: PanelState, key_labels: Sequence[tuple[str, str]], wings: WingsHub
    ) -> None:
        self._state = state
        self._wings = wings
        # Keys map to labels so nothing else (limiter, logs) ever holds a key.
        self._key_labels = list(key_labels)

    def routes(self) -> list[web.RouteDef]:
        """Return the client API routes and the login page a browser is redirected to."""
        servers = CLIENT_API + "/servers/{server}"
        return [
            web.get(CLIENT_API, self._list_servers),
            web.get(CLIENT_API + "/account", self._account),
            web.get(servers, self._get_server),
            web.get(servers + "/resources", self._resources),
            web.post(servers + "/power", self._power_signal),
            web.post(servers + "/command", self._command),
            web.get(servers + "/websocket", self._websocket),
            web.get(servers + "/activity", self._activity),
            web.get("/auth/login", self._login_page),
        ]

    # ----------------------------------------------------------------- in front of the routes

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count a client API request, then answer it with a fault or as the panel does."""
        path = request.path
        if not (path == CLIENT_API or path.startswith(CLIENT_API + "/")):
            return await handler(request)
        state = self._state
        route = request.match_info.route.resource
        pattern = route.canonical if route is not None else "<unmatched>"
        state.count_request(f"{request.method} {pattern}")
        if state.options.latency_ms > 0:
            await state.hold(state.options.latency_ms / 1000)

        server_ref = request.match_info.get("server")
        target = state.find(server_ref) if server_ref is not None else None
        is_power = request.method == "POST" and pattern.endswith("/power")
        fault = state.fault_for(
            target.identifier if target is not None else None, daemon=False, power=is_power
        )
        if fault is None:
            return await self._answer(request, handler, pattern)
        state.faulted += 1
        if fault.kind in ("slow", "slow_power"):
            # Read the body first, as the panel does before it waits on Wings: a client that
            # gives up meanwhile does not stop the signal from being applied.
            await request.read()
            delay = fault.delay if fault.delay is not None else state.options.slow_seconds
            await state.hold(delay)
            return await self._answer(request, handler, pattern)
        if fault.kind == "timeout":
            # The panel does the work (a power signal is applied) but the answer never comes
            # back in time: exactly the case where a client must not send the POST again.
            await self._answer(request, handler, pattern)
        return await self._serve_fault(request, fault)

    async def _answer(
        self, request: web.Request, handler: Handler, pattern: str
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
            decision = self._state.limiter.hit(label)
            rate_headers = decision.headers()
            if not decision.allowed:
                self._state.rate_limited += 1
                if decision.first_refusal:
                    log.warning(
                        "rate limit of %d/min reached for key %s on %s; refusing for %d s",
                        self._state.options.rate_limit,
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

    async def _serve_fault(self, request: web.Request, fault: SimFault) -> web.StreamResponse:
        hits = self._state.fault_hits
        hit = hits[fault.id]
        hits[fault.id] += 1
        log.debug("fault %s #%d answers %s %s", fault.kind, fault.id, request.method, request.path)
        if fault.kind == "down":
            # The panel answers nothing: reset the connection before a byte is written. aiohttp
            # treats CancelledError from a handler as a vanished client and logs nothing.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        if fault.kind == "timeout":
            await self._state.hold(self._state.options.timeout_hold_seconds)
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

    # ----------------------------------------------------------------- routes

    async def _list_servers(self, request: web.Request) -> web.Response:
        per_page = int_param(request.query.get("per_page"), _PER_PAGE_DEFAULT)
        per_page = min(max(per_page, 1), _PER_PAGE_MAX)
        page = max(1, int_param(request.query.get("page"), 1))
        servers = list(self._state.servers.values())
        total = len(servers)
        chunk = servers[(page - 1) * per_page : page * per_page]
        egg = _includes_egg(request)
        data = [{"object": "server", "attributes": s.attributes(include_egg=egg)} for s in chunk]
        return web.json_response(
            _list_envelope(request, data, total=total, per_page=per_page, page=page)
        )

    async def _account(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "user",
                "attributes": {
                    "id": 1,
                    "admin": False,
                    "username": API_USER,
                    "email": API_USER_EMAIL,
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
                "attributes": server.attributes(include_egg=_includes_egg(request)),
                "meta": {
                    "is_server_owner": server.spec.server_owner,
                    "user_permissions": permissions,
                },
            }
        )

    async def _resources(self, request: web.Request) -> web.Response:
        server = self._server_for(request)
        state = self._state
        now = state.clock.monotonic()
        cached = state.resources_cache.get(server.identifier)
        if cached is not None and now - cached[0] < state.options.resources_cache_seconds:
            return web.json_response(cached[1])
        self._reach_daemon(server)
        body = {"object": "stats", "attributes": server.stats()}
        state.resources_cache[server.identifier] = (now, body)
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
        self._state.count_power(server.identifier, signal_value)
        self._wings.notify(server)
        # Logged once Wings took the signal, as the panel's PowerController does.
        self._state.activity.record(
            server.identifier,
            f"server:power.{signal_value}",
            t=self._state.clock.time(),
            actor=API_USER,
            is_api=True,
            ip=request.remote,
        )
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
                    "token": self._wings.issue_token(request, server),
                    "socket": self._wings.socket_url(request, server),
                }
            }
        )

    async def _activity(self, request: web.Request) -> web.Response:
        server = self._server_for(request)
        if not server.has_permission("activity.read"):
            raise ApiError(403, "AccessDeniedHttpException", "This action is unauthorized.")
        query = request.query
        filters = [key for key in query if key.startswith("filter[")]
        unknown = [key[len("filter[") : -1] for key in filters if key != "filter[event]"]
        if unknown:
            raise ApiError(
                400,
                "InvalidFilterQuery",
                f"Requested filter(s) `{', '.join(unknown)}` are not allowed. "
                "Allowed filter(s) are `event`.",
            )
        sort = query.get("sort", "-timestamp")
        if sort not in ("timestamp", "-timestamp"):
            raise ApiError(
                400,
                "InvalidSortQuery",
                f"Requested sort(s) `{sort}` is not allowed. Allowed sort(s) are `timestamp`.",
            )
        per_page = int_param(query.get("per_page"), ACTIVITY_PER_PAGE_DEFAULT)
        per_page = min(max(per_page, 1), ACTIVITY_PER_PAGE_MAX)
        page = max(1, int_param(query.get("page"), 1))
        includes = {part.strip() for part in query.get("include", "").split(",")}
        entries = self._state.activity.query(
            server.identifier, event=query.get("filter[event]"), newest_first=sort.startswith("-")
        )
        chunk = entries[(page - 1) * per_page : page * per_page]
        body = _list_envelope(
            request,
            [e.to_api(include_actor="actor" in includes) for e in chunk],
            total=len(entries),
            per_page=per_page,
            page=page,
        )
        return web.json_response(body)

    def _server_for(self, request: web.Request, *, check_state: bool = True) -> SimServer:
        server = self._state.find(request.match_info["server"])
        if server is None:
            raise ApiError(404, "NotFoundHttpException", _NOT_FOUND)
        if check_state:
            conflict = server.conflict()
            if conflict is not None:
                raise ApiError(409, "ServerStateConflictException", conflict)
        return server

    def _reach_daemon(self, server: SimServer) -> None:
        if server.node_down or self._state.fault_for(server.identifier, daemon=True) is not None:
            request_id = next(self._state.request_ids)
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


def _includes_egg(request: web.Request) -> bool:
    """Tell whether `?include=` asks for the egg (ServerTransformer's available include)."""
    return "egg" in {part.strip() for part in request.query.get("include", "").split(",")}


def _list_envelope(
    request: web.Request, data: list[JSON], *, total: int, per_page: int, page: int
) -> JSON:
    """Return Fractal's list envelope with pagination links to the existing neighbour pages."""
    total_pages = max(1, math.ceil(total / per_page))
    links: JSON = {}
    base = request.url.with_scheme(request.scheme)
    if page > 1:
        links["previous"] = str(base.update_query(page=page - 1))
    if page < total_pages:
        links["next"] = str(base.update_query(page=page + 1))
    return {
        "object": "list",
        "data": data,
        "meta": {
            "pagination": {
                "total": total,
                "count": len(data),
                "per_page": per_page,
                "current_page": page,
                "total_pages": total_pages,
                "links": links,
            }
        },
    }
