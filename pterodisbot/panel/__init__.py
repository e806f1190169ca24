"""Speak Pterodactyl: the client API's values, errors, rate budget and client (no Discord here)."""

from __future__ import annotations

from pterodisbot.panel.budget import RateBudget
from pterodisbot.panel.client import PterodactylAPI, RequestStats
from pterodisbot.panel.errors import (
    AuthFailure,
    ConflictReason,
    PanelAuthError,
    PanelBadResponse,
    PanelConflict,
    PanelError,
    PanelInvalidRequest,
    PanelNotFound,
    PanelRateLimited,
    PanelUnavailable,
    UnavailableReason,
)
from pterodisbot.panel.models import (
    Account,
    ActivityEvent,
    Allocation,
    Limits,
    PowerSignal,
    PowerState,
    Resources,
    Server,
    WebsocketCredentials,
)
from pterodisbot.panel.stream import (
    FallbackReason,
    NoStream,
    StatsStream,
    StreamReading,
    StreamState,
    StreamStats,
)
from pterodisbot.panel.wings import WingsStreams

__all__ = [
    "Account",
    "ActivityEvent",
    "Allocation",
    "AuthFailure",
    "ConflictReason",
    "FallbackReason",
    "Limits",
    "NoStream",
    "PanelAuthError",
    "PanelBadResponse",
    "PanelConflict",
    "PanelError",
    "PanelInvalidRequest",
    "PanelNotFound",
    "PanelRateLimited",
    "PanelUnavailable",
    "PowerSignal",
    "PowerState",
    "PterodactylAPI",
    "RateBudget",
    "RequestStats",
    "Resources",
    "Server",
    "StatsStream",
    "StreamReading",
    "StreamState",
    "StreamStats",
    "UnavailableReason",
    "WebsocketCredentials",
    "WingsStreams",
]
