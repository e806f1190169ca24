"""The discord.py bots: `CommandBot` loads cogs and syncs slash commands; `PterodactylBot` adds
the services behind them (panel, monitor, status board), built with the bot and never missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

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
# Seconds `close()` gives work already acknowledged (a power click waiting on the panel) to end
# and be answered; the process's whole shutdown has 8 s (`lifecycle.SHUTDOWN_GRACE`), the rest
# closes the sessions.
IN_FLIGHT_GRACE = 5.0


@runtime_checkable
class FinishesInFlight(Protocol):
    """A cog with acknowledged work that must end (and be answered) before the bot closes."""

    async def finish_in_flight(self, within: float) -> None:
        """Refuse new work; let the work in progress end within `within` seconds."""


def default_intents() -> discord.Intents:
    """Return the intents the bot needs: guilds and guild messages, nothing privileged.

    Guild messages bring MESSAGE_DELETE, so a deleted status embed is forgotten at once; without
    the (privileged) message content intent the other messages arrive with no content.
    """
    return discord.Intents(guilds=True, guild_messages=True)


class CommandBot(commands.Bot):
    """A bot that loads `extensions` in `setup_hook`, then syncs slash commands per `sync_commands`.

    `sync_commands`: "guild" copies the global commands into each guild the bot serves (every
    guild it is in, or those of `guild_ids` it is in) and syncs them there (they appear at once),
    once the gateway has said which guilds those are, and again in each guild it joins later;
    "global" syncs globally (Discord may take a while to show them); "off" leaves Discord's
    registered commands alone.
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
            # Guild messages are received only for their deletions: none is kept in memory.
            max_messages=None,
            **options,
        )
        self.guild_ids: tuple[int, ...] = tuple(guild_ids)
        self.sync_mode: SyncMode = sync_commands
        self.initial_extensions: tuple[str, ...] = tuple(extensions)
        self.clock: Clock = clock or SystemClock()
        self.started_at: float = self.clock.monotonic()
        # Set once the commands are registered everywhere `sync_mode` asks (for "guild": in every
        # served guild the bot is in); unset again while a guild refuses them.
        self.commands_synced = asyncio.Event()
        self.synced_commands: dict[int | None, list[discord.app_commands.AppCommand]] = {}
        self.sync_failures: set[int] = set()
        # on_ready and on_guild_join may sync at the same time; one sync at a time.
        self._sync_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} guilds={self.guild_ids} sync={self.sync_mode}>"

    async def setup_hook(self) -> None:
        """Find the gateway of a non-Discord API base, load extensions, sync global commands."""
        await discord_api.adopt_gateway_from_api(self.http)
        for name in self.initial_extensions:
            await self.load_extension(name)
            log.info("loaded extension %s", name)
        if self.sync_mode == "global":
            self.synced_commands[None] = await self.tree.sync()
            log.info("synced %d global commands", len(self.synced_commands[None]))
            self.commands_synced.set()
        elif self.sync_mode == "off":
            self.commands_synced.set()
        # "guild": the guilds the bot is in come with READY and GUILD_CREATE, after this hook.

    async def on_message(self, message: discord.Message, /) -> None:
        """Ignore messages: the bot has slash commands only, and people may mention it freely.

        Guild messages are received for MESSAGE_DELETE; handing them to the prefix-command
        machinery would log an error for every "@bot hello".
        """

    async def on_ready(self) -> None:
        """Sync the commands in the served guilds where they are missing."""
        if self.sync_mode != "guild":
            return
        joined = {guild.id for guild in self.guilds}
        for guild_id in self.guild_ids:
            if guild_id not in joined:
                log.warning(
                    "the bot is not in guild %s (discord.guild_ids), so it has no commands there: "
                    "invite the bot to it (scopes bot and applications.commands), or remove the id",
                    guild_id,
                )
        targets = [guild.id for guild in self.guilds if self.serves(guild.id)]
        if not targets:
            log.warning(
                "the bot is in no guild it serves yet: invite it (scopes bot and "
                "applications.commands); its commands are registered in each guild it joins"
            )
        # After a new session (not a resume) only guilds without commands yet need a sync.
        await self.sync_guild_commands([g for g in targets if g not in self.synced_commands])

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Sync the commands in a guild the bot just joined, if it serves that guild."""
        if self.sync_mode != "guild":
            return
        if not self.serves(guild.id):
            log.info(
                "joined guild %s (%s), which discord.guild_ids does not list: no commands there",
                guild.name,
                guild.id,
            )
            return
        log.info("joined guild %s (%s): registering the commands there", guild.name, guild.id)
        await self.sync_guild_commands([guild.id])

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Forget a guild's commands: Discord drops them when the bot leaves."""
        self.synced_commands.pop(guild.id, None)
        if guild.id in self.sync_failures:
            self.sync_failures.discard(guild.id)
            self._settle_sync()

    def serves(self, guild_id: int) -> bool:
        """Tell whether commands belong in this guild (`guild_ids`; empty: every guild)."""
        return not self.guild_ids or guild_id in self.guild_ids

    async def sync_guild_commands(self, guild_ids: Sequence[int]) -> None:
        """Copy the global commands into each guild and sync them there; set `commands_synced`.

        A guild that refuses (the bot was invited without applications.commands) is logged with
        the fix and leaves `commands_synced` unset until it accepts them; the others are synced
        all the same.
        """
        async with self._sync_lock:
            for guild_id in guild_ids:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                try:
                    self.synced_commands[guild_id] = await self.tree.sync(guild=guild)
                except discord.HTTPException as exc:
                    self.sync_failures.add(guild_id)
                    fix = (
                        "invite the bot again with the scopes bot and applications.commands"
                        if isinstance(exc, discord.Forbidden)
                        else "the bot tries again when it reconnects"
                    )
                    log.error(
                        "cannot register the commands in guild %s (HTTP %s, code %s): %s",
                        guild_id,
                        exc.status,
                        exc.code,
                        fix,
                    )
                    continue
                self.sync_failures.discard(guild_id)
                log.info(
                    "synced %d commands to guild %s",
                    len(self.synced_commands[guild_id]),
                    guild_id,
                )
            self._settle_sync()

    def _settle_sync(self) -> None:
        # Synced means synced everywhere: one guild refusing the commands unsets it.
        if self.sync_failures:
            self.commands_synced.clear()
        else:
            self.commands_synced.set()

    def uptime(self) -> float:
        """Return seconds since the bot object was created."""
        return self.clock.monotonic() - self.started_at


