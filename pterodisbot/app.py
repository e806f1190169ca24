"""Build the bot and everything behind it from settings, and run it until told to stop."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiohttp
import discord

from pterodisbot import lifecycle
from pterodisbot.alerts import AlertEngine, state_storage
from pterodisbot.bot.alerting import AlertService
from pterodisbot.bot.audit import AUDIT_FILENAME, AuditFile, AuditLog
from pterodisbot.bot.bot import PterodactylBot
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.fleet_service import FILENAME as FLEET_FILENAME
from pterodisbot.bot.fleet_service import FleetBoardFile, FleetBoards
from pterodisbot.bot.locations import EmbedLocations
from pterodisbot.bot.policy import Thresholds
from pterodisbot.bot.services import BotServices
from pterodisbot.bot.status_board import StatusBoard
from pterodisbot.bot.views import StatusViews
from pterodisbot.clock import Clock, SystemClock
from pterodisbot.config import HistorySettings, Settings
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.wings import WingsStreams
from pterodisbot.query import NoQueries, PlayerService
from pterodisbot.query.service import PlayerQueries
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot.store import History, HistoryRecorder, NoHistory, open_store
from pterodisbot.web.discord_traffic import DiscordTraffic

log = logging.getLogger(__name__)

# The alerts' state (open incidents, their messages, mutes) when there is no history store.
ALERTS_FILENAME = "alerts.json"

EXTENSIONS: tuple[str, ...] = (
    "pterodisbot.bot.cogs.about",
    "pterodisbot.bot.cogs.status",
    "pterodisbot.bot.cogs.admin",
    "pterodisbot.bot.cogs.power",
    "pterodisbot.bot.cogs.history",
    "pterodisbot.bot.cogs.alerts",
    "pterodisbot.bot.cogs.fleet",
)


def build_bot(
    settings: Settings,
    *,
    clock: Clock | None = None,
    extensions: Sequence[str] = EXTENSIONS,
    guild_ready_timeout: float = 2.0,
) -> PterodactylBot:
    """Build the bot with its services: panel client, monitor, histories, renderer, board...

    `guild_ready_timeout` is discord.py's wait for more guilds after READY before `on_ready`;
    the sandboxes send every guild at once, so the demo and tests shorten it.
    """
    clock = clock or SystemClock()
    return PterodactylBot(
        lambda client: build_services(settings, client, clock),
        guild_ids=settings.discord.guild_ids,
        sync_commands=settings.discord.sync_commands,
        extensions=extensions,
        clock=clock,
        guild_ready_timeout=guild_ready_timeout,
        # Counts Discord's answers (429s included) for /metrics; discord.py hides those.
        http_trace=DiscordTraffic(),
    )


def build_services(
    settings: Settings,
    client: discord.Client,
    clock: Clock,
    *,
    panel_session: aiohttp.ClientSession | None = None,
) -> BotServices:
    """Wire the panel client, monitor, rings, history, renderer, locations, pump behind `client`.

    `panel_session` is for the benchmarks, which trace the panel's requests; the caller closes it.
    """
    monitoring = settings.monitoring
    api = PterodactylAPI.from_settings(settings.pterodactyl, clock=clock, session=panel_session)
    metrics = ServerMetricsManager(capacity=monitoring.history_size)
    # Wings' websocket first (source auto/websocket); the monitor closes it on stop.
    stream = (
        WingsStreams(
            api,
            settings.pterodactyl.url,
            polls_fallback=monitoring.source == "auto",
            clock=clock,
        )
        if monitoring.streams
        else None
    )
    # The games' own answers (players online): asked beside the monitor, read by it.
    queries = PlayerQueries(settings.query, clock=clock) if settings.query.enabled else None
    players: PlayerService = queries or NoQueries()
    monitor = Monitor(
        api,
        metrics,
        poll_interval=monitoring.poll_interval,
        server_list_refresh=monitoring.server_list_refresh,
        server_filter=monitoring.servers,
        smoothing=monitoring.smoothing,
        clock=clock,
        stream=stream,
        players=players,
    )
    history = build_history(settings.history, monitor, clock)
    # Registered first: a sample is queued for the store before anything renders it.
    monitor.add_listener(history.observe)
    if queries is not None:
        # Which servers run, and which are gone: only running servers' games are asked.
        monitor.add_listener(queries.observe)
        monitor.add_removal_listener(queries.forget)
    renderer = GraphRenderer()
    locations = EmbedLocations(settings.discord.locations_file, clock=clock)
    pump = EditPump(interval=settings.discord.edit_interval, clock=clock)
    # Buttons on every status embed; the factory also notices starts/stops that hang (Kill).
    views = StatusViews(history=history.enabled)
    monitor.add_listener(views.observe)
    monitor.add_removal_listener(views.forget)
    # A server gone from the panel: its cached graph images go with its history.
    monitor.add_removal_listener(renderer.discard)
    board = StatusBoard(
        client=client,
        monitor=monitor,
        metrics=metrics,
        renderer=renderer,
        locations=locations,
        pump=pump,
        thresholds=Thresholds.from_settings(monitoring),
        graph_window=monitoring.graph_window,
        show_address=not settings.permissions.hide_address,
        clock=clock,
        view_factory=views,
    )
    # Fleet boards: where they are is kept beside the embed locations.
    fleet = FleetBoards(
        client=client,
        monitor=monitor,
        pump=pump,
        file=FleetBoardFile(settings.discord.locations_file.with_name(FLEET_FILENAME), clock=clock),
        clock=clock,
    )
    # Power actions' audit trail: beside the embed locations file, bounded in size.
    audit = AuditLog(
        AuditFile(settings.discord.locations_file.with_name(AUDIT_FILENAME)),
        client=client,
        channel_id=settings.discord.audit_channel_id,
        clock=clock,
    )
    services = BotServices(
        settings=settings,
        api=api,
        metrics=metrics,
        monitor=monitor,
        renderer=renderer,
        locations=locations,
        pump=pump,
        board=board,
        fleet=fleet,
        clock=clock,
        audit=audit,
        history=history,
        players=players,
    )
    if settings.alerts.channel_id is not None:
        services.alerts = build_alerts(services, client, settings.alerts.channel_id)
    return services


def build_alerts(services: BotServices, client: discord.Client, channel_id: int) -> AlertService:
    """Wire the alerts: the rules engine on the monitor's snapshots, delivery to `channel_id`.

    The engine reads `services.settings.alerts` at every evaluation, so /reload_config applies
    at once; the state goes to the history store when there is one, else beside the locations.
    """
    monitor = services.monitor
    engine = AlertEngine(
        lambda: services.settings.alerts,
        clock=services.clock,
        expected_cycle=lambda: monitor.expected_cycle,
    )
    alerts = AlertService(
        engine=engine,
        storage=state_storage(
            services.history,
            services.settings.discord.locations_file.parent / ALERTS_FILENAME,
            clock=services.clock,
        ),
        client=client,
        api=services.api,
        pump=services.pump,
        settings=lambda: services.settings.alerts,
        channel_id=channel_id,
        clock=services.clock,
        activity_timeout=services.settings.pterodactyl.timeout + 2,
    )
    monitor.add_listener(alerts.observe)
    monitor.add_removal_listener(alerts.forget)
    return alerts


def build_history(settings: HistorySettings, monitor: Monitor, clock: Clock) -> History:
    """Return the recorder of the store `[history] url` names, or `NoHistory` when it is none.

    Nothing is opened here: `PterodactylBot.setup_hook` starts it (`History.start`).
    """
    store = open_store(settings.url)
    if store is None:
        return NoHistory()
    return HistoryRecorder(
        store,
        flush_interval=settings.flush_interval,
        buffer_limit=settings.buffer_limit,
        # Read at each sample: the pace the request budget allows changes with the fleet.
        expected_cycle=lambda: monitor.expected_cycle,
        clock=clock,
    )


async def run(settings: Settings) -> int:
    """Run the bot until SIGINT/SIGTERM; return the process exit code (see `lifecycle`)."""
    return await lifecycle.run(settings, build_bot)
