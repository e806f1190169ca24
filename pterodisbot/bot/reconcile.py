"""At start, make the channels agree with the locations file: no status message left unknown.

A crash between posting a status message and saving the locations file leaves a message the file
does not know: never edited again, its buttons still live, its server shown twice. `StatusBoard`
records a *pending post* before each post, so after a crash the file still names the channel.
Once the gateway is ready, `Reconciler` reads the recent history of every channel the file names
(its embeds' and its pending posts'), finds the bot's own messages whose buttons carry `pdb:` ids,
and keeps exactly one status message per (channel, server): the known one if it still exists,
else the newest stray, which it adopts; it deletes the other strays and then drops the pending
posts it has settled. The decision is `plan_channel()` (pure); the reading is bounded by
`HISTORY_LIMIT` messages per look and `CHANNEL_TIMEOUT` per channel, and it runs beside the
monitor, never before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord

from pterodisbot.bot.locations import EmbedLocation, EmbedLocations, PendingPost
from pterodisbot.bot.views import InvalidCustomId, Step, parse_custom_id

if TYPE_CHECKING:
    from pterodisbot.bot.status_board import StatusBoard

log = logging.getLogger(__name__)

# Messages read per look at a channel (one request: Discord returns at most 100). A channel is
# looked at from its newest message, and, where a post was pending, from just before that post.
HISTORY_LIMIT: Final = 100
# Seconds one channel may take (history, a check of the known message, deletions).
CHANNEL_TIMEOUT: Final = 30.0
# A pending post's message is looked for from this long before the post began (clock skew).
PENDING_MARGIN: Final = 60.0
# Discord codes meaning the channel itself is gone: nothing of ours can be left in it.
_CHANNEL_GONE: Final = frozenset({10003})


@dataclass(frozen=True, slots=True)
class FoundStatus:
    """A status message of the bot seen in a channel: its id and the server its buttons act on."""

    message_id: int
    server_id: str


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """What to do in one channel: messages to adopt as the server's embed, messages to delete."""

    adopt: tuple[FoundStatus, ...] = ()
    delete: tuple[FoundStatus, ...] = ()
    # Servers whose known message could not be checked: left alone until the next start.
    undecided: tuple[str, ...] = ()


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciliation did, for the log line and tests."""

    channels: int = 0
    adopted: int = 0
    deleted: int = 0
    # Channels that could not be read (their pending posts stay for the next start).
    unchecked: list[int] = field(default_factory=list)


def status_server(message: discord.Message) -> str | None:
    """Return the server a status message's buttons act on, or None if it is not one."""
    for row in message.components:
        children = getattr(row, "children", [row])
        for item in children:
            custom_id = getattr(item, "custom_id", None)
            if not isinstance(custom_id, str):
                continue
            try:
                ref = parse_custom_id(custom_id)
            except InvalidCustomId:
                continue
            # Confirm buttons (`:yes`/`:no`) live on ephemeral answers, never on status embeds.
            if ref.step is Step.PRESS:
                return ref.server_id
    return None


def plan_channel(
    found: Iterable[FoundStatus],
    known: Mapping[str, int],
    alive: Mapping[str, bool | None],
) -> ChannelPlan:
    """Decide which status messages of one channel to adopt and which to delete.

    `found`: the bot's status messages seen in the channel; `known`: server -> message id the
    locations file has for this channel; `alive`: server -> whether that known message still
    exists (None: could not tell). One status message per server is kept: the known one if it
    exists, else the newest stray.
    """
    known_ids = set(known.values())
    strays: dict[str, list[FoundStatus]] = {}
    for status in found:
        if status.message_id not in known_ids:
            strays.setdefault(status.server_id, []).append(status)
    adopt: list[FoundStatus] = []
    delete: list[FoundStatus] = []
    undecided: list[str] = []
    for server_id, messages in sorted(strays.items()):
        newest_first = sorted(messages, key=lambda s: s.message_id, reverse=True)
        if server_id in known:
            state = alive.get(server_id)
            if state is None:
                undecided.append(server_id)
                continue
            if state:
                delete.extend(newest_first)
                continue
        adopt.append(newest_first[0])
        delete.extend(newest_first[1:])
    return ChannelPlan(tuple(adopt), tuple(delete), tuple(undecided))


def _snowflake_at(unix_time: float) -> discord.Object:
    return discord.Object(id=discord.utils.time_snowflake(datetime.fromtimestamp(unix_time, UTC)))


