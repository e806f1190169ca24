"""What the alerts engine remembers of one server between snapshots: O(1) facts, no decisions.

`ServerTrack.observe()` folds one snapshot into running facts (since when it runs, is over a
threshold, has failed to be read...) and says whether the step was a crash or a stop; the engine
(`_engine.py`) turns those facts into incidents. Keeping the facts here keeps each snapshot O(1).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from pterodisbot.alerts._model import AlertServer, Rule, Thresholds
from pterodisbot.observed import ReadFault, ServerStatus
from pterodisbot.query import Answering

if TYPE_CHECKING:
    from pterodisbot.panel.models import Resources, Server
    from pterodisbot.query import Players


class SnapshotView(Protocol):
    """What the rules read of a snapshot; `monitor.SnapshotView` is one."""

    @property
    def server(self) -> Server:
        """Return the panel's server."""
        ...

    @property
    def status(self) -> str:
        """Return the `ServerStatus` value."""
        ...

    @property
    def resources(self) -> Resources | None:
        """Return the panel's resources answer, None when it had none."""
        ...

    @property
    def t(self) -> float:
        """Return the wall-clock time of the poll."""
        ...

    @property
    def error(self) -> str | None:
        """Return the short reason the server could not be read."""
        ...

    @property
    def fault(self) -> str | None:
        """Return the `ReadFault` value, None when the panel answered."""
        ...

    @property
    def players(self) -> Players | None:
        """Return what the game said of its players, None when it is not asked."""
        ...


# An uptime may read this much lower than the time between two polls says without meaning a
# restart: the panel's figures and the poll's timestamp are not taken at the same instant.
UPTIME_SLACK_MS: Final = 2_000

_ACTIVE: Final = frozenset({ServerStatus.RUNNING, ServerStatus.STARTING})
_TRANSITIONAL: Final = frozenset({ServerStatus.STARTING, ServerStatus.STOPPING})


class FaultClass(enum.Enum):
    """Whose fault a failed read is: this server's, its node's or the panel's."""

    SERVER = "server"
    NODE = "node"
    PANEL = "panel"


_FAULT_CLASS: Final = {
    ReadFault.REFUSED: FaultClass.SERVER,
    ReadFault.BAD_ANSWER: FaultClass.SERVER,
    ReadFault.NODE_DOWN: FaultClass.NODE,
    ReadFault.PANEL_DOWN: FaultClass.PANEL,
}


class Step(enum.Enum):
    """What one snapshot says happened to the server's process."""

    NOTHING = "nothing"
    # Running/starting -> offline, running -> starting, or an uptime reset: a crash unless a
    # power action explains it.
    CRASH_LIKE = "crash_like"
    # Running -> stopping -> offline: an orderly stop.
    STOPPED = "stopped"


@dataclass(slots=True)
class Overload:
    """One resource's run of samples over (or under) its threshold."""

    over_since: float | None = None
    under_since: float | None = None
    # The highest percent of the limit seen since `over_since` (None while under).
    peak: float | None = None

    def sample(self, t: float, percent: float | None, threshold: float) -> None:
        """Fold one reading (None: nothing to measure, counts as under) into the run."""
        if percent is not None and threshold > 0 and percent > threshold:
            if self.over_since is None:
                self.over_since = t
                self.peak = percent
            else:
                self.peak = max(self.peak or percent, percent)
            self.under_since = None
            return
        self.over_since = None
        self.peak = None
        if self.under_since is None:
            self.under_since = t


