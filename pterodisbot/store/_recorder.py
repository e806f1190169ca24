"""The write path of the history: monitor snapshots -> batches -> one `store.write()` a flush.

`HistoryRecorder` is a monitor listener: each snapshot becomes a `SampleRow` (and a
`StateChange` when the displayed status changed) queued in memory, in O(1) and without awaiting.
A task writes everything queued every `flush_interval` in one transaction; another rolls up and
prunes (`store.maintain`) every minute, off the flush path. When the store fails, monitoring and
embeds go on: the rows wait in a bounded buffer and land when it is back, the oldest dropped and
counted beyond `buffer_limit`; one line when it starts failing, one when it is back.

The bot holds a `History` in `BotServices.history` whatever the settings: a `HistoryRecorder`
when `[history] url` names a store, `NoHistory` when it is `none`. Both answer the read side
(`series`, `uptime`, `state_changes`) and the small named state the alerts keep (`get_state`,
`put_state`); `NoHistory` raises `HistoryOff`, a recorder whose store is not open (yet) raises
the `StoreError` that keeps it closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

from pterodisbot.clock import Clock
from pterodisbot.conditions import ConditionLog
from pterodisbot.store._model import (
    HistorySeries,
    HistoryStore,
    SampleRow,
    StateChange,
    StoreError,
    StoreFailure,
    Uptime,
)

if TYPE_CHECKING:
    from pterodisbot.monitor import ServerSnapshot
    from pterodisbot.server_metrics_graphs import ServerMetricsManager

log = logging.getLogger(__name__)

# A sample stands for the time since its server's previous one, at most this many expected
# monitor cycles: a longer gap (the bot was stopped, the loop hung) is unknown, not the state.
SPAN_CYCLES: Final = 3
# Seconds between two rollup-and-prune runs, and between two reads of the store's size.
MAINTAIN_INTERVAL: Final = 60.0
# Real seconds the final flush and close may take at shutdown (the process has 8 s in all):
# real, not the bot's clock, because Docker's SIGKILL does not wait for simulated time.
CLOSE_GRACE: Final = 2.0

# What to do about each reason a store fails, for the start line and `doctor`.
STORE_FIXES: Final[Mapping[StoreFailure, str]] = MappingProxyType(
    {
        StoreFailure.UNREACHABLE: "start the database, or correct the host and port in "
        "[history] url",
        StoreFailure.AUTH: "correct the user and password in [history] url "
        "(PTERODISBOT_HISTORY_URL in .env)",
        StoreFailure.MISSING: "create the database (or the file's folder), or correct "
        "[history] url",
        StoreFailure.READ_ONLY: "make the file and its folder writable by the bot's user",
        StoreFailure.DISK_FULL: "free disk space where the store is",
        StoreFailure.CORRUPT: "move the file away (a new one is created) or point [history] url "
        "at another store",
        StoreFailure.OTHER: "check [history] url; [history] url = none turns history off",
    }
)


def store_problem(shown: str, error: StoreError) -> str:
    """Return the one line naming a store that cannot be used, why, and the fix."""
    fix = STORE_FIXES[error.reason]
    return f"history store {shown} cannot be used ({error.reason}): {error} — {fix}"


class HistoryOff(Exception):
    """History was asked for, but `[history] url = none` keeps none."""

    def __init__(self) -> None:
        super().__init__("history is off on this bot ([history] url = none)")


@dataclass(frozen=True, slots=True)
class RecorderStats:
    """What the write path did since the bot started, for `/metrics`.

    `rows_written` counts samples and state changes; `size_bytes` is the store's size at its last
    read (once a minute; None before the first); `writable`: open, and its last write worked.
    """

    rows_written: int = 0
    flushes: int = 0
    flush_seconds: float = 0.0
    buffered: int = 0
    dropped: int = 0
    size_bytes: int | None = None
    writable: bool = False


class History(Protocol):
    """The bot's history: the recorder's life cycle and the read side, whether kept or not."""

    @property
    def enabled(self) -> bool:
        """Tell whether a store is configured."""
        ...

    @property
    def shown(self) -> str:
        """Return where the store is, for logs (no password); "none" when off."""
        ...

    def observe(self, snapshot: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Queue a snapshot's sample (and status change); the monitor's listener."""
        ...

    async def start(self, rings: ServerMetricsManager, since: float) -> None:
        """Open the store, refill the rings from `since` on, start flushing."""
        ...

    async def close(self) -> None:
        """Flush what is queued (bounded in time) and close the store."""
        ...

    def stats(self) -> RecorderStats:
        """Return what the write path did so far."""
        ...

    async def series(self, server: str, start: float, end: float, step_s: int) -> HistorySeries:
        """Read a server's buckets of `step_s` seconds over `[start, end)`."""
        ...

    async def uptime(self, server: str, start: float, end: float) -> Uptime:
        """Read how a server spent `[start, end)`."""
        ...

    async def state_changes(self, server: str, start: float, end: float) -> Sequence[StateChange]:
        """Read a server's status changes in `[start, end)`, oldest first."""
        ...

    async def get_state(self, name: str) -> str | None:
        """Read the text kept under `name` (the alerts' state); None when there is none."""
        ...

    async def put_state(self, name: str, text: str) -> None:
        """Keep `text` under `name`, replacing what was there."""
        ...


