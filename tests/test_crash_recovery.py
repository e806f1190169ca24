"""The bot as a process, killed with SIGKILL at the worst moments: no status message left unknown.

And an embed locations path it cannot use: one line, in the log and on stderr, and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from pterodisbot_sandbox.discord_server import DiscordSandbox, Message
from pterodisbot_sandbox.panel import SimulatedPanel
from tests.fixtures.discord import poll_until
from tests.fixtures.outside import Outside


class World(Outside):
    """The bot in a child process, killed at chosen moments; what Discord and its file hold."""

    def __init__(
        self,
        panel: SimulatedPanel,
        sandbox: DiscordSandbox,
        tmp: Path,
        session: aiohttp.ClientSession,
    ) -> None:
        super().__init__(panel, sandbox, tmp, session)
        self.locations = tmp / "embed" / "embed_locations.json"

    def write_status_config(self, locations_file: str = "embed/embed_locations.json") -> None:
        """Write a config.ini with quick edits and the given locations file."""
        self.write_config(self.config_text(locations_file=locations_file, edit_interval="0.2"))

    async def start_and_settle(self) -> None:
        """Start the bot and wait until it watches the panel and has reconciled its channels."""
        runs = self.log_text().count("status messages reconciled")
        await self.start_bot(stdout=asyncio.subprocess.DEVNULL)

        async def ready() -> bool:
            assert self.bot is not None
            assert self.bot.returncode is None, "the bot exited"
            settled = self.log_text().count("status messages reconciled") > runs
            return settled and await self.ready()

        await poll_until(ready, within=30, what="the bot to be healthy, synced and reconciled")

    def kill_when(self, kind: str, wanted: Callable[[Message], bool]) -> asyncio.Event:
        """SIGKILL the bot the moment the sandbox records a matching message change."""
        killed = asyncio.Event()
        bot = self.bot
        assert bot is not None

        def listener(change: str, message: Message) -> None:
            if change == kind and wanted(message) and not killed.is_set():
                os.kill(bot.pid, signal.SIGKILL)
                killed.set()
                self.sandbox.state.message_listeners.remove(listener)

        self.sandbox.state.message_listeners.append(listener)
        return killed

    async def killed(self, event: asyncio.Event) -> None:
        assert self.bot is not None
        await asyncio.wait_for(event.wait(), 15)
        await asyncio.wait_for(self.bot.wait(), 10)
        assert self.bot.returncode == -signal.SIGKILL

    def channel_names(self) -> dict[int, str]:
        """Return channel id -> name of the first guild's #status and #alerts."""
        guild = self.sandbox.world.guilds[0].id
        return {
            c.id: c.name
            for c in self.sandbox.state.channels.values()
            if c.guild_id == guild and c.name in ("status", "alerts")
        }

    def status_message(self, message: Message) -> bool:
        return (
            message.channel_id in self.channel_names()
            and message.author.id == self.sandbox.state.bot.id
            and bool(message.components)
            and not message.ephemeral
        )

    def status_messages(self) -> dict[int, tuple[str, str]]:
        """Return message id -> (channel, server) of every status message, as Discord has them."""
        found: dict[int, tuple[str, str]] = {}
        for channel_id, name in self.channel_names().items():
            for message in self.sandbox.state.channels[channel_id].messages.values():
                if self.status_message(message):
                    custom_id = message.components[0]["components"][0]["custom_id"]
                    found[message.id] = (name, str(custom_id).split(":")[2])
        return found

    def recorded(self) -> dict[int, tuple[str, str]]:
        """Return message id -> (channel, server) of what the locations file knows."""
        names = self.channel_names()
        document = json.loads(self.locations.read_text(encoding="utf-8"))
        return {
            int(k): (names[int(v["channel_id"])], v["server_id"])
            for k, v in document["locations"].items()
        }


@pytest.fixture
async def world(outside: Outside) -> AsyncIterator[World]:
    """The outside world, seen as the crash tests need it; its bot killed after the test."""
    world = World(outside.panel, outside.sandbox, outside.tmp, outside.session)
    try:
        yield world
    finally:
        await world.kill_bot()


async def _post(world: World, server: str, channel: str = "status") -> None:
    """Run /server_status in `channel`; the answer may never come (the bot may be killed)."""
    await world.control.command("server_status", {"server": server}, channel=channel)


async def test_kill_9_at_the_post_or_after_the_delete_leaves_no_unknown_status_message(
    world: World,
) -> None:
    world.write_status_config()
    first, second = sorted(world.panel.servers)[:2]
    await world.start_and_settle()
    await _post(world, first)
    await poll_until(
        lambda: _async(len(world.status_messages()) == 1), within=10, what="the first embed"
    )

    # Killed the moment Discord has the new message: replacing a known one, the first in a
    # channel the file does not know yet (only the pending post names it), and the known one's
    # replacement again.
    for server, channel in ((first, "status"), (second, "alerts"), (first, "status")):
        killed = world.kill_when("create", world.status_message)
        await _post(world, server, channel)
        await world.killed(killed)
        await world.start_and_settle()

    # Killed right after Discord deleted the message being replaced, before the file knew.
    [known] = [m for m, shows in world.status_messages().items() if shows == ("status", first)]
    killed = world.kill_when("delete", lambda message: message.id == known)
    await _post(world, first)
    await world.killed(killed)
    await world.start_and_settle()

    shown = world.status_messages()
    assert sorted(shown.values()) == [("alerts", second), ("status", first)], shown
    assert world.recorded() == shown
    # The races did happen: strays were found and settled, one log line each.
    text = world.log_text()
    assert text.count("deleted stray status message") == 2, text
    assert text.count("adopted status message") == 2, text
    # Every one of them is the bot's: a forced refresh edits each.
    edited = {m: world.sandbox.state.messages[m].edits for m in shown}
    answer = await world.control.command("refresh_embeds", channel="status", wait=5)
    assert answer.status == "answered"

    async def all_edited() -> bool:
        return all(world.sandbox.state.messages[m].edits > edited[m] for m in shown)

    await poll_until(all_edited, within=15, what="the bot to edit every status message")

    assert world.bot is not None
    world.bot.send_signal(signal.SIGTERM)
    await asyncio.wait_for(world.bot.wait(), 10)
    assert world.bot.returncode == 0
    assert not list(world.locations.parent.glob("*.tmp"))


async def _async(value: bool) -> bool:
    return value


@pytest.mark.parametrize("problem", ["directory", "under_a_file"])
async def test_an_unusable_locations_path_is_one_line_and_exit_code_2(
    world: World, problem: str
) -> None:
    if problem == "directory":
        bad = world.tmp / "embed" / "embed_locations.json"
        bad.mkdir(parents=True)
    else:
        (world.tmp / "embed").write_text("not a folder", encoding="utf-8")
        bad = world.tmp / "embed" / "embed_locations.json"
    world.write_status_config()
    bot = await world.start_bot()
    _, stderr_bytes = await asyncio.wait_for(bot.communicate(), 30)
    stderr = stderr_bytes.decode()

    assert bot.returncode == 2
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if str(bad) in line]
    assert len(errors) == 1, stderr
    assert "ERROR" in errors[0]
    assert "discord.locations_file" in errors[0]
    assert "refuses to start" in errors[0]
    assert errors[0].split(" ", 2)[-1] in world.log_text()
    assert "Traceback" not in world.log_text()
