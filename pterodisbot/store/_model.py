"""What the history store holds and answers: rows, buckets, windows, tiers, and its errors.

Both backends (SQLite, PostgreSQL) exchange these values and nothing else, so the write path,
the Discord command, the HTTP endpoint and the demo never know which one runs.

Time is Unix seconds (the monitor's `clock.time()`), UTC. A raw sample stands for `span_s`
seconds of its server's life in its state (the time since the server's previous sample, capped
by the writer): summing spans per state is what uptime is made of, and what survives rollup as
the bucket's seconds per state. Time no sample covers (the bot was not running) is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from pterodisbot.server_metrics_graphs import MetricArrays, MetricSample

# The power states a sample can be in (the history's own codes are `STATE_NAMES`).
KNOWN_STATES: Final = ("running", "starting", "stopping", "offline")


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One raw sample of one server, as written: the ring's sample plus the time it stands for.

    `state` is a power state or "unknown" (the panel could not be read); while it is offline or
    unknown the numbers are zeros and mean nothing (they are left out of every average).
    """

    server: str
    t: float
    state: str
    cpu_percent: float
    memory_bytes: int
    disk_bytes: int
    rx_rate: float
    tx_rate: float
    uptime_ms: int
    span_s: float
    is_suspended: bool = False
    # Players online as the game answered (None: not asked, or no answer).
    players: int | None = None

    @classmethod
    def of(cls, server: str, sample: MetricSample, span_s: float) -> SampleRow:
        """Return the row of a sample the in-memory ring recorded, standing for `span_s`."""
        return cls(
            server=server,
            t=sample.t,
            state=sample.state,
            cpu_percent=float(sample.cpu_percent),
            memory_bytes=int(sample.memory_bytes),
            disk_bytes=int(sample.disk_bytes),
            rx_rate=float(sample.rx_rate),
            tx_rate=float(sample.tx_rate),
            uptime_ms=int(sample.uptime_ms),
            span_s=span_s,
            is_suspended=sample.is_suspended,
            players=sample.players,
        )


@dataclass(frozen=True, slots=True)
class StateChange:
    """A server's displayed status changed (`ServerStatus` values; `before` None: first seen)."""

    server: str
    t: float
    before: str | None
    after: str


@dataclass(frozen=True, slots=True)
class StateSeconds:
    """Seconds spent in each state; `unknown_s` counts samples saying the panel could not be read.

    Time no sample covers at all is not in here: a reader adds it to unknown (`Uptime.over`).
    """

    running_s: float = 0.0
    starting_s: float = 0.0
    stopping_s: float = 0.0
    offline_s: float = 0.0
    unknown_s: float = 0.0

    @property
    def total_s(self) -> float:
        """Return every second counted, known or not."""
        return self.running_s + self.starting_s + self.stopping_s + self.offline_s + self.unknown_s

    def __add__(self, other: StateSeconds) -> StateSeconds:
        return StateSeconds(
            self.running_s + other.running_s,
            self.starting_s + other.starting_s,
            self.stopping_s + other.stopping_s,
            self.offline_s + other.offline_s,
            self.unknown_s + other.unknown_s,
        )

    def dominant(self) -> str:
        """Return the state with the most seconds ("unknown" when nothing was counted)."""
        best, seconds = "unknown", self.unknown_s
        for state in KNOWN_STATES:
            value = getattr(self, f"{state}_s")
            if value > seconds:
                best, seconds = state, value
        return best


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One bucket of a server's series: `t` is its start, `step` seconds long.

    CPU (percent of one core, as the ring stores it) and memory are over the bucket's live
    samples (running, starting, stopping): None when it had none. Disk is the last reading,
    network the average rates. Players are over the samples the game answered in, whatever
    their state (games are only asked while running): None when none was.
    """

    t: float
    live_samples: int
    cpu_avg: float | None
    cpu_min: float | None
    cpu_max: float | None
    memory_avg: float | None
    memory_min: int | None
    memory_max: int | None
    disk_bytes: int | None
    rx_rate: float | None
    tx_rate: float | None
    seconds: StateSeconds
    # Players over the bucket's samples that had an answer: None when none had.
    players_avg: float | None = None
    players_max: int | None = None
    # How many samples had an answer: what weighs `players_avg` when buckets are summed up.
    players_samples: int = 0

    @property
    def state(self) -> str:
        """Return the state the bucket spent the most time in."""
        return self.seconds.dominant()


@dataclass(frozen=True, slots=True)
class HistorySeries:
    """A server's buckets over `[start, end)`, oldest first; buckets without data are absent."""

    server: str
    start: float
    end: float
    step_s: float
    points: tuple[HistoryPoint, ...]


