"""Power buttons end to end: real discord.py on the sandbox, real HTTP to the simulated panel."""

from __future__ import annotations

import dataclasses
from typing import Any

import discord

from pterodisbot.bot.cogs.power import CONFIRM_TTL
from pterodisbot.bot.views import ServerButton
from pterodisbot.clock import SystemClock
from pterodisbot_sandbox.discord_server import World
from pterodisbot_sandbox.panel import default_fleet
from tests.fixtures.discord import InteractionResult, poll_until
from tests.fixtures.product import Product

GREEN = 0x57F287
AMBER = 0xFEE75C
AUDIT_CHANNEL = World.default().channel("audit").id
NO_CONFIRM = {"permissions": {"confirm_dangerous": "false"}}


def fast_fleet() -> list[Any]:
    """Return the default six servers with starts and stops that take under a second."""
    return [
        dataclasses.replace(spec, start_seconds=0.8, stop_seconds=0.5)
        for spec in default_fleet(6, 0)
    ]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return a message's buttons by label."""
    return {
        button["label"]: button
        for row in message.get("components", [])
        for button in row.get("components", [])
    }


def said(result: InteractionResult) -> str:
    """Return everything the bot told the user: the first answer and every follow-up."""
    texts = [result.content]
    texts += [str(f["message"].get("content") or "") for f in result.followups]
    return "\n".join(texts)


async def audited(product: Product, count: int) -> list[dict[str, Any]]:
    """Wait until `count` clicks are fully audited; return the audit file's entries."""
    audit = product.services.audit
    assert audit is not None
    assert audit.file is not None

    async def done() -> bool:
        return audit.recorded >= count

    await poll_until(done, within=10, what=f"{count} audit entries")
    await audit.close()
    return audit.file.read()


async def power_calls(product: Product) -> dict[str, dict[str, int]]:
    """Return the power signals the simulated panel acted on, by server."""
    return dict((await product.sim("GET", "/stats"))["power"])


async def test_operator_restarts_a_server_and_the_embed_goes_amber_then_green(
    product: Product,
) -> None:
    await product.start(
        panel={"fleet": fast_fleet()},
        settings={**NO_CONFIRM, "discord": {"audit_channel_id": str(AUDIT_CHANNEL)}},
    )
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    shown = buttons(await product.control.message("status", message_id))
    assert list(shown) == ["Start", "Stop", "Restart", "Show Address", "History"]
    assert shown["Start"]["disabled"] is True  # already running
    assert shown["Restart"]["custom_id"] == f"pdb:restart:{server.identifier}"

    result = await product.control.click(
        message_id, f"pdb:restart:{server.identifier}", user="operator", wait=5
    )
    assert result.status == "answered"
    assert result.ephemeral
    assert result.data["content"] == f"Restarting **{server.name}**…"  # the first answer...
    assert "is restarting" in result.content  # ...edited to the outcome
    assert await power_calls(product) == {server.identifier: {"restart": 1}}

    colours: list[int] = []

    async def back_to_green() -> bool:
        colour = (await product.control.message("status", message_id))["embeds"][0]["color"]
        if not colours or colours[-1] != colour:
            colours.append(colour)
        return AMBER in colours and colours[-1] == GREEN

    await poll_until(back_to_green, within=8, what="the embed to go amber, then green")
    audit = await product.control.wait_for_message(
        "audit", lambda m: bool(m["embeds"]) and "Restart" in m["embeds"][0]["description"]
    )
    assert audit["embeds"][0]["description"].startswith("Restart sent by <@")
    assert f"· {server.name}\n" in audit["embeds"][0]["description"]
    entries = await audited(product, 2)
    # The attempt is written before the panel is called, its outcome after.
    assert [(e["action"], e["allowed"], e["outcome"]) for e in entries] == [
        ("restart", True, "sending"),
        ("restart", True, "ok"),
    ]
    assert [e["user_name"] for e in entries] == ["operator", "operator"]
    assert entries[0]["latency_ms"] is None
    assert entries[1]["latency_ms"] is not None


async def _send_buttons(
    product: Product, channel_id: int, custom_ids: list[str], content: str = "buttons"
) -> str:
    """Make the bot post a message carrying buttons with exactly these custom ids."""
    view = discord.ui.View(timeout=None)
    for custom_id in custom_ids:
        view.add_item(ServerButton(custom_id, label=custom_id[-20:]))
    assert product.bot is not None
    channel = product.bot.get_partial_messageable(channel_id)
    return str((await channel.send(content, view=view)).id)