class NoHistory:
    """`[history] url = none`: nothing recorded, nothing to read (`HistoryOff`)."""

    enabled: Final = False
    shown: Final = "none"

    def observe(self, snapshot: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Do nothing: no history is kept."""

    async def start(self, rings: ServerMetricsManager, since: float) -> None:
        """Do nothing: no history is kept."""

    async def close(self) -> None:
        """Do nothing: no history is kept."""

    def stats(self) -> RecorderStats:
        """Return zeros."""
        return RecorderStats()

    async def series(self, server: str, start: float, end: float, step_s: int) -> HistorySeries:
        """Raise `HistoryOff`."""
        raise HistoryOff

    async def uptime(self, server: str, start: float, end: float) -> Uptime:
        """Raise `HistoryOff`."""
        raise HistoryOff

    async def state_changes(self, server: str, start: float, end: float) -> Sequence[StateChange]:
        """Raise `HistoryOff`."""
        raise HistoryOff

    async def get_state(self, name: str) -> str | None:
        """Raise `HistoryOff`."""
        raise HistoryOff

    async def put_state(self, name: str, text: str) -> None:
        """Raise `HistoryOff`."""
        raise HistoryOff


class HistoryRecorder:
    """Record every snapshot into a `HistoryStore`, in batches, surviving the store's failures.

    `expected_cycle()` is the monitor's (`Monitor.expected_cycle`): a sample's span is capped at
    `SPAN_CYCLES` of it. Owns two tasks (flush, maintenance), started by `start()` and ended by
    `close()`; store calls that write never overlap (one lock), and a flush in progress is never
    cancelled (it could commit after a cancellation, and its rows would be written twice).
    """

    def __init__(
        self,
        store: HistoryStore,
        *,
        flush_interval: float,
        buffer_limit: int,
        expected_cycle: Callable[[], float],
        clock: Clock,
        maintain_interval: float = MAINTAIN_INTERVAL,
    ) -> None:
        self._store = store
        self.flush_interval = flush_interval
        self.buffer_limit = buffer_limit
        self._expected_cycle = expected_cycle
        self._clock = clock
        self.maintain_interval = maintain_interval
        self._samples: deque[SampleRow] = deque()
        self._changes: deque[StateChange] = deque()
        self._in_flight = 0
        self._last_t: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._opened = False
        self._open_error: StoreError | None = None
        self._failing: StoreError | None = None
        self._dropping = False
        self._closed = False
        self._maintenance = ConditionLog(log, clock=clock, ended="working again")
        self._rows_written = 0
        self._flushes = 0
        self._flush_seconds = 0.0
        self._dropped = 0
        self._size_bytes: int | None = None

    @property
    def enabled(self) -> bool:
        """Return True: a store is configured."""
        return True

    @property
    def shown(self) -> str:
        """Return where the store is, for logs (no password)."""
        return self._store.shown

    @property
    def is_open(self) -> bool:
        """Tell whether the store is open (False until it could be, and after `close()`)."""
        return self._opened and not self._closed

    def stats(self) -> RecorderStats:
        """Return what the write path did so far."""
        return RecorderStats(
            rows_written=self._rows_written,
            flushes=self._flushes,
            flush_seconds=self._flush_seconds,
            buffered=len(self._samples) + self._in_flight,
            dropped=self._dropped,
            size_bytes=self._size_bytes,
            writable=self.is_open and self._failing is None,
        )

    # -- the listener ---------------------------------------------------------------------

    def observe(self, snapshot: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Queue the snapshot's sample, and its status change if any; O(1), never awaits."""
        sample = snapshot.sample
        server = snapshot.server.identifier
        if previous is None or previous.status != snapshot.status:
            if len(self._changes) >= self.buffer_limit:
                self._changes.popleft()
            self._changes.append(
                StateChange(
                    server=server,
                    t=snapshot.t,
                    before=None if previous is None else str(previous.status),
                    after=str(snapshot.status),
                )
            )
        if sample is None:
            return
        cap = SPAN_CYCLES * self._expected_cycle()
        last = self._last_t.get(server)
        span = self._expected_cycle() if last is None else min(max(0.0, sample.t - last), cap)
        self._last_t[server] = sample.t
        if len(self._samples) + self._in_flight >= self.buffer_limit and self._samples:
            self._samples.popleft()
            self._dropped += 1
            self._say_dropping()
        self._samples.append(SampleRow.of(server, sample, span))

    # -- life cycle -----------------------------------------------------------------------

    async def start(self, rings: ServerMetricsManager, since: float) -> None:
        """Open the store, refill the rings with its samples since `since`, start the tasks.

        A store that cannot be opened is one line (the URL and the fix): the bot runs without
        it, the rows wait in memory, and each flush tries to open it again.
        """
        if await self._open(first=True):
            await self._refill(rings, since)
            await self._read_size()
        # Both cadences count from now, not from when their tasks first run.
        started = self._clock.monotonic()
        self._tasks = [
            asyncio.create_task(
                self._every(self.flush_interval, self.flush, started),
                name="pterodisbot-history-flush",
            ),
            asyncio.create_task(
                self._every(self.maintain_interval, self.maintain, started),
                name="pterodisbot-history-maintain",
            ),
        ]

    async def close(self) -> None:
        """Stop the tasks, write what is queued (within `CLOSE_GRACE` s), close the store."""
        if self._closed:
            return
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        try:
            await asyncio.wait_for(self._finish(), CLOSE_GRACE)
        except TimeoutError:
            log.warning(
                "history store %s: the last %d sample(s) could not be written within %g s at "
                "shutdown",
                self.shown,
                len(self._samples) + self._in_flight,
                CLOSE_GRACE,
            )
        self._closed = True

    async def flush(self) -> bool:
        """Write everything queued in one transaction; return False when it must wait."""
        async with self._lock:
            return await self._flush_locked()

    async def maintain(self) -> None:
        """Roll up and prune now, and read the store's size; a failure is logged once."""
        async with self._lock:
            if not self._opened or self._closed:
                return
            try:
                await self._store.maintain(self._clock.time())
            except StoreError as error:
                self._maintenance.observe("maintenance", str(error), subject=self._subject())
                return
            self._maintenance.observe("maintenance", None, subject=self._subject())
        await self._read_size()

    # -- the read side --------------------------------------------------------------------

    async def series(self, server: str, start: float, end: float, step_s: int) -> HistorySeries:
        """Read a server's buckets of `step_s` seconds over `[start, end)`."""
        self._check_readable()
        return await self._store.series(server, start, end, step_s)

    async def uptime(self, server: str, start: float, end: float) -> Uptime:
        """Read how a server spent `[start, end)`."""
        self._check_readable()
        return await self._store.uptime(server, start, end)

    async def state_changes(self, server: str, start: float, end: float) -> Sequence[StateChange]:
        """Read a server's status changes in `[start, end)`, oldest first."""
        self._check_readable()
        return await self._store.state_changes(server, start, end)

    async def get_state(self, name: str) -> str | None:
        """Read the text kept under `name`; None when there is none."""
        self._check_readable()
        return await self._store.get_state(name)

    async def put_state(self, name: str, text: str) -> None:
        """Keep `text` under `name`, under the write lock (never beside a flush's transaction)."""
        async with self._lock:
            self._check_readable()
            await self._store.put_state(name, text)

    # -- internals ------------------------------------------------------------------------

    def _subject(self) -> str:
        return f"history store {self.shown}"

    def _check_readable(self) -> None:
        if self._closed:
            raise StoreError(
                StoreFailure.OTHER, "the history store is closed (the bot is stopping)"
            )
        if not self._opened:
            raise self._open_error or StoreError(
                StoreFailure.UNREACHABLE, "the history store is not open yet"
            )

    async def _open(self, *, first: bool) -> bool:
        """Open the store; say once why not (a line, never a traceback)."""
        try:
            await self._store.open()
        except StoreError as error:
            if first or self._open_error is None:
                log.error(
                    "%s; the bot runs without it, keeps the samples in memory (up to "
                    "buffer_limit = %d) and tries again every %g s",
                    store_problem(self.shown, error),
                    self.buffer_limit,
                    self.flush_interval,
                )
            self._open_error = error
            return False
        if self._open_error is not None:
            log.info("history store %s opened", self.shown)
        else:
            log.info("history store %s open", self.shown)
        self._open_error = None
        self._opened = True
        return True

    async def _refill(self, rings: ServerMetricsManager, since: float) -> None:
        """Fill every server's ring from the store, so the live graph is full at once."""
        try:
            recent = await self._store.recent(since)
        except StoreError as error:
            log.warning("%s: the live graphs start empty", store_problem(self.shown, error))
            return
        restored = 0
        for server, arrays in recent.items():
            if len(arrays) == 0:
                continue
            rings.history(server).extend(arrays)
            self._last_t[server] = float(arrays.t[-1])
            restored += len(arrays)
        if recent:
            log.info(
                "history store %s: %d sample(s) of %d server(s) back in the live graphs",
                self.shown,
                restored,
                len(recent),
            )

    async def _read_size(self) -> None:
        try:
            self._size_bytes = await self._store.size_bytes()
        except StoreError as error:
            log.debug("history store %s: size unknown: %s", self.shown, error)

    async def _every(
        self, interval: float, work: Callable[[], Awaitable[object]], started: float
    ) -> None:
        """Run `work` every `interval` seconds from `started` on; a late run does not shift it."""
        due = started
        while True:
            due += interval
            now = self._clock.monotonic()
            due = max(due, now)  # skipped runs are not made up for
            await self._clock.sleep(due - now)
            # Shielded: cancelling a write in the middle could leave it committed but requeued.
            await asyncio.shield(work())

    async def _finish(self) -> None:
        async with self._lock:
            if self._opened:
                await self._flush_locked()
                with contextlib.suppress(StoreError):
                    await self._store.close()
            elif self._samples:
                log.warning(
                    "history store %s never opened: %d sample(s) are lost at shutdown",
                    self.shown,
                    len(self._samples),
                )

    async def _flush_locked(self) -> bool:
        if not self._opened and not await self._open(first=False):
            return False
        samples, changes = self._samples, self._changes
        if not samples and not changes:
            return True
        self._samples, self._changes = deque(), deque()
        self._in_flight = len(samples)
        started = self._clock.monotonic()
        written = False
        try:
            await self._store.write(list(samples), list(changes))
            written = True
        except StoreError as error:
            self._note_failure(error, len(samples))
        except Exception:
            # A bug, not the database: one traceback, and the rows wait as for a store failure.
            if self._failing is None:
                log.exception("history store %s: writing failed", self.shown)
            self._failing = StoreError(StoreFailure.OTHER, "writing failed (see the traceback)")
        finally:
            self._in_flight = 0
            if not written:
                self._requeue(samples, changes)
        if not written:
            return False
        self._flushes += 1
        self._flush_seconds += self._clock.monotonic() - started
        self._rows_written += len(samples) + len(changes)
        if self._failing is not None:
            log.info(
                "history store %s is back: %d buffered sample(s) written%s",
                self.shown,
                len(samples),
                f", {self._dropped} dropped meanwhile in all" if self._dropped else "",
            )
            self._failing = None
            self._dropping = False
        return True

    def _note_failure(self, error: StoreError, waiting: int) -> None:
        if self._failing is None:
            log.warning(
                "history store unreachable: %s (%s): %s; %d sample(s) wait in memory (up to "
                "buffer_limit = %d, then the oldest are dropped) and are written when it is back",
                self.shown,
                error.reason,
                error,
                waiting + len(self._samples),
                self.buffer_limit,
            )
        self._failing = error

    def _requeue(self, samples: deque[SampleRow], changes: deque[StateChange]) -> None:
        """Put a batch that was not written back in front of what came meanwhile, bounded."""
        samples.extend(self._samples)
        excess = len(samples) - self.buffer_limit
        for _ in range(max(0, excess)):
            samples.popleft()
        if excess > 0:
            self._dropped += excess
            self._say_dropping()
        changes.extend(self._changes)
        while len(changes) > self.buffer_limit:
            changes.popleft()
        self._samples, self._changes = samples, changes

    def _say_dropping(self) -> None:
        if not self._dropping:
            self._dropping = True
            log.warning(
                "history store %s: the buffer is full (buffer_limit = %d samples): dropping the "
                "oldest until the store is back",
                self.shown,
                self.buffer_limit,
            )
