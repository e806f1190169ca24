"""The store's small named state (the alerts' state): both backends, old schemas, the recorder."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from pterodisbot.clock import FakeClock
from pterodisbot.server_metrics_graphs import ServerMetricsManager
from pterodisbot.store import (
    HistoryOff,
    HistoryRecorder,
    HistoryStore,
    NoHistory,
    StoreError,
    StoreFailure,
    open_store,
)
from tests.store.conftest import Backend, postgres_history_url, sqlite_url
from tests.store.old_schemas import SQLITE_V2, SQLITE_V2_STATE

TEXT = '{"version": 1, "incidents": [], "note": "ünïcode ✨"}\n'


async def test_a_kept_text_reads_back_and_a_missing_name_is_none(store: HistoryStore) -> None:
    assert await store.get_state("alerts") is None

    await store.put_state("alerts", TEXT)
    await store.put_state("other", "x")

    assert await store.get_state("alerts") == TEXT
    assert await store.get_state("other") == "x"


async def test_a_put_replaces_the_text_and_survives_a_reopen(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    await first.put_state("alerts", "old")
    await first.put_state("alerts", TEXT)
    await first.close()

    second = backend.make()
    await second.open()
    try:
        assert await second.get_state("alerts") == TEXT
    finally:
        await second.close()


async def test_a_closed_store_answers_with_a_store_error(backend: Backend) -> None:
    store = backend.make()
    await store.open()
    await store.close()

    with pytest.raises(StoreError):
        await store.put_state("alerts", TEXT)
    with pytest.raises(StoreError):
        await store.get_state("alerts")


async def test_an_sqlite_file_of_schema_1_gains_the_state_table_and_keeps_its_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    # What a version 1 file is: version 2's tables but `state`.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for statement in SQLITE_V2:
            if statement != SQLITE_V2_STATE:
                conn.execute(statement)
        conn.execute("INSERT INTO servers (name) VALUES ('aaaa0001')")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()

    upgraded = open_store(sqlite_url(path))
    assert upgraded is not None
    await upgraded.open()
    try:
        await upgraded.put_state("alerts", TEXT)
        assert await upgraded.get_state("alerts") == TEXT
    finally:
        await upgraded.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (3,)
        assert conn.execute("SELECT name FROM servers").fetchall() == [("aaaa0001",)]


async def test_a_postgresql_database_of_schema_1_gains_the_state_table(postgres_url: str) -> None:
    url = postgres_history_url(postgres_url)
    store = open_store(url)
    assert store is not None
    await store.open()
    await store.close()
    conn = await asyncpg.connect(postgres_url)
    try:
        await conn.execute("DROP TABLE pdb_state")
        await conn.execute("UPDATE pdb_meta SET value = 1 WHERE key = 'schema'")
    finally:
        await conn.close()

    upgraded = open_store(url)
    assert upgraded is not None
    await upgraded.open()
    try:
        await upgraded.put_state("alerts", TEXT)
        assert await upgraded.get_state("alerts") == TEXT
    finally:
        await upgraded.close()
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT value FROM pdb_meta WHERE key = 'schema'") == 3
    finally:
        await conn.close()


# ------------------------------------------------------------------ through the recorder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def recorder_on(backend: Backend, clock: FakeClock) -> HistoryRecorder:
    return HistoryRecorder(
        backend.make(),
        flush_interval=10.0,
        buffer_limit=100,
        expected_cycle=lambda: 10.0,
        clock=clock,
    )


@pytest.fixture
async def started(backend: Backend, clock: FakeClock) -> AsyncIterator[HistoryRecorder]:
    recorder = recorder_on(backend, clock)
    await recorder.start(ServerMetricsManager(capacity=10), since=clock.time() - 100)
    try:
        yield recorder
    finally:
        await recorder.close()


async def test_the_recorder_passes_the_state_through_to_its_store(
    started: HistoryRecorder,
) -> None:
    await started.put_state("alerts", TEXT)

    assert await started.get_state("alerts") == TEXT


async def test_a_recorder_whose_store_is_not_open_raises_like_its_reads(
    backend: Backend, clock: FakeClock
) -> None:
    recorder = recorder_on(backend, clock)

    with pytest.raises(StoreError) as on_put:
        await recorder.put_state("alerts", TEXT)
    with pytest.raises(StoreError) as on_get:
        await recorder.get_state("alerts")

    assert on_put.value.reason is StoreFailure.UNREACHABLE
    assert on_get.value.reason is StoreFailure.UNREACHABLE


async def test_a_closed_recorder_refuses_the_state(started: HistoryRecorder) -> None:
    await started.close()

    with pytest.raises(StoreError) as caught:
        await started.put_state("alerts", TEXT)

    assert caught.value.reason is StoreFailure.OTHER


async def test_no_history_has_no_state() -> None:
    with pytest.raises(HistoryOff):
        await NoHistory().put_state("alerts", TEXT)
    with pytest.raises(HistoryOff):
        await NoHistory().get_state("alerts")
