"""`/server_status`, `/server_list`, `/refresh_embeds`, `/purge_embeds`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from pterodisbot.bot.embeds import build_server_list_embed, group_for_messages
from pterodisbot.bot.status_board import StatusNotRecorded
from pterodisbot.permissions import Action

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices
    from pterodisbot.panel.models import Server

log = logging.getLogger(__name__)

# Discord shows at most 25 autocomplete choices.
_MAX_CHOICES = 25


def find_server(servers: Mapping[str, Server], query: str) -> Server | None:
    """Find a server by identifier, uuid or exact name (case-insensitive)."""
    lowered = query.strip().lower()
    if lowered in servers:
        return servers[lowered]
    for server in servers.values():
        if server.uuid == lowered or server.name.lower() == lowered:
            return server
    return None


async def answer_privately(interaction: discord.Interaction, text: str) -> None:
    """Answer only the member: the response, or a follow-up once it was given (or deferred)."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


def server_choices(
    services: BotServices, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Return up to 25 servers the member may see whose name or id contains `current`.

    `/server_status` and `/server_history` offer the same list: the servers `Action.STATUS`
    lets this member see.
    """
    member = interaction.user
    if interaction.guild is None or not isinstance(member, discord.Member):
        return []
    needle = current.strip().lower()
    ranked: list[tuple[int, str, Server]] = []
    for server in services.monitor.servers.values():
        name = server.name.lower()
        if needle and needle not in name and not server.identifier.startswith(needle):
            continue
        if not services.member_allows(member, Action.STATUS, server.identifier):
            continue
        rank = 0 if name.startswith(needle) or server.identifier.startswith(needle) else 1
        ranked.append((rank, name, server))
    ranked.sort(key=lambda item: (item[0], item[1]))
    choices = []
    for _, _, server in ranked[:_MAX_CHOICES]:
        snap = services.monitor.snapshots.get(server.identifier)
        state = f" · {snap.status}" if snap is not None else ""
        label = f"{server.name} ({server.identifier}){state}"
        choices.append(app_commands.Choice(name=label[:100], value=server.identifier))
    return choices


class Status(commands.Cog):
    """Status embeds: post them, list servers, refresh or purge them."""

    def __init__(self, bot: PterodactylBot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    def _member(self, interaction: discord.Interaction) -> discord.Member | None:
        user = interaction.user
        if interaction.guild is None or not isinstance(user, discord.Member):
            return None
        return user

    @app_commands.command(name="server_status", description="Post a live status embed here")
    @app_commands.describe(server="The game server to show")
    @app_commands.guild_only()
    async def server_status(self, interaction: discord.Interaction, server: str) -> None:
        """Post the status embed of `server` in this channel."""
        services = self.services
        member = self._member(interaction)
        if member is None or not self.services.serves_guild(interaction.guild_id):
            await answer_privately(interaction, "This command works only in the bot's servers.")
            return
        found = find_server(services.monitor.servers, server)
        if found is None:
            await answer_privately(
                interaction,
                f"No server called “{discord.utils.escape_markdown(server[:100])}” is visible "
                "to the bot. Pick one from the list as you type.",
            )
            return
        if not self.services.member_allows(member, Action.STATUS, found.identifier):
            await answer_privately(
                interaction, "You don't have a role that may post status embeds."
            )
            return
        channel = interaction.channel
        if channel is None or interaction.channel_id is None or interaction.guild_id is None:
            await answer_privately(interaction, "I can't post in this channel.")
            return
        # Rendering the graph and posting can take longer than Discord's 3 s: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        snap = services.monitor.snapshots.get(found.identifier)
        if snap is None:
            snap = await services.monitor.poll_server(found.identifier)
        if snap is None:
            await interaction.followup.send("That server just disappeared from the panel.")
            return
        messageable = self.bot.get_partial_messageable(
            interaction.channel_id, guild_id=interaction.guild_id
        )
        try:
            await services.board.post(
                messageable,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                snap=snap,
            )
        except StatusNotRecorded:
            await interaction.followup.send(
                "I can't post a status embed right now: I can't save where it goes, so I "
                "couldn't keep it updated. The bot's operator will find why in its log.",
                ephemeral=True,
            )
            return
        except discord.Forbidden:
            await interaction.followup.send(
                "I can't post in this channel: I'm missing the Send Messages or Attach Files "
                "permission here.",
                ephemeral=True,
            )
            return
        except discord.HTTPException as exc:
            log.warning("server %s: posting the status embed failed: %s", found.identifier, exc)
            await interaction.followup.send(
                f"Discord refused the status embed ({exc.status}). Try again in a moment.",
                ephemeral=True,
            )
            return
        await interaction.followup.send(
            f"Posted the status of **{discord.utils.escape_markdown(found.name)}** here. "
            "It updates itself.",
            ephemeral=True,
        )

    @server_status.autocomplete("server")
    async def _server_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return self.server_choices(interaction, current)

    def server_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Return up to 25 servers the member may see whose name or id contains `current`."""
        return server_choices(self.services, interaction, current)

    @app_commands.command(name="server_list", description="List every server and its state")
    @app_commands.guild_only()
    async def server_list(self, interaction: discord.Interaction) -> None:
        """Answer with compact embeds listing every visible server."""
        member = self._member(interaction)
        if member is None or not self.services.serves_guild(interaction.guild_id):
            await answer_privately(interaction, "This command works only in the bot's servers.")
            return
        if not self.services.member_allows(member, Action.STATUS):
            await answer_privately(interaction, "You don't have a role that may see server status.")
            return
        snaps = list(self.services.monitor.snapshots.values())
        if not snaps:
            await answer_privately(interaction, "No server has been read from the panel yet.")
            return
        now = self.services.clock.time()
        groups = group_for_messages(build_server_list_embed(snaps, now=now))
        await interaction.response.send_message(embeds=groups[0], ephemeral=True)
        for group in groups[1:]:
            await interaction.followup.send(embeds=group, ephemeral=True)

    @app_commands.command(name="refresh_embeds", description="Redraw every status embed here")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def refresh_embeds(self, interaction: discord.Interaction) -> None:
        """Queue a redraw of every status embed in this guild (admins only)."""
        member = self._member(interaction)
        if member is None or not self.services.member_allows(member, Action.ADMIN):
            await answer_privately(interaction, "Only the bot's admins may refresh embeds.")
            return
        assert interaction.guild_id is not None
        queued = self.services.board.refresh(interaction.guild_id)
        await interaction.response.send_message(
            f"Redrawing {queued} status embed(s).", ephemeral=True
        )

    @app_commands.command(name="purge_embeds", description="Delete every status embed here")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def purge_embeds(self, interaction: discord.Interaction) -> None:
        """Delete every status embed of this guild and forget them (admins only)."""
        member = self._member(interaction)
        if member is None or not self.services.member_allows(member, Action.ADMIN):
            await answer_privately(interaction, "Only the bot's admins may purge embeds.")
            return
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.services.board.purge(interaction.guild_id)
        await interaction.followup.send(f"Deleted {removed} status embed(s).", ephemeral=True)


async def setup(bot: PterodactylBot) -> None:
    """Load the Status cog."""
    await bot.add_cog(Status(bot, bot.services))
