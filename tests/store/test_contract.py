"""The history store's contract, on both backends: what is written is read back, rolled up right."""

from __future__ import annotations

import pytest

from pterodisbot.config import HistoryURL
from pterodisbot.store import (
    DAY,
    HistoryStore,
    SampleRow,
    StateChange,
    StateSeconds,
    open_store,
)
from tests.store.conftest import Backend
from tests.store.reference import BASE, assert_points_equal, expected_buckets, make_samples

HOUR_S = 3600


def only(rows: list[SampleRow], lo: float, hi: float) -> list[SampleRow]:
    """Return the samples with lo <= t < hi."""
    return [r for r in rows if lo <= r.t < hi]


async def test_a_written_batch_reads_back_sample_by_sample(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 90)
    await store.write(rows, [])

    series = await store.series("alpha", BASE, BASE + 900, 10)

    assert series.step_s == 10
    assert_points_equal(series.points, expected_buckets(rows, 10))
    recent = await store.recent(BASE + 300)
    assert list(recent) == ["alpha"]
    arrays = recent["alpha"]
    assert list(arrays.t) == [r.t for r in only(rows, BASE + 300, BASE + 900)]
    assert [s.state for s in arrays] == [r.state for r in only(rows, BASE + 300, BASE + 900)]
    assert [s.memory_bytes for s in arrays] == [r.memory_bytes for r in rows[30:]]
    assert [s.cpu_percent for s in arrays] == pytest.approx([r.cpu_percent for r in rows[30:]])
    assert [s.uptime_ms for s in arrays] == [r.uptime_ms for r in rows[30:]]
    # A refilled ring keeps the players the game answered (None where it did not).
    assert [s.players for s in arrays] == [r.players for r in rows[30:]]
    assert any(r.players is None for r in rows[30:])
    assert any(r.players for r in rows[30:])


async def test_recent_gives_every_server_oldest_first(store: HistoryStore) -> None:
    a, b = make_samples("a", BASE, 5), make_samples("b", BASE + 3, 4, seed=1)
    await store.write(list(reversed(a)) + b, [])

    recent = await store.recent(BASE)

    assert sorted(recent) == ["a", "b"]
    assert list(recent["a"].t) == [r.t for r in a]
    assert list(recent["b"].t) == [r.t for r in b]
    assert list(recent["b"].disk_bytes) == [r.disk_bytes for r in b]


async def test_a_retried_batch_is_stored_once(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 60)
    change = StateChange("alpha", BASE + 5, "offline", "running")
    await store.write(rows, [change])
    # A flush whose commit outcome was unknown is sent again, whole or in part.
    await store.write(rows[10:], [change])

    series = await store.series("alpha", BASE, BASE + 600, 60)
    uptime = await store.uptime("alpha", BASE, BASE + 600)

    assert_points_equal(series.points, expected_buckets(rows, 60))
    assert uptime.running_s + uptime.starting_s + uptime.stopping_s + uptime.offline_s + (
        uptime.unknown_s
    ) == pytest.approx(600)
    assert list(await store.state_changes("alpha", BASE, BASE + 600)) == [change]


async def test_rollups_equal_a_recomputation_from_the_raw_samples(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 1100) + make_samples("beta", BASE + 7, 1100, seed=3)
    await store.write(rows, [])
    end = BASE + 3 * HOUR_S

    report = await store.maintain(end + 600)
    # Past raw retention: the raw samples go, what is read now is the rollups alone.
    dropped = await store.maintain(end + 3 * DAY)

    assert report.minute_buckets == 2 * 184  # both servers' 183⅓ minutes, the last one partial
    assert report.hour_buckets == 2 * 3
    assert dropped.raw_rows_dropped == 2200
    assert await store.recent(0) == {}
    for name in ("alpha", "beta"):
        mine = [r for r in rows if r.server == name]
        minutes = await store.series(name, BASE, end + 600, 60)
        hours = await store.series(name, BASE, end + 600, HOUR_S)
        assert_points_equal(minutes.points, expected_buckets(mine, 60))
        assert_points_equal(hours.points, expected_buckets(mine, HOUR_S))


