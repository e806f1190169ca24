"""`/about`: the bot's version and uptime, shown only to whoever asked."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

import pterodisbot
from pterodisbot.units import format_uptime

if TYPE_CHECKING:
    from pterodisbot.bot.bot import CommandBot

log = logging.getLogger(__name__)


def about_embed(*, version: str, uptime: float, latency: float | None) -> discord.Embed:
    """Build the `/about` embed."""
    embed = discord.Embed(
        title="Pterodisbot",
        description="Watches and runs Pterodactyl game servers from Discord.",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Version", value=version)
    embed.add_field(name="Uptime", value=format_uptime(uptime * 1000))
    if latency is not None and latency != float("inf"):
        embed.add_field(name="Gateway latency", value=f"{latency * 1000:.0f} ms")
    embed.set_footer(text=f"discord.py {discord.__version__}")
    return embed


class About(commands.Cog):
    """The `/about` command."""

    def __init__(self, bot: CommandBot) -> None:
        self.bot = bot

    @app_commands.command(name="about", description="Show Pterodisbot's version and uptime")
    async def about(self, interaction: discord.Interaction) -> None:
        """Answer ephemerally with the version and uptime."""
        embed = about_embed(
            version=pterodisbot.__version__,
            uptime=self.bot.uptime(),
            latency=self.bot.latency,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: CommandBot) -> None:
    """Load the About cog."""
    await bot.add_cog(About(bot))
