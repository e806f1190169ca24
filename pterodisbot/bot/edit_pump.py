"""Pace message edits per channel under Discord's bucket and all of them under its global limit.

Per channel the newest request of a message wins; across channels one `GlobalPacer` keeps the
sum under Discord's 50 requests per second per bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pterodisbot.clock import Clock, SystemClock

log = logging.getLogger(__name__)

EditJob = Callable[[], Awaitable[None]]

# Discord allows a bot 50 requests per second in all (its "global" limit, besides the buckets per
# route). The pump takes 40 of them, and at most 5 at once: any one-second window then holds at
# most 45 of its requests, which leaves room for posts, deletes and command syncs outside it.
GLOBAL_RATE = 40.0
GLOBAL_BURST = 5


class GlobalPacer:
    """A token bucket of `rate` requests per second, at most `burst` at once, on a `Clock`.

    Each `acquire()` reserves the next free slot in arrival order and sleeps until it: in any
    window of `w` seconds at most `burst + rate * w` acquisitions return. A caller cancelled
    while waiting loses its slot (the pace only ever errs on the slow side).
    """

    def __init__(
        self, *, rate: float = GLOBAL_RATE, burst: int = GLOBAL_BURST, clock: Clock | None = None
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock or SystemClock()
        self._tokens = float(burst)
        self._at = self._clock.monotonic()
        self.waited = 0

    def reserve(self) -> float:
        """Take a slot now; return how many seconds to wait for it (0: go at once)."""
        now = self._clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        # In debt: this slot comes once the bucket has refilled what the earlier slots took.
        return -self._tokens / self.rate

    async def acquire(self) -> None:
        """Wait for this caller's slot under the global rate."""
        wait = self.reserve()
        if wait > 0:
            self.waited += 1
            await self._clock.sleep(wait)


@dataclass(slots=True)
class PumpStats:
    """Counters for metrics and tests."""

    submitted: int = 0
    coalesced: int = 0
    sent: int = 0
    failed: int = 0


class _ChannelQueue:
    def __init__(self) -> None:
        self.pending: OrderedDict[int, EditJob] = OrderedDict()
        self.task: asyncio.Task[None] | None = None
        self.next_slot = 0.0


class EditPump:
    """One worker per channel that sends at most one edit per `interval` seconds.

    Discord's message-edit bucket is per channel (5 per 5 s at the time of writing); with a
    pause of `interval` between edits, 50 embeds in one channel never exceed it. A message with
    an edit already waiting is not queued twice: the job is replaced and the newest data is sent
    when its turn comes (jobs read the current state when they run). Every job is one request
    and takes a slot of `pacer`, shared by all channels (hundreds of channels due at once would
    otherwise go past Discord's global limit); other senders may take slots of it too.
    """

    def __init__(
        self,
        *,
        interval: float = 1.1,
        clock: Clock | None = None,
        pacer: GlobalPacer | None = None,
    ) -> None:
        self.interval = interval
        self._clock = clock or SystemClock()
        self.pacer = pacer or GlobalPacer(clock=self._clock)
        self._channels: dict[int, _ChannelQueue] = {}
        self.stats = PumpStats()
        self._closed = False

    def submit(self, channel_id: int, message_id: int, job: EditJob) -> None:
        """Queue an edit of `message_id`; a waiting edit of the same message is replaced."""
        if self._closed:
            return
        queue = self._channels.get(channel_id)
        if queue is None:
            queue = self._channels[channel_id] = _ChannelQueue()
        self.stats.submitted += 1
        if message_id in queue.pending:
            self.stats.coalesced += 1
        queue.pending[message_id] = job
        if queue.task is None or queue.task.done():
            queue.task = asyncio.create_task(
                self._work(channel_id, queue), name=f"edit-pump-{channel_id}"
            )

    def pending(self, channel_id: int | None = None) -> int:
        """Return how many edits are waiting (in one channel or in all)."""
        if channel_id is not None:
            queue = self._channels.get(channel_id)
            return len(queue.pending) if queue else 0
        return sum(len(q.pending) for q in self._channels.values())

    def discard(self, message_id: int) -> None:
        """Drop a waiting edit of a message that no longer exists."""
        for queue in self._channels.values():
            queue.pending.pop(message_id, None)

    async def drain(self) -> None:
        """Wait until every queued edit has been sent or failed."""
        while True:
            workers = [q.task for q in self._channels.values() if q.task and not q.task.done()]
            if not workers:
                return
            await asyncio.gather(*workers, return_exceptions=True)

    async def close(self) -> None:
        """Stop every worker; waiting edits are dropped."""
        self._closed = True
        tasks = [q.task for q in self._channels.values() if q.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._channels.clear()

    async def _work(self, channel_id: int, queue: _ChannelQueue) -> None:
        while queue.pending:
            wait = queue.next_slot - self._clock.monotonic()
            if wait > 0:
                await self._clock.sleep(wait)
            if not queue.pending:
                break
            # The global slot before taking the job: an edit submitted meanwhile replaces it.
            await self.pacer.acquire()
            if not queue.pending:
                break
            message_id, job = queue.pending.popitem(last=False)
            queue.next_slot = self._clock.monotonic() + self.interval
            try:
                await job()
                self.stats.sent += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.failed += 1
                log.exception("edit of message %s in channel %s failed", message_id, channel_id)
        # Worker ends when idle; `submit` starts a new one.
