"""The bot's Discord side (`CommandBot`) connects to the sandbox, syncs commands, answers /about."""

from __future__ import annotations

import logging

import discord
import pytest

import pterodisbot
from pterodisbot.bot import discord_api
from pterodisbot_sandbox.discord_server import DiscordSandbox
from tests.fixtures.discord import BotRunner, SandboxClient


async def test_bot_connects_syncs_and_answers_about(
    running_bot, discord_sandbox: DiscordSandbox, discord_control: SandboxClient
):
    guild = discord_sandbox.world.guilds[0]
    assert running_bot.is_ready()
    assert [g.id for g in running_bot.guilds] == [guild.id]
    assert running_bot.user is not None
    assert running_bot.user.id == discord_sandbox.world.bot.id

    commands = (await discord_control._call("GET", "/commands"))["guilds"][str(guild.id)]
    assert [c["name"] for c in commands] == ["about"]

    result = await discord_control.command("about", user="member")

    assert result.status == "answered"
    assert result.response_type == 4
    assert result.ephemeral
    embed = result.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Version"] == pterodisbot.__version__
    assert fields["Uptime"].endswith("s")

    log = await discord_control.requests()
    calls = [(e["method"], e["route"].split(" ", 1)[1], e["status"]) for e in log]
    assert calls == [
        ("GET", "/users/@me", 200),
        ("GET", "/oauth2/applications/@me", 200),
        ("GET", "/gateway/bot", 200),
        ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", 200),
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", 200),
    ]
    put = log[3]
    assert [c["name"] for c in put["json"]] == ["about"]
    # Interaction tokens are secrets: the log shows the route, not the token.
    assert result.token not in log[4]["path"]


async def test_global_sync_registers_global_commands(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(sync_commands="global")

    commands = await discord_control._call("GET", "/commands")
    assert [c["name"] for c in commands["global"]] == ["about"]
    assert commands["guilds"] == {}
    result = await discord_control.command("about")
    assert result.status == "answered"


async def test_sync_off_registers_nothing(bot_runner: BotRunner, discord_control: SandboxClient):
    await bot_runner.start(sync_commands="off")

    commands = await discord_control._call("GET", "/commands")
    assert commands == {"global": [], "guilds": {}}
    routes = [e["route"] for e in await discord_control.requests()]
    assert not any("commands" in r for r in routes)


async def test_wrong_token_is_a_login_failure(discord_sandbox_factory, bot_runner_factory):
    sandbox = await discord_sandbox_factory(token="MTIzNDU2Nzg5MA.abcdef.right-token-xxxxxxxxxxxxx")
    runner = bot_runner_factory(sandbox)

    with pytest.raises(discord.LoginFailure):
        await runner.start(token="MTIzNDU2Nzg5MA.abcdef.wrong-token-xxxxxxxxxxxxx")


async def test_api_base_is_restored_after_the_bot_stops(discord_sandbox: DiscordSandbox):
    before = discord_api.current_target()
    runner = BotRunner(discord_sandbox)
    await runner.start()
    assert discord_api.current_target().rest_base == f"{discord_sandbox.url}/api/v10"
    await runner.close()

    assert discord_api.current_target() == before
    assert before.is_discord


async def test_the_bot_token_never_reaches_the_logs(
    bot_runner: BotRunner, discord_control: SandboxClient, discord_sandbox: DiscordSandbox, caplog
):
    caplog.set_level(logging.DEBUG)

    await bot_runner.start()
    await discord_control.command("about")
    await discord_control.disconnect("drop")
    await discord_control.command("about")

    assert caplog.records
    assert discord_sandbox.bot_token not in caplog.text
    assert discord_sandbox.bot_token.split(".")[2] not in caplog.text
    assert discord_sandbox.bot_token not in repr(discord_sandbox)


async def test_a_restarted_bot_finds_the_same_world_and_answers(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    first = await bot_runner.start()
    await bot_runner.stop(first)

    await bot_runner.start()
    result = await discord_control.command("about")
    gateway = await discord_control.gateway()

    assert result.status == "answered"
    assert gateway["identifies"] == 2
    # discord.py closes with 4000, so its old session lingers (resumable) as it would on Discord.
    assert sorted(s["connected"] for s in gateway["sessions"]) == [False, True]


def test_api_base_context_sets_rest_and_gateway_and_restores_them():
    before = discord_api.current_target()

    with discord_api.api_base("http://proxy.local:8080/", gateway_url="ws://gw.local/") as inside:
        route = discord.http.Route("GET", "/users/@me")

    assert inside.rest_base == "http://proxy.local:8080/api/v10"
    assert inside.gateway == "ws://gw.local/"
    assert route.url == "http://proxy.local:8080/api/v10/users/@me"
    assert discord_api.current_target() == before


def test_a_rest_proxy_keeps_discords_gateway():
    previous = discord_api.use_api_base("http://proxy.local:8080")
    try:
        target = discord_api.current_target()
    finally:
        discord_api.restore_target(previous)

    assert target.rest_base == "http://proxy.local:8080/api/v10"
    assert target.gateway == discord_api.DISCORD_GATEWAY
    assert not target.is_discord
