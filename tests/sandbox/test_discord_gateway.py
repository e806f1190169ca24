"""The sandbox's gateway: raw websocket protocol, and discord.py surviving dropped sockets."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from pterodisbot.bot import discord_api
from pterodisbot.clock import FakeClock
from pterodisbot_sandbox.discord_server import DiscordSandbox, World, make_bot_token
from tests.fixtures.discord import SandboxClient, poll_until
from tests.processes import subprocess_env

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
MESSAGE_CONTENT = 1 << 15


class RawGateway:
    """A bare gateway client speaking JSON frames (optionally zlib-stream compressed)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, compressed: bool) -> None:
        self.ws = ws
        self._inflate = zlib.decompressobj() if compressed else None
        self._buffer = bytearray()
        self.binary_frames = 0

    async def recv(self) -> dict[str, Any]:
        while True:
            msg = await self.ws.receive(timeout=5)
            if msg.type == aiohttp.WSMsgType.TEXT:
                return dict(json.loads(msg.data))
            if msg.type == aiohttp.WSMsgType.BINARY:
                assert self._inflate is not None
                self.binary_frames += 1
                self._buffer.extend(msg.data)
                if bytes(self._buffer[-4:]) != b"\x00\x00\xff\xff":
                    continue
                text = self._inflate.decompress(bytes(self._buffer))
                self._buffer.clear()
                return dict(json.loads(text))
            raise ConnectionError(f"socket closed: {msg.type} {self.ws.close_code}")

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))

    async def identify(self, token: str, intents: int = GUILDS) -> dict[str, Any]:
        await self.send(2, {"token": token, "intents": intents, "properties": {}})
        return await self.recv()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def connect(
    sandbox: DiscordSandbox, session: aiohttp.ClientSession, *, compressed: bool = False
) -> RawGateway:
    query = "?v=10&encoding=json" + ("&compress=zlib-stream" if compressed else "")
    ws = await session.ws_connect(sandbox.gateway.url + query)
    return RawGateway(ws, compressed=compressed)


async def test_hello_heartbeat_identify_ready_and_guild_create_over_zlib_stream(
    discord_sandbox: DiscordSandbox, session: aiohttp.ClientSession
):
    gw = await connect(discord_sandbox, session, compressed=True)

    hello = await gw.recv()
    await gw.send(1, None)
    ack = await gw.recv()
    ready = await gw.identify(discord_sandbox.bot_token)
    guild_create = await gw.recv()

    assert hello["op"] == 10
    assert hello["d"]["heartbeat_interval"] > 0
    assert ack["op"] == 11
    assert (ready["t"], ready["s"]) == ("READY", 1)
    world = discord_sandbox.world
    assert ready["d"]["user"]["id"] == str(world.bot.id)
    assert ready["d"]["application"]["id"] == str(world.application_id)
    assert ready["d"]["guilds"] == [{"id": str(world.guilds[0].id), "unavailable": True}]
    assert ready["d"]["resume_gateway_url"] == discord_sandbox.gateway.url
    assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
    guild = guild_create["d"]
    assert [c["name"] for c in guild["channels"]] == ["status", "alerts", "audit"]
    assert {r["name"] for r in guild["roles"]} >= {"@everyone", "Admin", "Operator"}
    # Without the members intent only the bot itself is in the member list, as on Discord.
    assert [m["user"]["id"] for m in guild["members"]] == [str(world.bot.id)]
    assert gw.binary_frames == 4