class Reconciler:
    """Settle, once at start, the channels the locations file names (see the module's text)."""

    def __init__(
        self, client: discord.Client, board: StatusBoard, settled: Sequence[PendingPost]
    ) -> None:
        # `settled`: the pending posts read from the file at start, left by a crash. Any other
        # pending post is in flight in this process, and its server is left to it.
        self._client = client
        self._board = board
        self._settled = tuple(settled)

    @property
    def _locations(self) -> EmbedLocations:
        return self._board.locations

    async def run(self) -> ReconcileReport:
        """Wait for the gateway, then reconcile every channel the file names; return the report."""
        await self._client.wait_until_ready()
        user = self._client.user
        report = ReconcileReport()
        if user is None:
            return report
        settled = self._settled
        for channel_id, guild_id in channels_to_check(self._locations.all(), settled).items():
            mine = [p for p in settled if p.channel_id == channel_id]
            try:
                await asyncio.wait_for(
                    self._channel(channel_id, guild_id, user.id, mine, report), CHANNEL_TIMEOUT
                )
            except (discord.HTTPException, TimeoutError, OSError) as exc:
                if isinstance(exc, discord.HTTPException) and exc.code in _CHANNEL_GONE:
                    continue  # gone: nothing of ours left there, its pending posts are settled
                report.unchecked.append(channel_id)
                log.warning(
                    "could not look for stray status messages in channel %s (%s); "
                    "the bot looks again at its next start%s",
                    channel_id,
                    _why(exc),
                    " (it needs Read Message History there)"
                    if isinstance(exc, discord.Forbidden)
                    else "",
                )
                continue
            report.channels += 1
        for pending in settled:
            if pending.channel_id not in report.unchecked:
                self._locations.end_post(pending)
        await self._board.save()
        log.info(
            "status messages reconciled in %d channel(s): %d adopted, %d stray(s) deleted%s",
            report.channels,
            report.adopted,
            report.deleted,
            f", {len(report.unchecked)} channel(s) not readable" if report.unchecked else "",
        )
        return report

    async def _channel(
        self,
        channel_id: int,
        guild_id: int,
        bot_id: int,
        settled: Sequence[PendingPost],
        report: ReconcileReport,
    ) -> None:
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id or None)
        seen: dict[int, discord.Message] = {}
        async for message in channel.history(limit=HISTORY_LIMIT):
            seen[message.id] = message
        if settled:
            # Where the crash happened: from just before the earliest pending post, oldest first,
            # so a busy channel cannot push the stray out of the newest-first read.
            after = _snowflake_at(min(p.started for p in settled) - PENDING_MARGIN)
            async for message in channel.history(limit=HISTORY_LIMIT, after=after):
                seen[message.id] = message
        found: list[FoundStatus] = []
        for message in seen.values():
            server_id = status_server(message) if message.author.id == bot_id else None
            if server_id is not None:
                found.append(FoundStatus(message.id, server_id))
        strays = {f.server_id for f in found}
        alive: dict[str, bool | None] = {}
        for server_id in strays:
            location = self._locations.find(channel_id, server_id)
            if location is None:
                continue
            if location.message_id in seen:
                alive[server_id] = True
                continue
            # Older than the history read: ask for it by id.
            try:
                await channel.fetch_message(location.message_id)
            except discord.NotFound:
                alive[server_id] = False
            except discord.HTTPException:
                alive[server_id] = None
            else:
                alive[server_id] = True
        # Decided on the file as it is now. A post begun since the start is in flight: its
        # message, if already seen, is not a stray, so that server is left to the post.
        in_flight = {
            p.server_id
            for p in self._locations.pending()
            if p.channel_id == channel_id and p not in settled
        }
        known = {
            loc.server_id: loc.message_id
            for loc in self._locations.all()
            if loc.channel_id == channel_id
        }
        plan = plan_channel([f for f in found if f.server_id not in in_flight], known, alive)
        for status in plan.adopt:
            location = EmbedLocation(status.message_id, guild_id, channel_id, status.server_id)
            self._board.adopt(location)
            report.adopted += 1
            log.info(
                "server %s: adopted status message %s in channel %s (posted before a crash, "
                "not in the locations file)",
                status.server_id,
                status.message_id,
                channel_id,
            )
        for status in plan.delete:
            await self._delete(channel, status, channel_id)
            report.deleted += 1
        for server_id in plan.undecided:
            log.warning(
                "server %s: stray status message(s) in channel %s left alone: the known one "
                "could not be checked; the bot looks again at its next start",
                server_id,
                channel_id,
            )

    async def _delete(
        self, channel: discord.PartialMessageable, status: FoundStatus, channel_id: int
    ) -> None:
        try:
            await channel.get_partial_message(status.message_id).delete()
        except discord.NotFound:
            return  # deleted meanwhile: the outcome wanted
        log.info(
            "server %s: deleted stray status message %s in channel %s (another one shows the "
            "server there)",
            status.server_id,
            status.message_id,
            channel_id,
        )


def _why(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}, code {exc.code}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHANNEL_TIMEOUT:g} s"
    return str(exc) or type(exc).__name__


def channels_to_check(
    locations: Sequence[EmbedLocation], pending: Sequence[PendingPost]
) -> dict[int, int]:
    """Return channel -> guild of every channel the file names (embeds first, then pending)."""
    channels: dict[int, int] = {}
    for location in locations:
        channels.setdefault(location.channel_id, location.guild_id)
    for post in pending:
        channels.setdefault(post.channel_id, post.guild_id)
    return channels
