"""The bot's life as a process: start lines, signals, reload on SIGHUP, a bounded shutdown.

SIGINT/SIGTERM: refuse new power clicks and finish (or answer "unknown") those under way, stop
polling, flush embed locations, close the panel session and the gateway, all within
`SHUTDOWN_GRACE` seconds (Docker sends SIGKILL 10 s after SIGTERM). A second signal
exits at once. SIGHUP re-reads config.ini (see `pterodisbot.reload`). A refused token or an
unusable embed locations file is one line in the log and exit code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import discord

from pterodisbot import __version__
from pterodisbot.bot import discord_api
from pterodisbot.bot.locations import EmbedLocationsError
from pterodisbot.config import Settings
from pterodisbot.reload import reload_config

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.web import WebServer

log = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2
# Seconds the whole shutdown may take; Docker's default stop timeout is 10 s. The bot's close()
# gives power clicks in flight `bot.IN_FLIGHT_GRACE` (5 s) of it; the rest closes the sessions.
SHUTDOWN_GRACE: Final = 8.0

BotFactory = Callable[[Settings], "PterodactylBot"]


class ShutdownSignals:
    """First SIGINT/SIGTERM asks for a clean stop; a second one exits now; SIGHUP reloads."""

    def __init__(
        self,
        stop: asyncio.Event,
        *,
        on_reload: Callable[[], object] | None = None,
        force_exit: Callable[[int], object] = os._exit,
    ) -> None:
        self._stop = stop
        self._on_reload = on_reload
        self._force_exit = force_exit
        self._installed: list[int] = []
        self.received: list[int] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Route SIGINT, SIGTERM (and SIGHUP where it exists) to this object."""
        wanted = [signal.SIGINT, signal.SIGTERM]
        if hasattr(signal, "SIGHUP"):
            wanted.append(signal.SIGHUP)
        for signum in wanted:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.handle, signum)
                self._installed.append(signum)

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give the signals back to Python's defaults."""
        for signum in self._installed:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
        self._installed.clear()

    def handle(self, signum: int) -> None:
        """React to one signal."""
        name = signal.Signals(signum).name
        if hasattr(signal, "SIGHUP") and signum == signal.SIGHUP:
            log.info("SIGHUP: re-reading the configuration")
            if self._on_reload is not None:
                self._on_reload()
            return
        self.received.append(signum)
        if self._stop.is_set():
            log.warning("%s again: exiting now without finishing the shutdown", name)
            self._force_exit(128 + signum)
            return
        log.info("%s: shutting down (send it again to exit at once)", name)
        self._stop.set()


async def report_progress(bot: PterodactylBot, settings: Settings) -> None:
    """Log the first facts an operator looks for, then every change of the panel's reachability.

    Owned by `run()`, cancelled on shutdown. The monitor retries on its own; this only says so.
    """
    services = bot.services
    monitor = services.monitor
    host = settings.pterodactyl.host
    reachable: bool | None = None
    first = True
    while True:
        if monitor.last_cycle_completed is not None and monitor.panel_reachable is not None:
            now = monitor.panel_reachable
            if now and (first or reachable is False):
                running = sum(1 for s in monitor.snapshots.values() if s.status == "running")
                log.info(
                    "panel %s %s: %d server(s) found, %d running",
                    host,
                    "reachable" if first else "reachable again",
                    len(monitor.servers),
                    running,
                )
            elif not now and reachable is not False:
                log.error(
                    "panel %s is not reachable: the bot keeps running and retries every %g s",
                    host,
                    monitor.poll_interval,
                )
            reachable = now
            first = False
        await services.clock.sleep(min(5.0, max(0.1, monitor.poll_interval / 2)))


async def _report_discord(bot: PterodactylBot) -> None:
    await bot.wait_until_ready()
    guilds = ", ".join(f"{g.name} ({g.id})" for g in bot.guilds) or "none"
    log.info("connected to Discord as %s in %d guild(s): %s", bot.user, len(bot.guilds), guilds)


async def run(settings: Settings, build: BotFactory) -> int:
    """Run the bot until SIGINT/SIGTERM; return the process exit code."""
    log.info(
        "Pterodisbot %s starting: panel %s, poll every %g s, guilds %s",
        __version__,
        settings.pterodactyl.host,
        settings.monitoring.poll_interval,
        ", ".join(map(str, settings.discord.guild_ids)) or "all the bot is in",
    )
    discord_api.use_api_base(settings.discord.api_base)
    # The bot never joins voice: discord.py's warnings about voice libraries would only worry.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    bot = build(settings)
    services = bot.services
    web: WebServer | None = None
    if settings.http.enabled:
        from pterodisbot.web import WebServer

        web = WebServer(bot, host=settings.http.host, port=settings.http.port)
        try:
            await web.start()
        except OSError as exc:
            log.error(
                "http.port: cannot listen on %s:%s (%s) — expected a free port, or "
                "[http] enabled = false",
                settings.http.host,
                settings.http.port,
                exc.strerror or exc,
            )
            await bot.close()
            return EXIT_CONFIG

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def reload() -> None:
        reload_config(services)

    signals = ShutdownSignals(stop, on_reload=reload)
    signals.install(loop)
    runner = asyncio.create_task(bot.start(settings.discord.token.reveal()), name="discord")
    helpers = [
        asyncio.create_task(report_progress(bot, settings), name="progress"),
        asyncio.create_task(_report_discord(bot), name="discord-ready"),
    ]
    stopper = asyncio.create_task(stop.wait(), name="stop")
    code = EXIT_OK
    try:
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()
            log.warning("the Discord connection ended on its own; shutting down")
    except discord.LoginFailure:
        log.error(
            "Discord refused the bot token (401 Unauthorized): set DISCORD_TOKEN to the token "
            "from the Developer Portal (Bot -> Reset Token), without 'Bot '"
        )
        code = EXIT_CONFIG
    except EmbedLocationsError as exc:
        # The operator must fix the path first: starting without the file would lose every
        # status message it knows (they would never be edited again).
        log.error("%s", exc)
        code = EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the bot's intents: the bot needs no privileged intent")
        code = EXIT_FAILED
    except (discord.HTTPException, discord.GatewayNotFound, OSError) as exc:
        log.error("cannot reach Discord: %s", exc)
        code = EXIT_FAILED
    finally:
        for task in (stopper, *helpers):
            task.cancel()
        try:
            await asyncio.wait_for(_shutdown(bot, runner, web), SHUTDOWN_GRACE)
        except TimeoutError:
            log.error("shutdown took longer than %g s; exiting anyway", SHUTDOWN_GRACE)
        signals.uninstall(loop)
    log.info("Pterodisbot stopped")
    return code


async def _shutdown(bot: PterodactylBot, runner: asyncio.Task[None], web: WebServer | None) -> None:
    # The bot's close() finishes power clicks in flight, stops polling, flushes embed locations
    # and the audit trail, and closes both sessions.
    await bot.close()
    if not runner.done():
        runner.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await runner
    if web is not None:
        await web.stop()
