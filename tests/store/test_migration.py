"""A version 2 store (no players) opened by this version: migrated, its history kept and merged."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path

import asyncpg

from pterodisbot.store import DAY, HistoryStore, SampleRow, open_store
from tests.store.conftest import postgres_history_url, sqlite_url
from tests.store.old_schemas import POSTGRES_V2, SQLITE_V2, v2_minutes, v2_raw
from tests.store.reference import BASE, assert_points_equal, expected_buckets, make_samples

HOUR_S = 3600
# What version 2 wrote: an hour of samples (it kept no players), rolled up into minutes.
OLD = [dataclasses.replace(r, players=None) for r in make_samples("alpha", BASE, 360)]
# What this version writes after the upgrade: the next hour, players included.
NEW = make_samples("alpha", BASE + HOUR_S, 360, seed=1)
# Version 2's marks: minutes rolled up to the end of the hour, the hour itself not yet.
MARKS = {"schema": 2, "minute": int(BASE) + HOUR_S, "hour": int(BASE)}


def v2_sqlite_file(path: Path) -> None:
    """Write the file version 2 left: its schema, one server's hour of raw rows and minutes."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for statement in SQLITE_V2:
            db.execute(statement)
        db.execute("INSERT INTO servers (id, name) VALUES (1, 'alpha')")
        db.executemany("INSERT INTO meta VALUES (?, ?)", list(MARKS.items()))
        db.executemany(f"INSERT INTO raw VALUES ({', '.join('?' * 11)})", v2_raw(1, OLD))
        db.executemany(f"INSERT INTO minute VALUES ({', '.join('?' * 17)})", v2_minutes(1, OLD))
        db.execute("PRAGMA user_version = 2")
        db.commit()


async def v2_postgres_database(url: str) -> None:
    """Build the database version 2 left: its schema, a day partition, raw rows and minutes."""
    day = int(BASE) // DAY
    conn = await asyncpg.connect(url)
    try:
        for statement in POSTGRES_V2:
            await conn.execute(statement)
        await conn.execute(
            f"CREATE TABLE pdb_raw_d{day} PARTITION OF pdb_raw"
            f" FOR VALUES FROM ({day * DAY * 1000}) TO ({(day + 1) * DAY * 1000})"
        )
        await conn.execute("INSERT INTO pdb_servers (id, name) VALUES (1, 'alpha')")
        await conn.executemany("INSERT INTO pdb_meta VALUES ($1, $2)", list(MARKS.items()))
        await conn.executemany(
            f"INSERT INTO pdb_raw VALUES ({', '.join(f'${i}' for i in range(1, 12))})",
            [(*row[:10], bool(row[10])) for row in v2_raw(1, OLD)],
        )
        await conn.executemany(
            f"INSERT INTO pdb_minute VALUES ({', '.join(f'${i}' for i in range(1, 18))})",
            v2_minutes(1, OLD),
        )
    finally:
        await conn.close()


async def upgrade_keeps_history_and_adds_players(store: HistoryStore) -> None:
    """Read the old hour back, write a new one with players, roll both up and read again."""
    everything: list[SampleRow] = [*OLD, *NEW]
    # Before anything new: the old raw samples and minutes, no players in them.
    raw = await store.series("alpha", BASE, BASE + HOUR_S, 10)
    minutes = await store.series("alpha", BASE, BASE + HOUR_S, 60)
    assert_points_equal(raw.points, expected_buckets(OLD, 10))
    assert_points_equal(minutes.points, expected_buckets(OLD, 60))
    assert {p.players_max for p in minutes.points} == {None}

    await store.write(NEW, [])
    await store.maintain(BASE + 3 * DAY)  # both hours rolled up, every raw sample dropped

    hours = await store.series("alpha", BASE, BASE + 2 * HOUR_S, HOUR_S)
    minutes = await store.series("alpha", BASE, BASE + 2 * HOUR_S, 60)
    assert_points_equal(hours.points, expected_buckets(everything, HOUR_S))
    assert_points_equal(minutes.points, expected_buckets(everything, 60))
    old_hour, new_hour = hours.points
    assert (old_hour.players_avg, old_hour.players_max) == (None, None)
    assert new_hour.players_max == 40


async def test_a_version_2_sqlite_file_gains_players_and_keeps_its_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    v2_sqlite_file(path)

    store = open_store(sqlite_url(path))
    assert store is not None
    await store.open()
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (3,)
            assert [c[1] for c in db.execute("PRAGMA table_info(raw)")][-1] == "players"
            for tier in ("minute", "hour"):
                columns = [c[1] for c in db.execute(f"PRAGMA table_info({tier})")]
                assert columns[-3:] == ["p_n", "p_sum", "p_max"]
        await upgrade_keeps_history_and_adds_players(store)
    finally:
        await store.close()


async def test_a_version_2_postgresql_database_gains_players_and_keeps_its_history(
    postgres_url: str,
) -> None:
    await v2_postgres_database(postgres_url)

    store = open_store(postgres_history_url(postgres_url))
    assert store is not None
    await store.open()
    try:
        conn = await asyncpg.connect(postgres_url)
        try:
            assert await conn.fetchval("SELECT value FROM pdb_meta WHERE key = 'schema'") == 3
            # The partition version 2 made has the column too (added through its parent).
            partition = f"pdb_raw_d{int(BASE) // DAY}"
            for table, wanted in (
                (partition, ["players"]),
                ("pdb_minute", ["p_n", "p_sum", "p_max"]),
                ("pdb_hour", ["p_n", "p_sum", "p_max"]),
            ):
                found = await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
                    " ORDER BY ordinal_position",
                    table,
                )
                assert [r["column_name"] for r in found][-len(wanted) :] == wanted
        finally:
            await conn.close()
        await upgrade_keeps_history_and_adds_players(store)
    finally:
        await store.close()
