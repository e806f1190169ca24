"""Build the bot and everything behind it from settings, and run it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

import discord

from pterodisbot import __version__
from pterodisbot.bot import discord_api
from pterodisbot.bot.bot import PterodactylBot
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.locations import EmbedLocations
from pterodisbot.bot.policy import Thresholds
from pterodisbot.bot.services import BotServices
from pterodisbot.bot.status_board import StatusBoard
from pterodisbot.clock import Clock, SystemClock
from pterodisbot.config import Settings
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.server_metrics_graphs import ServerMetricsManager

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "pterodisbot.bot.cogs.about",
    "pterodisbot.bot.cogs.status",
)


def build_bot(
    settings: Settings,
    *,
    clock: Clock | None = None,
    extensions: Sequence[str] = EXTENSIONS,
) -> PterodactylBot:
    """Wire the panel client, monitor, histories, renderer, locations and pump into a bot."""
    clock = clock or SystemClock()
    panel = settings.pterodactyl
    monitoring = settings.monitoring
    api = PterodactylAPI(
        panel.url,
        panel.api_key.reveal(),
        requests_per_minute=panel.requests_per_minute,
        timeout=panel.timeout,
        max_retries=panel.max_retries,
        clock=clock,
    )
    metrics = ServerMetricsManager(capacity=monitoring.history_size)
    monitor = Monitor(
        api,
        metrics,
        poll_interval=monitoring.poll_interval,
        server_list_refresh=monitoring.server_list_refresh,
        server_filter=monitoring.servers,
        clock=clock,
    )
    renderer = GraphRenderer()
    locations = EmbedLocations(settings.discord.locations_file, clock=clock)
    pump = EditPump(interval=settings.discord.edit_interval, clock=clock)
    bot = PterodactylBot(
        guild_ids=settings.discord.guild_ids,
        sync_commands=settings.discord.sync_commands,
        extensions=extensions,
        clock=clock,
    )
    board = StatusBoard(
        client=bot,
        monitor=monitor,
        metrics=metrics,
        renderer=renderer,
        locations=locations,
        pump=pump,
        thresholds=Thresholds.from_settings(monitoring),
        graph_window=monitoring.graph_window,
        show_address=not settings.permissions.hide_address,
        clock=clock,
    )
    bot.services = BotServices(
        settings=settings,
        api=api,
        metrics=metrics,
        monitor=monitor,
        renderer=renderer,
        locations=locations,
        pump=pump,
        board=board,
        clock=clock,
    )
    return bot


async def run(settings: Settings) -> int:
    """Run the bot until SIGINT/SIGTERM; return the process exit code."""
    discord_api.use_api_base(settings.discord.api_base)
    bot = build_bot(settings)
    log.info(
        "Pterodisbot %s starting: panel %s, poll every %g s, guilds %s",
        __version__,
        settings.pterodactyl.host,
        settings.monitoring.poll_interval,
        ", ".join(map(str, settings.discord.guild_ids)) or "all",
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    runner = asyncio.create_task(bot.start(settings.discord.token.reveal()))
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            runner.result()
    except discord.LoginFailure:
        log.error("Discord refused the bot token: check DISCORD_TOKEN")
        return 2
    finally:
        stopper.cancel()
        await bot.close()
        if not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
    log.info("Pterodisbot stopped")
    return 0
