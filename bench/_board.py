"""The bot's status pipeline for benchmarks: the real monitor, `StatusBoard` and `EditPump`.

Built by the bot's own `pterodisbot.app.build_services` (same classes, settings and listeners),
minus the gateway and the cogs: the board talks to Discord (the sandbox) over REST through an
unmodified `discord.Client`, so the edits counted are the requests the bot would send. `Work`
follows the real work in flight (HTTP requests, worker threads) so a `FakeClock` can be advanced
only when every task is waiting on it (`run_quietly`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord

from pterodisbot.app import build_services
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.services import BotServices
from pterodisbot.bot.status_board import StatusBoard
from pterodisbot.clock import Clock, FakeClock
from pterodisbot.config import Settings, settings_from_sections
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI

# What the sandboxes accept (the Discord sandbox takes any well-formed bot token).
BOT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAw.GsAbCd.sandbox-token-for-benchmarks-0123456789"
EDIT_ROUTE = "PATCH /channels/{channel_id}/messages/{message_id}"


def default_settings(
    *,
    panel_url: str,
    api_key: str,
    discord_url: str,
    workdir: Path,
    **overrides: Mapping[str, str],
) -> Settings:
    """Return the default settings but `overrides` (by section), pointed at the sandboxes."""
    sections: dict[str, dict[str, str]] = {
        "pterodactyl": {"url": panel_url},
        "discord": {"api_base": discord_url, "locations_file": str(workdir / "locations.json")},
        # The pipeline is built without the bot's setup_hook, so nothing would start a store:
        # a benchmark of the store asks for one in `overrides`.
        "history": {"url": "none"},
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    env = {"DISCORD_TOKEN": BOT_TOKEN, "PTERODACTYL_API_KEY": api_key}
    return settings_from_sections(sections, env=env, base_dir=workdir)


class Work(aiohttp.TraceConfig):
    """Count the HTTP requests and worker-thread jobs under way, and every start or end of one.

    Hand it to the aiohttp sessions (as a trace) and make `executor` the loop's default executor
    (graphs are drawn there). `changes` moves on every start and end, so a caller can tell a
    quiet loop from one that finished something a moment ago.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._under_way = 0
        self.changes = 0
        self.on_request_start.append(self._started)
        self.on_request_end.append(self._ended)
        self.on_request_exception.append(self._ended)
        self.executor = _CountingExecutor(self)

    @property
    def under_way(self) -> int:
        """Return how many requests and worker jobs have started and not ended."""
        return self._under_way

    def begin(self) -> None:
        """Count one piece of work started."""
        with self._lock:
            self._under_way += 1
            self.changes += 1

    def end(self) -> None:
        """Count one piece of work ended."""
        with self._lock:
            self._under_way -= 1
            self.changes += 1

    async def _started(self, _s: aiohttp.ClientSession, _c: SimpleNamespace, _p: Any) -> None:
        self.begin()

    async def _ended(self, _s: aiohttp.ClientSession, _c: SimpleNamespace, _p: Any) -> None:
        self.end()


class _CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that tells `Work` when a job starts and ends."""

    def __init__(self, work: Work) -> None:
        super().__init__(max_workers=4, thread_name_prefix="bench-worker")
        self._work = work

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        self._work.begin()
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _f: self._work.end())
        return future


async def run_quietly(clock: FakeClock, seconds: float, work: Work) -> None:
    """Advance `clock` by `seconds`, to each sleeper's deadline in turn, once no work is under way.

    FakeClock's autojump moves time on a real timer, also while a graph is being drawn or a
    request is in flight: the pump's edits would then seem to take simulated seconds and pile
    up, and the polls would drift. Here time moves only when nothing runs but tasks sleeping
    on the clock, and straight to the next deadline, so every sleep lasts exactly its length.
    """
    end = clock.monotonic() + seconds
    while True:
        while True:
            before = work.changes
            # Let woken tasks run until they wait again: on the clock, or on real work.
            for _ in range(6):
                await asyncio.sleep(0)
            if work.under_way == 0 and work.changes == before:
                break
            await asyncio.sleep(0.0002 if work.under_way else 0)
        deadline = clock.next_deadline()
        if deadline is None or deadline > end:
            clock.advance_to(end)
            return
        clock.advance_to(deadline)


@dataclass
class Pipeline:
    """The bot's services (monitor, histories, renderer, pump, board...) and its Discord client."""

    services: BotServices
    client: discord.Client
    session: aiohttp.ClientSession

    @classmethod
    async def start(cls, settings: Settings, *, clock: Clock, work: Work) -> Pipeline:
        """Build the services as the bot does and log the client in (REST only)."""
        session = aiohttp.ClientSession(trace_configs=[work])
        client = discord.Client(intents=discord.Intents.none(), http_trace=work)
        services = build_services(settings, client, clock, panel_session=session)
        await services.locations.load()
        await client.login(settings.discord.token.reveal())
        return cls(services, client, session)

    @property
    def api(self) -> PterodactylAPI:
        return self.services.api

    @property
    def monitor(self) -> Monitor:
        return self.services.monitor

    @property
    def renderer(self) -> GraphRenderer:
        return self.services.renderer

    @property
    def pump(self) -> EditPump:
        return self.services.pump

    @property
    def board(self) -> StatusBoard:
        return self.services.board

    async def post(self, guild_id: int, channel_ids: Sequence[int], servers: Iterable[str]) -> None:
        """Post a status embed for each of `servers` (polled already), the channels in turn."""
        for n, identifier in enumerate(servers):
            channel_id = channel_ids[n % len(channel_ids)]
            channel = self.client.get_partial_messageable(channel_id, guild_id=guild_id)
            snap = self.monitor.snapshots[identifier]
            await self.board.post(channel, guild_id=guild_id, channel_id=channel_id, snap=snap)

    async def close(self) -> None:
        """Stop as the bot does: monitor, pump, board, then the sessions."""
        await self.monitor.stop()
        await self.pump.close()
        await self.board.close()
        if self.services.audit is not None:
            await self.services.audit.close()
        await self.api.close()
        await self.client.close()
        # Ours: the panel client does not close a session it was given.
        await self.session.close()