async def test_strangers_dms_other_guilds_and_forged_buttons_reach_no_panel(
    product: Product,
) -> None:
    world = World.default(second_guild=True)
    await product.start(sandbox={"world": world}, settings=NO_CONFIRM)
    server = product.panel.pick("running")
    identifier = server.identifier
    message_id = await product.post_status(identifier)
    refusals: list[str] = []

    member = await product.control.click(message_id, f"pdb:restart:{identifier}", user="member")
    refusals.append(member.content)
    assert "don't have a role" in member.content

    assert product.bot is not None
    operator = await product.bot.fetch_user(world.user("operator").id)
    dm = await operator.create_dm()
    dm_message = await _send_buttons(product, dm.id, [f"pdb:restart:{identifier}"])
    in_dm = await product.control.click(dm_message, f"pdb:restart:{identifier}", user="operator")
    refusals.append(in_dm.content)

    general = world.channel("general", "Other Guild").id
    other = await _send_buttons(product, general, [f"pdb:restart:{identifier}"])
    elsewhere = await product.control.click(other, f"pdb:restart:{identifier}", user="outsider")
    refusals.append(elsewhere.content)
    assert "only inside the Discord servers this bot serves" in in_dm.content
    assert elsewhere.content == in_dm.content

    forged = ["pdb:restart:zz99zz99", "pdb:restart", f"pdb:explode:{identifier}"]
    status = world.channel("status").id
    forged_message = await _send_buttons(product, status, forged)
    for custom_id in forged:
        # Even the guild's Administrator gets nothing from a button the bot would not make.
        answer = await product.control.click(forged_message, custom_id, user="owner")
        refusals.append(answer.content)
    assert "don't control that server" in refusals[-3]
    assert "not one I recognise" in refusals[-2]
    assert refusals[-1] == refusals[-2]

    assert len(refusals) == 6
    assert all(refusals), refusals
    assert await power_calls(product) == {}
    entries = await audited(product, 6)
    assert [e["outcome"] for e in entries] == ["refused"] * 6
    assert not any(e["allowed"] for e in entries)


async def test_buttons_posted_before_a_restart_still_work_after_it(product: Product) -> None:
    await product.start(panel={"fleet": fast_fleet()}, settings=NO_CONFIRM)
    offline = next(
        s
        for s in product.panel.servers.values()
        if s.state == "offline" and not s.status and not s.node_down
    )
    message_id = await product.post_status(offline.identifier)
    assert (
        buttons(await product.control.message("status", message_id))["Start"]["disabled"] is False
    )

    await product.restart()
    result = await product.control.click(
        message_id, f"pdb:start:{offline.identifier}", user="operator", wait=5
    )

    assert "is starting" in said(result)
    assert await power_calls(product) == {offline.identifier: {"start": 1}}


async def test_stop_asks_first_and_cancel_sends_nothing(product: Product) -> None:
    await product.start(panel={"fleet": fast_fleet()})
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)

    asked = await product.control.click(
        message_id, f"pdb:stop:{server.identifier}", user="operator"
    )
    assert asked.ephemeral
    assert "Players on it will be disconnected" in asked.content
    assert await power_calls(product) == {}
    cancelled = await product.control.click(
        asked.message_id, f"pdb:stop:{server.identifier}:no", user="operator"
    )
    assert cancelled.response_type == 7  # the confirm message is updated in place
    assert await power_calls(product) == {}

    again = await product.control.click(
        message_id, f"pdb:stop:{server.identifier}", user="operator"
    )
    confirmed = await product.control.click(
        again.message_id, f"pdb:stop:{server.identifier}:yes", user="operator", wait=5
    )
    assert "is stopping" in said(confirmed)
    assert await power_calls(product) == {server.identifier: {"stop": 1}}


async def test_show_address_lists_every_allocation_primary_first(product: Product) -> None:
    await product.start(settings={"permissions": {"hide_address": "true"}})
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    embed = (await product.control.message("status", message_id))["embeds"][0]
    assert "Address" not in [field["name"] for field in embed["fields"]]

    result = await product.control.click(
        message_id, f"pdb:address:{server.identifier}", user="member"
    )

    assert result.ephemeral
    lines = result.content.splitlines()
    assert lines[1].endswith("(primary)")
    assert len(lines) == 1 + len(product.services.monitor.servers[server.identifier].allocations)
    assert await power_calls(product) == {}


class LaterClock(SystemClock):
    """The system clock, `offset` seconds in the future."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return super().time() + self.offset


async def test_an_old_confirmation_no_longer_fires(product: Product) -> None:
    await product.start()
    server = product.panel.pick("running")
    message_id = await product.post_status(server.identifier)
    asked = await product.control.click(message_id, f"pdb:stop:{server.identifier}", user="owner")
    assert "Stop" in asked.content

    product.services.clock = LaterClock(CONFIRM_TTL + 1)
    late = await product.control.click(
        asked.message_id, f"pdb:stop:{server.identifier}:yes", user="owner"
    )

    assert "This confirmation has expired" in late.content
    assert await power_calls(product) == {}
