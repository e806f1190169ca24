"""Hundreds of embeds in many channels through the real pump reach Discord under its global limit.

Unmodified discord.py on the Discord sandbox, both on one `FakeClock`: the sandbox records each
request's arrival on it and answers 429 (global) past 50 requests in a second, as Discord does.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import discord

from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.discord_server import ChannelSeed, World
from tests.bot.rates import most_in_one_second
from tests.fixtures.discord import BotRunner, SandboxFactory

CHANNELS = 100
PER_CHANNEL = 3
# Discord's global limit per bot, which the sandbox enforces.
DISCORD_GLOBAL_PER_SECOND = 50


def _wide_world() -> World:
    base = World.default()
    channels = tuple(ChannelSeed(f"status-{i}") for i in range(CHANNELS))
    return replace(base, guilds=(replace(base.guilds[0], channels=channels),)).with_ids()


async def test_300_embeds_in_100_channels_never_pass_discords_global_limit(
    discord_sandbox_factory: SandboxFactory,
) -> None:
    clock = FakeClock(autojump=0.01)
    sandbox = await discord_sandbox_factory(world=_wide_world(), clock=clock)
    runner = BotRunner(sandbox)
    try:
        bot = await runner.start(extensions=())
        pump = EditPump(interval=1.1, clock=clock)
        channels = [c.id for c in sandbox.world.guilds[0].channels]
        posted: dict[int, discord.Message] = {}

        def post(channel_id: int, slot: int):
            async def run() -> None:
                messageable = bot.get_partial_messageable(channel_id)
                posted[channel_id * 10 + slot] = await messageable.send(f"status {slot}")

            return run

        def edit(key: int):
            async def run() -> None:
                await posted[key].edit(content=f"edited {key}")

            return run

        start = clock.time()
        # The posts go through the pump too (a job is any one request): 300 posts, then the
        # 300 embeds all due at the same instant.
        for channel_id in channels:
            for slot in range(PER_CHANNEL):
                pump.submit(channel_id, channel_id * 10 + slot, post(channel_id, slot))
        await asyncio.wait_for(pump.drain(), 60)
        assert len(posted) == CHANNELS * PER_CHANNEL
        for key in posted:
            pump.submit(key // 10, key, edit(key))
        await asyncio.wait_for(pump.drain(), 60)
        await pump.close()
    finally:
        await runner.close()

    requests = [r for r in sandbox.requests.since(0) if r["time"] >= start]
    sends = [r for r in requests if r["route"].startswith(("POST /channels", "PATCH /channels"))]
    assert sum(1 for r in sends if r["method"] == "PATCH" and r["status"] == 200) == 300
    assert sum(1 for r in sends if r["method"] == "POST" and r["status"] == 200) == 300
    assert [r for r in requests if r["status"] == 429] == []
    assert most_in_one_second([r["time"] for r in requests]) <= DISCORD_GLOBAL_PER_SECOND
