"""The status commands and the edit pace, through the sandbox with the real bot."""

from __future__ import annotations

import asyncio
import re

import pytest

from pterodisbot.units import format_percent
from pterodisbot_sandbox.discord_server import Bucket, RateLimits
from tests.fixtures.discord import ControlError, poll_until
from tests.fixtures.product import Product


async def test_fifty_embeds_in_one_channel_never_hit_the_edit_rate_limit(
    product: Product,
) -> None:
    # Discord's edit bucket shrunk to 5 per second so the scenario runs in seconds.
    limits = RateLimits(message_edit=Bucket(5, 1.0), message_create=Bucket(1000, 1.0))
    await product.start(panel={"servers": 50}, sandbox={"rate_limits": limits})
    services = product.services
    services.pump.interval = 0.21  # just over the bucket's 0.2 s per edit
    channel_id = int(await product.control.channel_id("status"))
    guild_id = product.sandbox.world.guilds[0].id
    assert product.bot is not None
    channel = product.bot.get_partial_messageable(channel_id, guild_id=guild_id)
    for snap in list(services.monitor.snapshots.values()):
        await services.board.post(channel, guild_id=guild_id, channel_id=channel_id, snap=snap)
    assert len(services.locations) == len(services.monitor.snapshots) >= 45

    # Three waves of "everything changed" plus live polling: far more than 5 edits per second.
    crashed = [s for s in product.panel.servers.values() if s.state == "running"][:5]
    for wave in range(3):
        services.board.refresh()
        if wave == 1:
            for server in crashed:
                await product.sim("POST", f"/servers/{server.identifier}/crash")
        await asyncio.sleep(0.5)

    async def drained() -> bool:
        return services.pump.pending() == 0

    await poll_until(drained, within=60, what="the edit pump to drain")
    stats = await product.control.stats()
    edit_429s = {r: n for r, n in stats["429_by_route"].items() if "PATCH" in r}
    assert edit_429s == {}
    assert services.board.stats.edits >= len(services.locations)
    assert services.pump.stats.coalesced > 0  # repeated requests for one message were merged


async def test_member_sees_server_list_but_cannot_refresh_or_purge(product: Product) -> None:
    await product.start()
    listing = await product.control.command("server_list", user="member")
    assert listing.ephemeral
    text = " ".join(
        (e.get("description") or "") + " ".join(f["value"] for f in e.get("fields", []))
        for e in listing.embeds
    )
    for server in product.panel.servers.values():
        assert server.name in text or server.identifier in text
    # The admin commands carry default member permissions: Discord hides them from members...
    offered = {c["name"] for c in await product.control.visible_commands("member")}
    assert "server_list" in offered
    assert offered.isdisjoint({"refresh_embeds", "purge_embeds", "reload_config"})
    for name in ("refresh_embeds", "purge_embeds"):
        with pytest.raises(ControlError) as hidden:
            await product.control.command(name, user="member")
        assert (hidden.value.status, hidden.value.body["code"]) == (400, 50035)


async def test_server_list_shows_cpu_against_each_servers_limit(product: Product) -> None:
    await product.start()
    listing = await product.control.command("server_list", user="member")
    lines = "\n".join(e.get("description") or "" for e in listing.embeds).splitlines()
    running = [
        s
        for s in product.panel.servers.values()
        if s.state == "running" and s.conflict() is None and not s.node_down
    ]
    assert running
    for server in running:
        [line] = [line for line in lines if f"`{server.identifier}`" in line]
        limit = server.spec.limits.cpu
        # As the status embed says it: "57.2 % of 200 %", or in cores when unlimited.
        tail = f"of {format_percent(limit)}" if limit else "(unlimited, "
        assert re.search(r"CPU [\d.]+ % " + re.escape(tail), line), line


async def test_bot_checks_its_own_admin_roles_behind_discords_command_permissions(
    product: Product,
) -> None:
    # The owner is a Discord Administrator, so Discord shows the command; the operator's config
    # trusts neither that permission nor any admin role, so the bot itself refuses.
    await product.start(settings={"permissions": {"admin": "", "allow_administrator": "false"}})
    refused = await product.control.command("refresh_embeds", user="owner")
    assert refused.ephemeral
    assert "admin" in refused.content.lower()


async def test_admin_purge_deletes_every_embed_of_the_guild(product: Product) -> None:
    await product.start()
    for server in list(product.panel.servers.values())[:3]:
        result = await product.control.command(
            "server_status", {"server": server.identifier}, channel="status", wait=3
        )
        assert result.status == "answered"
    await poll_until(lambda: _count_at_least(product, 3), within=5, what="three status embeds")
    result = await product.control.command("purge_embeds", user="owner", wait=5)
    assert any("Deleted 3" in (f["message"].get("content") or "") for f in result.followups)
    assert await product.control.messages("status") == []
    assert len(product.services.locations) == 0


async def _count_at_least(product: Product, n: int) -> bool:
    return len(await product.control.messages("status")) >= n


async def test_a_second_embed_for_the_same_server_replaces_the_first(product: Product) -> None:
    await product.start()
    server = product.panel.pick("running")
    for _ in range(2):
        result = await product.control.command(
            "server_status", {"server": server.identifier}, channel="status", wait=3
        )
        assert result.status == "answered"

    async def one_left() -> bool:
        return len(await product.control.messages("status")) == 1

    await poll_until(one_left, within=5, what="the first embed to be replaced")
    assert len(product.services.locations) == 1


async def test_status_role_restriction_refuses_and_posts_nothing(product: Product) -> None:
    await product.start(settings={"permissions": {"status": "Operator"}})
    server = product.panel.pick("running")
    refused = await product.control.command(
        "server_status", {"server": server.identifier}, user="member", channel="status"
    )
    assert refused.ephemeral
    assert "role" in refused.content.lower()
    assert await product.control.messages("status") == []
    choices = await product.control.autocomplete(
        "server_status", {"server": ""}, focused="server", user="member"
    )
    assert choices.choices == []  # nothing offered to someone who may not post


async def test_autocomplete_finds_servers_among_five_hundred(product: Product) -> None:
    await product.start(panel={"servers": 500}, poll_interval=60, wait_for_poll=False)
    target = list(product.panel.servers.values())[437]
    result = await product.control.autocomplete(
        "server_status", {"server": target.identifier[:6]}, focused="server", user="member"
    )
    values = [c["value"] for c in result.choices]
    assert target.identifier in values
    assert len(values) <= 25
    everything = await product.control.autocomplete(
        "server_status", {"server": ""}, focused="server", user="member"
    )
    assert len(everything.choices) == 25
