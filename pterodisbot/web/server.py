"""The HTTP endpoint: `/healthz`, `/metrics`, `/api/servers` (and a server's history), one site."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from pterodisbot.bot.history_window import DEFAULT_WINDOW, read_window
from pterodisbot.store import WINDOWS, HistoryOff, StoreError
from pterodisbot.web.discord_traffic import DiscordTraffic
from pterodisbot.web.gateway import GatewayWatch
from pterodisbot.web.health import EmbedsHealth, HealthReport, assess
from pterodisbot.web.history_json import bad_window_json, error_json, history_json
from pterodisbot.web.loop_lag import LoopLagProbe
from pterodisbot.web.metrics import BotCollector
from pterodisbot.web.snapshot import servers_json

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)


class WebServer:
    """Serve health, metrics and a JSON snapshot of the bot; `start()` binds, `stop()` closes.

    Build it before `bot.start()` so it sees the first READY (it also works on a running bot).
    It owns the event loop's lag probe (`loop_lag`): started with the site, cancelled by `stop()`.
    """

    def __init__(self, bot: PterodactylBot, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._bot = bot
        self._services: BotServices = bot.services
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._url = ""
        self.gateway = GatewayWatch(bot, clock=self._services.clock)
        trace = bot.http.http_trace
        self.traffic = trace if isinstance(trace, DiscordTraffic) else None
        self.loop_lag = LoopLagProbe()
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = BotCollector(
            self._services, self.gateway, self.traffic, self.registry, loop_lag=self.loop_lag
        )

    @property
    def url(self) -> str:
        """Return `http://host:port` once started, else an empty string."""
        return self._url

    def build_app(self) -> web.Application:
        """Return the aiohttp application with its routes."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/api/servers", self._servers)
        app.router.add_get("/api/servers/{identifier}/history", self._history)
        return app

    async def start(self) -> str:
        """Bind and serve; return the URL. Raises OSError if the port is taken."""
        runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.loop_lag.start()
        addresses = runner.addresses
        port = int(addresses[0][1]) if addresses else self._port
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._url = f"http://{host}:{port}"
        log.info(
            "health and metrics on %s (/healthz, /metrics, /api/servers, .../history)", self._url
        )
        return self._url

    async def stop(self) -> None:
        """Stop serving and measuring the loop (idempotent)."""
        await self.loop_lag.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def health(self) -> HealthReport:
        """Judge the bot's health now."""
        monitor = self._services.monitor
        now = self._services.clock.time()
        failure = self._services.locations.save_failure
        embeds = EmbedsHealth(
            blocked=len(self._services.board.blocked),
            save_failing_for=None if failure is None else max(0.0, now - failure.since),
            save_error=None if failure is None else failure.error,
        )
        return assess(
            gateway=self.gateway.state(),
            monitor=monitor.liveness(),
            last_poll_completed=monitor.last_cycle_completed,
            poll_interval=monitor.poll_interval,
            panel_reachable=monitor.panel_reachable,
            servers=len(monitor.servers),
            now=now,
            embeds=embeds,
        )

    async def _healthz(self, request: web.Request) -> web.Response:
        report = self.health()
        return web.json_response(report.to_json(), status=200 if report.healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        # Reading the services must happen on the loop (they change there): `read()` keeps that
        # to counters and references. Building the per-server series and the text grows with
        # the fleet (150 ms at 2,000 servers), so it goes to a thread.
        scrape = self.collector.read()
        body = await asyncio.to_thread(scrape.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _servers(self, request: web.Request) -> web.Response:
        services = self._services
        body = servers_json(
            services.monitor.snapshots.values(),
            show_address=not services.settings.permissions.hide_address,
            show_names=services.settings.query.show_names,
            now=services.clock.time(),
        )
        return web.json_response(body)

    async def _history(self, request: web.Request) -> web.Response:
        services = self._services
        name = request.query.get("window", DEFAULT_WINDOW)
        window = WINDOWS.get(name)
        if window is None:
            return web.json_response(bad_window_json(name), status=400)
        identifier = request.match_info["identifier"]
        server = services.monitor.servers.get(identifier.lower())
        if server is None:
            body = error_json(
                "unknown_server", "no watched server has this identifier", server=identifier[:64]
            )
            return web.json_response(body, status=404)
        try:
            read = await read_window(
                services.history, server.identifier, window, services.clock.time()
            )
        except HistoryOff:
            # Off by configuration, not for a while: there is no history resource to serve.
            body = error_json("history_off", "history is off on this bot ([history] url = none)")
            return web.json_response(body, status=404)
        except StoreError as exc:
            log.warning(
                "server %s: reading its %s history for HTTP failed (%s): %s",
                server.identifier,
                window.name,
                exc.reason,
                exc,
            )
            body = error_json(
                "store_unavailable",
                "the history store cannot be read right now; the bot's log says why",
                reason=str(exc.reason),
            )
            return web.json_response(body, status=503)
        return web.json_response(history_json(server.identifier, read))
