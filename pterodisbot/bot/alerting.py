"""The alerts service: the rules engine's incidents as one Discord message each, paced and kept.

`AlertService` (the `AlertControl` behind `BotServices.alerts` when `[alerts] channel_id` is set)
feeds the monitor's snapshots to the `AlertEngine`, and every `TICK` seconds on the services'
clock: evaluates it, asks the panel's activity log about crash candidates, posts new incidents
(gathered for `group_window`, more than two at once as one grouped message, at most
`max_messages_per_minute` new messages a minute: beyond it they wait and join the next grouped
message, never lost), edits messages through the `EditPump` as incidents evolve, replies to a
long incident's message every `repeat_interval`, and saves the state when it changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

import discord

from pterodisbot.alerts import (
    AlertSettings,
    AlertState,
    AlertStats,
    Change,
    Incident,
    IncidentUpdate,
    MentionRoles,
    MessageRef,
    Mute,
    PowerEvent,
    PowerSource,
    Rule,
)
from pterodisbot.bot.alert_embeds import GROUP_LIMIT, message_embeds, repeat_text
from pterodisbot.bot.discord_errors import is_gone
from pterodisbot.bot.edit_pump import EditPump
from pterodisbot.bot.embeds import truncate
from pterodisbot.clock import Clock
from pterodisbot.monitor import ServerSnapshot
from pterodisbot.panel.client import PterodactylAPI
from pterodisbot.panel.errors import AuthFailure, PanelAuthError, PanelError

if TYPE_CHECKING:
    from pterodisbot.alerts import ActivityRequest, AlertEngine, AlertStateStorage

log = logging.getLogger(__name__)

# Seconds between two evaluations of the rules (and deliveries).
TICK: Final = 2.0
# Activity-log reads in flight at most: a fleet crashing together must not starve the polls.
ACTIVITY_CONCURRENCY: Final = 4
# Discord's limit of a message's content.
CONTENT_LIMIT: Final = 2_000
# Seconds a post, a reply or an edit may take before it counts as failed (tried again later).
SEND_TIMEOUT: Final = 30.0
# The message budget's span: `max_messages_per_minute` new messages in any such span.
BUDGET_WINDOW: Final = 60.0
# Seconds before a channel that refused a post is tried again.
CHANNEL_RETRY: Final = 60.0
# Seconds the final save at shutdown may take.
CLOSE_GRACE: Final = 2.0
_OVERLOADS: Final = frozenset({Rule.CPU, Rule.MEMORY, Rule.DISK})
_NO_ACTIVITY_READ: Final = (
    "the API key lacks activity.read: crashes are told from stops by the bot's own actions "
    "and the stopping state only"
)


class AlertService:
    """Turn the engine's incident updates into messages in the alerts channel, and keep them."""

    def __init__(
        self,
        *,
        engine: AlertEngine,
        storage: AlertStateStorage,
        client: discord.Client,
        api: PterodactylAPI,
        pump: EditPump,
        settings: Callable[[], AlertSettings],
        channel_id: int,
        clock: Clock,
        activity_timeout: float,
        tick: float = TICK,
    ) -> None:
        self._engine = engine
        self._storage = storage
        self._client = client
        self._api = api
        self._pump = pump
        self._settings = settings
        self.channel_id = channel_id
        self._clock = clock
        self._activity_timeout = activity_timeout
        self.tick_interval = tick
        # The latest value of every incident a message shows (a grouped message keeps its
        # recovered lines until all its incidents cleared), and which incidents each message shows.
        self._incidents: dict[str, Incident] = {}
        self._members: dict[MessageRef, list[str]] = {}
        # Messages Discord said are gone (deleted by someone): never edited again.
        self._gone: set[MessageRef] = set()
        # OPENED incidents not posted yet, in order; the first one's arrival opens the window.
        self._pending: dict[str, Incident] = {}
        self._window_start: float | None = None
        self._repeats: dict[str, Incident] = {}
        # The message budget: when the last new messages went out (at most
        # `max_messages_per_minute` of them in any minute, on the clock).
        self._sent_at: deque[float] = deque()
        self._channel_retry_at = 0.0
        self._channel_problem: str | None = None
        self._unknown_roles: set[tuple[int, str]] = set()
        self._activity_denied = False
        self._activity_slots = asyncio.Semaphore(ACTIVITY_CONCURRENCY)
        self._activity_tasks: set[asyncio.Task[None]] = set()
        self._unsaved: AlertState | None = None
        self._save_failing = False
        self._save_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.posted = 0
        self.edited = 0
        self._suppressed: dict[str, int] = {"muted": 0, "grouped": 0, "debounced": 0}

    # -- AlertControl -----------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Tell whether alerts are configured: always, for this service."""
        return True

    def open_incidents(self) -> tuple[Incident, ...]:
        """Return the incidents not cleared yet, oldest first."""
        return self._engine.open_incidents()

    def mutes(self) -> tuple[Mute, ...]:
        """Return the mutes in force now."""
        return self._engine.mutes()

    async def mute(self, mute: Mute) -> None:
        """Add (or replace) a mute and save the state at once."""
        self._engine.mute(mute)
        await self._save()

    async def unmute(self, subject: str) -> Mute | None:
        """Remove a mute, save the state at once; return the mute removed, None if none."""
        removed = self._engine.unmute(subject)
        await self._save()
        return removed

    def note_power(self, event: PowerEvent) -> None:
        """Remember a power signal the bot is about to send: the offline after it is no crash."""
        self._engine.note_power(event)

    def stats(self) -> AlertStats:
        """Return the counters for /metrics."""
        return AlertStats(
            firing=self._engine.firing(),
            posted=self.posted,
            edited=self.edited,
            suppressed=dict(self._suppressed),
        )

    # -- monitor listeners ------------------------------------------------------------------------

    def observe(self, snapshot: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Hand a snapshot to the rules (a monitor listener; O(1), never awaits)."""
        self._engine.observe(snapshot, previous)

    def forget(self, identifier: str) -> None:
        """Resolve the incidents of a server gone from the panel (a removal listener)."""
        self._engine.forget(identifier)

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore the saved state (before the monitor's first snapshot), start the ticks."""
        try:
            state = await self._storage.load()
        except Exception as exc:
            log.error(
                "alerts: the saved state in %s could not be read (%s): open incidents and mutes "
                "start empty, so an incident still open may be posted again",
                self._storage.describe(),
                exc,
            )
            state = None
        if state is not None:
            self._engine.restore(state)
            for incident in self._engine.open_incidents():
                ref = self._engine.message_of(incident.id)
                if ref is not None:
                    self._incidents[incident.id] = incident
                    self._members.setdefault(ref, []).append(incident.id)
            log.info(
                "alerts: %d open incident(s) and %d mute(s) restored from %s",
                len(state.incidents),
                len(state.mutes),
                self._storage.describe(),
            )
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alerts")

    async def close(self) -> None:
        """Stop the ticks and the activity reads; save the state one last time (bounded)."""
        tasks = [t for t in (self._task, *self._activity_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_GRACE):
                await self._save(only_if_dirty=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "alerts: a tick failed; the next one runs in %g s", self.tick_interval
                )
            await self._clock.sleep(self.tick_interval)

    async def tick(self) -> None:
        """Evaluate the rules, ask about crash candidates, deliver, save what changed."""
        now = self._clock.time()
        for request in self._engine.activity_wanted():
            self._ask_activity(request)
        self._take(self._engine.evaluate(now), now)
        await self._deliver(now)
        await self._save(only_if_dirty=True)

    # -- the panel's activity log -----------------------------------------------------------------

    def _ask_activity(self, request: ActivityRequest) -> None:
        if self._activity_denied:
            self._engine.activity_done(request.server, None)
            return
        task = asyncio.create_task(self._read_activity(request), name="alerts-activity")
        self._activity_tasks.add(task)
        task.add_done_callback(self._activity_tasks.discard)

    async def _read_activity(self, request: ActivityRequest) -> None:
        async with self._activity_slots:
            if self._activity_denied:
                self._engine.activity_done(request.server, None)
                return
            try:
                async with asyncio.timeout(self._activity_timeout):
                    events = await self._api.activity(request.server, since=request.since)
            except PanelAuthError as exc:
                if exc.reason is AuthFailure.FORBIDDEN and not self._activity_denied:
                    self._activity_denied = True
                    log.warning("%s", _NO_ACTIVITY_READ)
                else:
                    log.info("server %s: activity log refused (%s)", request.server, exc.reason)
                self._engine.activity_done(request.server, None)
                return
            except (PanelError, TimeoutError) as exc:
                log.info(
                    "server %s: the panel's activity log could not be read (%s); deciding on "
                    "the bot's own actions and the stopping state",
                    request.server,
                    type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
                )
                self._engine.activity_done(request.server, None)
                return
        power = [
            PowerEvent(
                server=request.server,
                signal=event.signal,
                t=event.t,
                actor=event.actor,
                source=PowerSource.PANEL,
            )
            for event in events
            if event.signal is not None
        ]
        self._engine.activity_done(request.server, power)

    # -- updates ----------------------------------------------------------------------------------

    def _take(self, updates: Sequence[IncidentUpdate], now: float) -> None:
        for update in updates:
            incident = update.incident
            if update.change is Change.OPENED:
                self._opened(incident, now)
            elif update.change is Change.REPEATED:
                if not incident.muted and self._engine.message_of(incident.id) is not None:
                    self._repeats[incident.id] = incident
            else:
                self._changed(incident)

    def _opened(self, incident: Incident, now: float) -> None:
        if incident.muted:
            self._suppressed["muted"] += 1
            return
        ref = self._engine.message_of(incident.id)
        if ref is not None:
            # Already posted (opened again after a mute ended, or restored): edit, never repost.
            self._show(incident, ref)
            return
        if not self._pending:
            self._window_start = now
        self._pending[incident.id] = incident

    def _changed(self, incident: Incident) -> None:
        if incident.id in self._pending:
            # Not posted yet: it goes out as it is now.
            self._pending[incident.id] = incident
            return
        ref = self._engine.message_of(incident.id)
        if ref is None:
            return
        self._show(incident, ref)

    def _show(self, incident: Incident, ref: MessageRef) -> None:
        if ref in self._gone:
            return
        members = self._members.setdefault(ref, [])
        if incident.id not in members:
            members.append(incident.id)
        self._incidents[incident.id] = incident
        self._pump.submit(ref.channel_id, ref.message_id, functools.partial(self._edit, ref))

    # -- delivery ---------------------------------------------------------------------------------

    def _budget(self, now: float) -> int:
        """Return how many new messages may go out now: the minute's allowance not used yet."""
        while self._sent_at and now - self._sent_at[0] >= BUDGET_WINDOW:
            self._sent_at.popleft()
        return max(0, self._settings().max_messages_per_minute - len(self._sent_at))

    async def _deliver(self, now: float) -> None:
        if now < self._channel_retry_at:
            return
        window = self._settings().group_window
        if self._pending and self._window_start is not None and now - self._window_start >= window:
            await self._post_pending(now)
        while self._repeats and self._budget(now) >= 1 and now >= self._channel_retry_at:
            # One reply per message: a grouped message's incidents are re-announced together.
            first = next(iter(self._repeats.values()))
            ref = self._engine.message_of(first.id)
            same = [
                incident
                for incident in self._repeats.values()
                if self._engine.message_of(incident.id) == ref
            ]
            for incident in same:
                del self._repeats[incident.id]
            if ref is not None and ref not in self._gone:
                await self._reply(ref, same, now)

    def _channel(self) -> discord.abc.Messageable | None:
        channel = self._client.get_channel(self.channel_id)
        if channel is None or not isinstance(channel, discord.abc.Messageable):
            if self._client.is_ready():
                self._channel_failed(
                    "the bot cannot see it: check [alerts] channel_id and give the bot View "
                    "Channel, Send Messages and Embed Links there",
                    time=self._clock.time(),
                )
            return None
        return channel

    async def _post_pending(self, now: float) -> None:
        channel = self._channel()
        if channel is None:
            return
        while self._pending and (budget := self._budget(now)) >= 1:
            waiting = list(self._pending.values())
            singles = len(waiting) <= 2 and budget >= len(waiting)
            batch = waiting[:1] if singles else waiting[:GROUP_LIMIT]
            if not await self._post(channel, batch, now):
                return
            self._sent_at.append(now)
            for incident in batch:
                self._pending.pop(incident.id, None)
        self._window_start = None if not self._pending else self._window_start

    def _mentions(
        self, channel: discord.abc.Messageable, incidents: Sequence[Incident]
    ) -> list[int]:
        settings = self._settings()
        guild = getattr(channel, "guild", None)
        role_ids: set[int] = set()
        for incident in incidents:
            if not incident.is_open:
                continue
            server = (
                None if incident.rule in (Rule.NODE_DOWN, Rule.PANEL_DOWN) else incident.subject
            )
            role_ids |= self._role_ids(guild, settings.mention_for(incident.severity, server))
        if guild is not None:
            # Never @everyone, whatever the configuration names: its role id is the guild's.
            role_ids.discard(guild.id)
        return sorted(role_ids)

    def _role_ids(self, guild: discord.Guild | None, roles: MentionRoles) -> set[int]:
        ids = set(roles.ids)
        for name in sorted(roles.names):
            role = None
            if guild is not None:
                role = next((r for r in guild.roles if r.name.casefold() == name), None)
            if role is None or role.is_default():
                key = (guild.id if guild is not None else 0, name)
                if key not in self._unknown_roles:
                    self._unknown_roles.add(key)
                    log.warning(
                        "alerts: no role named %r in the alerts channel's guild ([alerts] "
                        "mention_* or [alerts.<server>] mention): it is not mentioned",
                        name,
                    )
                continue
            ids.add(role.id)
        return ids

    async def _post(
        self, channel: discord.abc.Messageable, batch: Sequence[Incident], now: float
    ) -> bool:
        role_ids = self._mentions(channel, batch)
        content = " ".join(f"<@&{role_id}>" for role_id in role_ids) or None
        # A slot of the pump's global pace: a wave of alerts adds to hundreds of embed edits.
        await self._pump.pacer.acquire()
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                message = await channel.send(
                    content=content,
                    embeds=message_embeds([self._described(i) for i in batch]),
                    allowed_mentions=discord.AllowedMentions(
                        everyone=False,
                        users=False,
                        roles=[discord.Object(id=role_id) for role_id in role_ids],
                        replied_user=False,
                    ),
                )
        except (discord.HTTPException, TimeoutError) as exc:
            self._channel_failed(_why(exc), time=now)
            return False
        self._channel_ok()
        ref = MessageRef(channel_id=message.channel.id, message_id=message.id)
        self._members[ref] = [incident.id for incident in batch]
        for incident in batch:
            self._incidents[incident.id] = incident
            self._engine.set_message(incident.id, ref)
        self.posted += 1
        self._suppressed["grouped"] += len(batch) - 1
        log.info(
            "alerts: posted %s in channel %s (message %s)",
            ", ".join(f"{i.rule.value} {i.subject}" for i in batch[:5])
            + (f" and {len(batch) - 5} more" if len(batch) > 5 else ""),
            ref.channel_id,
            ref.message_id,
        )
        if all(not incident.is_open for incident in batch):
            self._drop_message(ref)
        return True

    async def _reply(self, ref: MessageRef, incidents: Sequence[Incident], now: float) -> None:
        channel = self._channel()
        if channel is None:
            self._repeats.update((incident.id, incident) for incident in incidents)
            return
        role_ids = self._mentions(channel, incidents)
        mentions = " ".join(f"<@&{role_id}>" for role_id in role_ids)
        text = truncate(f"{mentions} {repeat_text(incidents, now)}".strip(), CONTENT_LIMIT)
        await self._pump.pacer.acquire()
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await channel.send(
                    content=text,
                    reference=discord.MessageReference(
                        message_id=ref.message_id,
                        channel_id=ref.channel_id,
                        fail_if_not_exists=False,
                    ),
                    allowed_mentions=discord.AllowedMentions(
                        everyone=False,
                        users=False,
                        roles=[discord.Object(id=role_id) for role_id in role_ids],
                        replied_user=False,
                    ),
                )
        except (discord.HTTPException, TimeoutError) as exc:
            self._channel_failed(_why(exc), time=now)
            # Not lost: the reply waits for the channel to take messages again.
            self._repeats.update((incident.id, incident) for incident in incidents)
            return
        self._channel_ok()
        self._sent_at.append(now)
        self.posted += 1

    def _channel_failed(self, why: str, *, time: float) -> None:
        self._channel_retry_at = time + CHANNEL_RETRY
        if self._channel_problem is None:
            log.warning(
                "alerts: cannot post in channel %s ([alerts] channel_id): %s; the alerts are "
                "kept and tried again every %g s",
                self.channel_id,
                why,
                CHANNEL_RETRY,
            )
        self._channel_problem = why

    def _channel_ok(self) -> None:
        if self._channel_problem is not None:
            log.info("alerts: channel %s takes messages again", self.channel_id)
        self._channel_problem = None
        self._channel_retry_at = 0.0

    async def _edit(self, ref: MessageRef) -> None:
        """Rebuild a message from all its incidents as they are now (an `EditPump` job)."""
        members = self._members.get(ref)
        if not members:
            return
        incidents = [self._incidents[i] for i in members if i in self._incidents]
        if not incidents:
            return
        message = self._client.get_partial_messageable(ref.channel_id).get_partial_message(
            ref.message_id
        )
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await message.edit(embeds=message_embeds([self._described(i) for i in incidents]))
        except discord.HTTPException as exc:
            if is_gone(exc):
                log.warning(
                    "alerts: message %s in channel %s is gone (%s): %s no longer edited",
                    ref.message_id,
                    ref.channel_id,
                    _why(exc),
                    ", ".join(members),
                )
                self._gone.add(ref)
                self._drop_message(ref)
                return
            log.warning(
                "alerts: edit of message %s in channel %s failed (%s); the next change tries again",
                ref.message_id,
                ref.channel_id,
                _why(exc),
            )
            return
        except TimeoutError:
            log.warning("alerts: edit of message %s timed out; the next change tries again", ref)
            return
        self.edited += 1
        if all(not incident.is_open for incident in incidents):
            self._drop_message(ref)

    def _described(self, incident: Incident) -> Incident:
        """Return the incident with its threshold in words when the engine gave none."""
        if incident.detail is not None or incident.rule not in _OVERLOADS:
            return incident
        thresholds = self._settings().thresholds(incident.subject)
        percent = {
            Rule.CPU: thresholds.cpu_percent,
            Rule.MEMORY: thresholds.memory_percent,
            Rule.DISK: thresholds.disk_percent,
        }[incident.rule]
        return dataclasses.replace(incident, detail=f"{percent:g} % of its limit")

    def _drop_message(self, ref: MessageRef) -> None:
        """Forget a message that needs no more edits (all cleared) or that is gone."""
        for incident_id in self._members.pop(ref, []):
            self._incidents.pop(incident_id, None)
            self._repeats.pop(incident_id, None)
        self._pump.discard(ref.message_id)

    # -- state ------------------------------------------------------------------------------------

    async def _save(self, *, only_if_dirty: bool = False) -> None:
        async with self._save_lock:
            if self._engine.dirty or not only_if_dirty:
                self._unsaved = self._engine.state()
            state = self._unsaved
            if state is None:
                return
            try:
                await self._storage.save(state)
            except Exception as exc:
                if not self._save_failing:
                    log.error(
                        "alerts: the state could not be saved to %s (%s): it is kept in memory "
                        "and saved again every %g s; a restart now would forget open "
                        "incidents and mutes",
                        self._storage.describe(),
                        exc,
                        self.tick_interval,
                    )
                self._save_failing = True
                return
            if self._unsaved is state:
                self._unsaved = None
            if self._save_failing:
                log.info("alerts: the state is saved again to %s", self._storage.describe())
            self._save_failing = False


def _why(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}, code {exc.code}: {exc.text or 'no text'}"
    return "no answer within the time allowed"
