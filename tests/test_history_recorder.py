"""The recorder's own logic on a store kept in memory: batching, spans, buffering, dropping.

The store here implements the `HistoryStore` protocol in a few lines so each test can make it
fail on demand; the end-to-end tests (`test_history_e2e.py`) run the real SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.monitor import ServerSnapshot, ServerStatus
from pterodisbot.server_metrics_graphs import MetricArrays, MetricSample, ServerMetricsManager
from pterodisbot.store import (
    SPAN_CYCLES,
    HistoryOff,
    HistoryRecorder,
    HistorySeries,
    MaintenanceReport,
    NoHistory,
    SampleRow,
    StateChange,
    StoreError,
    StoreFailure,
    Uptime,
)
from tests.snapshots import make_server, make_snapshot

CYCLE = 10.0
FLUSH = 10.0


class MemoryStore:
    """A `HistoryStore` in memory; `failure` makes every call that touches it raise."""

    shown = "memory://test"

    def __init__(self, *, recent: Mapping[str, MetricArrays] | None = None) -> None:
        self.failure: StoreError | None = None
        self.opened = 0
        self.closed = 0
        self.writes: list[tuple[list[SampleRow], list[StateChange]]] = []
        self.maintained: list[float] = []
        self._recent = dict(recent or {})
        self.recent_since: list[float] = []

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def open(self) -> None:
        self._check()
        self.opened += 1

    async def write(self, samples: Sequence[SampleRow], changes: Sequence[StateChange]) -> None:
        self._check()
        self.writes.append((list(samples), list(changes)))

    @property
    def samples(self) -> list[SampleRow]:
        return [row for batch, _ in self.writes for row in batch]

    @property
    def changes(self) -> list[StateChange]:
        return [change for _, batch in self.writes for change in batch]

    async def series(self, server: str, start: float, end: float, step_s: int) -> HistorySeries:
        self._check()
        return HistorySeries(server, start, end, step_s, ())

    async def uptime(self, server: str, start: float, end: float) -> Uptime:
        self._check()
        return Uptime(end - start, 0.0, 0.0, 0.0, 0.0)

    async def state_changes(self, server: str, start: float, end: float) -> Sequence[StateChange]:
        self._check()
        return [c for c in self.changes if c.server == server and start <= c.t < end]

    async def recent(self, since: float) -> Mapping[str, MetricArrays]:
        self._check()
        self.recent_since.append(since)
        return self._recent

    async def maintain(self, now: float) -> MaintenanceReport:
        self._check()
        self.maintained.append(now)
        return MaintenanceReport()

    async def size_bytes(self) -> int:
        self._check()
        return 4096 * (1 + len(self.writes))

    async def close(self) -> None:
        self.closed += 1


async def settle() -> None:
    """Let woken tasks run to their next wait."""
    for _ in range(20):
        await asyncio.sleep(0)


async def advance(clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await settle()


def snap(
    clock: FakeClock,
    status: ServerStatus = ServerStatus.RUNNING,
    *,
    server: str = "aaaa1111",
    cpu: float = 50.0,
    dt: float = 0.0,
) -> ServerSnapshot:
    return make_snapshot(
        status, server=make_server(identifier=server), t=clock.time() + dt, cpu_percent=cpu
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def recorder_for(
    store: MemoryStore, clock: FakeClock, *, buffer_limit: int = 1000
) -> HistoryRecorder:
    return HistoryRecorder(
        store,
        flush_interval=FLUSH,
        buffer_limit=buffer_limit,
        expected_cycle=lambda: CYCLE,
        clock=clock,
    )


@pytest.fixture
async def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def recorder(store: MemoryStore, clock: FakeClock) -> AsyncIterator[HistoryRecorder]:
    rec = recorder_for(store, clock, buffer_limit=5)
    await rec.start(ServerMetricsManager(capacity=10), since=clock.time() - 100)
    try:
        yield rec
    finally:
        await rec.close()


async def test_samples_and_changes_land_in_one_write_after_one_flush_interval(
    store: MemoryStore, recorder: HistoryRecorder, clock: FakeClock
):
    first = snap(clock, ServerStatus.STARTING, cpu=5)
    recorder.observe(first, None)
    second = snap(clock, ServerStatus.RUNNING, cpu=80, dt=4)
    recorder.observe(second, first)
    recorder.observe(snap(clock, ServerStatus.RUNNING, cpu=90, dt=9), second)
    await advance(clock, FLUSH - 0.1)
    assert store.writes == []
    await advance(clock, 0.1)
    assert len(store.writes) == 1
    samples, changes = store.writes[0]
    t0 = clock.time() - FLUSH
    # The first sample of a server never seen stands for one cycle; the next for their distance.
    assert [(s.t - t0, s.state, s.cpu_percent, s.span_s) for s in samples] == [
        (0.0, "starting", 5.0, CYCLE),
        (4.0, "running", 80.0, 4.0),
        (9.0, "running", 90.0, 5.0),
    ]
    assert changes == [
        StateChange("aaaa1111", t0, None, "starting"),
        StateChange("aaaa1111", t0 + 4, "starting", "running"),
    ]
    assert recorder.stats().rows_written == 5
    assert recorder.stats().buffered == 0


async def test_the_players_a_sample_carries_are_written_with_it(
    store: MemoryStore, recorder: HistoryRecorder, clock: FakeClock
):
    answered = snap(clock)
    assert answered.sample is not None
    # What the monitor puts on a sample when the game answered (the query service's count).
    answered = dataclasses.replace(
        answered, sample=dataclasses.replace(answered.sample, players=12)
    )
    unanswered = snap(clock, dt=10)
    recorder.observe(answered, None)
    recorder.observe(unanswered, answered)
    await advance(clock, FLUSH)

    assert [s.players for s in store.samples] == [12, None]


async def test_a_long_gap_counts_at_most_a_few_cycles(
    store: MemoryStore, recorder: HistoryRecorder, clock: FakeClock
):
    first = snap(clock)
    recorder.observe(first, None)
    recorder.observe(snap(clock, dt=3600), first)
    await advance(clock, FLUSH)
    assert [s.span_s for s in store.samples] == [CYCLE, SPAN_CYCLES * CYCLE]


async def test_the_first_sample_after_a_restart_counts_from_the_stored_one(clock: FakeClock):
    before = MetricSample(clock.time() - 25, "running", 10.0, 1, 2, 0.0, 0.0, 5)
    older = MetricSample(clock.time() - 2000, "running", 10.0, 1, 2, 0.0, 0.0, 5)
    store = MemoryStore(
        recent={
            "aaaa1111": MetricArrays.from_samples([before]),
            "bbbb2222": MetricArrays.from_samples([older]),
        }
    )
    rings = ServerMetricsManager(capacity=10)
    recorder = recorder_for(store, clock)
    await recorder.start(rings, since=clock.time() - 1000)
    try:
        assert store.recent_since == [clock.time() - 1000]
        assert list(rings["aaaa1111"].samples()) == [before]
        recorder.observe(snap(clock), None)
        recorder.observe(snap(clock, server="bbbb2222"), None)
        await advance(clock, FLUSH)
    finally:
        await recorder.close()
    assert [(s.server, s.span_s) for s in store.samples] == [
        ("aaaa1111", 25.0),
        ("bbbb2222", SPAN_CYCLES * CYCLE),
    ]


async def test_store_down_keeps_rows_waiting_and_writes_them_when_back(
    store: MemoryStore,
    recorder: HistoryRecorder,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO, logger="pterodisbot.store")
    store.failure = StoreError(StoreFailure.READ_ONLY, "attempt to write a readonly database")
    previous = None
    for second in range(0, 40, 10):
        current = snap(clock, cpu=float(second))
        recorder.observe(current, previous)
        previous = current
        await advance(clock, FLUSH)
    assert store.writes == []
    assert recorder.stats().buffered == 4
    store.failure = None
    await advance(clock, FLUSH)
    assert [s.cpu_percent for s in store.samples] == [0.0, 10.0, 20.0, 30.0]
    assert recorder.stats().buffered == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "pterodisbot.store._recorder"]
    down = [line for line in lines if "unreachable" in line]
    back = [line for line in lines if line not in down]
    assert len(down) == 1, lines
    assert "memory://test (read-only)" in down[0]
    assert "1 sample(s) wait in memory" in down[0]
    assert back == ["history store memory://test is back: 4 buffered sample(s) written"]


async def test_beyond_the_bound_the_oldest_samples_are_dropped_and_counted(
    store: MemoryStore, recorder: HistoryRecorder, clock: FakeClock
):
    store.failure = StoreError(StoreFailure.UNREACHABLE, "connection refused")
    for index in range(8):
        recorder.observe(snap(clock, cpu=float(index), dt=index), None)
        if index == 3:
            await advance(clock, FLUSH)  # a failed flush in the middle: requeued, still bounded
    assert recorder.stats().buffered == 5
    assert recorder.stats().dropped == 3
    store.failure = None
    await advance(clock, FLUSH)
    assert [s.cpu_percent for s in store.samples] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert recorder.stats().dropped == 3


async def test_a_store_that_cannot_open_is_one_line_and_opens_later(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="pterodisbot.store")
    store = MemoryStore()
    store.failure = StoreError(StoreFailure.AUTH, "password authentication failed for user bot")
    recorder = recorder_for(store, clock)
    await recorder.start(ServerMetricsManager(capacity=10), since=0)
    try:
        with pytest.raises(StoreError) as raised:
            await recorder.uptime("aaaa1111", 0, 1)
        assert raised.value.reason is StoreFailure.AUTH
        recorder.observe(snap(clock), None)
        await advance(clock, FLUSH)
        await advance(clock, FLUSH)
        assert store.opened == 0
        store.failure = None
        await advance(clock, FLUSH)
        assert store.opened == 1
        assert len(store.samples) == 1
        assert (await recorder.uptime("aaaa1111", 0, 1)).running_s == 1
    finally:
        await recorder.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is None
    assert (
        errors[0]
        .getMessage()
        .startswith(
            "history store memory://test cannot be used (auth): password authentication failed for "
            "user bot — correct the user and password in [history] url"
        )
    )


async def test_maintenance_runs_every_minute_off_the_flush_path(
    store: MemoryStore, recorder: HistoryRecorder, clock: FakeClock
):
    assert recorder.stats().size_bytes == 4096
    recorder.observe(snap(clock), None)
    await advance(clock, 50)
    assert store.maintained == []
    await advance(clock, 10)
    assert store.maintained == [clock.time()]
    assert recorder.stats().size_bytes == 4096 * 2
    await advance(clock, 60)
    assert len(store.maintained) == 2


async def test_close_writes_what_is_queued_then_closes_the_store(
    store: MemoryStore, recorder: HistoryRecorder, clock: FakeClock
):
    recorder.observe(snap(clock), None)
    await recorder.close()
    assert len(store.samples) == 1
    assert store.closed == 1
    with pytest.raises(StoreError):
        await recorder.series("aaaa1111", 0, 1, 10)


async def test_history_off_reads_raise_history_off():
    history = NoHistory()
    assert not history.enabled
    with pytest.raises(HistoryOff):
        await history.series("aaaa1111", 0, 1, 10)
    with pytest.raises(HistoryOff):
        await history.state_changes("aaaa1111", 0, 1)
