"""`/server_history` and the History button: a server's CPU, memory and uptime over a window.

Same visibility as `/server_status` (the guild allowlist, the servers the member's roles may
see: `Action.STATUS`). Answers are private: the channel may hold members who may not see that
server, and a store failure is the asker's business, not the channel's.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from pterodisbot.bot.cogs.status import answer_privately, find_server, server_choices
from pterodisbot.bot.history_embed import build_history_embed
from pterodisbot.bot.history_window import DEFAULT_WINDOW, read_window
from pterodisbot.bot.views import HISTORY_COG, ButtonAction, ButtonRef
from pterodisbot.permissions import Action
from pterodisbot.store import WINDOWS, HistoryOff, StoreError

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices
    from pterodisbot.panel.models import Server

log = logging.getLogger(__name__)

GRAPH_FILENAME: Final = "history.png"
HISTORY_OFF: Final = (
    "History is off on this bot: its operator set `[history] url = none`, so nothing is "
    "recorded. The live graph on the status embed still shows the last minutes."
)
NOT_HERE: Final = "This command works only in the bot's servers."
NOT_ALLOWED: Final = "You don't have a role that may see this server's status."
_WINDOW_CHOICES: Final = [
    app_commands.Choice(name="1 hour", value="1h"),
    app_commands.Choice(name="6 hours", value="6h"),
    app_commands.Choice(name="24 hours", value="24h"),
    app_commands.Choice(name="7 days", value="7d"),
    app_commands.Choice(name="30 days", value="30d"),
]


def store_failed_text(error: StoreError) -> str:
    """Return the private answer when the history store cannot be read."""
    return (
        f"I can't read this server's history right now: the history store is {error.reason}. "
        "Live status is unaffected. The bot's operator will find why in its log."
    )


class History(commands.Cog, name=HISTORY_COG):
    """History of one server over a window, as a graph and figures."""

    def __init__(self, bot: PterodactylBot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(
        name="server_history", description="Show a server's CPU, memory and uptime over time"
    )
    @app_commands.describe(server="The game server to show", window="How far back (24 h if unset)")
    @app_commands.choices(window=_WINDOW_CHOICES)
    @app_commands.guild_only()
    async def server_history(
        self,
        interaction: discord.Interaction,
        server: str,
        window: app_commands.Choice[str] | None = None,
    ) -> None:
        """Answer privately with `server`'s history graph and figures over `window`."""
        found = await self._visible_server(interaction, server)
        if found is None:
            return
        await self._answer(interaction, found, window.value if window else DEFAULT_WINDOW)

    @server_history.autocomplete("server")
    async def _server_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return server_choices(self.services, interaction, current)

    async def handle_button(
        self, interaction: discord.Interaction, ref: ButtonRef | None, problem: str | None
    ) -> None:
        """Answer a click on a status embed's History button with the 24 h view, privately."""
        if ref is None or ref.action is not ButtonAction.HISTORY:
            # `ServerButton` hands this cog History clicks only; anything else is a bug.
            log.warning("history cog got a click it does not answer: %s", problem or ref)
            await answer_privately(interaction, "This button is not valid any more.")
            return
        found = await self._visible_server(interaction, ref.server_id)
        if found is None:
            return
        await self._answer(interaction, found, DEFAULT_WINDOW)

    async def _visible_server(self, interaction: discord.Interaction, query: str) -> Server | None:
        """Return the server if this member may see it here; else answer why not and None."""
        services = self.services
        member = interaction.user
        if (
            interaction.guild is None
            or not isinstance(member, discord.Member)
            or not services.serves_guild(interaction.guild_id)
        ):
            await answer_privately(interaction, NOT_HERE)
            return None
        found = find_server(services.monitor.servers, query)
        if found is None:
            await answer_privately(
                interaction,
                f"No server called “{discord.utils.escape_markdown(query[:100])}” is visible "
                "to the bot. Pick one from the list as you type.",
            )
            return None
        if not services.member_allows(member, Action.STATUS, found.identifier):
            await answer_privately(interaction, NOT_ALLOWED)
            return None
        return found

    async def _answer(self, interaction: discord.Interaction, server: Server, name: str) -> None:
        services = self.services
        if not services.history.enabled:
            await answer_privately(interaction, HISTORY_OFF)
            return
        window = WINDOWS[name]
        # Reading a month and drawing it can take longer than Discord's 3 s: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = services.clock.time()
        try:
            read = await read_window(services.history, server.identifier, window, now)
        except HistoryOff:
            await interaction.followup.send(HISTORY_OFF, ephemeral=True)
            return
        except StoreError as exc:
            log.warning(
                "server %s: reading its %s history failed (%s): %s",
                server.identifier,
                window.name,
                exc.reason,
                exc,
            )
            await interaction.followup.send(store_failed_text(exc), ephemeral=True)
            return
        png = await services.renderer.render_series_async(
            read.series,
            cpu_limit_percent=server.limits.cpu,
            memory_limit_bytes=server.limits.memory_bytes,
            title=server.name,
        )
        embed = build_history_embed(
            server,
            window,
            read.series,
            read.uptime,
            read.changes,
            graph_filename=GRAPH_FILENAME,
            now=now,
        )
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), GRAPH_FILENAME), ephemeral=True
        )


async def setup(bot: PterodactylBot) -> None:
    """Load the History cog."""
    await bot.add_cog(History(bot, bot.services))
