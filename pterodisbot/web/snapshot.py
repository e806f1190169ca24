"""The `/api/servers` JSON: every watched server as the monitor last saw it (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pterodisbot.monitor import ServerSnapshot


def server_json(snap: ServerSnapshot, *, show_address: bool) -> dict[str, Any]:
    """Return one server's snapshot as JSON-ready data."""
    server = snap.server
    limits = server.limits
    data: dict[str, Any] = {
        "identifier": server.identifier,
        "uuid": server.uuid,
        "name": server.name,
        "node": server.node,
        "status": str(snap.status),
        "error": snap.error,
        "polled_at": snap.t,
        "limits": {
            "cpu_percent": limits.cpu,
            "memory_mib": limits.memory,
            "disk_mib": limits.disk,
        },
        "resources": None,
    }
    res = snap.resources
    if res is not None:
        data["resources"] = {
            "state": str(res.state),
            "cpu_percent": res.cpu_absolute,
            "memory_bytes": res.memory_bytes,
            "disk_bytes": res.disk_bytes,
            "network_rx_bytes": res.network_rx_bytes,
            "network_tx_bytes": res.network_tx_bytes,
            "uptime_seconds": res.uptime_ms / 1000,
        }
    primary = server.primary_allocation
    if show_address and primary is not None:
        data["address"] = primary.address
    return data


def servers_json(
    snaps: Iterable[ServerSnapshot], *, show_address: bool, now: float
) -> dict[str, Any]:
    """Return the `/api/servers` body: the servers sorted by name, and when it was taken."""
    ordered = sorted(snaps, key=lambda s: (s.server.name.lower(), s.server.identifier))
    return {
        "generated_at": now,
        "servers": [server_json(s, show_address=show_address) for s in ordered],
    }
