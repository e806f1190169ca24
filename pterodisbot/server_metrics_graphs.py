"""Per-server metric history: a fixed-size ring buffer of samples, and a registry of them.

Despite the module's and the class's names, nothing here draws: `ServerMetricsGraphs` is one
server's history (new code may call it `ServerHistory`), `ServerMetricsManager` the registry of
them; `pterodisbot.graphs` turns a history into a picture. The names are kept: they are public.

Each history keeps its samples in preallocated numpy columns carved out of one block of memory
(`BYTES_PER_SAMPLE`), and nothing grows while the bot runs; `make bench` prints what 1,000
servers x 8,640 samples (a day at 10 s) take ("memory, 1,000 histories x 8,640 samples").
Histories are written on the event loop only; readers that work in another thread (the graph
renderer) take a snapshot first (`window()`, `samples()`), which copies.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from pterodisbot.panel.models import Resources

__all__ = [
    "GAP_STATE_CODES",
    "STATE_CODES",
    "STATE_NAMES",
    "MetricArrays",
    "MetricSample",
    "ServerHistory",
    "ServerMetricsGraphs",
    "ServerMetricsManager",
]

log = logging.getLogger(__name__)

# Index = code stored in the history; "unknown" is 0 so a zeroed column reads as "no data".
STATE_NAMES: Final[tuple[str, ...]] = ("unknown", "offline", "starting", "running", "stopping")
STATE_CODES: Final[Mapping[str, int]] = {name: code for code, name in enumerate(STATE_NAMES)}
# States during which the numbers mean nothing (no process, or no answer): graphs leave a gap.
GAP_STATE_CODES: Final[frozenset[int]] = frozenset({STATE_CODES["unknown"], STATE_CODES["offline"]})

_SUSPENDED_BIT: Final = 0x80
_STATE_MASK: Final = 0x7F

# Column layout of one history's block: widest first, so every view stays naturally aligned.
_COLUMNS: Final[tuple[tuple[str, type[np.generic]], ...]] = (
    ("t", np.float64),
    ("memory_bytes", np.int64),
    ("disk_bytes", np.int64),
    ("uptime_ms", np.int64),
    ("cpu_percent", np.float32),
    ("rx_rate", np.float32),
    ("tx_rate", np.float32),
    ("players", np.uint16),
    ("state", np.uint8),
)
BYTES_PER_SAMPLE: Final[int] = sum(np.dtype(kind).itemsize for _, kind in _COLUMNS)
# The players column holds a count in two bytes; this value means "no count" (not asked, or
# no answer), and a bigger count is kept as the largest one that fits.
_NO_PLAYERS: Final = 0xFFFF
_MAX_PLAYERS: Final = _NO_PLAYERS - 1

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
StateArray = npt.NDArray[np.uint8]
_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One point of a server's history; `state` is "unknown" when the panel could not be read."""

    t: float
    state: str
    cpu_percent: float
    memory_bytes: int
    disk_bytes: int
    rx_rate: float
    tx_rate: float
    uptime_ms: int
    is_suspended: bool = False
    # Players online as the game last answered (None: not asked, or no answer).
    players: int | None = None

    @property
    def is_gap(self) -> bool:
        """Tell whether the numbers of this sample mean nothing (offline or unknown)."""
        return STATE_CODES.get(self.state, 0) in GAP_STATE_CODES