@dataclass(slots=True)
class ServerTrack:
    """One server's running facts, updated by every snapshot in O(1)."""

    server: AlertServer
    # The last status the panel confirmed (never UNKNOWN); None before the first.
    status: ServerStatus | None = None
    # An UNKNOWN snapshot came after `status`: what happened in between cannot be told.
    blind: bool = False
    # Set by a restore: the first snapshot compares with the saved status, and an activity
    # look-up for it starts here (the save time minus the power window).
    restored_since: float | None = None
    # The last snapshot's time (any status), and the last one with a status: an unknown poll
    # proves nothing about the process (not that it still runs, nor that it is still over).
    last_t: float = 0.0
    seen_t: float = 0.0
    # The previous running snapshot's uptime and time, for a restart between two polls.
    uptime_ms: int | None = None
    uptime_t: float = 0.0
    # First snapshot of the current running stretch (None while not running).
    running_since: float | None = None
    # First snapshot of the current run of starting/stopping, and of the run outside them.
    busy_since: float | None = None
    idle_since: float | None = None
    # Times of status changes within the flap window, and every change ever (for counting).
    changes: deque[float] = field(default_factory=deque)
    changes_total: int = 0
    # `changes_total` when the open flapping incident last counted them.
    flaps_counted: int = 0
    # Crash times within the crash-loop window (the engine appends when a crash fires).
    crashes: deque[float] = field(default_factory=deque)
    # Consecutive failed reads of one fault class, since when, and the panel's words.
    fault_class: FaultClass | None = None
    fault_streak: int = 0
    fault_since: float = 0.0
    fault_detail: str | None = None
    # Consecutive panel failures each after another server was read since this one's previous
    # poll: the panel answers the others, so the failure is this server's. (A poll already under
    # way when the panel comes back fails after the others' first good reads: that one alone
    # must not make a long panel outage this server's.)
    alone_streak: int = 0
    # First good read after the last failed one (None while failing).
    ok_since: float | None = None
    cpu: Overload = field(default_factory=Overload)
    memory: Overload = field(default_factory=Overload)
    disk: Overload = field(default_factory=Overload)
    # Running while its game is NOT_ANSWERING: since when the game last answered (the query
    # service's `Players.since`) and why its last query failed (a `QueryFailure` value); None
    # otherwise. `heard_since`: the first snapshot of the run without it (None while hung).
    hung_since: float | None = None
    hung_failure: str | None = None
    heard_since: float | None = None
    # The last confirmed snapshot's game answered its query.
    answering: bool = False

    def overload(self, rule: Rule) -> Overload:
        """Return the run of one resource rule (CPU, MEMORY or DISK)."""
        if rule is Rule.CPU:
            return self.cpu
        if rule is Rule.MEMORY:
            return self.memory
        return self.disk

    def observe(self, snapshot: SnapshotView, thresholds: Thresholds, flap_window: float) -> Step:
        """Fold one snapshot into the facts; say whether it was a crash-like step or a stop."""
        t = snapshot.t
        self.last_t = t
        self._read(snapshot)
        status = ServerStatus(snapshot.status)
        if status == ServerStatus.UNKNOWN:
            # Nothing is known of the process now: keep every run as it was.
            self.blind = True
            return Step.NOTHING
        self.seen_t = t
        before, blind = self.status, self.blind
        self.status, self.blind = status, False
        step = Step.NOTHING if blind or before is None else _step(before, snapshot, self)
        if before is not None and before != status:
            self.changes.append(t)
            self.changes_total += 1
        while self.changes and self.changes[0] < t - flap_window:
            self.changes.popleft()
        self._runs(snapshot, step)
        self._resources(snapshot, thresholds)
        self._players(snapshot)
        return step

    def _read(self, snapshot: SnapshotView) -> None:
        fault = _FAULT_CLASS.get(ReadFault(snapshot.fault)) if snapshot.fault is not None else None
        if fault is None:
            # Read (a 409 is the panel answering too: suspended, installing — never an alert).
            self.fault_class, self.fault_streak = None, 0
            if self.ok_since is None:
                self.ok_since = snapshot.t
            return
        if fault is not self.fault_class:
            self.fault_class, self.fault_streak, self.fault_since = fault, 0, snapshot.t
        self.fault_streak += 1
        self.fault_detail = snapshot.error
        self.ok_since = None

    def _runs(self, snapshot: SnapshotView, step: Step) -> None:
        t, status = snapshot.t, snapshot.status
        if status == ServerStatus.RUNNING:
            # A restart between two polls starts a new running stretch.
            if self.running_since is None or step is Step.CRASH_LIKE:
                self.running_since = t
            resources = snapshot.resources
            self.uptime_ms = resources.uptime_ms if resources is not None else None
            self.uptime_t = t
        else:
            self.running_since = None
            self.uptime_ms = None
        if status in _TRANSITIONAL:
            self.idle_since = None
            if self.busy_since is None:
                self.busy_since = t
        else:
            self.busy_since = None
            if self.idle_since is None:
                self.idle_since = t

    def _players(self, snapshot: SnapshotView) -> None:
        t, players = snapshot.t, snapshot.players
        running = snapshot.status == ServerStatus.RUNNING
        self.answering = (
            running and players is not None and players.answering is Answering.ANSWERING
        )
        if running and players is not None and players.answering is Answering.NOT_ANSWERING:
            if self.hung_since is None:
                # The silence began when the game last answered, not when the service gave up.
                self.hung_since = players.since if players.since is not None else t
                self.hung_failure = players.failure.value if players.failure else None
            self.heard_since = None
            return
        # Answering, still within not_answering_after, not asked, or not running: not hung.
        self.hung_since, self.hung_failure = None, None
        if self.heard_since is None:
            self.heard_since = t

    def _resources(self, snapshot: SnapshotView, thresholds: Thresholds) -> None:
        t, resources = snapshot.t, snapshot.resources
        if snapshot.status != ServerStatus.RUNNING or resources is None:
            # Only a running server is overloaded; anything else counts as under.
            self.cpu.sample(t, None, 0.0)
            self.memory.sample(t, None, 0.0)
            self.disk.sample(t, None, 0.0)
            return
        limits = snapshot.server.limits
        cpu = resources.cpu_absolute * 100.0 / limits.cpu if limits.cpu > 0 else None
        memory_limit, disk_limit = limits.memory_bytes, limits.disk_bytes
        memory = resources.memory_bytes * 100.0 / memory_limit if memory_limit else None
        disk = resources.disk_bytes * 100.0 / disk_limit if disk_limit else None
        self.cpu.sample(t, cpu, thresholds.cpu_percent)
        self.memory.sample(t, memory, thresholds.memory_percent)
        self.disk.sample(t, disk, thresholds.disk_percent)


def _step(before: str, snapshot: SnapshotView, track: ServerTrack) -> Step:
    """Tell a crash-like step or a stop from two confirmed statuses in a row."""
    status = snapshot.status
    if before == ServerStatus.STOPPING and status == ServerStatus.OFFLINE:
        return Step.STOPPED
    if before in _ACTIVE and status == ServerStatus.OFFLINE:
        return Step.CRASH_LIKE
    if before == ServerStatus.RUNNING and status == ServerStatus.STARTING:
        return Step.CRASH_LIKE
    if before == ServerStatus.RUNNING and status == ServerStatus.RUNNING:
        resources = snapshot.resources
        if resources is None or track.uptime_ms is None:
            return Step.NOTHING
        elapsed_ms = (snapshot.t - track.uptime_t) * 1000.0
        # Up for no longer than since the last poll, and less than that poll's uptime plus the
        # time between: Wings restarted it in between.
        if (
            resources.uptime_ms <= elapsed_ms + UPTIME_SLACK_MS
            and resources.uptime_ms + UPTIME_SLACK_MS < track.uptime_ms + elapsed_ms
        ):
            return Step.CRASH_LIKE
    return Step.NOTHING
