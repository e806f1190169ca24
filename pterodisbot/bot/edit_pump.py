"""Pace message edits per channel under Discord's bucket, newest request winning."""

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
    when its turn comes (jobs read the current state when they run).
    """

    def __init__(self, *, interval: float = 1.1, clock: Clock | None = None) -> None:
        self.interval = interval
        self._clock = clock or SystemClock()
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
