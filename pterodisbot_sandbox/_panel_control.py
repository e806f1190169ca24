"""The simulated panel's `/_sim/` control API: look at servers, crash them, act as panel users,
inject faults, count.

No key and no rate limit: it is for tests and the demo page, never for the bot. Errors are
`{"error": ...}` (`sim_error`), not the panel's envelope.
"""

from __future__ import annotations

import dataclasses
import logging

from aiohttp import web

from pterodisbot_sandbox._panel_faults import FAULT_KINDS, FIVE_XX_CYCLE
from pterodisbot_sandbox._panel_fleet import POWER_STATES, SERVER_STATUSES, SimServer
from pterodisbot_sandbox._panel_games import GameHub
from pterodisbot_sandbox._panel_http import is_number, sim_body, sim_error
from pterodisbot_sandbox._panel_state import PanelState, PowerRefused
from pterodisbot_sandbox._panel_wings import WingsHub

log = logging.getLogger(__name__)


class ControlApi:
    """The `/_sim/` routes, over the same state as the client API."""

    def __init__(self, state: PanelState, wings: WingsHub, games: GameHub) -> None:
        self._state = state
        self._wings = wings
        self._games = games

    def routes(self) -> list[web.RouteDef]:
        """Return the control API's routes."""
        return [
            web.get("/_sim/servers", self._servers),
            web.get("/_sim/servers/{server}", self._server),
            web.post("/_sim/servers/{server}/crash", self._crash),
            web.post("/_sim/servers/{server}/crashloop", self._crashloop),
            web.post("/_sim/servers/{server}/state", self._set_state),
            web.post("/_sim/servers/{server}/power", self._power_as),
            web.get("/_sim/servers/{server}/activity", self._activity),
            web.get("/_sim/servers/{server}/game", self._game),
            web.post("/_sim/servers/{server}/game", self._set_game),
            web.post("/_sim/servers/{server}/activity", self._add_activity),
            web.get("/_sim/nodes", self._nodes),
            web.post("/_sim/nodes/{node}/state", self._set_node_state),
            web.post("/_sim/nodes/{node}/restart-wings", self._restart_wings),
            web.get("/_sim/faults", self._faults),
            web.post("/_sim/faults", self._add_fault),
            web.delete("/_sim/faults", self._clear_faults),
            web.get("/_sim/stats", self._stats),
            web.delete("/_sim/stats", self._reset_stats),
        ]

    def _server_or_404(self, request: web.Request) -> SimServer:
        server = self._state.find(request.match_info["server"])
        if server is None:
            raise sim_error(404, f"no server {request.match_info['server']!r}")
        return server

    async def _servers(self, request: web.Request) -> web.Response:
        return web.json_response({"servers": [s.sim_view() for s in self._state.servers.values()]})

    async def _server(self, request: web.Request) -> web.Response:
        return web.json_response(self._server_or_404(request).sim_view())

    async def _crash(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        crashed = server.crash()
        self._wings.notify(server)
        if crashed:
            log.info("server %s (%s) crashed on request", server.identifier, server.name)
        return web.json_response({"crashed": crashed, **server.sim_view()})

    async def _crashloop(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        body = await sim_body(request)
        seconds = body.get("seconds", 60)
        auto_restart = body.get("auto_restart", True)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise sim_error(422, "seconds must be a number >= 0")
        if not isinstance(auto_restart, bool):
            raise sim_error(422, "auto_restart must be true or false")
        server.crashloop(float(seconds), auto_restart=auto_restart)
        self._wings.notify(server)
        log.info("server %s (%s) crash-loops for %s s", server.identifier, server.name, seconds)
        return web.json_response({"crashloop_seconds": seconds, **server.sim_view()})

    async def _set_state(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
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
        if "cpu_load" in body:
            # A test forcing an overload (or its end): the share of the CPU limit it averages.
            load = body["cpu_load"]
            if not is_number(load) or load < 0:
                raise sim_error(422, "cpu_load must be a number >= 0 (a share of the CPU limit)")
            server.spec = dataclasses.replace(server.spec, cpu_load=float(load))
        if "power" in body:
            state = next((s for s in POWER_STATES if s == body["power"]), None)
            if state is None:
                raise sim_error(422, "power must be offline, starting, running or stopping")
            server.set_power_state(state)
        # A suspension or a node going down cuts the server's Wings sockets at once.
        self._wings.sync(server)
        self._wings.notify(server)
        return web.json_response(server.sim_view())

    async def _power_as(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        body = await sim_body(request)
        signal, user = body.get("signal"), body.get("user")
        if not isinstance(signal, str) or not isinstance(user, str):
            raise sim_error(422, "signal and user must be strings")
        try:
            entry = self._state.power_as(server, signal, user)
            self._wings.notify(server)
        except PowerRefused as error:
            raise sim_error(409, str(error)) from None
        except ValueError as error:
            raise sim_error(422, str(error)) from None
        log.info(
            "server %s (%s): %s by panel user %s", server.identifier, server.name, signal, user
        )
        return web.json_response({"activity": entry.sim_view(), **server.sim_view()})

    async def _activity(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        entries = self._state.activity.entries(server.identifier)
        return web.json_response({"activity": [e.sim_view() for e in entries]})

    async def _add_activity(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        body = await sim_body(request)
        event, user = body.get("event"), body.get("user")
        is_api, properties = body.get("is_api", False), body.get("properties", {})
        at = body.get("t")
        if not isinstance(event, str) or not event:
            raise sim_error(422, "event must be a non-empty string, e.g. server:power.stop")
        if user is not None and not isinstance(user, str):
            raise sim_error(422, "user must be a panel user's name or null (the system)")
        if not isinstance(is_api, bool):
            raise sim_error(422, "is_api must be true or false")
        if not isinstance(properties, dict):
            raise sim_error(422, "properties must be an object")
        if at is not None and not is_number(at):
            raise sim_error(422, "t must be wall-clock seconds (absent: now)")
        entry = self._state.activity.record(
            server.identifier,
            event,
            t=self._state.clock.time() if at is None else float(at),
            actor=user,
            is_api=is_api,
            properties=properties,
        )
        return web.json_response({"activity": entry.sim_view()}, status=201)

    async def _game(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        listing = self._games.listing(server)
        if listing is None:
            raise sim_error(404, f"{server.identifier} has no simulated game listening")
        return web.json_response(listing.to_json())

    async def _set_game(self, request: web.Request) -> web.Response:
        server = self._server_or_404(request)
        body = await sim_body(request)
        if self._games.listing(server) is None:
            raise sim_error(404, f"{server.identifier} has no simulated game listening")
        try:
            self._games.set_mode(server, str(body.get("mode")))
        except ValueError as error:
            raise sim_error(422, str(error)) from None
        listing = self._games.listing(server)
        assert listing is not None
        return web.json_response(listing.to_json())

    async def _faults(self, request: web.Request) -> web.Response:
        now = self._state.clock.monotonic()
        return web.json_response({"faults": [f.to_json(now) for f in self._state.faults()]})

    async def _add_fault(self, request: web.Request) -> web.Response:
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
        unknown = [s for s in servers or () if self._state.find(s) is None]
        if unknown:
            raise sim_error(404, f"no such servers: {unknown}")
        fault = self._state.add_fault(
            kind,
            None if seconds is None else float(seconds),
            servers,
            status=status,
            delay=None if delay is None else float(delay),
        )
        return web.json_response(fault.to_json(self._state.clock.monotonic()), status=201)

    async def _clear_faults(self, request: web.Request) -> web.Response:
        self._state.clear_faults()
        return web.Response(status=204)

    async def _stats(self, request: web.Request) -> web.Response:
        stats = {**self._state.stats(), "wings": self._wings.stats()}
        if self._state.options.games:
            stats["games"] = self._games.stats()
        return web.json_response(stats)

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self._state.reset_stats()
        self._wings.reset_stats()
        self._games.reset_stats()
        return web.Response(status=204)

    # ----------------------------------------------------------------- nodes (Wings)

    def node_name(self, ref: str) -> str:
        """Return the name of the node called (or with the fqdn) `ref`; raise KeyError if none."""
        for server in self._state.servers.values():
            if ref in (server.node.name, server.node.fqdn):
                return server.node.name
        raise KeyError(ref)

    def set_node_down(self, ref: str, down: bool) -> int:
        """Mark every server on the node down (or up), cut their sockets; return how many."""
        name = self.node_name(ref)
        servers = [s for s in self._state.servers.values() if s.node.name == name]
        for server in servers:
            server.node_down = down
            self._wings.sync(server)
        log.info("node %s is %s (%d servers)", name, "down" if down else "up", len(servers))
        return len(servers)

    def _node_or_404(self, request: web.Request) -> str:
        try:
            return self.node_name(request.match_info["node"])
        except KeyError:
            raise sim_error(404, f"no node {request.match_info['node']!r}") from None

    async def _nodes(self, request: web.Request) -> web.Response:
        by_node: dict[str, list[SimServer]] = {}
        for server in self._state.servers.values():
            by_node.setdefault(server.node.name, []).append(server)
        wings = self._wings
        nodes = [
            {
                "name": name,
                "fqdn": servers[0].node.fqdn,
                "servers": len(servers),
                "servers_down": sum(s.node_down for s in servers),
                "sockets_open": sum(wings.open_sockets(s) for s in servers),
                "sockets_authenticated": sum(wings.authenticated_sockets(s) for s in servers),
                "wings_booted_at": wings.boot_time(servers[0].node),
            }
            for name, servers in by_node.items()
        ]
        return web.json_response({"nodes": nodes})

    async def _set_node_state(self, request: web.Request) -> web.Response:
        name = self._node_or_404(request)
        body = await sim_body(request)
        down = body.get("down")
        if not isinstance(down, bool):
            raise sim_error(422, "down must be true or false")
        count = self.set_node_down(name, down)
        return web.json_response({"node": name, "down": down, "servers": count})

    async def _restart_wings(self, request: web.Request) -> web.Response:
        name = self._node_or_404(request)
        cut = self._wings.restart_wings(name)
        return web.json_response(
            {"node": name, "sockets_cut": cut, "wings_booted_at": self._wings.boot_time_of(name)}
        )