async def test_every_flush_since_the_last_maintain_is_rolled_up(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 540)  # ninety minutes, flushed in three parts
    for part in range(3):
        await store.write(rows[part * 180 : (part + 1) * 180], [])

    await store.maintain(BASE + 2 * HOUR_S)
    await store.maintain(BASE + 3 * DAY)

    minutes = await store.series("alpha", BASE, BASE + 2 * HOUR_S, 60)
    assert_points_equal(minutes.points, expected_buckets(rows, 60))


async def test_a_rerun_of_maintain_changes_nothing(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 400)
    await store.write(rows, [])
    await store.maintain(BASE + 2 * HOUR_S)

    again = await store.maintain(BASE + 2 * HOUR_S)
    await store.maintain(BASE + 3 * DAY)

    assert (again.minute_buckets, again.hour_buckets) == (0, 0)
    hours = await store.series("alpha", BASE, BASE + 2 * HOUR_S, HOUR_S)
    assert_points_equal(hours.points, expected_buckets(rows, HOUR_S))


async def test_an_hour_weights_its_minutes_by_their_live_samples(store: HistoryStore) -> None:
    # Half an hour running at 10 %, then one minute of a server mostly offline: 6 live samples
    # at 70 %. Averaging the minute averages would give about 11 %; the hour is (180×10+6×70)/186.
    busy = [SampleRow("w", BASE + i * 10, "running", 10.0, 1000, 1, 5.0, 1.0, 0, 10.0)
            for i in range(180)]  # fmt: skip
    spike = [SampleRow("w", BASE + 1800 + i * 10, "running", 70.0, 7000, 2, 50.0, 1.0, 0, 10.0)
             for i in range(6)]  # fmt: skip
    offline = [SampleRow("w", BASE + 1860 + i * 10, "offline", 0.0, 0, 0, 0.0, 0.0, 0, 10.0)
               for i in range(174)]  # fmt: skip
    await store.write(busy + spike + offline, [])
    await store.maintain(BASE + 3 * DAY)

    (hour,) = (await store.series("w", BASE, BASE + HOUR_S, HOUR_S)).points

    assert hour.live_samples == 186
    assert hour.cpu_avg == pytest.approx((180 * 10 + 6 * 70) / 186)
    assert hour.memory_avg == pytest.approx((180 * 1000 + 6 * 7000) / 186)
    assert hour.rx_rate == pytest.approx((180 * 5 + 6 * 50) / 186)
    assert (hour.cpu_min, hour.cpu_max, hour.memory_min, hour.memory_max) == (10, 70, 1000, 7000)
    assert hour.disk_bytes == 2  # the last live reading, not the offline zeros after it
    assert hour.seconds == StateSeconds(running_s=1860, offline_s=1740)
    assert hour.state == "running"


async def test_players_average_over_the_answers_and_none_without_any(store: HistoryStore) -> None:
    # Minute 0: answers of 0, 4 and 8 players and three samples without an answer (zero players
    # is an answer). Minute 1: running, never answered. Minute 2: one answer of 30.
    def at(i: int, players: int | None) -> SampleRow:
        return SampleRow("g", BASE + i * 10, "running", 1.0, 1, 1, 0.0, 0.0, 0, 10.0,
                         players=players)  # fmt: skip

    minute0 = [at(0, 0), at(1, None), at(2, 4), at(3, None), at(4, 8), at(5, None)]
    minute1 = [at(6 + i, None) for i in range(6)]
    minute2 = [at(12, 30)]
    await store.write(minute0 + minute1 + minute2, [])

    raw = await store.series("g", BASE, BASE + 180, 60)
    await store.maintain(BASE + 3 * DAY)
    minutes = await store.series("g", BASE, BASE + 180, 60)
    (hour,) = (await store.series("g", BASE, BASE + HOUR_S, HOUR_S)).points

    for read in (raw, minutes):
        assert [(p.players_avg, p.players_max, p.players_samples) for p in read.points] == [
            (4.0, 8, 3),
            (None, None, 0),
            (30.0, 30, 1),
        ]
    # The hour weights each minute by its answers: (0 + 4 + 8 + 30) / 4, not (4 + 30) / 2.
    assert (hour.players_avg, hour.players_max) == (10.5, 30)