@dataclass(frozen=True, slots=True)
class MetricArrays:
    """A chronological snapshot of samples as read-only numpy columns (copies, safe to share).

    `state` holds codes (see `STATE_NAMES`); `suspended` is a bool column; `players` is NaN
    where the sample has no count (the game was not asked, or did not answer).
    """

    t: FloatArray
    state: StateArray
    suspended: npt.NDArray[np.bool_]
    cpu_percent: Float32Array
    memory_bytes: IntArray
    disk_bytes: IntArray
    rx_rate: Float32Array
    tx_rate: Float32Array
    uptime_ms: IntArray
    players: Float32Array

    def __post_init__(self) -> None:
        # Snapshots are shared with worker threads: nobody may write into them.
        for column in fields(self):
            getattr(self, column.name).flags.writeable = False

    def __len__(self) -> int:
        """Return the number of samples."""
        return len(self.t)

    def __getitem__(self, index: int) -> MetricSample:
        """Return sample `index` (negative counts from the newest)."""
        code = int(self.state[index])
        return MetricSample(
            t=float(self.t[index]),
            state=STATE_NAMES[code] if code < len(STATE_NAMES) else "unknown",
            cpu_percent=float(self.cpu_percent[index]),
            memory_bytes=int(self.memory_bytes[index]),
            disk_bytes=int(self.disk_bytes[index]),
            rx_rate=float(self.rx_rate[index]),
            tx_rate=float(self.tx_rate[index]),
            uptime_ms=int(self.uptime_ms[index]),
            is_suspended=bool(self.suspended[index]),
            players=_players_of(float(self.players[index])),
        )

    def __iter__(self) -> Iterator[MetricSample]:
        """Yield the samples oldest first."""
        for index in range(len(self)):
            yield self[index]

    @property
    def gap_mask(self) -> npt.NDArray[np.bool_]:
        """Return True where a sample is offline or unknown (its numbers must not be drawn)."""
        return np.isin(self.state, tuple(GAP_STATE_CODES))

    @classmethod
    def from_samples(cls, samples: Sequence[MetricSample]) -> MetricArrays:
        """Build columns from sample objects (tests, restored storage, `render_graph`)."""
        return cls(
            t=np.array([s.t for s in samples], dtype=np.float64),
            state=np.array([STATE_CODES.get(s.state, 0) for s in samples], dtype=np.uint8),
            suspended=np.array([s.is_suspended for s in samples], dtype=np.bool_),
            cpu_percent=np.array([s.cpu_percent for s in samples], dtype=np.float32),
            memory_bytes=np.array([s.memory_bytes for s in samples], dtype=np.int64),
            disk_bytes=np.array([s.disk_bytes for s in samples], dtype=np.int64),
            rx_rate=np.array([s.rx_rate for s in samples], dtype=np.float32),
            tx_rate=np.array([s.tx_rate for s in samples], dtype=np.float32),
            uptime_ms=np.array([s.uptime_ms for s in samples], dtype=np.int64),
            players=np.array(
                [math.nan if s.players is None else s.players for s in samples], dtype=np.float32
            ),
        )


def _players_of(value: float) -> int | None:
    """Return a stored players count as the sample's field: None for NaN."""
    return None if math.isnan(value) else int(value)


def _players_cell(players: int | None) -> int:
    """Return what the two-byte players column stores for a count (None: `_NO_PLAYERS`)."""
    if players is None:
        return _NO_PLAYERS
    return min(max(players, 0), _MAX_PLAYERS)


def _state_name(state: object) -> str:
    # A `class X(str, Enum)` member prints as "X.RUNNING"; its value is what the panel sent.
    value = state.value if isinstance(state, Enum) else state
    return str(value).lower()


@dataclass(frozen=True, slots=True)
class _Counters:
    """The last fresh reading the network rates are computed against."""

    t: float
    rx: int
    tx: int
    uptime_ms: int


