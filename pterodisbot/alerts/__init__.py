"""Alerts: crash told from a stop, crash loops, overloads, outages — one incident each (core, pure).

The public face of the package; the values live in `_model.py`, the rules engine in
`_engine.py`, the persisted state's codec and storage in their own private modules.
"""

from __future__ import annotations

from pterodisbot.alerts._codec import (
    STATE_VERSION,
    AlertStateError,
    AlertStateFailure,
    decode_state,
    encode_state,
)
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
from pterodisbot.alerts._storage import (
    STATE_FILE_NAME,
    STORE_STATE_NAME,
    AlertStateStorage,
    FileStateStorage,
    StateHistory,
    StoreStateStorage,
    state_storage,
)

__all__ = [
    "ALL_SERVERS",
    "DEFAULT_RULES",
    "PANEL_SUBJECT",
    "SEVERITY",
    "STATE_FILE_NAME",
    "STATE_VERSION",
    "STORE_STATE_NAME",
    "ActivityRequest",
    "AlertControl",
    "AlertEngine",
    "AlertServer",
    "AlertSettings",
    "AlertState",
    "AlertStateError",
    "AlertStateFailure",
    "AlertStateStorage",
    "AlertStats",
    "AlertsOff",
    "Change",
    "FileStateStorage",
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
    "StateHistory",
    "StoreStateStorage",
    "Thresholds",
    "decode_state",
    "encode_state",
    "state_storage",
]
