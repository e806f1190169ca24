"""Keep every posted status embed true: decide, render, and pace edits; forget lost messages."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

import discord

from pterodisbot.bot.discord_errors import gone_text, is_gone, is_refused
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.embeds import build_status_embed
from pterodisbot.bot.locations import EmbedLocation, EmbedLocations, PendingPost
from pterodisbot.bot.policy import LastRender, Thresholds, UpdateReason, should_update, shows_graph
from pterodisbot.bot.reconcile import Reconciler
from pterodisbot.clock import Clock
from pterodisbot.graphs import GraphRenderer
from pterodisbot.monitor import Monitor, ServerSnapshot
from pterodisbot.server_metrics_graphs import ServerMetricsManager

log = logging.getLogger(__name__)

GRAPH_FILENAME = "graph.png"
# Seconds between attempts to write the locations file once a save has failed.
SAVE_RETRY_INTERVAL = 30.0


class BlockReason(enum.Enum):
    """Why Discord refuses to let the bot edit an embed it still has (a fixable, lasting cause)."""

    MISSING_ACCESS = 50001
    MISSING_PERMISSIONS = 50013

    def describe(self) -> str:
        """Return the cause in words, with what the operator should grant."""
        if self is BlockReason.MISSING_ACCESS:
            return "missing access (Discord 50001): the bot cannot see the channel"
        return (
            "missing permissions (Discord 50013): the bot needs View Channel, Send Messages, "
            "Embed Links and Attach Files there"
        )


@dataclass(frozen=True, slots=True)
class Blocked:
    """An embed Discord refuses to let the bot edit: why, since when, and the last attempt."""

    reason: BlockReason
    since: float
    last_try: float


ViewFactory = Callable[[ServerSnapshot], discord.ui.View | None]


class StatusNotRecorded(Exception):
    """A status message was not posted: where it would go could not be saved first."""


@dataclass(slots=True)
class BoardStats:
    """Counters for metrics, benchmarks and tests."""

    posted: int = 0
    edits: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0


@dataclass(frozen=True, slots=True)
class RenderedStatus:
    """What one status message carries: the embed, the graph file (if any), and what it shows."""

    embed: discord.Embed
    graph: bytes | None
    # What the policy compares the next snapshots with, once this is in Discord.
    shown: LastRender

    def files(self) -> list[discord.File]:
        """Return the attachments to send with the embed (fresh objects for every request)."""
        if self.graph is None:
            return []
        return [discord.File(io.BytesIO(self.graph), filename=GRAPH_FILENAME)]


class StatusBoard:
    """The link between the monitor's snapshots and the status messages in Discord."""

    def __init__(
        self,
        *,
        client: discord.Client,
        monitor: Monitor,
        metrics: ServerMetricsManager,
        renderer: GraphRenderer,
        locations: EmbedLocations,
        pump: EditPump,
        thresholds: Thresholds,
        graph_window: float,
        show_address: bool,
        clock: Clock,
        show_names: bool = False,
        view_factory: ViewFactory | None = None,
    ) -> None:
        self._client = client
        self._monitor = monitor
        self._metrics = metrics
        self._renderer = renderer
        self._locations = locations
        self._pump = pump
        self.thresholds = thresholds
        self.graph_window = graph_window
        self.show_address = show_address
        # `[query] show_names`: list the players online on the embeds.
        self.show_names = show_names
        self._clock = clock
        self.view_factory = view_factory
        self._last: dict[int, LastRender] = {}
        self._blocked: dict[int, Blocked] = {}
        self.stats = BoardStats()
        self._closed = False
        self._reconcile: asyncio.Task[object] | None = None
        self.save_retry_interval = SAVE_RETRY_INTERVAL
        self._save_alarm = False
        self._save_retry: asyncio.Task[None] | None = None

    @property
    def locations(self) -> EmbedLocations:
        """Return the store of posted status embeds."""
        return self._locations

    @property
    def blocked(self) -> dict[int, Blocked]:
        """Return the embeds Discord currently refuses to let the bot edit, by message id."""
        return dict(self._blocked)

    def attach(self) -> None:
        """Start following the monitor's snapshots."""
        self._monitor.add_listener(self._on_snapshot)

    # -- rendering ------------------------------------------------------------------------------

    async def render(self, snap: ServerSnapshot) -> RenderedStatus:
        """Build the embed and, for live servers, the graph (drawn in a worker thread)."""
        now = self._clock.time()
        graph: bytes | None = None
        history = self._metrics.get(snap.server.identifier)
        if shows_graph(snap.status) and history is not None and len(history) > 0:
            limits = snap.server.limits
            try:
                graph = await self._renderer.render_async(
                    history,
                    cpu_limit_percent=float(limits.cpu) if limits.cpu > 0 else None,
                    memory_limit_bytes=limits.memory_bytes,
                    window_seconds=self.graph_window,
                    now=now,
                )
            except Exception:
                # A graph is a nice-to-have: the embed still goes out without it.
                log.exception("server %s: graph rendering failed", snap.server.identifier)
        embed = build_status_embed(
            snap,
            graph_filename=GRAPH_FILENAME if graph is not None else None,
            now=now,
            show_address=self.show_address,
            show_names=self.show_names,
        )
        shown = LastRender.of(snap, rendered_at=now, graph_at=now if graph is not None else None)
        return RenderedStatus(embed=embed, graph=graph, shown=shown)

    def _view(self, snap: ServerSnapshot) -> discord.ui.View | None:
        return self.view_factory(snap) if self.view_factory is not None else None

    # -- posting --------------------------------------------------------------------------------

    async def post(
        self,
        channel: discord.abc.Messageable,
        *,
        guild_id: int,
        channel_id: int,
        snap: ServerSnapshot,
    ) -> discord.Message:
        """Post a status embed for `snap`'s server; an older one in the same channel is replaced.

        The post is saved as pending before the message is sent and replaced by the message's
        location after, so a crash at any point leaves the channel named in the file and the
        next start finds the message (`reconcile`). Raises `StatusNotRecorded` (nothing sent)
        when that first save fails, `discord.HTTPException` when Discord refuses the message.
        """
        rendered = await self.render(snap)
        view = self._view(snap)
        identifier = snap.server.identifier
        pending = PendingPost(guild_id, channel_id, identifier, started=self._clock.time())
        self._locations.begin_post(pending)
        try:
            await self._locations.save()
        except OSError as exc:
            self._locations.end_post(pending)
            # Retried like any failed save, so /healthz clears once the folder is fixed.
            self._save_failed(exc)
            log.error(
                "server %s: status embed not posted: could not save %s first: %s",
                identifier,
                self._locations.path,
                exc,
            )
            raise StatusNotRecorded(str(self._locations.path)) from exc
        # A slot of the pump's global pace, shared with every edit.
        await self._pump.pacer.acquire()
        try:
            if view is not None:
                message = await channel.send(
                    embed=rendered.embed, files=rendered.files(), view=view
                )
            else:
                message = await channel.send(embed=rendered.embed, files=rendered.files())
        except discord.HTTPException:
            # Discord answered no: nothing was posted. Any other failure (a dropped connection)
            # may have posted it, so the pending post stays for the next start to look for.
            self._locations.end_post(pending)
            await self.save()
            raise
        self.stats.posted += 1
        replaced = self._locations.add(EmbedLocation(message.id, guild_id, channel_id, identifier))
        self._locations.end_post(pending)
        self._last[message.id] = rendered.shown
        log.info(
            "server %s: status embed posted (guild %s, channel %s, message %s)",
            identifier,
            guild_id,
            channel_id,
            message.id,
        )
        if replaced is not None:
            await self._delete_message(replaced)
        await self.save()
        return message

    def adopt(self, location: EmbedLocation) -> None:
        """Take over a status message found in its channel (see `reconcile`); redraw it soon."""
        replaced = self._locations.add(location)
        if replaced is not None:
            self._pump.discard(replaced.message_id)
            self._last.pop(replaced.message_id, None)
        if location.server_id in self._monitor.snapshots:
            self._queue(location, UpdateReason.FORCED)

    def start_reconcile(self) -> None:
        """Once the gateway is ready, settle the channels the file names (in the background).

        Call right after loading the locations: the pending posts then are those a crash left.
        """
        if self._reconcile is None:
            reconciler = Reconciler(self._client, self, settled=self._locations.pending())
            self._reconcile = asyncio.create_task(
                reconciler.run(), name="reconcile-status-messages"
            )
            self._reconcile.add_done_callback(_report_reconcile_failure)

    async def _delete_message(self, location: EmbedLocation) -> None:
        self._pump.discard(location.message_id)
        self._last.pop(location.message_id, None)
        partial = self._client.get_partial_messageable(location.channel_id)
        try:
            await partial.get_partial_message(location.message_id).delete()
        except discord.HTTPException as exc:
            # Already gone or not ours to delete any more: the location is dropped all the same.
            log.info("message %s could not be deleted: %s", location.message_id, exc)

    # -- keeping embeds current ---------------------------------------------------------------

    def _on_snapshot(self, snap: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        now = self._clock.time()
        for location in self._locations.for_server(snap.server.identifier):
            blocked = self._blocked.get(location.message_id)
            if blocked is not None:
                # Every change would be refused again: try once per forced-refresh period only
                # (and at once when the channel's or the bot's permissions change).
                if now - blocked.last_try >= self.thresholds.forced_refresh:
                    self._queue(location, UpdateReason.FORCED)
                else:
                    self.stats.skipped += 1
                continue
            reason = should_update(
                self._last.get(location.message_id), snap, now=now, thresholds=self.thresholds
            )
            if reason is None:
                self.stats.skipped += 1
                continue
            self._queue(location, reason)

    def _queue(self, location: EmbedLocation, reason: UpdateReason) -> None:
        job = functools.partial(self._edit, location.message_id, reason)
        self._pump.submit(location.channel_id, location.message_id, job)

    def refresh(self, guild_id: int | None = None) -> int:
        """Queue a redraw of every embed (of one guild); return how many were queued."""
        locations = (
            self._locations.all() if guild_id is None else self._locations.for_guild(guild_id)
        )
        queued = 0
        for location in locations:
            if location.server_id in self._monitor.snapshots:
                self._queue(location, UpdateReason.FORCED)
                queued += 1
        return queued

    async def refresh_server(self, identifier: str) -> int:
        """Poll one server now and queue a redraw of its embeds; return how many were queued."""
        if self._closed:
            # Shutting down: the panel client is about to close, a poll now would reopen it.
            return 0
        snap = await self._monitor.poll_server(identifier)
        if snap is None:
            return 0
        locations = self._locations.for_server(identifier)
        for location in locations:
            self._queue(location, UpdateReason.FORCED)
        return len(locations)

    def retry_blocked(self, *, guild_id: int | None = None, channel_id: int | None = None) -> int:
        """Queue an edit of the blocked embeds (of one guild or channel); return how many."""
        queued = 0
        for message_id in list(self._blocked):
            location = self._locations.get(message_id)
            if location is None:
                self._blocked.pop(message_id, None)
                continue
            if guild_id is not None and location.guild_id != guild_id:
                continue
            if channel_id is not None and location.channel_id != channel_id:
                continue
            if location.server_id in self._monitor.snapshots:
                self._queue(location, UpdateReason.FORCED)
                queued += 1
        return queued

    async def _edit(self, message_id: int, reason: UpdateReason) -> None:
        location = self._locations.get(message_id)
        snap = self._monitor.snapshots.get(location.server_id) if location else None
        if location is None or snap is None:
            return
        rendered = await self.render(snap)
        view = self._view(snap)
        message = self._client.get_partial_messageable(
            location.channel_id, guild_id=location.guild_id or None
        ).get_partial_message(message_id)
        try:
            if view is not None:
                await message.edit(embed=rendered.embed, attachments=rendered.files(), view=view)
            else:
                await message.edit(embed=rendered.embed, attachments=rendered.files())
        except discord.HTTPException as exc:
            if is_gone(exc):
                await self.forget(location, gone_text(exc))
                return
            if is_refused(exc):
                self._block(location, BlockReason(exc.code))
                return
            self.stats.failed += 1
            log.warning(
                "server %s: edit of message %s failed (%s); will retry on the next change",
                location.server_id,
                message_id,
                exc,
            )
            return
        self.stats.edits += 1
        self._last[message_id] = rendered.shown
        log.debug("server %s: message %s edited (%s)", location.server_id, message_id, reason)
        blocked = self._blocked.pop(message_id, None)
        if blocked is not None:
            log.info(
                "server %s: status embed %s in channel %s can be edited again (refused for %.0f s)",
                location.server_id,
                message_id,
                location.channel_id,
                max(0.0, self._clock.time() - blocked.since),
            )

    def _block(self, location: EmbedLocation, reason: BlockReason) -> None:
        """Keep an embed Discord refuses to edit, retried later; say so once, not every edit."""
        if location.message_id not in self._locations:
            return  # forgotten while the edit was in flight (its message or guild is gone)
        now = self._clock.time()
        previous = self._blocked.get(location.message_id)
        self._blocked[location.message_id] = Blocked(
            reason=reason,
            since=now if previous is None else previous.since,
            last_try=now,
        )
        if previous is not None and previous.reason is reason:
            return
        log.warning(
            "server %s: status embed %s in channel %s cannot be edited: %s; it is kept and "
            "retried on the next refresh and as soon as the channel's or the bot's permissions "
            "change",
            location.server_id,
            location.message_id,
            location.channel_id,
            reason.describe(),
        )

    async def forget(self, location: EmbedLocation, why: str) -> None:
        """Drop a status embed that Discord says is gone, and persist that."""
        if location.message_id not in self._locations:
            return
        self._drop(location)
        self.stats.removed += 1
        log.warning(
            "server %s: status embed %s in channel %s removed: %s",
            location.server_id,
            location.message_id,
            location.channel_id,
            why,
        )
        await self.save()

    def _drop(self, location: EmbedLocation) -> None:
        """Forget everything the board holds about one status message."""
        self._locations.remove(location.message_id)
        self._pump.discard(location.message_id)
        self._last.pop(location.message_id, None)
        self._blocked.pop(location.message_id, None)

    async def forget_deleted(
        self,
        *,
        message_ids: frozenset[int] = frozenset(),
        channel_id: int | None = None,
        guild_id: int | None = None,
        why: str,
    ) -> int:
        """Forget the embeds Discord just said are deleted (messages, a channel, a guild); save.

        Return how many were forgotten; one log line says it, naming the servers.
        """
        gone = [
            loc
            for loc in self._locations.all()
            if loc.message_id in message_ids
            or (channel_id is not None and loc.channel_id == channel_id)
            or (guild_id is not None and loc.guild_id == guild_id)
        ]
        for location in gone:
            self._drop(location)
        if not gone:
            return 0
        self.stats.removed += len(gone)
        log.info(
            "%s: forgot %d status embed(s) (servers %s, messages %s)",
            why,
            len(gone),
            ", ".join(sorted({loc.server_id for loc in gone})),
            ", ".join(str(loc.message_id) for loc in gone),
        )
        await self.save()
        return len(gone)

    async def purge(self, guild_id: int) -> int:
        """Delete every status embed of a guild and forget them; return how many."""
        locations = self._locations.for_guild(guild_id)
        for location in locations:
            self._locations.remove(location.message_id)
            await self._delete_message(location)
        if locations:
            await self.save()
        return len(locations)

    async def save(self) -> None:
        """Persist the locations; a failing disk is logged once and retried every 30 s."""
        try:
            await self._locations.save()
        except OSError as exc:
            self._save_failed(exc)
            return
        failure = self._locations.save_failure
        if self._save_alarm and failure is None:
            self._save_alarm = False
            log.info("status embed locations saved to %s again", self._locations.path)

    def _save_failed(self, exc: OSError) -> None:
        """Log a failing save once and keep retrying it until it works."""
        if not self._save_alarm:
            self._save_alarm = True
            log.error(
                "cannot save the status embed locations to %s (%s): retrying every %g s; "
                "until it works, embeds posted or removed since are lost if the bot stops",
                self._locations.path,
                exc.strerror or exc,
                self.save_retry_interval,
            )
        if not self._closed and (self._save_retry is None or self._save_retry.done()):
            self._save_retry = asyncio.create_task(self._retry_saves())

    async def _retry_saves(self) -> None:
        while True:
            await self._clock.sleep(self.save_retry_interval)
            if self._closed:
                return
            await self.save()
            if self._locations.save_failure is None:
                return

    async def close(self) -> None:
        """Stop reconciling and retrying saves, and flush the locations before shutdown."""
        self._closed = True
        if self._reconcile is not None and not self._reconcile.done():
            self._reconcile.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconcile
        retry = self._save_retry
        if retry is not None and retry is not asyncio.current_task():
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
        with contextlib.suppress(Exception):
            await self.save()


def _report_reconcile_failure(task: asyncio.Task[object]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    error = task.exception()
    log.error(
        "looking for stray status messages failed: %s; they are looked for again at the next start",
        error,
        exc_info=error,
    )
