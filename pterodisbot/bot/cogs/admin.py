"""`/reload_config`: re-read config.ini without restarting the bot (admins only)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from pterodisbot.bot.audit import AuditEntry, Outcome
from pterodisbot.permissions import Action
from pterodisbot.reload import reload_config

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)

# Discord refuses message content over 2000 characters.
_MAX_CONTENT = 2000


def reload_answer(lines: list[str]) -> str:
    """Return the outcome lines as one Discord message: a title and a code block, cut to fit."""
    head, *rest = lines
    body = "\n".join(line.strip() for part in rest for line in part.splitlines())
    if not body:
        return head
    room = _MAX_CONTENT - len(head) - len("\n```\n\n```") - 1
    if len(body) > room:
        body = body[: room - 2] + "\n…"
    return f"{head}\n```\n{body}\n```"


class Admin(commands.Cog):
    """The bot's admin commands."""

    def __init__(self, bot: PterodactylBot, services: BotServices) -> None:
        self.bot = bot
        self.services = services

    @app_commands.command(name="reload_config", description="Re-read config.ini now")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def reload_config_command(self, interaction: discord.Interaction) -> None:
        """Re-read config.ini and say what changed, what needs a restart, or why it was refused."""
        member = interaction.user
        if not (
            isinstance(member, discord.Member) and self.services.member_allows(member, Action.ADMIN)
        ):
            await interaction.response.send_message(
                "Only the bot's admins may reload the configuration.", ephemeral=True
            )
            await self._audit(interaction, allowed=False, outcome="refused", detail="not an admin")
            return
        log.info(
            "reload_config asked by user %s in guild %s", interaction.user.id, interaction.guild_id
        )
        outcome = reload_config(self.services)
        await interaction.response.send_message(reload_answer(outcome.lines()), ephemeral=True)
        if outcome.ok:
            detail = outcome.lines()[0] + "".join(f"\n{c}" for c in outcome.applied)
            await self._audit(interaction, allowed=True, outcome="ok", detail=detail)
        else:
            await self._audit(
                interaction, allowed=True, outcome="failed", detail=outcome.refused or ""
            )

    async def _audit(
        self, interaction: discord.Interaction, *, allowed: bool, outcome: Outcome, detail: str
    ) -> None:
        # Admin changes belong in the same trail as power actions ([discord] audit_channel_id).
        audit = self.services.audit
        if audit is None:
            return
        entry = AuditEntry(
            t=self.services.clock.time(),
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            user_name=str(interaction.user),
            server_id=None,
            server_name="config.ini",
            action="reload config",
            allowed=allowed,
            outcome=outcome,
            detail=detail,
        )
        await audit.record(entry)


async def setup(bot: PterodactylBot) -> None:
    """Load the Admin cog."""
    await bot.add_cog(Admin(bot, bot.services))
