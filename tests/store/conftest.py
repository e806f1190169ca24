"""One store fixture for both backends: every contract test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pterodisbot.config import HistoryURL, Secret
from pterodisbot.store import HistoryStore, open_store


@dataclass(frozen=True)
class Backend:
    """Where one test's store lives; `make()` gives a new, unopened store object on it."""

    kind: str
    url: HistoryURL

    def make(self) -> HistoryStore:
        """Return a new store object on this location (call `open()`)."""
        store = open_store(self.url)
        assert store is not None
        return store


def sqlite_url(path: Path) -> HistoryURL:
    """Return the `[history] url` of an SQLite file."""
    return HistoryURL("sqlite", path=path)


def postgres_history_url(url: str) -> HistoryURL:
    """Return the `[history] url` of a PostgreSQL database."""
    return HistoryURL("postgresql", dsn=Secret(url))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Give a fresh location on each backend: a temp SQLite file, an empty PostgreSQL database."""
    if request.param == "sqlite":
        return Backend("sqlite", sqlite_url(tmp_path / "data" / "history.sqlite3"))
    return Backend("postgresql", postgres_history_url(request.getfixturevalue("postgres_url")))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[HistoryStore]:
    """Give an open store on the backend, closed afterwards."""
    opened = backend.make()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