@dataclass(frozen=True, slots=True)
class Uptime:
    """How a server spent a time range: known seconds per state, the rest unknown."""

    running_s: float
    starting_s: float
    stopping_s: float
    offline_s: float
    unknown_s: float

    @classmethod
    def over(cls, seconds: StateSeconds, range_s: float) -> Uptime:
        """Count the range's seconds no sample covers as unknown."""
        uncovered = max(0.0, range_s - seconds.total_s)
        return cls(
            seconds.running_s,
            seconds.starting_s,
            seconds.stopping_s,
            seconds.offline_s,
            seconds.unknown_s + uncovered,
        )

    @property
    def known_s(self) -> float:
        """Return the seconds whose state is known."""
        return self.running_s + self.starting_s + self.stopping_s + self.offline_s

    @property
    def ratio(self) -> float | None:
        """Return running time over known time (unknown is neither up nor down); None: no data."""
        known = self.known_s
        return self.running_s / known if known > 0 else None


@dataclass(frozen=True, slots=True)
class Tier:
    """One resolution the store keeps: buckets of `step_s` seconds, kept `retention_s` seconds.

    Step 0 is the raw samples themselves.
    """

    name: str
    step_s: int
    retention_s: int


DAY: Final = 86_400
# Raw samples for two days, 1-minute buckets for eight, 1-hour buckets for 400: at a 10 s poll
# about 17,280 + 11,520 + 9,600 rows a server, within ~3 MB on SQLite (`make bench` prints it).
RAW: Final = Tier("raw", 0, 2 * DAY)
MINUTE: Final = Tier("minute", 60, 8 * DAY)
HOUR: Final = Tier("hour", 3600, 400 * DAY)
TIERS: Final = (RAW, MINUTE, HOUR)
# A bucket is rolled up once it ended this long ago, so samples still on their way (one flush)
# land before it is computed; later ones lower the tier's watermark and are rolled up again.
ROLLUP_LAG_S: Final = 120


@dataclass(frozen=True, slots=True)
class Window:
    """A span `/server_history` and the HTTP endpoint offer, and the bucket size it is read at.

    Every window is at most 1,500 points.
    """

    name: str
    seconds: int
    step_s: int


WINDOWS: Final[Mapping[str, Window]] = MappingProxyType(
    {
        w.name: w
        for w in (
            Window("1h", 3600, 10),
            Window("6h", 6 * 3600, 60),
            Window("24h", DAY, 60),
            Window("7d", 7 * DAY, 600),
            Window("30d", 30 * DAY, 3600),
        )
    }
)


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one `maintain()` did; `skipped` when another process holds the rollup lock."""

    minute_buckets: int = 0
    hour_buckets: int = 0
    raw_rows_dropped: int = 0
    skipped: bool = False


class StoreFailure(StrEnum):
    """Why the store cannot be used right now, read once where the driver raised."""

    UNREACHABLE = "unreachable"  # connection refused, host unknown, timeout
    AUTH = "auth"  # the database refused the user or password
    MISSING = "missing"  # the database (or the file's folder) does not exist
    READ_ONLY = "read-only"  # file or database not writable
    DISK_FULL = "disk-full"
    CORRUPT = "corrupt"  # not a database, or a schema this version cannot use
    OTHER = "other"


class StoreError(Exception):
    """The store failed; `str()` is one line for an operator, never with a password in it."""

    def __init__(self, reason: StoreFailure, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class HistoryStore(Protocol):
    """A history backend. Every method may raise `StoreError`; none blocks the event loop.

    `open()` connects and creates or migrates the schema (idempotent). `write()` is one
    transaction: all of a batch lands or none of it. Reads cover what was written, rolled up or
    not. `maintain(now)` rolls closed buckets past each tier's watermark up (idempotent: a crash
    in the middle and a rerun never double-count) and drops what is past retention; on
    PostgreSQL only one process does it at a time.
    """

    @property
    def shown(self) -> str:
        """Return where the store is, for logs (no password)."""
        ...

    async def open(self) -> None:
        """Connect and make the schema ready."""
        ...

    async def write(self, samples: Sequence[SampleRow], changes: Sequence[StateChange]) -> None:
        """Write one batch in one transaction."""
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

    async def recent(self, since: float) -> Mapping[str, MetricArrays]:
        """Read every server's raw samples since `since`, for refilling the in-memory rings."""
        ...

    async def maintain(self, now: float) -> MaintenanceReport:
        """Roll up closed buckets and drop what is past retention."""
        ...

    async def size_bytes(self) -> int:
        """Return the bytes the store takes (file, or database) for metrics."""
        ...

    async def get_state(self, name: str) -> str | None:
        """Read the text kept under `name` (the alerts' state); None when there is none."""
        ...

    async def put_state(self, name: str, text: str) -> None:
        """Keep `text` under `name`, replacing what was there, in one transaction."""
        ...

    async def close(self) -> None:
        """Finish and release the connection; idempotent."""
        ...