async def test_identify_with_a_wrong_token_closes_with_4004(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    sandbox = await discord_sandbox_factory(token="MTIzNDU2Nzg5MA.abcdef.right-token-xxxxxxxxxxxxx")
    gw = await connect(sandbox, session)
    await gw.recv()

    with pytest.raises(ConnectionError):
        await gw.identify("MTIzNDU2Nzg5MA.abcdef.wrong-token-xxxxxxxxxxxxx")

    assert gw.ws.close_code == 4004


async def test_privileged_intents_are_refused_unless_the_application_has_them(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    plain = await discord_sandbox_factory()
    enabled = await discord_sandbox_factory(
        world=World(
            users=World.default().users, guilds=World.default().guilds, privileged_intents=True
        )
    )
    refused = await connect(plain, session)
    await refused.recv()
    with pytest.raises(ConnectionError):
        await refused.identify(plain.bot_token, GUILDS | GUILD_MEMBERS)
    allowed = await connect(enabled, session)
    await allowed.recv()
    ready = await allowed.identify(enabled.bot_token, GUILDS | GUILD_MEMBERS)
    guild = (await allowed.recv())["d"]

    assert refused.ws.close_code == 4014
    assert ready["t"] == "READY"
    assert len(guild["members"]) == 4


async def test_resume_replays_missed_events_then_sends_resumed(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    gw = await connect(discord_sandbox, session)
    await gw.recv()
    ready = await gw.identify(discord_sandbox.bot_token)
    await gw.recv()  # GUILD_CREATE, s=2
    await gw.ws.close(code=4000)

    await discord_control.delete_channel("audit")  # CHANNEL_DELETE while nobody listens
    again = await connect(discord_sandbox, session)
    hello = await again.recv()
    await again.send(
        6, {"token": discord_sandbox.bot_token, "session_id": ready["d"]["session_id"], "seq": 2}
    )
    missed = await again.recv()
    resumed = await again.recv()

    assert hello["op"] == 10
    assert (missed["t"], missed["s"], missed["d"]["name"]) == ("CHANNEL_DELETE", 3, "audit")
    assert (resumed["t"], resumed["s"]) == ("RESUMED", 4)


async def test_resuming_an_unknown_session_is_an_invalid_session(
    discord_sandbox: DiscordSandbox, session: aiohttp.ClientSession
):
    gw = await connect(discord_sandbox, session)
    await gw.recv()

    await gw.send(6, {"token": discord_sandbox.bot_token, "session_id": "nope", "seq": 1})
    answer = await gw.recv()

    assert (answer["op"], answer["d"]) == (9, False)


async def test_events_go_only_to_sessions_whose_intents_want_them(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    guilds_only = await connect(discord_sandbox, session)
    await guilds_only.recv()
    await guilds_only.identify(discord_sandbox.bot_token, GUILDS)
    await guilds_only.recv()
    with_messages = await connect(discord_sandbox, session)
    await with_messages.recv()
    await with_messages.identify(discord_sandbox.bot_token, GUILDS | GUILD_MESSAGES)
    await with_messages.recv()
    status = discord_sandbox.world.channel("status").id
    headers = {"Authorization": f"Bot {discord_sandbox.bot_token}"}

    async with session.post(
        f"{discord_sandbox.url}/api/v10/channels/{status}/messages",
        json={"content": "hi"},
        headers=headers,
    ) as r:
        assert r.status == 200
    created = await with_messages.recv()
    sessions = {s["intents"]: s["seq"] for s in (await discord_control.gateway())["sessions"]}

    assert (created["t"], created["d"]["content"]) == ("MESSAGE_CREATE", "hi")
    assert sessions == {GUILDS: 2, GUILDS | GUILD_MESSAGES: 3}


async def wait_resumed(control: SandboxClient, resumes: int) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        info = await control.gateway()
        sessions = info["sessions"]
        done = len(sessions) == 1 and sessions[0]["resumes"] >= resumes and sessions[0]["connected"]
        return info if done else None

    return dict(await poll_until(probe, what=f"{resumes} gateway resume(s)"))


async def test_dropped_socket_is_resumed_and_interactions_keep_flowing(
    running_bot, discord_control: SandboxClient
):
    resumed = []

    async def on_resumed() -> None:
        resumed.append(True)

    running_bot.add_listener(on_resumed, "on_resumed")

    dropped = await discord_control.disconnect("drop")
    info = await wait_resumed(discord_control, 1)
    result = await discord_control.command("about")

    assert dropped["disconnected"] == 1
    assert info["identifies"] == 1
    assert resumed == [True]
    assert result.status == "answered"


async def test_an_interaction_sent_while_the_socket_is_down_is_replayed(
    running_bot, discord_control: SandboxClient
):
    await discord_control.disconnect("drop")
    result = await discord_control.command("about")

    assert result.status == "answered"
    info = await discord_control.gateway()
    assert info["identifies"] == 1


async def test_reconnect_opcode_makes_the_bot_resume(running_bot, discord_control: SandboxClient):
    await discord_control.disconnect("reconnect")
    info = await wait_resumed(discord_control, 1)
    result = await discord_control.command("about")

    assert info["identifies"] == 1
    assert result.status == "answered"


async def test_invalid_session_makes_the_bot_identify_again(
    bot_runner, discord_control: SandboxClient
):
    async def no_identify_pause(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    def skip_pause(bot: Any) -> None:
        # discord.py sleeps 5 s before every non-initial IDENTIFY (Discord's identify limit).
        bot.before_identify_hook = no_identify_pause

    await bot_runner.start(setup=skip_pause)
    await discord_control.disconnect("invalid_session")

    async def identified_twice() -> bool:
        info = await discord_control.gateway()
        return info["identifies"] == 2 and any(s["connected"] for s in info["sessions"])

    await poll_until(identified_twice, what="a second IDENTIFY")
    result = await discord_control.command("about")

    assert result.status == "answered"


async def test_a_guild_added_while_running_reaches_the_bot_and_its_members(
    bot_runner, discord_control: SandboxClient
):
    bot = await bot_runner.start(sync_commands="global")
    joined = asyncio.ensure_future(bot.wait_for("guild_join", timeout=5))

    added = await discord_control._call(
        "POST",
        "/guilds",
        json={
            "name": "Late Guild",
            "owner": "outsider",
            "channels": [{"name": "general"}],
            "members": [{"user": "member"}],
        },
    )
    guild = await joined
    result = await discord_control.command("about", user="member", guild="Late Guild")

    assert guild.id == int(added["id"])
    assert [c.name for c in guild.text_channels] == ["general"]
    assert result.status == "answered"
    assert result.raw["message"]["guild_id"] == added["id"]


async def test_a_session_left_without_a_socket_expires(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    clock = FakeClock()
    sandbox = await discord_sandbox_factory(clock=clock)
    gw = await connect(sandbox, session)
    await gw.recv()
    ready = await gw.identify(sandbox.bot_token)
    await gw.recv()
    await gw.ws.close(code=4000)
    control = SandboxClient(sandbox.url, session)

    async def detached() -> bool:
        return not any(s["connected"] for s in (await control.gateway())["sessions"])

    await poll_until(detached, what="the server to see the close")

    clock.advance(121)
    again = await connect(sandbox, session)
    await again.recv()
    await again.identify(sandbox.bot_token)  # a new session; the old one is swept
    late = await connect(sandbox, session)
    await late.recv()
    await late.send(
        6, {"token": sandbox.bot_token, "session_id": ready["d"]["session_id"], "seq": 2}
    )
    answer = await late.recv()

    assert (answer["op"], answer["d"]) == (9, False)


async def test_a_compression_the_sandbox_lacks_falls_back_to_plain_json_frames(
    discord_sandbox: DiscordSandbox, session: aiohttp.ClientSession
):
    # discord.py asks for zstd-stream when `zstandard` is installed; it reads text frames too.
    ws = await session.ws_connect(
        discord_sandbox.gateway.url + "?v=10&encoding=json&compress=zstd-stream"
    )
    msg = await ws.receive(timeout=5)

    assert msg.type == aiohttp.WSMsgType.TEXT
    assert json.loads(msg.data)["op"] == 10
    await ws.close()


# Short enough for several heartbeats in a test, long enough that a latency measured against the
# previous heartbeat (the interval) is far above any real round trip.
SHORT_HEARTBEAT_MS = 1500
LATENCY_BOUND = 0.5


@pytest.fixture
async def sandbox_process(tmp_path: Path) -> AsyncIterator[str]:
    """Run the sandbox in its own process, as an operator does; return its base URL.

    In one process the sandbox's ACK cannot overtake discord.py's keep-alive thread; across
    processes it can, as the issue saw.
    """
    log_file = tmp_path / "sandbox.log"
    with log_file.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pterodisbot_sandbox.discord_server",
            "--port",
            "0",
            "--heartbeat-interval-ms",
            str(SHORT_HEARTBEAT_MS),
            env=subprocess_env(PYTHONUNBUFFERED="1"),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        found = re.search(r"on (http://\S+)", first)
        assert found, f"no URL in {first!r}; stderr: {log_file.read_text()}"
        yield found.group(1)
    finally:
        process.terminate()
        await process.wait()


async def test_discord_py_latency_stays_a_round_trip_across_heartbeats_and_a_resume(
    sandbox_process: str,
):
    client = discord.Client(intents=discord.Intents(guilds=True), enable_debug_events=True)
    latencies: list[float] = []

    async def on_socket_raw_receive(msg: str) -> None:
        # discord.py has already measured this ACK when the event runs.
        if json.loads(msg)["op"] == 11:
            latencies.append(client.latency)

    client.event(on_socket_raw_receive)

    gateway = "ws" + sandbox_process.removeprefix("http") + "/gateway"
    with discord_api.api_base(sandbox_process, gateway_url=gateway):
        running = asyncio.create_task(client.start(make_bot_token(10**18)))

        async def acks(n: int) -> bool:
            if running.done():
                running.result()  # re-raise why the client stopped
                pytest.fail("the client stopped")
            return len(latencies) >= n

        try:
            # The heartbeat sent on HELLO, then three from discord.py's keep-alive thread.
            await poll_until(lambda: acks(4), within=20, what="four heartbeat ACKs")
            async with aiohttp.ClientSession() as http:
                control = SandboxClient(sandbox_process, http)
                await control.disconnect("drop")
                await wait_resumed(control, 1)
                after_resume = len(latencies) + 2
                await poll_until(lambda: acks(after_resume), within=20, what="ACKs after resume")
                info = await control.gateway()
        finally:
            await client.close()
            await asyncio.wait_for(running, 10)

    # Measured from the previous heartbeat, it would read as the interval (1.5 s; 41.25 s on
    # Discord, where discord.py then also warns "Can't keep up").
    assert max(latencies) < LATENCY_BOUND, latencies
    assert info["heartbeats"]["acked"] == info["heartbeats"]["received"] >= len(latencies)


async def test_each_heartbeat_gets_one_ack_and_none_comes_unasked(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    gw = await connect(discord_sandbox, session)
    await gw.recv()  # HELLO
    await gw.identify(discord_sandbox.bot_token)
    await gw.recv()  # GUILD_CREATE

    for _ in range(3):
        await gw.send(1, 2)
    acks = [await gw.recv() for _ in range(3)]
    asked = await discord_control.request_heartbeat()
    # Had any ACK come unasked (twice per heartbeat, or on a timer), it would be next.
    request = await gw.recv()
    await gw.send(1, 2)
    answer_ack = await gw.recv()
    counts = (await discord_control.gateway())["heartbeats"]

    assert [a["op"] for a in acks] == [11, 11, 11]
    assert asked == {"asked": 1}
    assert (request["op"], request["d"]) == (1, None)
    assert answer_ack["op"] == 11
    assert counts == {"received": 4, "acked": 4, "requested": 1}


async def test_discord_py_answers_a_heartbeat_the_gateway_asks_for(
    running_bot, discord_control: SandboxClient
):
    async def settled() -> dict[str, int] | None:
        counts = dict((await discord_control.gateway())["heartbeats"])
        return counts if counts["received"] == counts["acked"] else None

    before = await poll_until(settled, what="the heartbeat sent on HELLO to be ACKed")
    asked = await discord_control.request_heartbeat()

    async def answered() -> dict[str, int] | None:
        counts = dict((await discord_control.gateway())["heartbeats"])
        done = counts["acked"] == before["acked"] + 1 and counts["received"] == counts["acked"]
        return counts if done else None

    await poll_until(answered, what="the bot's heartbeat answering the request, ACKed")
    assert asked == {"asked": 1}
    assert running_bot.latency < LATENCY_BOUND


async def _ready_session(
    sandbox: DiscordSandbox, session: aiohttp.ClientSession, intents: int
) -> RawGateway:
    gateway = await connect(sandbox, session)
    await gateway.recv()  # HELLO
    await gateway.identify(sandbox.bot_token, intents)  # READY
    await gateway.recv()  # GUILD_CREATE
    return gateway


async def test_removing_the_bot_from_a_guild_sends_guild_delete_without_unavailable(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    gateway = await _ready_session(discord_sandbox, session, GUILDS)
    guild = discord_sandbox.world.guilds[0]

    await discord_control.remove_guild(guild.name)
    event = await gateway.recv()

    # Discord's payload for a removal: the id only; `"unavailable": true` would be an outage.
    assert (event["t"], event["d"]) == ("GUILD_DELETE", {"id": str(guild.id)})
    guilds = [g["id"] for g in (await discord_control.world())["guilds"]]
    assert str(guild.id) not in guilds
    headers = {"Authorization": f"Bot {discord_sandbox.bot_token}"}
    channel = guild.channels[0].id
    async with session.get(
        f"{discord_sandbox.url}/api/v10/channels/{channel}", headers=headers
    ) as r:
        assert (r.status, (await r.json())["code"]) == (403, 50001)


async def test_a_bulk_delete_sends_one_message_delete_bulk_to_guild_message_sessions(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    guilds_only = await _ready_session(discord_sandbox, session, GUILDS)
    gateway = await _ready_session(discord_sandbox, session, GUILDS | GUILD_MESSAGES)
    status = discord_sandbox.world.channel("status")
    headers = {"Authorization": f"Bot {discord_sandbox.bot_token}"}
    ids = []
    for text in ("one", "two"):
        async with session.post(
            f"{discord_sandbox.url}/api/v10/channels/{status.id}/messages",
            json={"content": text},
            headers=headers,
        ) as r:
            ids.append((await r.json())["id"])
        assert (await gateway.recv())["t"] == "MESSAGE_CREATE"

    await discord_control.bulk_delete("status", ids)
    event = await gateway.recv()

    assert event["t"] == "MESSAGE_DELETE_BULK"
    assert event["d"] == {
        "ids": ids,
        "channel_id": str(status.id),
        "guild_id": str(discord_sandbox.world.guilds[0].id),
    }
    assert await discord_control.messages("status") == []
    # Like MESSAGE_DELETE, it needs the guild messages intent.
    sessions = {s["intents"]: s["seq"] for s in (await discord_control.gateway())["sessions"]}
    assert sessions == {GUILDS: 2, GUILDS | GUILD_MESSAGES: 5}
    await guilds_only.ws.close()


async def test_channel_update_is_sent_only_when_the_overwrites_change(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    gateway = await _ready_session(discord_sandbox, session, GUILDS)
    bot_id = str(discord_sandbox.state.bot.id)

    # The sandbox's own `edit` switch changes nothing Discord would show: no event.
    await discord_control.set_permissions("status", edit=False)
    await discord_control.set_permissions("status", attach=False)
    event = await gateway.recv()

    assert event["t"] == "CHANNEL_UPDATE"
    assert event["s"] == 3  # READY 1, GUILD_CREATE 2: nothing in between for `edit`
    overwrite = next(o for o in event["d"]["permission_overwrites"] if o["id"] == bot_id)
    assert int(overwrite["deny"]) == 1 << 15  # Attach Files


async def test_a_role_change_sends_guild_role_update_with_the_role_as_discord_shapes_it(
    discord_sandbox: DiscordSandbox,
    session: aiohttp.ClientSession,
    discord_control: SandboxClient,
):
    gateway = await connect(discord_sandbox, session)
    await gateway.recv()  # HELLO
    await gateway.identify(discord_sandbox.bot_token, GUILDS)  # READY
    created = (await gateway.recv())["d"]  # GUILD_CREATE
    messages_only = await connect(discord_sandbox, session)
    await messages_only.recv()
    await messages_only.identify(discord_sandbox.bot_token, GUILD_MESSAGES)
    guild = discord_sandbox.world.guilds[0]
    bot = discord_sandbox.world.bot
    before = next(r for r in created["roles"] if r["name"] == bot.name)

    answered = await discord_control.set_role_permissions(
        bot.name, permissions=["view_channel", "send_messages"]
    )
    event = await gateway.recv()

    assert event["t"] == "GUILD_ROLE_UPDATE"
    assert event["d"] == {"guild_id": str(guild.id), "role": answered}
    role = event["d"]["role"]
    assert role["permissions"] == str((1 << 10) | (1 << 11))
    # Everything else as GUILD_CREATE had it; discord.py finds its own role by the bot_id tag.
    assert {k: v for k, v in role.items() if k != "permissions"} == {
        k: v for k, v in before.items() if k != "permissions"
    }
    assert role["managed"] is True
    assert role["tags"] == {"bot_id": str(bot.id)}
    # The GUILDS intent carries it; a session without it gets nothing after READY.
    sessions = {s["intents"]: s["seq"] for s in (await discord_control.gateway())["sessions"]}
    assert sessions == {GUILDS: 3, GUILD_MESSAGES: 1}
    await messages_only.ws.close()


async def test_the_bots_own_member_update_comes_without_the_members_intent(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    # Discord's gateway caveat: GUILD_MEMBER_UPDATE of the current user is sent regardless of
    # GUILD_MEMBERS; other members' updates need that (privileged) intent.
    sandbox = await discord_sandbox_factory(
        world=World(
            users=World.default().users, guilds=World.default().guilds, privileged_intents=True
        )
    )
    plain = await _ready_session(sandbox, session, GUILDS)
    members = await _ready_session(sandbox, session, GUILDS | GUILD_MEMBERS)
    async with aiohttp.ClientSession() as control_session:
        control = SandboxClient(sandbox.url, control_session)
        await control.add_member_role("Operator", user="member")
        await control.add_member_role("Admin")
        # Already given: nothing changes, nothing is sent.
        await control.add_member_role("Admin")
        sessions = {s["intents"]: s["seq"] for s in (await control.gateway())["sessions"]}
    guild = sandbox.world.guilds[0]
    bot = sandbox.world.bot
    admin = sandbox.world.role("Admin")
    bot_role = next(r for r in guild.roles if r.managed)

    own = await plain.recv()
    other = await members.recv()
    own_too = await members.recv()

    assert own["t"] == "GUILD_MEMBER_UPDATE"
    assert own["d"]["guild_id"] == str(guild.id)
    assert own["d"]["user"]["id"] == str(bot.id)
    assert own["d"]["roles"] == [str(bot_role.id), str(admin.id)]
    assert own_too["d"] == own["d"]
    assert other["d"]["user"]["id"] == str(sandbox.world.user("member").id)
    assert sessions == {GUILDS: 3, GUILDS | GUILD_MEMBERS: 4}


async def test_a_members_message_reaches_the_bot_without_content_unless_it_mentions_it(
    discord_sandbox_factory, session: aiohttp.ClientSession
):
    default = World.default()
    sandbox = await discord_sandbox_factory(
        world=World(users=default.users, guilds=default.guilds, privileged_intents=True)
    )
    discord_control = SandboxClient(sandbox.url, session)
    plain = await _ready_session(sandbox, session, GUILDS | GUILD_MESSAGES)
    reader = await _ready_session(sandbox, session, GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT)
    bot_id = sandbox.world.bot.id

    await discord_control.say("status", "operator", "is the server up?")
    await discord_control.say("status", "operator", f"<@{bot_id}> hello")
    chat, mention = await plain.recv(), await plain.recv()
    read_chat, read_mention = await reader.recv(), await reader.recv()

    # Discord's rule without the privileged intent: no content unless the bot is mentioned.
    assert (chat["t"], chat["d"]["content"], chat["d"]["author"]["username"]) == (
        "MESSAGE_CREATE",
        "",
        "operator",
    )
    assert mention["d"]["content"] == f"<@{bot_id}> hello"
    assert [u["id"] for u in mention["d"]["mentions"]] == [str(bot_id)]
    assert read_chat["d"]["content"] == "is the server up?"
    assert read_mention["d"]["content"] == f"<@{bot_id}> hello"
    await reader.ws.close()
