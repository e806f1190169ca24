"""History store: every sample on disk, rolled up for a year; SQLite (default) or PostgreSQL.

The public face of the package; the backends live in private modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pterodisbot.store._model import (
    DAY,
    HOUR,
    KNOWN_STATES,
    MINUTE,
    RAW,
    ROLLUP_LAG_S,
    TIERS,
    WINDOWS,
    HistoryPoint,
    HistorySeries,
    HistoryStore,
    MaintenanceReport,
    SampleRow,
    StateChange,
    StateSeconds,
    StoreError,
    StoreFailure,
    Tier,
    Uptime,
    Window,
)
from pterodisbot.store._recorder import (
    CLOSE_GRACE,
    MAINTAIN_INTERVAL,
    SPAN_CYCLES,
    STORE_FIXES,
    History,
    HistoryOff,
    HistoryRecorder,
    NoHistory,
    RecorderStats,
    store_problem,
)
from pterodisbot.store._sqlite import SqliteStore

if TYPE_CHECKING:
    from pterodisbot.config import HistoryURL

__all__ = [
    "CLOSE_GRACE",
    "DAY",
    "HOUR",
    "KNOWN_STATES",
    "MAINTAIN_INTERVAL",
    "MINUTE",
    "RAW",
    "ROLLUP_LAG_S",
    "SPAN_CYCLES",
    "STORE_FIXES",
    "TIERS",
    "WINDOWS",
    "History",
    "HistoryOff",
    "HistoryPoint",
    "HistoryRecorder",
    "HistorySeries",
    "HistoryStore",
    "MaintenanceReport",
    "NoHistory",
    "RecorderStats",
    "SampleRow",
    "StateChange",
    "StateSeconds",
    "StoreError",
    "StoreFailure",
    "Tier",
    "Uptime",
    "Window",
    "open_store",
    "store_problem",
]


def open_store(url: HistoryURL) -> HistoryStore | None:
    """Return the store `[history] url` names, not yet connected (await `open()`); None: off."""
    if url.kind == "sqlite" and url.path is not None:
        return SqliteStore(url.path)
    if url.kind == "postgresql" and url.dsn is not None:
        # Imported here: asyncpg is only loaded when PostgreSQL is configured.
        from pterodisbot.store._postgres import PostgresStore

        return PostgresStore(url.dsn, url.shown)
    return None
