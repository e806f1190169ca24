"""The `/api/servers` JSON: every watched server as the monitor last saw it (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pterodisbot.monitor import ServerSnapshot
from pterodisbot.query import Players


def server_json(
    snap: ServerSnapshot, *, show_address: bool, show_names: bool = False
) -> dict[str, Any]:
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
        "players": players_json(snap.players, show_names=show_names),
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


def players_json(players: Players | None, *, show_names: bool) -> dict[str, Any] | None:
    """Return what the game said of its players; None when it is not asked.

    `online` is null unless the game answered its last query (`answering`); `max`, `version`,
    `map` and `answered_at` are from its last answer, kept while it is silent. `names` only
    with `[query] show_names`, like the embeds.
    """
    if players is None:
        return None
    answer = players.answer
    data: dict[str, Any] = {
        "online": players.online,
        "max": answer.max_players if answer is not None else None,
        "answering": str(players.answering),
        "failure": str(players.failure) if players.failure is not None else None,
        "since": players.since,
        "answered_at": answer.t if answer is not None else None,
        "version": answer.version if answer is not None else None,
        "map": answer.map if answer is not None else None,
        "protocol": str(players.target.protocol),
        # How long the game took to answer its last query (null while it is silent).
        "latency_ms": (
            answer.latency_ms if answer is not None and players.online is not None else None
        ),
    }
    if show_names:
        data["names"] = (
            list(answer.names) if answer is not None and players.online is not None else []
        )
    return data


def servers_json(
    snaps: Iterable[ServerSnapshot], *, show_address: bool, now: float, show_names: bool = False
) -> dict[str, Any]:
    """Return the `/api/servers` body: the servers sorted by name, and when it was taken."""
    ordered = sorted(snaps, key=lambda s: (s.server.name.lower(), s.server.identifier))
    return {
        "generated_at": now,
        "servers": [
            server_json(s, show_address=show_address, show_names=show_names) for s in ordered
        ],
    }
