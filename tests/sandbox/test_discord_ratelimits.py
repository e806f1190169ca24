"""Discord-like rate limits: bucket headers, 429s, and discord.py waiting them out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import discord
import pytest

from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.discord_server import (
    Bucket,
    ChannelSeed,
    DiscordSandbox,
    GuildSeed,
    MemberSeed,
    RateLimits,
    World,
)
from tests.fixtures.discord import SandboxClient

MESSAGES_ROUTE = "POST /channels/{channel_id}/messages"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def post(
    session: aiohttp.ClientSession, sandbox: DiscordSandbox, channel: int, content: str = "x"
) -> tuple[int, dict, dict[str, str]]:
    async with session.post(
        f"{sandbox.url}/api/v10/channels/{channel}/messages",
        json={"content": content},
        headers={"Authorization": f"Bot {sandbox.bot_token}"},
    ) as r:
        return r.status, await r.json(), dict(r.headers)


def wide_world(channels: int) -> World:
    """Return one guild with many text channels (so requests spread over many buckets)."""
    default = World.default()
    return World(
        users=default.users,
        guilds=(
            GuildSeed(
                name="Wide",
                owner="owner",
                channels=tuple(ChannelSeed(f"ch{i}") for i in range(channels)),
                members=(MemberSeed("member"),),
            ),
        ),
    )


async def test_message_bucket_is_per_channel_and_answers_429_as_discord_does(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    clock = FakeClock()
    sandbox = await discord_sandbox_factory(
        clock=clock, rate_limits=RateLimits(message_create=Bucket(2, 5.0))
    )
    status = sandbox.world.channel("status").id
    alerts = sandbox.world.channel("alerts").id

    first = await post(session, sandbox, status)
    second = await post(session, sandbox, status)
    limited = await post(session, sandbox, status)
    other_channel = await post(session, sandbox, alerts)
    clock.advance(5.0)
    after_reset = await post(session, sandbox, status)

    assert (first[0], second[0], limited[0], other_channel[0], after_reset[0]) == (
        200, 200, 429, 200, 200,
    )  # fmt: skip
    headers = first[2]
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("2", "1")
    assert float(headers["X-RateLimit-Reset-After"]) == 5.0
    assert second[2]["X-RateLimit-Remaining"] == "0"
    assert second[2]["X-RateLimit-Bucket"] == headers["X-RateLimit-Bucket"]
    _, body, h429 = limited
    assert body == {"message": "You are being rate limited.", "retry_after": 5.0, "global": False}
    assert h429["Via"] == "1.1 google"
    assert h429["X-RateLimit-Scope"] == "user"
    assert h429["Retry-After"] == "5"


async def test_global_limit_answers_a_global_429_and_spares_interaction_routes(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    clock = FakeClock()
    sandbox = await discord_sandbox_factory(
        clock=clock, rate_limits=RateLimits(global_limit=Bucket(3, 1.0))
    )
    auth = {"Authorization": f"Bot {sandbox.bot_token}"}
    api = f"{sandbox.url}/api/v10"

    statuses = []
    for _ in range(4):
        async with session.get(f"{api}/users/@me", headers=auth) as r:
            statuses.append(r.status)
            body, headers = await r.json(), dict(r.headers)
    async with session.post(
        f"{api}/webhooks/{sandbox.world.application_id}/no-such-token", json={"content": "x"}
    ) as r:
        webhook_status = r.status

    assert statuses == [200, 200, 200, 429]
    assert body["global"] is True
    assert headers["X-RateLimit-Global"] == "true"
    assert headers["X-RateLimit-Scope"] == "global"
    assert webhook_status == 404  # refused for its token, not rate limited


async def test_discord_py_waits_out_global_429s_and_every_message_arrives(
    discord_sandbox_factory, bot_runner_factory, session: aiohttp.ClientSession
):
    sandbox = await discord_sandbox_factory(
        world=wide_world(6), rate_limits=RateLimits(global_limit=Bucket(2, 0.25))
    )
    bot = await bot_runner_factory(sandbox).start()
    channels = [bot.get_channel(c.id) for c in sandbox.world.guilds[0].channels]
    assert all(isinstance(c, discord.TextChannel) for c in channels)

    sent = await asyncio.gather(*(c.send(f"to {c.name}") for c in channels))  # type: ignore[union-attr]

    stats = await SandboxClient(sandbox.url, session).stats()
    assert [m.content for m in sent] == [f"to ch{i}" for i in range(6)]
    # Login calls may hit the global limit too; the sends certainly do.
    assert stats["429_by_route"][MESSAGES_ROUTE] > 0
    assert stats["global_429"] == stats["total_429"]


async def test_discord_py_waits_out_a_429_caused_by_another_client_on_the_same_token(
    discord_sandbox_factory, bot_runner_factory, session: aiohttp.ClientSession
):
    sandbox = await discord_sandbox_factory(rate_limits=RateLimits(message_create=Bucket(2, 0.5)))
    bot = await bot_runner_factory(sandbox).start()
    status = sandbox.world.channel("status")
    channel = bot.get_channel(status.id)
    assert isinstance(channel, discord.TextChannel)
    # Another process with the same token empties the channel's bucket first.
    for _ in range(2):
        assert (await post(session, sandbox, status.id))[0] == 200

    message = await channel.send("after the wait")

    control = SandboxClient(sandbox.url, session)
    stats = await control.stats()
    assert message.content == "after the wait"
    assert stats["429_by_route"][MESSAGES_ROUTE] >= 1
    assert stats["global_429"] == 0
    stored = await control.messages("status")
    assert stored[-1]["content"] == "after the wait"


async def test_discord_py_paces_itself_from_the_headers_and_gets_no_429(
    discord_sandbox_factory, bot_runner_factory, session: aiohttp.ClientSession
):
    sandbox = await discord_sandbox_factory(rate_limits=RateLimits(message_create=Bucket(2, 0.2)))
    bot = await bot_runner_factory(sandbox).start()
    channel = bot.get_channel(sandbox.world.channel("status").id)
    assert isinstance(channel, discord.TextChannel)

    for i in range(5):
        await channel.send(f"message {i}")

    stats = await SandboxClient(sandbox.url, session).stats()
    assert stats["requests_by_route"][MESSAGES_ROUTE] == 5
    assert stats["total_429"] == 0
