"""History store: every sample on disk, rolled up for a year; SQLite (default) or PostgreSQL.

The public face of the package; the backends live in private modules.
"""

from __future__ import annotations

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
    "store_problem",
]