async def test_a_late_sample_is_rolled_up_again(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 720)
    await store.write(rows, [])
    await store.maintain(BASE + 2 * HOUR_S + 600)
    # Buffered during an outage: it lands after its minute and hour were rolled up.
    late = SampleRow("alpha", BASE + 1234.5, "running", 99.5, 9_999_999, 7, 4.0, 4.0, 1, 10.0)
    await store.write([late], [])

    report = await store.maintain(BASE + 2 * HOUR_S + 600)
    await store.maintain(BASE + 2 * HOUR_S + 3 * DAY)

    assert report.hour_buckets == 2  # from the late sample's hour on
    everything = [*rows, late]
    minutes = await store.series("alpha", BASE, BASE + 2 * HOUR_S, 60)
    hours = await store.series("alpha", BASE, BASE + 2 * HOUR_S, HOUR_S)
    assert_points_equal(minutes.points, expected_buckets(everything, 60))
    assert_points_equal(hours.points, expected_buckets(everything, HOUR_S))
    assert max(p.memory_max or 0 for p in hours.points) == 9_999_999


async def test_a_read_spans_the_tiers_and_the_tail_not_rolled_up(store: HistoryStore) -> None:
    first = make_samples("alpha", BASE, 1800)  # five hours
    await store.write(first, [])
    await store.maintain(BASE + 5 * HOUR_S)  # hours 0-4 rolled, minutes up to 5h - 2 min
    tail = make_samples("alpha", BASE + 5 * HOUR_S, 400, seed=2)  # not rolled up at all
    await store.write(tail, [])
    everything = first + tail

    hourly = await store.series("alpha", BASE, BASE + 7 * HOUR_S, HOUR_S)
    ten_minutes = await store.series("alpha", BASE, BASE + 7 * HOUR_S, 600)
    raw = await store.series("alpha", BASE + 4 * HOUR_S, BASE + 6 * HOUR_S, 10)

    assert_points_equal(hourly.points, expected_buckets(everything, HOUR_S))
    assert_points_equal(ten_minutes.points, expected_buckets(everything, 600))
    assert_points_equal(raw.points, expected_buckets(only(everything, BASE + 4 * HOUR_S,
                                                          BASE + 6 * HOUR_S), 10))  # fmt: skip


async def test_a_series_holds_only_its_range_and_server(store: HistoryStore) -> None:
    await store.write(make_samples("alpha", BASE, 360) + make_samples("beta", BASE, 360), [])

    series = await store.series("alpha", BASE + 600, BASE + 1200, 60)
    nobody = await store.series("ghost", BASE, BASE + 3600, 60)

    assert [p.t for p in series.points] == [BASE + 600 + 60 * i for i in range(10)]
    assert (series.server, series.start, series.end) == ("alpha", BASE + 600, BASE + 1200)
    assert nobody.points == ()


async def test_uptime_counts_uncovered_time_as_unknown(store: HistoryStore) -> None:
    running = [SampleRow("u", BASE + i * 10, "running", 1.0, 1, 1, 0, 0, 0, 10.0)
               for i in range(1, 91)]  # fmt: skip # 900 s running
    offline = [SampleRow("u", BASE + 900 + i * 10, "offline", 0, 0, 0, 0, 0, 0, 10.0)
               for i in range(1, 31)]  # fmt: skip # 300 s offline
    unread = [SampleRow("u", BASE + 1200 + i * 10, "unknown", 0, 0, 0, 0, 0, 0, 10.0)
              for i in range(1, 31)]  # fmt: skip # 300 s the panel could not be read
    await store.write(running + offline + unread, [])

    uptime = await store.uptime("u", BASE, BASE + 3600)

    assert (uptime.running_s, uptime.offline_s) == (900, 300)
    assert uptime.unknown_s == pytest.approx(300 + 2100)  # samples saying unknown + no sample
    assert uptime.ratio == pytest.approx(900 / 1200)
    nobody = await store.uptime("ghost", BASE, BASE + 3600)
    assert (nobody.unknown_s, nobody.ratio) == (3600, None)