ServicesFactory = Callable[[discord.Client], "BotServices"]


class PterodactylBot(CommandBot):
    """The product's bot: a `CommandBot` with its services, which it starts and stops.

    `build_services` makes them for this bot (`pterodisbot.app` wires them): the status board and
    the audit trail send through its client, so they cannot exist before it. It is called once,
    after discord.py's side of the bot is built, and must only keep the client, not use it.
    `setup_hook` loads the embed locations, attaches the board and starts its reconciliation,
    loads the cogs, syncs global commands, starts the history (open, refill the rings) and the
    monitor; gateway events that delete or
    unblock status messages reach the board as they arrive.
    """

    def __init__(self, build_services: ServicesFactory, **options: Any) -> None:
        super().__init__(**options)
        self.services: BotServices = build_services(self)

    async def setup_hook(self) -> None:
        """Load the embed locations and attach the board, then the cogs; start history, monitor."""
        services = self.services
        await services.locations.load()
        log.info("%d status embed(s) to keep current", len(services.locations))
        services.board.attach()
        # Runs once the gateway is ready, beside the monitor: strays left by a crash.
        services.board.start_reconcile()
        # Before the first snapshot: a restart goes on editing the boards posted before.
        await services.fleet.load()
        services.fleet.attach()
        services.fleet.start()
        await super().setup_hook()
        # Before the first poll: the history store opens (or says in one line why not) and
        # refills every ring, so the live graphs are full at once rather than "Collecting data".
        ring_span = services.metrics.capacity * services.monitor.poll_interval
        await services.history.start(services.metrics, since=services.clock.time() - ring_span)
        # After the history (the state may live in its store), before the first snapshot: open
        # incidents, their messages and mutes come back, so nothing is posted twice.
        await services.alerts.start()
        # Beside the monitor, never in its way: the monitor only reads what the games said.
        services.players.start()
        services.monitor.start()

    async def close(self) -> None:
        """Finish clicks in flight, stop polling, flush history, locations and audit, close all.

        The gateway and Discord session close last: answers and the audit trail go through them.
        """
        for cog in list(self.cogs.values()):
            if isinstance(cog, FinishesInFlight):
                await cog.finish_in_flight(IN_FLIGHT_GRACE)
        services = self.services
        await services.monitor.stop()
        # No snapshot asks for players any more: stop asking the games.
        await services.players.close()
        # Before the history (its state is saved in the store when there is one) and the pump
        # (its last edits are queued there).
        await services.alerts.close()
        # No sample comes after the monitor: the last flush is complete (bounded: CLOSE_GRACE).
        await services.history.close()
        # Before the pump: no fleet board edit is queued once the pump stops.
        await services.fleet.close()
        await services.pump.close()
        await services.board.close()
        if services.audit is not None:
            await services.audit.close()
        await services.api.close()
        await super().close()

    async def on_ready(self) -> None:
        """Forget embeds of guilds left while offline; sync commands where they are missing."""
        joined_now = {guild.id for guild in self.guilds}
        left = {
            loc.guild_id
            for loc in self.services.locations.all()
            # 0: migrated from the old file format, which did not record the guild.
            if loc.guild_id != 0 and loc.guild_id not in joined_now
        }
        for guild_id in sorted(
            left | {b.guild_id for b in self.services.fleet.boards} - joined_now
        ):
            why = f"the bot is no longer in guild {guild_id}"
            await self.services.board.forget_deleted(guild_id=guild_id, why=why)
            await self.services.fleet.forget_deleted(guild_id=guild_id, why=why)
        await super().on_ready()

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Forget a guild's commands and status embeds: Discord drops them when the bot leaves."""
        await super().on_guild_remove(guild)
        why = f"the bot left guild {guild.name} ({guild.id})"
        await self.services.board.forget_deleted(guild_id=guild.id, why=why)
        await self.services.fleet.forget_deleted(guild_id=guild.id, why=why)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """Forget a status embed or fleet board as soon as its message is deleted."""
        ids = frozenset({payload.message_id})
        why = f"message deleted in channel {payload.channel_id}"
        await self.services.board.forget_deleted(message_ids=ids, why=why)
        await self.services.fleet.forget_deleted(message_ids=ids, why=why)

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Forget the status embeds and fleet boards among messages deleted in bulk."""
        ids = frozenset(payload.message_ids)
        why = f"{len(payload.message_ids)} messages deleted in channel {payload.channel_id}"
        await self.services.board.forget_deleted(message_ids=ids, why=why)
        await self.services.fleet.forget_deleted(message_ids=ids, why=why)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Forget the status embeds and fleet boards of a deleted channel."""
        why = f"channel #{channel.name} ({channel.id}) deleted"
        await self.services.board.forget_deleted(channel_id=channel.id, why=why)
        await self.services.fleet.forget_deleted(channel_id=channel.id, why=why)

    async def on_guild_channel_update(
        self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel
    ) -> None:
        """Retry the embeds Discord refused to edit once the channel's permissions change."""
        board = self.services.board
        if isinstance(after, discord.CategoryChannel):
            # A category's overwrites flow to its synced channels, which get no update of their own.
            board.retry_blocked(guild_id=after.guild.id)
        else:
            board.retry_blocked(channel_id=after.id)

    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        """Retry a guild's refused embeds when a role's permissions change."""
        if before.permissions != after.permissions:
            self.services.board.retry_blocked(guild_id=after.guild.id)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        """Retry a guild's refused embeds when the bot itself gains or loses roles."""
        # Reached without the privileged members intent: Discord sends GUILD_MEMBER_UPDATE of the
        # current user regardless of GUILD_MEMBERS (its gateway docs, "Caveats"), and discord.py
        # always caches its own member.
        me = self.user
        if me is None or after.id != me.id or before.roles == after.roles:
            return
        self.services.board.retry_blocked(guild_id=after.guild.id)

    def is_watching(self) -> bool:
        """Tell whether the bot is connected, its commands synced and one poll cycle done."""
        return (
            self.is_ready()
            and self.commands_synced.is_set()
            and self.services.monitor.last_cycle_completed is not None
        )
