"""`PterodactylBot`: the discord.py bot that loads Pterodisbot's cogs and syncs its commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord.ext import commands

from pterodisbot.bot import discord_api
from pterodisbot.clock import Clock, SystemClock

if TYPE_CHECKING:
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)

SyncMode = Literal["guild", "global", "off"]
SYNC_MODES: tuple[SyncMode, ...] = ("guild", "global", "off")

DEFAULT_EXTENSIONS: tuple[str, ...] = ("pterodisbot.bot.cogs.about",)


def default_intents() -> discord.Intents:
    """Return the intents the bot needs: guilds only, nothing privileged."""
    return discord.Intents(guilds=True)


class PterodactylBot(commands.Bot):
    """The bot: loads `extensions` in `setup_hook`, then syncs slash commands per `sync_commands`.

    `sync_commands`: "guild" copies the global commands into each of `guild_ids` and syncs them
    there (they appear at once); "global" syncs globally (Discord may take a while to show them);
    "off" leaves Discord's registered commands alone.
    """

    def __init__(
        self,
        *,
        guild_ids: Sequence[int] = (),
        sync_commands: SyncMode = "guild",
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        intents: discord.Intents | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        if sync_commands not in SYNC_MODES:
            raise ValueError(f"sync_commands must be one of {SYNC_MODES}, not {sync_commands!r}")
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents or default_intents(),
            help_command=None,
            **options,
        )
        self.guild_ids: tuple[int, ...] = tuple(guild_ids)
        self.sync_mode: SyncMode = sync_commands
        self.initial_extensions: tuple[str, ...] = tuple(extensions)
        self.clock: Clock = clock or SystemClock()
        self.started_at: float = self.clock.monotonic()
        self.commands_synced = asyncio.Event()
        self.synced_commands: dict[int | None, list[discord.app_commands.AppCommand]] = {}
        # Set before `start()` by `pterodisbot.app` (the services need the bot first); the
        # status, power and admin cogs need it.
        self.services: BotServices | None = None

    def __repr__(self) -> str:
        return f"<PterodactylBot guilds={self.guild_ids} sync={self.sync_mode}>"

    async def setup_hook(self) -> None:
        """Find the gateway of a non-Discord API base, load extensions, sync commands."""
        await discord_api.adopt_gateway_from_api(self.http)
        if self.services is not None:
            await self.services.locations.load()
            log.info("%d status embed(s) to keep current", len(self.services.locations))
            self.services.board.attach()
        for name in self.initial_extensions:
            await self.load_extension(name)
            log.info("loaded extension %s", name)
        await self.sync_application_commands()
        if self.services is not None:
            self.services.monitor.start()

    async def close(self) -> None:
        """Stop polling, flush embed locations and the audit trail, close the panel session.

        The gateway and Discord session close last: the audit trail posts through them.
        """
        services = self.services
        if services is not None:
            await services.monitor.stop()
            await services.pump.close()
            await services.board.close()
            if services.audit is not None:
                await services.audit.close()
            await services.api.close()
        await super().close()

    async def sync_application_commands(self) -> None:
        """Register the command tree with Discord according to `sync_mode`."""
        if self.sync_mode == "guild":
            if not self.guild_ids:
                log.warning(
                    "command sync mode is 'guild' but no guild ids are configured; "
                    "no slash commands will appear"
                )
            for guild_id in self.guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                self.synced_commands[guild_id] = await self.tree.sync(guild=guild)
                log.info(
                    "synced %d commands to guild %s",
                    len(self.synced_commands[guild_id]),
                    guild_id,
                )
        elif self.sync_mode == "global":
            self.synced_commands[None] = await self.tree.sync()
            log.info("synced %d global commands", len(self.synced_commands[None]))
        self.commands_synced.set()

    def is_watching(self) -> bool:
        """Tell whether the bot is connected, its commands synced and one poll cycle done."""
        return (
            self.is_ready()
            and self.commands_synced.is_set()
            and self.services is not None
            and self.services.monitor.last_cycle_completed is not None
        )

    def uptime(self) -> float:
        """Return seconds since the bot object was created."""
        return self.clock.monotonic() - self.started_at