class ServerMetricsGraphs:
    """One server's metric history (not graphs): a ring buffer, the oldest overwritten when full.

    Alias `ServerHistory`, the clearer name for new code; this one stays for existing callers.

    `version` changes on every write, so a consumer (the graph renderer's cache) can tell that it
    has already seen this exact data. `instance_token` is unique to this object: a history created
    again for the same server never matches what was cached for the old one.
    """

    def __init__(self, identifier: str, *, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"a metric history needs a capacity of at least 2, got {capacity}")
        self.identifier = identifier
        self.capacity = capacity
        self.instance_token = object()
        self.version = 0
        # One allocation per history; the columns are views into it, twice: numpy arrays for
        # bulk reads, and memoryviews for writing one sample, which they do several times faster
        # than numpy's per-item indexing (the monitor's hot path: every server, every poll).
        self._block = np.zeros(capacity * BYTES_PER_SAMPLE, dtype=np.uint8)
        parts: dict[str, slice] = {}
        offset = 0
        for name, kind in _COLUMNS:
            size = capacity * np.dtype(kind).itemsize
            parts[name] = slice(offset, offset + size)
            offset += size
        block, cells = self._block, self._block.data
        self._t: FloatArray = block[parts["t"]].view(np.float64)
        self._memory: IntArray = block[parts["memory_bytes"]].view(np.int64)
        self._disk: IntArray = block[parts["disk_bytes"]].view(np.int64)
        self._uptime: IntArray = block[parts["uptime_ms"]].view(np.int64)
        self._cpu: Float32Array = block[parts["cpu_percent"]].view(np.float32)
        self._rx: Float32Array = block[parts["rx_rate"]].view(np.float32)
        self._tx: Float32Array = block[parts["tx_rate"]].view(np.float32)
        self._players: npt.NDArray[np.uint16] = block[parts["players"]].view(np.uint16)
        self._state: StateArray = block[parts["state"]]
        self._cells_t = cells[parts["t"]].cast("d")
        self._cells_memory = cells[parts["memory_bytes"]].cast("q")
        self._cells_disk = cells[parts["disk_bytes"]].cast("q")
        self._cells_uptime = cells[parts["uptime_ms"]].cast("q")
        self._cells_cpu = cells[parts["cpu_percent"]].cast("f")
        self._cells_rx = cells[parts["rx_rate"]].cast("f")
        self._cells_tx = cells[parts["tx_rate"]].cast("f")
        self._cells_players = cells[parts["players"]].cast("H")
        self._cells_state = cells[parts["state"]]
        self._next = 0  # index the next sample is written to
        self._size = 0
        self._counters: _Counters | None = None
        self._last_rates = (0.0, 0.0)

    def __len__(self) -> int:
        """Return the number of samples held (at most `capacity`)."""
        return self._size

    def __repr__(self) -> str:
        return (
            f"ServerMetricsGraphs({self.identifier!r}, samples={self._size}/{self.capacity}, "
            f"version={self.version})"
        )

    @property
    def nbytes(self) -> int:
        """Return the bytes of sample storage this history holds (allocated up front)."""
        return int(self._block.nbytes)

    @property
    def latest(self) -> MetricSample | None:
        """Return the newest sample, None when empty."""
        return self._sample_at(-1) if self._size >= 1 else None

    @property
    def previous(self) -> MetricSample | None:
        """Return the sample before the newest, None when there are fewer than two."""
        return self._sample_at(-2) if self._size >= 2 else None

    def record(self, t: float, reading: Resources, *, players: int | None = None) -> MetricSample:
        """Append one panel reading taken at epoch time `t` and return the stored sample.

        `players` is the count the game last answered (None: not asked, or no answer).
        """
        t = self._monotonic_t(t)
        state_name = _state_name(reading.state)
        code = STATE_CODES.get(state_name)
        if code is None:
            log.warning("server %s: unexpected power state %r", self.identifier, state_name)
            code = STATE_CODES["unknown"]
        rx_total = int(reading.network_rx_bytes)
        tx_total = int(reading.network_tx_bytes)
        uptime = int(reading.uptime_ms)
        rx_rate, tx_rate = self._rates(t, rx_total, tx_total, uptime)
        cpu = float(reading.cpu_absolute)
        if not math.isfinite(cpu):
            cpu = 0.0
        if reading.is_suspended:
            code |= _SUSPENDED_BIT
        self._write(
            t=t,
            code=code,
            cpu=cpu,
            memory=int(reading.memory_bytes),
            disk=int(reading.disk_bytes),
            rx_rate=rx_rate,
            tx_rate=tx_rate,
            uptime=uptime,
            players=_players_cell(players),
        )
        return self._sample_at(-1)

    def record_unknown(self, t: float) -> MetricSample:
        """Append a sample saying the panel could not be read at epoch time `t`."""
        self._write(
            t=self._monotonic_t(t),
            code=STATE_CODES["unknown"],
            cpu=0.0,
            memory=0,
            disk=0,
            rx_rate=0.0,
            tx_rate=0.0,
            uptime=0,
            players=_NO_PLAYERS,
        )
        return self._sample_at(-1)

    def extend(self, arrays: MetricArrays) -> None:
        """Append already-computed samples in bulk (a restored history), oldest first."""
        count = min(len(arrays), self.capacity)  # only the newest fit
        if count == 0:
            return
        if self._size and float(arrays.t[0]) < self._cells_t[(self._next - 1) % self.capacity]:
            raise ValueError("samples to extend with must not be older than the newest held")
        codes = arrays.state.astype(np.uint8) | np.where(
            arrays.suspended, _SUSPENDED_BIT, 0
        ).astype(np.uint8)
        counts = np.nan_to_num(arrays.players, nan=_NO_PLAYERS)
        players = np.where(
            np.isnan(arrays.players), _NO_PLAYERS, np.clip(counts, 0, _MAX_PLAYERS)
        ).astype(np.uint16)
        columns: tuple[tuple[npt.NDArray[np.generic], npt.NDArray[np.generic]], ...] = (
            (self._t, arrays.t),
            (self._state, codes),
            (self._cpu, arrays.cpu_percent),
            (self._memory, arrays.memory_bytes),
            (self._disk, arrays.disk_bytes),
            (self._rx, arrays.rx_rate),
            (self._tx, arrays.tx_rate),
            (self._uptime, arrays.uptime_ms),
            (self._players, players),
        )
        first = min(count, self.capacity - self._next)
        for target, source in columns:
            newest = source[-count:]
            target[self._next : self._next + first] = newest[:first]
            target[: count - first] = newest[first:]
        self._next = (self._next + count) % self.capacity
        self._size = min(self.capacity, self._size + count)
        # Restored rates cannot seed the counters: the next live reading starts fresh.
        self._counters = None
        self._last_rates = (0.0, 0.0)
        self.version += 1

    def samples(self, since: float | None = None) -> MetricArrays:
        """Return a copy of the samples with `t >= since` (all when None), oldest first."""
        start = 0 if since is None else self._bisect(since, right=False)
        return self._copy(start, self._size)

    def window(self, seconds: float, now: float) -> MetricArrays:
        """Return a copy of the samples taken in the last `seconds` before `now` (inclusive)."""
        return self._copy(self._bisect(now - seconds, right=False), self._bisect(now, right=True))

    # -- internals --------------------------------------------------------------------------

    def _monotonic_t(self, t: float) -> float:
        # Lookups bisect on time, so a wall clock stepping back must not reorder samples.
        if self._size:
            newest: float = self._cells_t[(self._next - 1) % self.capacity]
            if t < newest:
                log.warning(
                    "server %s: sample time %.3f is before the previous one (%.3f); clock stepped"
                    " back, keeping order",
                    self.identifier,
                    t,
                    newest,
                )
                return newest
        return float(t)

    def _rates(self, t: float, rx: int, tx: int, uptime: int) -> tuple[float, float]:
        last = self._counters
        # The panel caches resources for 20 s: an identical uptime is the same reading again.
        # Keep the last rates and the old baseline so the next fresh reading spans both polls.
        if (
            last is not None
            and uptime > 0
            and (uptime, rx, tx) == (last.uptime_ms, last.rx, last.tx)
        ):
            return self._last_rates
        self._counters = _Counters(t=t, rx=rx, tx=tx, uptime_ms=uptime)
        if last is None:
            rates = (0.0, 0.0)
        else:
            elapsed = t - last.t
            restarted = rx < last.rx or tx < last.tx or uptime < last.uptime_ms
            if elapsed <= 0 or restarted:
                rates = (0.0, 0.0)
            else:
                rates = ((rx - last.rx) / elapsed, (tx - last.tx) / elapsed)
        self._last_rates = rates
        return rates

    def _write(
        self,
        *,
        t: float,
        code: int,
        cpu: float,
        memory: int,
        disk: int,
        rx_rate: float,
        tx_rate: float,
        uptime: int,
        players: int,
    ) -> None:
        i = self._next
        self._cells_t[i] = t
        self._cells_state[i] = code
        self._cells_cpu[i] = cpu
        self._cells_memory[i] = memory
        self._cells_disk[i] = disk
        self._cells_rx[i] = rx_rate
        self._cells_tx[i] = tx_rate
        self._cells_uptime[i] = uptime
        self._cells_players[i] = players
        self._next = (i + 1) % self.capacity
        if self._size < self.capacity:
            self._size += 1
        self.version += 1

    def _sample_at(self, back: int) -> MetricSample:
        """Return the sample `back` (-1 newest, -2 the one before) without copying columns."""
        i = (self._next + back) % self.capacity
        raw: int = self._cells_state[i]
        code = raw & _STATE_MASK
        return MetricSample(
            t=self._cells_t[i],
            state=STATE_NAMES[code] if code < len(STATE_NAMES) else "unknown",
            cpu_percent=self._cells_cpu[i],
            memory_bytes=self._cells_memory[i],
            disk_bytes=self._cells_disk[i],
            rx_rate=self._cells_rx[i],
            tx_rate=self._cells_tx[i],
            uptime_ms=self._cells_uptime[i],
            is_suspended=bool(raw & _SUSPENDED_BIT),
            players=None if (count := self._cells_players[i]) == _NO_PLAYERS else count,
        )

    def _segments(self) -> tuple[slice, slice]:
        """Return the physical ranges of the samples, oldest first (the second may be empty)."""
        if self._size < self.capacity:
            return slice(0, self._size), slice(0, 0)
        return slice(self._next, self.capacity), slice(0, self._next)

    def _bisect(self, t: float, *, right: bool) -> int:
        """Return the logical index where `t` would be inserted; samples are in time order."""
        side: Literal["left", "right"] = "right" if right else "left"
        older, newer = self._segments()
        first = self._t[older]
        index = int(np.searchsorted(first, t, side=side))
        if index < len(first):
            return index
        return index + int(np.searchsorted(self._t[newer], t, side=side))

    def _copy(self, start: int, stop: int) -> MetricArrays:
        """Copy logical samples [start, stop) out of the ring into chronological columns."""
        stop = max(start, stop)
        base = self._next if self._size == self.capacity else 0
        first, last = base + start, base + stop
        picks: slice | npt.NDArray[np.intp]
        if last <= self.capacity:
            picks = slice(first, last)
        elif first >= self.capacity:
            picks = slice(first - self.capacity, last - self.capacity)
        else:
            picks = np.r_[first : self.capacity, 0 : last - self.capacity]

        def take(column: npt.NDArray[_T]) -> npt.NDArray[_T]:
            # Basic slicing returns a view of the ring; fancy indexing already copies.
            return column[picks].copy() if isinstance(picks, slice) else column[picks]

        raw = take(self._state)
        stored = take(self._players)
        players = stored.astype(np.float32)
        players[stored == _NO_PLAYERS] = np.nan
        return MetricArrays(
            t=take(self._t),
            state=(raw & _STATE_MASK).astype(np.uint8),
            suspended=(raw & _SUSPENDED_BIT).astype(np.bool_),
            cpu_percent=take(self._cpu),
            memory_bytes=take(self._memory),
            disk_bytes=take(self._disk),
            rx_rate=take(self._rx),
            tx_rate=take(self._tx),
            uptime_ms=take(self._uptime),
            players=players,
        )


