"""Slash commands reach every guild the bot is in: the example config.ini, joins, configured ids."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest

from pterodisbot.app import build_bot
from pterodisbot.bot import discord_api
from pterodisbot.bot.bot import PterodactylBot
from pterodisbot.config import load_settings
from pterodisbot_sandbox.discord_server import DiscordSandbox
from pterodisbot_sandbox.panel import SimulatedPanel
from tests.fixtures.discord import SandboxClient, SandboxFactory, poll_until
from tests.fixtures.panel import MakeSimPanel
from tests.fixtures.product import BOT_TOKEN
from tests.processes import REPO

# Every command the bot offers, as a member of the guild sees them in the `/` picker.
ALL_COMMANDS = [
    "about",
    "alerts",
    "fleet_board",
    "purge_embeds",
    "refresh_embeds",
    "reload_config",
    "server_history",
    "server_list",
    "server_status",
]
SECOND_GUILD = {
    "name": "Second Guild",
    "owner": "owner",
    "channels": [{"name": "general"}],
    "members": [{"user": "member"}],
}


class ShippedConfigRun:
    """The bot run from the example config.ini as shipped, secrets and addresses from the env."""

    def __init__(self, tmp_path: Path, panel: SimulatedPanel, sandbox: DiscordSandbox) -> None:
        self.tmp_path = tmp_path
        self.panel = panel
        self.sandbox = sandbox
        self._task: asyncio.Task[None] | None = None
        self.bot: PterodactylBot | None = None

    async def start(self, **overrides: str) -> PterodactylBot:
        """Start the bot from a copy of config.ini (with `PTERODISBOT_*` overrides), ready."""
        config = self.tmp_path / "config.ini"
        config.write_text((REPO / "config.ini").read_text(encoding="utf-8"), encoding="utf-8")
        env: Mapping[str, str] = {
            "DISCORD_TOKEN": BOT_TOKEN,
            "PTERODACTYL_API_KEY": self.panel.api_key,
            "PTERODACTYL_URL": self.panel.url,
            "PTERODISBOT_DISCORD_API_BASE": self.sandbox.url,
            **overrides,
        }
        settings = load_settings(config, env=env)
        assert settings.discord.guild_ids == () or "PTERODISBOT_DISCORD_GUILD_IDS" in overrides
        assert settings.discord.sync_commands == "guild"
        bot = build_bot(settings, guild_ready_timeout=0.05)
        self.bot = bot
        self._task = asyncio.create_task(bot.start(BOT_TOKEN))

        async def watching() -> bool:
            if self._task is not None and self._task.done():
                self._task.result()
                pytest.fail("the bot stopped before it was watching")
            return bot.is_watching()

        await poll_until(watching, within=15, what="the bot to sync its commands and poll once")
        return bot

    async def stop(self) -> None:
        """Stop the bot as a process shutdown would."""
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 5)


@pytest.fixture
async def shipped(
    tmp_path: Path, make_sim_panel: MakeSimPanel, discord_sandbox_factory: SandboxFactory
) -> AsyncIterator[tuple[ShippedConfigRun, SandboxClient]]:
    """Return an unstarted run of config.ini against the sandboxes, and the sandbox's control."""
    # One server: its poll opens the cycle, so the shipped 10 s poll_interval costs no wait.
    panel = await make_sim_panel(servers=1, resources_cache_seconds=0)
    sandbox = await discord_sandbox_factory()
    # As lifecycle.run does with [discord] api_base.
    previous = discord_api.use_api_base(sandbox.url)
    run = ShippedConfigRun(tmp_path, panel, sandbox)
    async with aiohttp.ClientSession() as session:
        try:
            yield run, SandboxClient(sandbox.url, session)
        finally:
            await run.stop()
            discord_api.restore_target(previous)


async def guild_commands(control: SandboxClient, guild_id: int | str) -> list[str]:
    """Return the names of the commands registered in one guild, sorted."""
    registered = await control.commands()
    return sorted(c["name"] for c in registered["guilds"].get(str(guild_id), []))


async def test_the_example_config_registers_the_commands_in_every_guild_the_bot_is_in(
    shipped: tuple[ShippedConfigRun, SandboxClient],
) -> None:
    run, control = shipped

    await run.start()

    guild = run.sandbox.world.guilds[0]
    assert await guild_commands(control, guild.id) == ALL_COMMANDS
    assert (await control.commands())["global"] == []


async def test_a_guild_the_bot_joins_later_gets_the_commands(
    shipped: tuple[ShippedConfigRun, SandboxClient],
) -> None:
    run, control = shipped
    await run.start()

    added = await control.add_guild(SECOND_GUILD)

    async def registered() -> list[str]:
        return await guild_commands(control, added["id"])

    names = await poll_until(registered, within=5, what="commands in the guild the bot joined")
    assert names == ALL_COMMANDS
    result = await control.command("about", guild=added["id"], channel="general", user="member")
    assert result.status == "answered"


async def test_configured_guilds_limit_the_sync_and_a_missing_one_is_said_not_fatal(
    shipped: tuple[ShippedConfigRun, SandboxClient], caplog: pytest.LogCaptureFixture
) -> None:
    run, control = shipped
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.bot")
    guild = run.sandbox.world.guilds[0]
    elsewhere = 123456789012345678

    await run.start(PTERODISBOT_DISCORD_GUILD_IDS=f"{guild.id}, {elsewhere}")
    added = await control.add_guild(SECOND_GUILD)

    async def join_handled() -> bool:
        return any(f"({added['id']})" in r.getMessage() for r in caplog.records)

    await poll_until(join_handled, within=5, what="the bot to handle joining the second guild")
    assert await guild_commands(control, guild.id) == ALL_COMMANDS
    # A guild outside [discord] guild_ids is not served, so it gets no commands either.
    assert await guild_commands(control, added["id"]) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"not in guild {elsewhere}" in w and "discord.guild_ids" in w for w in warnings)


async def test_a_guild_that_refuses_the_commands_is_said_with_the_fix_and_the_others_keep_theirs(
    shipped: tuple[ShippedConfigRun, SandboxClient], caplog: pytest.LogCaptureFixture
) -> None:
    run, control = shipped
    caplog.set_level(logging.INFO, logger="pterodisbot.bot.bot")
    bot = await run.start()
    guild = run.sandbox.world.guilds[0]

    # Invited with the scope "bot" alone: Discord answers 403 Missing Access to the sync.
    added = await control.add_guild({**SECOND_GUILD, "commands_scope": False})

    async def refused() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.ERROR and str(added["id"]) in r.getMessage()
        ]

    (error,) = await poll_until(refused, within=5, what="the refused sync to be logged")
    assert "HTTP 403, code 50001" in error
    assert "invite the bot again with the scopes bot and applications.commands" in error
    assert await guild_commands(control, guild.id) == ALL_COMMANDS
    # Not every served guild has the commands: the bot does not call itself ready.
    assert not bot.is_watching()
