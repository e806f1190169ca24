"""Alerts: crash told from a stop, crash loops, overloads, outages — one incident each (core, pure).

The public face of the package; the values live in `_model.py`, the rules engine in
`_engine.py`, the persisted state's codec and storage in their own private modules.
"""

from __future__ import annotations

from pterodisbot.alerts._engine import ActivityRequest, AlertEngine
from pterodisbot.alerts._model import (
    ALL_SERVERS,
    DEFAULT_RULES,
    PANEL_SUBJECT,
    SEVERITY,
    AlertControl,
    AlertServer,
    AlertSettings,
    AlertsOff,
    AlertState,
    AlertStats,
    Change,
    Incident,
    IncidentUpdate,
    MentionRoles,
    MessageRef,
    Mute,
    NoAlerts,
    PowerEvent,
    PowerSource,
    Rule,
    ServerAlertSettings,
    Severity,
    Thresholds,
)

__all__ = [
    "ALL_SERVERS",
    "DEFAULT_RULES",
    "PANEL_SUBJECT",
    "SEVERITY",
    "ActivityRequest",
    "AlertControl",
    "AlertEngine",
    "AlertServer",
    "AlertSettings",
    "AlertState",
    "AlertStats",
    "AlertsOff",
    "Change",
    "Incident",
    "IncidentUpdate",
    "MentionRoles",
    "MessageRef",
    "Mute",
    "NoAlerts",
    "PowerEvent",
    "PowerSource",
    "Rule",
    "ServerAlertSettings",
    "Severity",
    "Thresholds",
]