# The name new code should use: a history of samples, which is what this class holds.
ServerHistory = ServerMetricsGraphs


class ServerMetricsManager(Mapping[str, ServerMetricsGraphs]):
    """The metric histories of every watched server, by identifier (a read-only mapping)."""

    def __init__(self, *, capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"a metric history needs a capacity of at least 2, got {capacity}")
        self.capacity = capacity
        self._histories: dict[str, ServerMetricsGraphs] = {}

    def __getitem__(self, identifier: str) -> ServerMetricsGraphs:
        """Return the history of `identifier`; KeyError when it has none."""
        return self._histories[identifier]

    def __iter__(self) -> Iterator[str]:
        """Yield the identifiers that have a history."""
        return iter(self._histories)

    def __len__(self) -> int:
        """Return the number of histories."""
        return len(self._histories)

    def __contains__(self, identifier: object) -> bool:
        """Tell whether `identifier` has a history."""
        return identifier in self._histories

    def __repr__(self) -> str:
        return f"ServerMetricsManager(servers={len(self._histories)}, capacity={self.capacity})"

    def history(self, identifier: str) -> ServerMetricsGraphs:
        """Return the history of `identifier`, creating an empty one if needed."""
        history = self._histories.get(identifier)
        if history is None:
            history = ServerMetricsGraphs(identifier, capacity=self.capacity)
            self._histories[identifier] = history
        return history

    def record(
        self, identifier: str, t: float, reading: Resources, *, players: int | None = None
    ) -> MetricSample:
        """Append a panel reading (and the players online) to the history of `identifier`."""
        return self.history(identifier).record(t, reading, players=players)

    def record_unknown(self, identifier: str, t: float) -> MetricSample:
        """Append an "unknown" sample (panel unreadable) to the history of `identifier`."""
        return self.history(identifier).record_unknown(t)

    def retain(self, identifiers: Iterable[str]) -> set[str]:
        """Drop the histories of servers not in `identifiers`; return the dropped identifiers."""
        keep = set(identifiers)
        dropped = {identifier for identifier in self._histories if identifier not in keep}
        for identifier in dropped:
            del self._histories[identifier]
        if dropped:
            log.info("dropped metric history of %d removed server(s)", len(dropped))
        return dropped

    @property
    def nbytes(self) -> int:
        """Return the bytes of sample storage held by all histories."""
        return sum(history.nbytes for history in self._histories.values())
