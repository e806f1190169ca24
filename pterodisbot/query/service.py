"""The query service: ask every running server's game for its players, beside the monitor.

`PlayerQueries` learns the servers from the monitor's snapshots (`observe`, a listener: O(1),
never awaits) and asks each running one's game every `[query] interval`, spread over the
interval, at most `concurrency` at once, each within `timeout`, in one task of its own. The
monitor only reads `players(id)`: a game that hangs costs its query's timeout, never a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pterodisbot.clock import Clock, SystemClock
from pterodisbot.conditions import ConditionLog, shorten
from pterodisbot.observed import ServerStatus
from pterodisbot.query._model import (
    FAILURE_TEXT,
    Answering,
    GameAnswer,
    Players,
    QueryFailure,
    QuerySettings,
    QueryStats,
    QueryTarget,
)
from pterodisbot.query.detect import target_for
from pterodisbot.query.protocols import QueryError, ask

if TYPE_CHECKING:
    from pterodisbot.monitor import ServerSnapshot
    from pterodisbot.panel.models import Server

__all__ = ["PlayerQueries"]

log = logging.getLogger(__name__)

# Characters of a server's name in a log line: the identifier is what to search for.
_NAME_LIMIT: Final = 40


@dataclass(slots=True)
class _Watched:
    """One server the monitor has shown: where its game is asked and what it said."""

    server: Server
    target: QueryTarget | None
    # Monotonic time it was last seen start running; None while it does not run.
    running_since: float | None = None
    next_at: float = 0.0
    in_flight: bool = False
    # Monotonic time of its last answer, and its wall time for `Players.since`.
    answered_at: float | None = None
    players: Players | None = None


class PlayerQueries:
    """Ask the running servers' games for their players and keep one `Players` per server."""

    enabled = True

    def __init__(self, settings: QuerySettings, *, clock: Clock | None = None) -> None:
        self._settings = settings
        self._clock = clock or SystemClock()
        self._watched: dict[str, _Watched] = {}
        self._task: asyncio.Task[None] | None = None
        self._queries: set[asyncio.Task[None]] = set()
        # Servers by the time they are due, most overdue first: when the cap holds queries back
        # (many hung games), the ones that waited longest go next, and nobody is starved.
        # Entries go stale (stopped, forgotten, rescheduled) and are skipped when popped.
        self._due: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        # Set when a query ends or a server starts running: the scheduler looks again at once.
        self._wake = asyncio.Event()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._conditions = ConditionLog(log, clock=self._clock, ended="game answering again")

    @property
    def settings(self) -> QuerySettings:
        """Return the `[query]` settings in force."""
        return self._settings

    # ----------------------------------------------------------------- what the monitor calls

    def observe(self, snapshot: ServerSnapshot, previous: ServerSnapshot | None) -> None:
        """Learn a server and whether it runs from its new snapshot (a monitor listener)."""
        identifier = snapshot.server.identifier
        watched = self._watched.get(identifier)
        if watched is None:
            watched = self._watched[identifier] = _Watched(
                snapshot.server, self._target(snapshot.server)
            )
        elif watched.server is not snapshot.server:
            # A new server list: the egg, the allocation or the variables may have changed.
            target = self._target(snapshot.server)
            if target != watched.target:
                watched.players = None
                watched.target = target
            watched.server = snapshot.server
        if _runs(snapshot, watched.running_since is not None):
            if watched.running_since is None:
                now = self._clock.monotonic()
                watched.running_since = now
                self._schedule(watched, now + self._offset(identifier))
                self._wake.set()
        elif watched.running_since is not None:
            # Stopped, crashed, suspended: not asked, and nothing said of it until it runs.
            watched.running_since = None
            watched.players = None
            self._conditions.forget(identifier)

    def forget(self, identifier: str) -> None:
        """Drop a server gone from the panel (a monitor removal listener)."""
        self._watched.pop(identifier, None)
        self._conditions.forget(identifier)

    def players(self, server: str) -> Players | None:
        """Return what the server's game last said, None while it is not asked or never was."""
        watched = self._watched.get(server)
        if watched is None or watched.running_since is None:
            return None
        return watched.players

    def stats(self) -> QueryStats:
        """Return queries by protocol and outcome, the servers asked and the queries in flight."""
        return QueryStats(
            queries=dict(self._counts),
            targets=sum(1 for w in self._watched.values() if self._askable(w)),
            in_flight=len(self._queries),
        )

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start asking (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pterodisbot-player-queries")

    async def close(self) -> None:
        """Stop asking; cancel the queries in flight and wait for them to end."""
        tasks = [t for t in (self._task, *self._queries) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._queries.clear()

    # ----------------------------------------------------------------- internals

    def _target(self, server: Server) -> QueryTarget | None:
        return target_for(server, self._settings.servers.get(server.identifier))

    def _offset(self, identifier: str) -> float:
        """Return where in the interval a server is first asked: spread, the same every run."""
        return (zlib.crc32(identifier.encode()) % 1000) / 1000 * self._settings.interval

    @staticmethod
    def _askable(watched: _Watched) -> bool:
        return watched.running_since is not None and watched.target is not None

    async def _run(self) -> None:
        """Ask every due server, at most `concurrency` at once; sleep until the next is due."""
        while True:
            self._wake.clear()
            delay = self._launch_due()
            sleeper = asyncio.ensure_future(self._clock.sleep(delay))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
                # Both end before this task does: none is left pending when the loop closes.
                await asyncio.gather(sleeper, waker, return_exceptions=True)

    def _schedule(self, watched: _Watched, at: float) -> None:
        watched.next_at = at
        heapq.heappush(self._due, (at, next(self._order), watched.server.identifier))

    def _launch_due(self) -> float:
        """Start the queries that are due (within the cap); return seconds until the next one."""
        settings = self._settings
        now = self._clock.monotonic()
        while self._due:
            at, _, identifier = self._due[0]
            if at > now:
                return min(settings.interval, at - now)
            if len(self._queries) >= settings.concurrency:
                # Full: the next query to end wakes the scheduler.
                return settings.interval
            heapq.heappop(self._due)
            watched = self._watched.get(identifier)
            if watched is None or watched.next_at != at or not self._askable(watched):
                continue  # stale: forgotten, stopped, or rescheduled since
            self._schedule(watched, now + settings.interval)
            if watched.in_flight:
                continue  # its last query outlived the interval: ask again a round later
            target = watched.target
            assert target is not None  # _askable
            watched.in_flight = True
            task = asyncio.create_task(
                self._ask(watched, target),
                name=f"pterodisbot-query-{watched.server.identifier}",
            )
            self._queries.add(task)
            task.add_done_callback(self._ended)
        return settings.interval

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._queries.discard(task)
        self._wake.set()

    async def _ask(self, watched: _Watched, target: QueryTarget) -> None:
        """Ask one game and note its answer or failure, unless the server changed meanwhile."""
        settings = self._settings
        answer: GameAnswer | None = None
        failure: QueryFailure | None = None
        try:
            answer = await ask(
                target, timeout=settings.timeout, names=settings.show_names, clock=self._clock
            )
        except QueryError as exc:
            failure = exc.failure
            log.debug("server %s: query %s failed: %s", watched.server.identifier, target, exc)
        except Exception:
            # `ask` lets nothing else out; if it ever did, one server's bug must not end the
            # others' queries (nor go unseen).
            failure = QueryFailure.GARBAGE
            log.exception("server %s: query %s failed", watched.server.identifier, target)
        finally:
            watched.in_flight = False
        self._counts[(target.protocol.value, failure.value if failure else "ok")] += 1
        current = self._watched.get(watched.server.identifier)
        running_since = watched.running_since
        if current is not watched or running_since is None or watched.target != target:
            return  # forgotten, stopped or moved while asked: this answer is not its state
        self._note(watched, target, answer, failure or QueryFailure.GARBAGE, running_since)

    def _note(
        self,
        watched: _Watched,
        target: QueryTarget,
        answer: GameAnswer | None,
        failure: QueryFailure,
        running_since: float,
    ) -> None:
        """Turn one query's outcome (an answer, else its failure) into the server's `Players`."""
        now = self._clock.monotonic()
        server = watched.server
        subject = f"server {server.identifier} ({shorten(server.name, _NAME_LIMIT)})"
        if answer is not None:
            watched.answered_at = now
            watched.players = Players(target, Answering.ANSWERING, answer, since=answer.t)
            self._conditions.observe(server.identifier, None, subject=subject)
            return
        last = watched.players
        # Silent since its last answer in this run, or since it started running if none.
        answered = watched.answered_at
        silent_from = running_since if answered is None else max(answered, running_since)
        hung = now - silent_from >= self._settings.not_answering_after
        state = Answering.NOT_ANSWERING if hung else Answering.NO_ANSWER
        # The last answer's time; never answered: the first query's.
        since = last.since if last is not None and last.since is not None else self._clock.time()
        watched.players = Players(
            target,
            state,
            answer=last.answer if last is not None else None,
            failure=failure,
            since=since,
        )
        if hung:
            self._conditions.observe(
                server.identifier,
                f"game not answering its {target.protocol.value} query at "
                f"{target.host}:{target.port} ({FAILURE_TEXT[failure]})",
                subject=subject,
            )


def _runs(snapshot: ServerSnapshot, was_running: bool) -> bool:
    """Tell whether the server's game should be up now.

    A panel that cannot be read (unknown) says nothing new: a server that ran is still asked.
    """
    if snapshot.status is ServerStatus.RUNNING:
        return True
    return was_running and snapshot.status is ServerStatus.UNKNOWN
