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

__all__ = [
    "DAY",
    "HOUR",
    "KNOWN_STATES",
    "MINUTE",
    "RAW",
    "ROLLUP_LAG_S",
    "TIERS",
    "WINDOWS",
    "HistoryPoint",
    "HistorySeries",
    "HistoryStore",
    "MaintenanceReport",
    "SampleRow",
    "StateChange",
    "StateSeconds",
    "StoreError",
    "StoreFailure",
    "Tier",
    "Uptime",
    "Window",
]
