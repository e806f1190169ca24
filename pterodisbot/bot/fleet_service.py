"""Keep every fleet board current: notice what changed, edit at a capped pace, remember where.

`FleetBoards` is a monitor listener: each snapshot is reduced to what the board shows of its
server (`fleet_board.board_key`); only a change of that marks the boards dirty. One task then
edits every board through the `EditPump` (per-channel and global pacing), at most once per
`interval` seconds, however many snapshots arrived — never one edit per snapshot. A player
count is not part of that key: the fleet's total moving alone edits the boards at most once per
`players_interval` (5 min), and any other edit shows the current total. Where the
boards are lives in `fleet_boards.json` beside the embed locations (atomic, 0600), so a restart
goes on editing the same messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import discord

from pterodisbot.bot.discord_errors import gone_text, is_gone, is_refused
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.fleet_board import (
    OVERLOAD_SHARE,
    BoardKey,
    board_key,
    build_fleet_embeds,
    players_online,
)
from pterodisbot.clock import Clock
from pterodisbot.monitor import Monitor, ServerSnapshot, ServerStatus
from pterodisbot.private_files import aside_name, remove_leftovers, write_atomically

log = logging.getLogger(__name__)

FILENAME: Final = "fleet_boards.json"
# Seconds between two edits of the boards, whatever changes meanwhile.
FLEET_BOARD_INTERVAL: Final = 30.0
# Seconds between two edits for nothing but the players online moving: a busy fleet's total
# changes at every query round, which would otherwise edit every board every interval forever.
FLEET_PLAYERS_INTERVAL: Final = 300.0
_VERSION: Final = 1
# Longest sleep of the edit task between two looks at `interval`.
_RECHECK: Final = 1.0
# Going offline from these (not through stopping) is what the board lists.
_LIVE: Final = frozenset({ServerStatus.RUNNING, ServerStatus.STARTING})


class FleetFileFailure(enum.Enum):
    """Why the boards' file could not be read."""

    NOT_JSON = "not JSON"
    NOT_BOARDS = "not a list of fleet boards"


class FleetFileError(ValueError):
    """The boards' file cannot be read (`.reason`)."""

    def __init__(self, reason: FleetFileFailure) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FleetBoard:
    """Where one board is: its guild, channel and message."""

    guild_id: int
    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class Posted:
    """A board just posted, and how many older boards in its channel it replaced."""

    message: discord.Message
    replaced: int


@dataclass(slots=True)
class FleetStats:
    """Counters for metrics and tests."""

    posted: int = 0
    edits: int = 0
    failed: int = 0
    removed: int = 0


class FleetBoardFile:
    """`fleet_boards.json`: `{"version": 1, "boards": [{guild_id, channel_id, message_id}]}`."""

    def __init__(self, path: Path, *, clock: Clock) -> None:
        self.path = path
        self._clock = clock

    async def load(self) -> list[FleetBoard]:
        """Read the boards; a missing file is none, an unreadable one is set aside and logged."""
        return await asyncio.to_thread(self._load)

    def _load(self) -> list[FleetBoard]:
        remove_leftovers(self.path, log)
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error(
                "cannot read the fleet boards from %s (%s): none is kept current", self.path, exc
            )
            return []
        try:
            return _decode(text)
        except FleetFileError as exc:
            aside = aside_name(self.path, self._clock.time())
            try:
                self.path.replace(aside)
            except OSError as move:
                log.error(
                    "fleet boards file %s is unreadable (%s) and stays: %s", self.path, exc, move
                )
                return []
            log.warning(
                "fleet boards file %s is unreadable (%s): moved to %s; post /fleet_board again "
                "where a board should be kept current",
                self.path,
                exc,
                aside.name,
            )
            return []

    async def save(self, boards: Iterable[FleetBoard]) -> None:
        """Write the boards atomically (0600) in a worker thread; raises `OSError`."""
        data = {
            "version": _VERSION,
            "boards": [
                {
                    "guild_id": str(b.guild_id),
                    "channel_id": str(b.channel_id),
                    "message_id": str(b.message_id),
                }
                for b in boards
            ],
        }
        payload = (json.dumps(data, indent=2) + "\n").encode()
        await asyncio.to_thread(write_atomically, self.path, payload)