async def test_uptime_survives_the_raw_samples(store: HistoryStore) -> None:
    rows = make_samples("alpha", BASE, 2160) + make_samples("alpha", BASE + 3 * DAY, 2160, seed=5)
    await store.write(rows, [])  # six hours on day 0, six on day 3
    end = BASE + 3 * DAY + 6 * HOUR_S
    before = await store.uptime("alpha", BASE, end)

    await store.maintain(end + HOUR_S)  # day 0: minutes only; day 3: minutes and raw samples
    after_raw = await store.uptime("alpha", BASE, end)
    await store.maintain(BASE + 10 * DAY)  # day 0: hours only; day 3: minutes only
    after_minutes = await store.uptime("alpha", BASE, end)

    wanted = expected_buckets(rows, 10 * DAY)[0].seconds
    assert wanted.running_s > 0
    assert wanted.offline_s > 0
    assert wanted.unknown_s > 0
    uncovered = (end - BASE) - 12 * HOUR_S
    for uptime in (before, after_raw, after_minutes):
        assert (uptime.running_s, uptime.starting_s, uptime.stopping_s, uptime.offline_s) == (
            pytest.approx(wanted.running_s),
            pytest.approx(wanted.starting_s),
            pytest.approx(wanted.stopping_s),
            pytest.approx(wanted.offline_s),
        )
        assert uptime.unknown_s == pytest.approx(wanted.unknown_s + uncovered)


async def test_state_changes_read_back_in_their_range(store: HistoryStore) -> None:
    changes = [
        StateChange("alpha", BASE + 1.5, None, "running"),
        StateChange("alpha", BASE + 100, "running", "offline"),
        StateChange("beta", BASE + 50, "offline", "suspended"),
        StateChange("alpha", BASE + 200, "offline", "installing"),
    ]
    await store.write([], changes)

    assert list(await store.state_changes("alpha", BASE, BASE + 200)) == changes[:2]
    assert list(await store.state_changes("alpha", BASE + 2, BASE + 300)) == [
        changes[1],
        changes[3],
    ]
    assert list(await store.state_changes("beta", 0, BASE + 300)) == [changes[2]]
    assert list(await store.state_changes("ghost", 0, BASE + 300)) == []


async def test_retention_drops_each_tier_past_its_age(store: HistoryStore) -> None:
    old = make_samples("alpha", BASE, 720)  # two hours
    await store.write(old, [StateChange("alpha", BASE + 1, None, "running")])
    await store.maintain(BASE + 3 * HOUR_S)

    # A whole day past raw retention (PostgreSQL drops raw by day partitions).
    report = await store.maintain(BASE + 3 * DAY)

    assert report.raw_rows_dropped == 720
    assert await store.recent(0) == {}
    minutes = await store.series("alpha", BASE, BASE + 2 * HOUR_S, 60)
    assert len(minutes.points) == 120
    await store.maintain(BASE + 2 * HOUR_S + 8 * DAY + 3600)
    assert (await store.series("alpha", BASE, BASE + 2 * HOUR_S, 60)).points == ()
    hours = await store.series("alpha", BASE, BASE + 2 * HOUR_S, HOUR_S)
    assert_points_equal(hours.points, expected_buckets(old, HOUR_S))
    assert len(await store.state_changes("alpha", 0, BASE + DAY)) == 1
    await store.maintain(BASE + 2 * HOUR_S + 400 * DAY + 3600)
    assert (await store.series("alpha", BASE, BASE + 2 * HOUR_S, HOUR_S)).points == ()
    assert list(await store.state_changes("alpha", 0, BASE + DAY)) == []


async def test_a_sample_older_than_retention_is_not_written(store: HistoryStore) -> None:
    await store.write(make_samples("alpha", BASE + 3 * DAY, 30), [])
    await store.maintain(BASE + 6 * DAY)
    # Buffered for days: its minute was dropped with the raw samples, it cannot be rolled up.
    await store.write(make_samples("alpha", BASE, 30), [])

    recent = await store.recent(0)

    assert recent == {}
    assert (await store.series("alpha", BASE, BASE + 600, 60)).points == ()


async def test_close_is_idempotent_and_a_closed_store_reopens(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    await first.write(make_samples("alpha", BASE, 6), [])
    await first.close()
    await first.close()

    second = backend.make()
    await second.open()
    try:
        assert list((await second.recent(0))["alpha"].t) == [
            r.t for r in make_samples("alpha", BASE, 6)
        ]
        assert await second.size_bytes() > 0
    finally:
        await second.close()


def test_history_off_opens_no_store() -> None:
    assert open_store(HistoryURL("none")) is None


def test_a_store_shows_where_it_is(backend: Backend) -> None:
    store = backend.make()

    assert store.shown == backend.url.shown
    assert store.shown.startswith(f"{backend.kind}://")
