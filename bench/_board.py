"""The bot's status pipeline for benchmarks: the real monitor, `StatusBoard` and `EditPump`.

Wired from the settings the way `pterodisbot.app.build_bot` wires them (same classes, same
settings, same listeners), minus the gateway and the cogs: the board talks to Discord (the
sandbox) over REST through an unmodified `discord.Client`, so the edits counted are the requests
the bot would send. `Work` follows the real work in flight (HTTP requests, worker threads) so a
`FakeClock` can be advanced only when every task is waiting on it (`run_quietly`).
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

from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.locations import EmbedLocations
from pterodisbot.bot.policy import Thresholds
from pterodisbot.bot.status_board import StatusBoard
from pterodisbot.bot.views import StatusViews
from pterodisbot.clock import Clock, FakeClock
from pterodisbot.config import Settings, settings_from_sections
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.server_metrics_graphs import ServerMetricsManager

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
    """The monitor, histories, renderer, pump and board of one bot, and its Discord client."""

    settings: Settings
    api: PterodactylAPI
    metrics: ServerMetricsManager
    monitor: Monitor
    renderer: GraphRenderer
    pump: EditPump
    board: StatusBoard
    client: discord.Client
    session: aiohttp.ClientSession

    @classmethod
    async def start(cls, settings: Settings, *, clock: Clock, work: Work) -> Pipeline:
        """Wire the pipeline as `app.build_bot` does and log the client in (REST only)."""
        monitoring = settings.monitoring
        session = aiohttp.ClientSession(trace_configs=[work])
        api = PterodactylAPI.from_settings(settings.pterodactyl, clock=clock, session=session)
        metrics = ServerMetricsManager(capacity=monitoring.history_size)
        monitor = Monitor(
            api,
            metrics,
            poll_interval=monitoring.poll_interval,
            server_list_refresh=monitoring.server_list_refresh,
            server_filter=monitoring.servers,
            smoothing=monitoring.smoothing,
            clock=clock,
        )
        renderer = GraphRenderer()
        locations = EmbedLocations(settings.discord.locations_file, clock=clock)
        await locations.load()
        pump = EditPump(interval=settings.discord.edit_interval, clock=clock)
        client = discord.Client(intents=discord.Intents.none(), http_trace=work)
        await client.login(settings.discord.token.reveal())
        views = StatusViews()
        monitor.add_listener(views.observe)
        monitor.add_removal_listener(views.forget)
        monitor.add_removal_listener(renderer.discard)
        board = StatusBoard(
            client=client,
            monitor=monitor,
            metrics=metrics,
            renderer=renderer,
            locations=locations,
            pump=pump,
            thresholds=Thresholds.from_settings(monitoring),
            graph_window=monitoring.graph_window,
            show_address=not settings.permissions.hide_address,
            clock=clock,
            view_factory=views,
        )
        return cls(settings, api, metrics, monitor, renderer, pump, board, client, session)

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
        await self.api.close()
        await self.client.close()
        # Ours: the panel client does not close a session it was given.
        await self.session.close()
