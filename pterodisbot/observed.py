"""What a poll observed of a server: its displayed status, or why it could not be read.

Values only. The monitor produces them; the alerts read them; neither imports the other for
them (the config imports the alerts' settings and the panel client the config, so the alerts
must not reach the monitor). `pterodisbot.monitor` re-exports both.
"""

from __future__ import annotations

from enum import StrEnum


class ServerStatus(StrEnum):
    """What a status embed shows as the server's state."""

    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    OFFLINE = "offline"
    INSTALLING = "installing"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"


class ReadFault(StrEnum):
    """Why a poll got no resources: whose fault it is decides who an alert is about."""

    # The panel answered that it cannot reach the server's node (Wings): the node's fault.
    NODE_DOWN = "node_down"
    # The panel itself did not answer (refused connection, timeout, 5xx, TLS): the panel's.
    PANEL_DOWN = "panel_down"
    # The panel refused the key (401/403), or its answer could not be read: this server's.
    REFUSED = "refused"
    BAD_ANSWER = "bad_answer"
    # A 409: suspended, installing, restoring, transferring or the node in maintenance — a
    # state the panel reports, not an outage.
    CONFLICT = "conflict"
