"""Interactions end to end: the sandbox acts as a user, the real discord.py bot answers."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord
import pytest
from discord import app_commands

from pterodisbot.bot.bot import CommandBot
from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.discord_server import (
    Bucket,
    CommandRegistry,
    DiscordSandbox,
    IdGenerator,
    RateLimits,
    World,
)
from tests.fixtures.discord import BotRunner, ControlError, SandboxClient, poll_until
from tests.sandbox.test_discord_rest import png

T = TypeVar("T")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _probe_of(check: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """Wrap a synchronous check as the coroutine probe `poll_until` calls."""

    async def probe() -> T:
        return check()

    return probe


def add(bot: CommandBot, *commands: app_commands.Command) -> None:  # type: ignore[type-arg]
    for command in commands:
        bot.tree.add_command(command)


@app_commands.command(name="echo", description="Echo typed options")
async def echo(  # noqa: PLR0917 - slash command options are positional parameters
    interaction: discord.Interaction,
    text: str,
    times: int = 1,
    who: discord.Member | None = None,
    where: discord.TextChannel | None = None,
    role: discord.Role | None = None,
) -> None:
    parts = [
        text * times,
        type(times).__name__,
        f"who={who.id if who else None}:{type(who).__name__}",
        f"where={where.name if where else None}",
        f"role={role.name if role else None}",
    ]
    await interaction.response.send_message(" ".join(parts))


async def test_options_arrive_typed_as_the_command_declares(
    bot_runner: BotRunner, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    await bot_runner.start(setup=lambda bot: add(bot, echo))
    operator = discord_sandbox.world.user("operator").id

    result = await discord_control.command(
        "echo",
        {"text": "ab", "times": 2, "who": "operator", "where": "alerts", "role": "Operator"},
        user="member",
    )

    assert result.status == "answered"
    assert result.content == f"abab int who={operator}:Member where=alerts role=Operator"
    assert not result.ephemeral


async def test_unknown_option_and_missing_required_option_are_refused(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, echo))

    with pytest.raises(ControlError) as unknown:
        await discord_control.command("echo", {"text": "a", "nope": 1})
    with pytest.raises(ControlError) as missing:
        await discord_control.command("echo", {"times": 1})

    assert unknown.value.status == 400
    assert "nope" in unknown.value.body["error"]
    assert "text" in missing.value.body["error"]


@app_commands.command(name="slowly", description="Defer, then follow up")
async def slowly(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send("done after thinking", ephemeral=True)


async def test_first_followup_after_a_defer_fills_the_thinking_message(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, slowly))

    result = await discord_control.command("slowly", wait=5)

    assert result.response_type == 5
    assert [f["kind"] for f in result.followups] == ["followup"]
    assert result.followups[0]["message"]["id"] == result.message_id
    assert result.content == "done after thinking"
    assert result.message is not None
    assert result.message["flags"] == 64  # ephemeral, no longer loading


class Counter(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.clicks = 0

    @discord.ui.button(label="Count", custom_id="counter", style=discord.ButtonStyle.primary)
    async def count(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:  # type: ignore[type-arg]
        self.clicks += 1
        await interaction.response.edit_message(
            content=f"{self.clicks} click(s), last by {interaction.user.name}", view=self
        )

    @discord.ui.select(
        custom_id="pick",
        options=[discord.SelectOption(label="Alpha"), discord.SelectOption(label="Beta")],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:  # type: ignore[type-arg]
        await interaction.response.send_message(f"picked {select.values[0]}", ephemeral=True)


@app_commands.command(name="counter", description="A message with a button")
async def counter(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("0 click(s)", view=Counter())


async def test_button_click_edits_the_message_it_is_on(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, counter))
    posted = await discord_control.command("counter")

    clicked = await discord_control.click(posted.message_id, "counter", user="operator")

    assert clicked.response_type == 7
    assert clicked.message_id == posted.message_id
    assert clicked.content == "1 click(s), last by operator"
    stored = await discord_control.message("status", posted.message_id)
    assert stored["content"] == "1 click(s), last by operator"
    assert stored["edited_timestamp"] is not None


async def test_select_values_reach_the_bot(bot_runner: BotRunner, discord_control: SandboxClient):
    await bot_runner.start(setup=lambda bot: add(bot, counter))
    posted = await discord_control.command("counter")

    chosen = await discord_control.click(posted.message_id, "pick", values=["Beta"])

    assert chosen.content == "picked Beta"
    assert chosen.ephemeral


async def test_clicking_a_component_that_is_not_there_is_refused(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, counter))
    posted = await discord_control.command("counter")

    with pytest.raises(ControlError) as refused:
        await discord_control.click(posted.message_id, "no-such-button")

    assert refused.value.status == 404


async def pick_server(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    names = [f"server-{i:02d}" for i in range(40)]
    return [app_commands.Choice(name=n, value=n) for n in names if current in n][:25]


@app_commands.command(name="status", description="Pick a server")
@app_commands.autocomplete(server=pick_server)
async def status(interaction: discord.Interaction, server: str) -> None:
    await interaction.response.send_message(f"status of {server}")


async def test_autocomplete_offers_the_bots_choices(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, status))

    typed = await discord_control.autocomplete("status", {"server": "server-1"}, "server")

    assert typed.response_type == 8
    assert [c["value"] for c in typed.choices] == [f"server-1{i}" for i in range(10)]


class Rename(discord.ui.Modal, title="Rename"):
    name = discord.ui.TextInput(label="New name", custom_id="name")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"renamed to {self.name.value}")


@app_commands.command(name="rename", description="Open a modal")
async def rename(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(Rename(custom_id="rename-modal"))


async def test_modal_submission_reaches_the_bot(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, rename))

    opened = await discord_control.command("rename", user="operator")
    submitted = await discord_control.submit_modal("rename-modal", {"name": "Lobby"})

    assert opened.response_type == 9
    assert opened.data["title"] == "Rename"
    assert submitted.content == "renamed to Lobby"
    assert submitted.message is not None
    assert submitted.message["interaction_metadata"]["user"]["username"] == "operator"


@app_commands.command(name="huge", description="Answers with an embed Discord refuses")
async def huge(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(embed=discord.Embed(description="x" * 4097))


async def test_an_oversized_embed_from_the_bot_is_refused_and_raised_in_the_bot(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, huge))

    result = await discord_control.command("huge")

    assert result.status == "rejected"
    assert result.rejected[0]["body"]["code"] == 50035
    errors = await poll_until(
        _probe_of(lambda: bot_runner.errors), within=5, what="the bot to raise the refusal"
    )
    error = errors[0]
    assert isinstance(error, app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.HTTPException)
    assert error.original.code == 50035


@app_commands.command(name="wipe", description="Admins only")
@app_commands.default_permissions(administrator=True)
async def wipe(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("wiped", ephemeral=True)


@app_commands.command(name="tidy", description="Moderators only")
@app_commands.default_permissions(manage_messages=True)
async def tidy(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("tidied", ephemeral=True)


@app_commands.command(name="lockdown", description="Nobody but administrators")
@app_commands.default_permissions()
async def lockdown(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("locked", ephemeral=True)


async def test_command_hidden_by_default_permissions_cannot_be_run_by_a_member(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, wipe, lockdown))
    before = (await discord_control.stats())["interactions"]

    with pytest.raises(ControlError) as hidden:
        await discord_control.command("wipe", user="member")
    with pytest.raises(ControlError) as nobody:
        await discord_control.command("lockdown", user="operator")
    dispatched = (await discord_control.stats())["interactions"] - before
    allowed = await discord_control.command("wipe", user="owner")

    # Discord's own answer to a client invoking a command hidden from that member.
    for refused in (hidden.value, nobody.value):
        assert refused.status == 400
        assert refused.body["code"] == 50035
        assert refused.body["errors"]["data"]["_errors"] == [
            {
                "code": "INTERACTION_APPLICATION_COMMAND_INVALID_PERMISSIONS",
                "message": "You do not have permission to use this command.",
            }
        ]
    assert dispatched == 0
    assert allowed.content == "wiped"


async def test_each_user_is_offered_only_the_commands_discord_shows_them(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, wipe, tidy, lockdown))

    async def names(user: str) -> set[str]:
        return {c["name"] for c in await discord_control.visible_commands(user, channel="alerts")}

    restricted = {"wipe", "tidy", "lockdown"}
    member, operator, owner = await names("member"), await names("operator"), await names("owner")
    # The administrator sees every command, even "0" (no one else); the Operator role has
    # Manage Messages, so /tidy; the member none of the three.
    assert restricted <= owner
    assert operator & restricted == {"tidy"}
    assert member & restricted == set()
    assert owner - restricted == member
    assert "about" in member
    # Guild commands are offered in that guild only, never in a DM with the bot.
    assert await discord_control.visible_commands("owner", dm=True) == []

    with pytest.raises(ControlError) as outsider:
        await discord_control.visible_commands("outsider", channel="alerts")
    assert outsider.value.status == 403


def test_a_guild_command_hides_the_global_one_of_the_same_name_in_the_picker() -> None:
    registry = CommandRegistry(application_id=1, ids=IdGenerator(FakeClock()))
    guild_id = 42
    registry.overwrite(None, [{"name": "about", "description": "global"}])
    registry.overwrite(
        guild_id,
        [{"name": "about", "description": "guild"}, {"name": "wipe", "description": "guild"}],
    )

    offered = registry.reachable(guild_id)

    assert [(c["name"], c["description"]) for c in offered] == [
        ("about", "guild"),
        ("wipe", "guild"),
    ]
    assert [c["description"] for c in registry.reachable(None)] == ["global"]


async def test_only_guild_members_can_use_guild_commands(
    discord_sandbox_factory, bot_runner_factory
):
    sandbox = await discord_sandbox_factory(world=World.default(second_guild=True))
    main = sandbox.world.guilds[0]
    await bot_runner_factory(sandbox).start(guild_ids=[main.id])
    async with aiohttp.ClientSession() as session:
        control = SandboxClient(sandbox.url, session)

        with pytest.raises(ControlError) as not_member:
            await control.command("about", user="outsider")
        with pytest.raises(ControlError) as not_synced_there:
            await control.command("about", user="outsider", guild="Other Guild")

    assert not_member.value.status == 403
    assert not_synced_there.value.status == 404


async def test_a_command_from_another_guild_reaches_the_bot_with_that_guild(
    discord_sandbox_factory, bot_runner_factory
):
    sandbox = await discord_sandbox_factory(world=World.default(second_guild=True))
    seen: list[int | None] = []

    @app_commands.command(name="where", description="Say the guild")
    async def where(interaction: discord.Interaction) -> None:
        seen.append(interaction.guild_id)
        await interaction.response.send_message("here", ephemeral=True)

    await bot_runner_factory(sandbox).start(
        sync_commands="global", setup=lambda bot: add(bot, where)
    )
    async with aiohttp.ClientSession() as session:
        control = SandboxClient(sandbox.url, session)
        await control.command("where", user="outsider", guild="Other Guild")

    assert seen == [sandbox.world.guild("Other Guild").id]


async def test_dm_interaction_has_a_user_and_no_guild(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    seen: list[tuple[int | None, str]] = []

    @app_commands.command(name="ping", description="Works in DMs")
    async def ping(interaction: discord.Interaction) -> None:
        seen.append((interaction.guild_id, interaction.user.name))
        await interaction.response.send_message("pong")

    await bot_runner.start(sync_commands="global", setup=lambda bot: add(bot, ping))

    result = await discord_control.command("ping", user="member", dm=True)

    assert result.content == "pong"
    assert seen == [(None, "member")]


async def test_second_initial_response_is_already_acknowledged(
    running_bot, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    result = await discord_control.command("about")
    url = f"{discord_sandbox.url}/api/v10/interactions/{result.id}/{result.token}/callback"

    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"type": 4, "data": {"content": "again"}}) as r,
    ):
        body = await r.json()

    assert (r.status, body["code"]) == (400, 40060)


async def test_an_answer_after_three_seconds_is_unknown_interaction(
    discord_sandbox_factory, bot_runner_factory
):
    clock = FakeClock()
    sandbox = await discord_sandbox_factory(clock=clock)
    entered = asyncio.Event()
    release = asyncio.Event()
    outcome: list[BaseException] = []

    @app_commands.command(name="sleepy", description="Answers too late")
    async def sleepy(interaction: discord.Interaction) -> None:
        entered.set()
        await release.wait()
        try:
            await interaction.response.send_message("finally")
        except discord.HTTPException as exc:
            outcome.append(exc)

    await bot_runner_factory(sandbox).start(setup=lambda bot: add(bot, sleepy))
    async with aiohttp.ClientSession() as session:
        control = SandboxClient(sandbox.url, session)
        pending = asyncio.create_task(control.command("sleepy"))
        await asyncio.wait_for(entered.wait(), 5)
        clock.advance(3.1)
        result = await asyncio.wait_for(pending, 5)
        release.set()
        await poll_until(_probe_of(lambda: outcome), within=5, what="the late answer's error")
        log = await control.requests()

    assert result.status == "timeout"
    assert result.response_type is None
    assert isinstance(outcome[0], discord.NotFound)
    assert outcome[0].code == 10062
    assert log[-1]["route"].endswith("/callback")
    assert log[-1]["status"] == 404


async def test_interaction_token_is_good_for_fifteen_minutes_of_followups(
    discord_sandbox_factory, bot_runner_factory
):
    clock = FakeClock()
    sandbox = await discord_sandbox_factory(clock=clock)
    await bot_runner_factory(sandbox).start()
    app_id = sandbox.world.application_id
    async with aiohttp.ClientSession() as session:
        control = SandboxClient(sandbox.url, session)
        result = await control.command("about")
        url = f"{sandbox.url}/api/v10/webhooks/{app_id}/{result.token}?wait=true"
        clock.advance(14 * 60)
        async with session.post(url, json={"content": "still in time"}) as r:
            in_time = r.status
        clock.advance(2 * 60)
        async with session.post(url, json={"content": "too late"}) as r:
            late = (r.status, (await r.json())["code"])

    assert in_time == 200
    assert late == (401, 50027)


async def test_bot_edit_of_a_deleted_message_is_unknown_message(
    bot_runner: BotRunner, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    # MESSAGE_DELETE needs the (unprivileged) guild_messages intent, as on Discord.
    running_bot = await bot_runner.start(intents=discord.Intents(guilds=True, guild_messages=True))
    channel = running_bot.get_channel(discord_sandbox.world.channel("status").id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("will vanish")
    deleted = asyncio.ensure_future(running_bot.wait_for("raw_message_delete", timeout=5))

    await discord_control.delete_message("status", message.id)
    event = await deleted
    with pytest.raises(discord.NotFound) as edit:
        await message.edit(content="too late")

    assert event.message_id == message.id
    assert (event.channel_id, event.guild_id) == (channel.id, channel.guild.id)
    assert edit.value.code == 10008


async def test_channel_delete_and_permission_changes_reach_the_bot(
    running_bot, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    alerts = running_bot.get_channel(discord_sandbox.world.channel("alerts").id)
    assert isinstance(alerts, discord.TextChannel)
    updated = asyncio.ensure_future(running_bot.wait_for("guild_channel_update", timeout=5))
    await discord_control.set_permissions("alerts", send=False)
    await updated
    cannot_send = not alerts.permissions_for(alerts.guild.me).send_messages
    with pytest.raises(discord.Forbidden) as refused:
        await alerts.send("x")

    gone = asyncio.ensure_future(running_bot.wait_for("guild_channel_delete", timeout=5))
    await discord_control.delete_channel("audit")
    deleted = await gone

    assert cannot_send
    assert refused.value.code == 50013
    assert deleted.name == "audit"
    assert running_bot.get_channel(deleted.id) is None


async def test_bot_uploads_a_graph_and_replaces_it_on_edit(
    running_bot, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    channel = running_bot.get_channel(discord_sandbox.world.channel("status").id)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="CPU").set_image(url="attachment://graph.png")

    message = await channel.send(embed=embed, file=discord.File(io.BytesIO(png()), "graph.png"))
    edited = await message.edit(
        embed=embed, attachments=[discord.File(io.BytesIO(png(5, 5)), "graph.png")]
    )

    assert len(message.attachments) == 1
    assert message.embeds[0].image.url == message.attachments[0].url
    assert len(edited.attachments) == 1
    assert edited.attachments[0].id != message.attachments[0].id
    assert (edited.attachments[0].width, edited.attachments[0].height) == (5, 5)
    kept = await edited.edit(content="same graph", attachments=edited.attachments)
    assert [a.id for a in kept.attachments] == [edited.attachments[0].id]
    log = await discord_control.requests()
    assert log[-1]["json"]["attachments"][0]["id"] == edited.attachments[0].id
    stored = await discord_control.message("status", message.id)
    assert stored["embeds"][0]["image"]["url"] == stored["attachments"][0]["url"]
    upload = log[-2]
    assert upload["files"] == ["graph.png"]
    assert json.dumps(upload["payload_json"]["embeds"][0]["image"]) == json.dumps(
        {"url": "attachment://graph.png"}
    )


class Refresh(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Refresh", custom_id="refresh")
    async def refresh(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:  # type: ignore[type-arg]
        await interaction.response.defer()
        await interaction.edit_original_response(content="refreshed", view=None)


@app_commands.command(name="panel", description="A message with a refresh button")
async def panel(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("stale", view=Refresh())


async def test_deferred_update_then_edit_original_changes_the_clicked_message(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, panel))
    posted = await discord_control.command("panel")

    clicked = await discord_control.click(posted.message_id, "refresh", wait=5)

    assert clicked.response_type == 6
    assert [f["kind"] for f in clicked.followups] == ["edit_original"]
    stored = await discord_control.message("status", posted.message_id)
    assert stored["content"] == "refreshed"
    assert stored["components"] == []


async def test_original_response_followups_and_their_edits_and_deletes(
    discord_sandbox_factory, bot_runner_factory, session: aiohttp.ClientSession
):
    # Five webhook calls would empty the default bucket and discord.py would then pause 2 s.
    sandbox = await discord_sandbox_factory(rate_limits=RateLimits(webhook=Bucket(10, 2.0)))
    bot_runner = bot_runner_factory(sandbox)
    discord_control = SandboxClient(sandbox.url, session)
    seen: dict[str, str] = {}

    @app_commands.command(name="story", description="Uses every webhook route")
    async def story(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("first draft")
        original = await interaction.original_response()
        seen["original"] = original.content
        await interaction.edit_original_response(content="second draft")
        note = await interaction.followup.send("a note", wait=True)
        await note.edit(content="an edited note")
        await interaction.delete_original_response()
        seen["note"] = str(note.id)

    await bot_runner.start(setup=lambda bot: add(bot, story))

    result = await discord_control.command(
        "story",
        wait=5,
    )
    await poll_until(_probe_of(lambda: "note" in seen), within=5, what="the command to finish")
    record = await discord_control._call("GET", f"/interactions/{result.id}")

    kinds = [f["kind"] for f in record["followups"]]
    assert kinds == ["edit_original", "followup", "edit_followup", "delete_original"]
    assert seen["original"] == "first draft"
    remaining = await discord_control.messages("status")
    assert [m["content"] for m in remaining] == ["an edited note"]
    assert remaining[0]["id"] == seen["note"]
    routes = [e["route"] for e in await discord_control.requests()][-5:]
    assert routes == [
        "GET /webhooks/{application_id}/{webhook_token}/messages/{message_id}",
        "PATCH /webhooks/{application_id}/{webhook_token}/messages/{message_id}",
        "POST /webhooks/{application_id}/{webhook_token}",
        "PATCH /webhooks/{application_id}/{webhook_token}/messages/{message_id}",
        "DELETE /webhooks/{application_id}/{webhook_token}/messages/{message_id}",
    ]


async def test_fetches_and_deletes_through_discord_py(
    running_bot, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    world = discord_sandbox.world
    channel = await running_bot.fetch_channel(world.channel("status").id)
    guild = await running_bot.fetch_guild(world.guilds[0].id)
    member = await guild.fetch_member(world.user("operator").id)
    user = await running_bot.fetch_user(world.user("member").id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("short-lived")
    fetched = await channel.fetch_message(sent.id)
    history = [m.content async for m in channel.history(limit=5)]

    await fetched.delete()

    assert (channel.name, guild.name, user.name) == ("status", "Pterodisbot Sandbox", "member")
    assert [r.name for r in member.roles if not r.is_default()] == ["Operator"]
    assert history == ["short-lived"]
    assert await discord_control.messages("status") == []


class Assign(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.select(cls=discord.ui.UserSelect, custom_id="assign")
    async def assign(self, interaction: discord.Interaction, select: discord.ui.UserSelect) -> None:  # type: ignore[type-arg]
        picked = select.values[0]
        await interaction.response.send_message(f"assigned {picked.name}:{type(picked).__name__}")


@app_commands.command(name="assign", description="A user select")
async def assign(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("who?", view=Assign())


async def test_user_select_values_arrive_resolved_and_string_selects_only_take_their_options(
    bot_runner: BotRunner, discord_control: SandboxClient
):
    await bot_runner.start(setup=lambda bot: add(bot, assign, counter))
    who = await discord_control.command("assign")
    pick = await discord_control.command("counter")

    assigned = await discord_control.click(who.message_id, "assign", values=["operator"])
    with pytest.raises(ControlError) as not_offered:
        await discord_control.click(pick.message_id, "pick", values=["Gamma"])

    assert assigned.content == "assigned operator:Member"
    assert not_offered.value.status == 400


async def test_polling_helpers_see_new_messages_and_edits(
    running_bot, discord_control: SandboxClient, discord_sandbox: DiscordSandbox
):
    channel = running_bot.get_channel(discord_sandbox.world.channel("alerts").id)
    assert isinstance(channel, discord.TextChannel)

    async def post_then_edit() -> None:
        message = await channel.send("server down")
        await message.edit(content="server back up")

    task = asyncio.create_task(post_then_edit())
    posted = await discord_control.wait_for_message(
        "alerts", lambda m: m["content"].startswith("server")
    )
    edited = await discord_control.wait_for_edit(
        "alerts", posted["id"], lambda m: m["content"] == "server back up"
    )
    await task

    assert edited["id"] == posted["id"]
    assert edited["edited_timestamp"] is not None
