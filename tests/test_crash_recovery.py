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
from typing import Any

import aiohttp
import pytest

from pterodisbot.sandbox._discord_state import Message
from pterodisbot.sandbox.discord_server import DiscordSandbox
from pterodisbot.sandbox.panel import SimulatedPanel
from tests.fixtures.discord import SandboxClient, poll_until
from tests.fixtures.product import BOT_TOKEN
from tests.processes import free_port, start_bot_process


class World:
    """A simulated panel and a Discord sandbox in this process, the bot in a child process."""

    def __init__(
        self, panel: SimulatedPanel, sandbox: DiscordSandbox, tmp: Path, session: Any
    ) -> None:
        self.panel = panel
        self.sandbox = sandbox
        self.tmp = tmp
        self.control = SandboxClient(sandbox.url, session)
        self.session = session
        self.config = tmp / "config.ini"
        self.log = tmp / "logs" / "bot.log"
        self.locations = tmp / "embed" / "embed_locations.json"
        self.http_port = free_port()
        self.bot: asyncio.subprocess.Process | None = None

    def write_config(self, locations_file: str = "embed/embed_locations.json") -> None:
        self.config.write_text(
            f"[pterodactyl]\nurl = {self.panel.url}\ntimeout = 5\n"
            f"[discord]\nguild_ids = {self.sandbox.world.guilds[0].id}\n"
            f"api_base = {self.sandbox.url}\nlocations_file = {locations_file}\n"
            f"edit_interval = 0.2\n"
            f"[monitoring]\npoll_interval = 2\n"
            f"[logging]\nfile = logs/bot.log\nloggers = discord=WARNING, aiohttp.access=WARNING\n"
            f"[http]\nenabled = true\nport = {self.http_port}\n",
            encoding="utf-8",
        )

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""

    async def start_bot(self) -> asyncio.subprocess.Process:
        self.bot = await start_bot_process(
            self.config,
            cwd=self.tmp,
            token=BOT_TOKEN,
            api_key=self.panel.api_key,
            stdout=asyncio.subprocess.DEVNULL,
        )
        return self.bot

    async def healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.http_port}/healthz"
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return False

    async def start_and_settle(self) -> None:
        """Start the bot and wait until it watches the panel and has reconciled its channels."""
        runs = self.log_text().count("status messages reconciled")
        await self.start_bot()

        async def ready() -> bool:
            assert self.bot is not None
            assert self.bot.returncode is None, "the bot exited"
            settled = self.log_text().count("status messages reconciled") > runs
            return settled and await self.healthy()

        await poll_until(ready, within=30, what="the bot to be healthy and reconciled")

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
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """Start a simulated panel and a Discord sandbox; stop them (and any bot) after the test."""
    panel = SimulatedPanel(servers=3, resources_cache_seconds=0)
    await panel.start()
    sandbox = DiscordSandbox()
    await sandbox.start()
    async with aiohttp.ClientSession() as session:
        running = World(panel, sandbox, tmp_path, session)
        try:
            yield running
        finally:
            if running.bot is not None and running.bot.returncode is None:
                running.bot.kill()
                await running.bot.wait()
            await sandbox.stop()
            await panel.stop()


async def _post(world: World, server: str, channel: str = "status") -> None:
    """Run /server_status in `channel`; the answer may never come (the bot may be killed)."""
    await world.control.command("server_status", {"server": server}, channel=channel)


async def test_kill_9_at_the_post_or_after_the_delete_leaves_no_unknown_status_message(
    world: World,
) -> None:
    world.write_config()
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
    world.write_config()
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