def _decode(text: str) -> list[FleetBoard]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FleetFileError(FleetFileFailure.NOT_JSON) from exc
    if not isinstance(data, dict) or not isinstance(data.get("boards"), list):
        raise FleetFileError(FleetFileFailure.NOT_BOARDS)
    boards = []
    for item in data["boards"]:
        try:
            boards.append(
                FleetBoard(int(item["guild_id"]), int(item["channel_id"]), int(item["message_id"]))
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise FleetFileError(FleetFileFailure.NOT_BOARDS) from exc
    return boards


class FleetBoards:
    """The fleet boards: post, keep current at a capped pace, forget when Discord drops them."""

    def __init__(
        self,
        *,
        client: discord.Client,
        monitor: Monitor,
        pump: EditPump,
        file: FleetBoardFile,
        clock: Clock,
        interval: float = FLEET_BOARD_INTERVAL,
        share: float = OVERLOAD_SHARE,
        players_interval: float = FLEET_PLAYERS_INTERVAL,
    ) -> None:
        self._client = client
        self._monitor = monitor
        self._pump = pump
        self._file = file
        self._clock = clock
        self.interval = interval
        self.share = share
        self.players_interval = players_interval
        self._boards: dict[int, FleetBoard] = {}
        self._keys: dict[str, BoardKey] = {}
        # When each server was seen going offline from running/starting, while it stays offline.
        self._went_offline: dict[str, float] = {}
        self._dirty = asyncio.Event()
        # Set with `_dirty` when a server's key changed; `_dirty` alone: only the count moved.
        self._changed = False
        # Players online per server and in all (kept as a sum: `observe` stays O(1)), and the
        # total the boards last showed.
        self._online: dict[str, int] = {}
        self._online_total = 0
        self._shown_total = 0
        self._last_edit: float | None = None
        self._refused: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.stats = FleetStats()

    @property
    def boards(self) -> list[FleetBoard]:
        """Return the boards kept current."""
        return list(self._boards.values())

    @property
    def went_offline(self) -> dict[str, float]:
        """Return the servers seen going offline while running, and when."""
        return dict(self._went_offline)

    async def load(self) -> None:
        """Read where the boards are (before the monitor's first snapshot)."""
        self._boards = {b.message_id: b for b in await self._file.load()}
        if self._boards:
            log.info("%d fleet board(s) to keep current", len(self._boards))

    def attach(self) -> None:
        """Follow the monitor's snapshots and removals."""
        self._monitor.add_listener(self.observe)
        self._monitor.add_removal_listener(self._removed)

    def start(self) -> None:
        """Start the task that edits the boards when something they show changed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="fleet-boards")

    def observe(self, snap: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Mark the boards dirty when what they show of this server changed (O(1))."""
        identifier = snap.server.identifier
        if snap.status is ServerStatus.OFFLINE:
            if previous is not None and previous.status in _LIVE:
                self._went_offline[identifier] = snap.t
        elif snap.status is not ServerStatus.UNKNOWN:
            # Unknown says nothing of the state: a crash stays listed through a failed poll.
            self._went_offline.pop(identifier, None)
        key = board_key(snap, went_offline=identifier in self._went_offline, share=self.share)
        self._count(identifier, players_online(snap) or 0)
        if self._keys.get(identifier) != key:
            self._keys[identifier] = key
            self._changed = True
            self._dirty.set()
        elif self._online_total != self._shown_total:
            self._dirty.set()

    def _count(self, identifier: str, online: int) -> None:
        self._online_total += online - self._online.get(identifier, 0)
        if online:
            self._online[identifier] = online
        else:
            self._online.pop(identifier, None)

    def _removed(self, identifier: str) -> None:
        self._keys.pop(identifier, None)
        self._went_offline.pop(identifier, None)
        self._count(identifier, 0)
        self._changed = True
        self._dirty.set()

    def render(self) -> list[discord.Embed]:
        """Build the board's embeds from the newest snapshots."""
        self._shown_total = self._online_total
        return build_fleet_embeds(
            self._monitor.snapshots.values(),
            self._clock.time(),
            went_offline=self._went_offline,
            share=self.share,
            interval=self.interval,
            players_interval=self.players_interval,
        )

    async def post(
        self, channel: discord.abc.Messageable, *, guild_id: int, channel_id: int
    ) -> Posted:
        """Post a board here, deleting an older one in the channel; raises `HTTPException`."""
        await self._pump.pacer.acquire()
        message = await channel.send(embeds=self.render())
        self.stats.posted += 1
        older = [b for b in self._boards.values() if b.channel_id == channel_id]
        self._boards[message.id] = FleetBoard(guild_id, channel_id, message.id)
        log.info(
            "fleet board posted (guild %s, channel %s, message %s)",
            guild_id,
            channel_id,
            message.id,
        )
        for board in older:
            await self._delete(board)
        await self._save()
        return Posted(message, len(older))

    async def _delete(self, board: FleetBoard) -> None:
        self._boards.pop(board.message_id, None)
        self._pump.discard(board.message_id)
        self._refused.discard(board.message_id)
        partial = self._client.get_partial_messageable(board.channel_id)
        try:
            await self._pump.pacer.acquire()
            await partial.get_partial_message(board.message_id).delete()
        except discord.HTTPException as exc:
            # Already gone or no longer ours to delete: it is dropped all the same.
            log.info("older fleet board %s could not be deleted: %s", board.message_id, exc)
        else:
            log.info(
                "older fleet board %s in channel %s replaced", board.message_id, board.channel_id
            )

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            # After a start, not before every server was read once: a board of the first few
            # servers would stand for the whole fleet until the next edit.
            while self._monitor.last_cycle_completed is None:
                await self._clock.sleep(_RECHECK)
            # In steps of at most a second, so a changed `interval` applies to the wait under way
            # (and a key changing during a players-only wait shortens it to `interval`).
            while (
                self._last_edit is not None
                and (wait := self._last_edit + self._gap() - self._clock.monotonic()) > 0
            ):
                await self._clock.sleep(min(wait, _RECHECK))
            self._dirty.clear()
            if not self._changed and self._online_total == self._shown_total:
                continue  # the count came back to what the boards show
            self._changed = False
            if not self._boards:
                continue
            self._last_edit = self._clock.monotonic()
            for board in list(self._boards.values()):
                job = functools.partial(self._edit, board.message_id)
                self._pump.submit(board.channel_id, board.message_id, job)

    def _gap(self) -> float:
        """Return the least time between two edits for what is waiting to be shown."""
        return self.interval if self._changed else max(self.interval, self.players_interval)

    async def _edit(self, message_id: int) -> None:
        board = self._boards.get(message_id)
        if board is None:
            return
        message = self._client.get_partial_messageable(
            board.channel_id, guild_id=board.guild_id or None
        ).get_partial_message(message_id)
        try:
            await message.edit(embeds=self.render())
        except discord.HTTPException as exc:
            if is_gone(exc):
                await self.forget_deleted(message_ids=frozenset({message_id}), why=gone_text(exc))
                return
            self.stats.failed += 1
            if is_refused(exc):
                if message_id not in self._refused:
                    self._refused.add(message_id)
                    log.warning(
                        "fleet board %s in channel %s cannot be edited (Discord %s): the bot "
                        "needs View Channel, Send Messages and Embed Links there; it is kept and "
                        "tried again at the next change",
                        message_id,
                        board.channel_id,
                        exc.code,
                    )
                return
            log.warning(
                "fleet board %s: edit failed (%s); tried again at the next change", message_id, exc
            )
            return
        self.stats.edits += 1
        self._refused.discard(message_id)

    async def forget_deleted(
        self,
        *,
        message_ids: frozenset[int] = frozenset(),
        channel_id: int | None = None,
        guild_id: int | None = None,
        why: str,
    ) -> int:
        """Forget the boards Discord says are gone (messages, a channel, a guild); save."""
        gone = [
            b
            for b in self._boards.values()
            if b.message_id in message_ids
            or (channel_id is not None and b.channel_id == channel_id)
            or (guild_id is not None and b.guild_id == guild_id)
        ]
        if not gone:
            return 0
        for board in gone:
            self._boards.pop(board.message_id, None)
            self._pump.discard(board.message_id)
            self._refused.discard(board.message_id)
        self.stats.removed += len(gone)
        log.info(
            "%s: forgot %d fleet board(s) (messages %s)",
            why,
            len(gone),
            ", ".join(str(b.message_id) for b in gone),
        )
        await self._save()
        return len(gone)

    async def _save(self) -> None:
        try:
            await self._file.save(self._boards.values())
        except OSError as exc:
            # Kept current in memory all the same; only a restart would lose track of them.
            log.error(
                "cannot save the fleet boards to %s (%s): they are kept current until the bot "
                "stops, then forgotten",
                self._file.path,
                exc.strerror or exc,
            )

    async def close(self) -> None:
        """Stop the edit task (every change of the boards' places was saved when it happened)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
