"""What only PostgreSQL does: day partitions, one rollup process at a time, its error lines."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from pterodisbot.store import DAY, HistoryStore, StoreError, StoreFailure, open_store
from tests.fixtures.postgres import PASSWORD, PostgresCluster
from tests.processes import free_port
from tests.store.conftest import postgres_history_url
from tests.store.reference import BASE, make_samples

DAY_MS = DAY * 1000


async def partitions(url: str) -> list[tuple[int, int]]:
    """Return pdb_raw's partitions as (from, to) milliseconds, in order, read from the catalog."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'pdb_raw'::regclass"
        )
    finally:
        await conn.close()
    found = []
    for row in rows:
        # "FOR VALUES FROM ('1700006400000') TO ('1700092800000')"
        numbers = [
            int(part.strip("'()")) for part in row["bound"].split() if part.strip("'()").isdigit()
        ]
        found.append((numbers[0], numbers[1]))
    return sorted(found)


async def opened(url: str) -> HistoryStore:
    """Return an open store on `url`."""
    store = open_store(postgres_history_url(url))
    assert store is not None
    await store.open()
    return store


async def test_raw_samples_go_to_day_partitions_dropped_whole(postgres_url: str) -> None:
    store = await opened(postgres_url)
    try:
        for day in range(4):  # six hours at the start of each of four days
            await store.write(make_samples("alpha", BASE + day * DAY, 2160, seed=day), [])
        days = [
            (int(BASE * 1000) + d * DAY_MS, int(BASE * 1000) + (d + 1) * DAY_MS) for d in range(4)
        ]
        assert await partitions(postgres_url) == days

        # Raw retention ends at BASE + 2 d + 12 h: days 0 and 1 are entirely older, day 2 is not.
        report = await store.maintain(BASE + 4 * DAY + 12 * 3600)

        assert await partitions(postgres_url) == days[2:]
        assert report.raw_rows_dropped == 2 * 2160
        recent = await store.recent(0)
        assert recent["alpha"].t[0] == pytest.approx(BASE + 2 * DAY + 0.125)
    finally:
        await store.close()


async def test_a_second_process_skips_the_rollup_while_one_runs(postgres_url: str) -> None:
    first, second = await opened(postgres_url), await opened(postgres_url)
    blocker = await asyncpg.connect(postgres_url)
    try:
        await first.write(make_samples("alpha", BASE, 720), [])
        # Hold the first process inside its rollup: it has its lock, then waits on the marks.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE pdb_meta IN ACCESS EXCLUSIVE MODE")
        running = asyncio.create_task(first.maintain(BASE + 3 * 3600))
        for _ in range(500):
            held = await blocker.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            )
            if held:
                break
            await asyncio.sleep(0.01)
        assert held == 1, "the first process never took the rollup lock"

        skipped = await second.maintain(BASE + 3 * 3600)
        await tx.rollback()
        done = await running

        assert skipped.skipped
        assert (skipped.minute_buckets, skipped.hour_buckets) == (0, 0)
        assert not done.skipped
        assert (done.minute_buckets, done.hour_buckets) == (120, 2)
        again = await second.maintain(BASE + 3 * 3600)  # the lock is free again
        assert not again.skipped
    finally:
        await blocker.close()
        await first.close()
        await second.close()


async def test_two_bots_writing_new_days_at_once_both_land(postgres_url: str) -> None:
    first, second = await opened(postgres_url), await opened(postgres_url)
    try:
        writes = [
            store.write(make_samples(name, BASE + day * DAY, 30), [])
            for day in range(5)
            for store, name in ((first, "alpha"), (second, "beta"))
        ]
        await asyncio.gather(*writes)

        recent = await first.recent(0)
        assert sorted(recent) == ["alpha", "beta"]
        assert len(recent["alpha"]) == len(recent["beta"]) == 150
        assert len(await partitions(postgres_url)) == 5
    finally:
        await first.close()
        await second.close()


async def error_of(url: str) -> StoreError:
    """Open a store on `url` and return its `StoreError`."""
    store = open_store(postgres_history_url(url))
    assert store is not None
    with pytest.raises(StoreError) as raised:
        await store.open()
    await store.close()
    return raised.value


async def test_a_refused_port_is_unreachable_and_hides_the_password() -> None:
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:{free_port()}/history"

    error = await error_of(url)

    assert error.reason is StoreFailure.UNREACHABLE
    assert "bot:***@127.0.0.1" in str(error)
    assert PASSWORD not in str(error)
    assert "\n" not in str(error)
    assert PASSWORD not in postgres_history_url(url).shown


async def test_a_wrong_password_is_auth_and_is_not_shown(postgres_cluster: PostgresCluster) -> None:
    wrong = "not-the-password-91c2"

    error = await error_of(postgres_cluster.url("postgres", password=wrong))

    assert error.reason is StoreFailure.AUTH
    assert wrong not in str(error)
    assert "password" in str(error)
    assert "[history] url" in str(error)


async def test_a_missing_database_is_missing(postgres_cluster: PostgresCluster) -> None:
    error = await error_of(postgres_cluster.url("no_such_history_db"))

    assert error.reason is StoreFailure.MISSING
    assert "no_such_history_db" in str(error)
    assert PASSWORD not in str(error)


async def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    store = await opened(postgres_url)
    await store.close()
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("UPDATE pdb_meta SET value = 99 WHERE key = 'schema'")
    finally:
        await conn.close()

    error = await error_of(postgres_url)

    assert error.reason is StoreFailure.CORRUPT
    assert "version 99" in str(error)


async def test_a_stopped_server_is_unreachable_then_the_store_resumes(
    own_postgres_cluster: PostgresCluster,
) -> None:
    cluster = own_postgres_cluster
    store = await opened(cluster.url())
    try:
        await store.write(make_samples("alpha", BASE, 6), [])
        await asyncio.to_thread(cluster.stop, "fast")

        with pytest.raises(StoreError) as raised:
            await store.write(make_samples("alpha", BASE + 60, 6), [])
        await asyncio.to_thread(cluster.start)
        await store.write(make_samples("alpha", BASE + 60, 6), [])

        assert raised.value.reason is StoreFailure.UNREACHABLE
        assert PASSWORD not in str(raised.value)
        assert len((await store.recent(0))["alpha"]) == 12
    finally:
        await store.close()
