"""`/fleet_board`: one message summarising every watched server, kept current (admins)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from pterodisbot.bot.cogs.status import answer_privately
from pterodisbot.permissions import Action

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)


class Fleet(commands.Cog):
    """The fleet board: counts by state and the servers needing attention, in one message."""

    def __init__(self, bot: PterodactylBot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(
        name="fleet_board", description="Post a board summarising every server here"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def fleet_board(self, interaction: discord.Interaction) -> None:
        """Post the fleet board in this channel; an older one here is replaced (admins only)."""
        services = self.services
        member = interaction.user
        if (
            interaction.guild_id is None
            or not isinstance(member, discord.Member)
            or not services.serves_guild(interaction.guild_id)
        ):
            await answer_privately(interaction, "This command works only in the bot's servers.")
            return
        if not services.member_allows(member, Action.ADMIN):
            await answer_privately(interaction, "Only the bot's admins may post the fleet board.")
            return
        if interaction.channel_id is None:
            await answer_privately(interaction, "I can't post in this channel.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = self.bot.get_partial_messageable(
            interaction.channel_id, guild_id=interaction.guild_id
        )
        fleet = services.fleet
        try:
            posted = await fleet.post(
                channel, guild_id=interaction.guild_id, channel_id=interaction.channel_id
            )
        except discord.Forbidden:
            await interaction.followup.send(
                "I can't post in this channel: I'm missing the Send Messages or Embed Links "
                "permission here.",
                ephemeral=True,
            )
            return
        except discord.HTTPException as exc:
            log.warning("posting the fleet board failed: %s", exc)
            await interaction.followup.send(
                f"Discord refused the fleet board ({exc.status}). Try again in a moment.",
                ephemeral=True,
            )
            return
        replaced = " The board posted here before was deleted." if posted.replaced else ""
        await interaction.followup.send(
            "Posted the fleet board here. It updates itself when a server changes state, at "
            f"most every {fleet.interval:g} s.{replaced}",
            ephemeral=True,
        )


async def setup(bot: PterodactylBot) -> None:
    """Load the Fleet cog."""
    await bot.add_cog(Fleet(bot, bot.services))
