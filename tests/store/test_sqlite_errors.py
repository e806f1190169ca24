"""SQLite problems are one `StoreError` line naming the file and the fix, never a traceback."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pterodisbot.store import StoreError, StoreFailure, open_store
from tests.store.conftest import sqlite_url
from tests.store.reference import BASE, make_samples


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Make `path` immutable (`chattr +i`: even root cannot write it), restored afterwards."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not available here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


async def open_error(path: Path) -> StoreError:
    """Open a store on `path` and return the `StoreError` it raised."""
    store = open_store(sqlite_url(path))
    assert store is not None
    with pytest.raises(StoreError) as raised:
        await store.open()
    await store.close()
    return raised.value


async def test_the_folder_and_file_are_created_for_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "deeper" / "history.sqlite3"
    store = open_store(sqlite_url(path))
    assert store is not None
    await store.open()
    await store.write(make_samples("a", BASE, 3), [])
    await store.close()

    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_read_only_file_is_named_read_only(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = open_store(sqlite_url(path))
    assert store is not None
    await store.open()
    await store.close()

    with immutable(path):
        error = await open_error(path)

    assert error.reason is StoreFailure.READ_ONLY
    assert str(path) in str(error)
    assert "writable" in str(error)
    assert "\n" not in str(error)


async def test_a_read_only_folder_is_named_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()

    with immutable(folder):
        error = await open_error(folder / "history.sqlite3")

    assert error.reason is StoreFailure.READ_ONLY
    assert str(folder / "history.sqlite3") in str(error)


async def test_a_folder_that_cannot_be_created_is_named_missing(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    path = parent / "data" / "history.sqlite3"

    with immutable(parent):
        error = await open_error(path)

    assert error.reason is StoreFailure.MISSING
    assert f"{path.parent} does not exist" in str(error)
    assert "[history] url" in str(error)


async def test_a_file_that_is_not_a_database_is_named_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite" * 200)

    error = await open_error(path)

    assert error.reason is StoreFailure.CORRUPT
    assert str(path) in str(error)
    assert "move it aside" in str(error)


async def test_a_schema_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = open_store(sqlite_url(path))
    assert store is not None
    await store.open()
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")

    error = await open_error(path)

    assert error.reason is StoreFailure.CORRUPT
    assert "version 99" in str(error)
    assert "upgrade" in str(error)


async def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (x)")

    error = await open_error(path)

    assert error.reason is StoreFailure.CORRUPT
    assert "something else" in str(error)


async def test_a_closed_store_answers_with_a_store_error(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "h.sqlite3"))
    assert store is not None
    await store.open()
    await store.close()

    with pytest.raises(StoreError) as raised:
        await store.write(make_samples("a", BASE, 1), [])

    assert raised.value.reason is StoreFailure.OTHER
    assert "not open" in str(raised.value)
