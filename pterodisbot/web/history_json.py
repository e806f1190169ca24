"""The `/api/servers/{identifier}/history` JSON: one window of a server's stored history (pure)."""

from __future__ import annotations

from typing import Any

from pterodisbot.bot.history_window import WindowRead
from pterodisbot.store import WINDOWS, HistoryPoint


def history_json(server: str, read: WindowRead) -> dict[str, Any]:
    """Return the body: the window, its buckets oldest first, and the uptime over it.

    A bucket's `cpu_percent` and `memory_bytes` are its averages over live samples (null when
    the server was not running), `cpu_max`/`memory_max` its peaks; `ratio` is running time over
    known time (null: nothing known), unknown time counting as neither up nor down. `players`
    is the average of the players online over the samples the game answered in, `players_max`
    their peak: null in a bucket where no query was answered (not asked, or no answer).
    """
    uptime = read.uptime
    return {
        "server": server,
        "window": read.window.name,
        "step_seconds": read.window.step_s,
        "points": [_point(p) for p in read.series.points],
        "uptime": {
            "running_s": uptime.running_s,
            "offline_s": uptime.offline_s,
            "unknown_s": uptime.unknown_s,
            "ratio": uptime.ratio,
        },
    }


def error_json(error: str, message: str, **extra: Any) -> dict[str, Any]:
    """Return an error body: a stable code to branch on and a sentence for a person."""
    return {"error": error, "message": message, **extra}


def bad_window_json(given: str) -> dict[str, Any]:
    """Return the 400 body for a window the endpoint does not offer, naming those it does."""
    allowed = list(WINDOWS)
    return error_json(
        "bad_window",
        f"window {given[:20]!r} is not offered; use one of {', '.join(allowed)}",
        allowed=allowed,
    )


def _point(point: HistoryPoint) -> dict[str, Any]:
    return {
        "t": int(point.t) if float(point.t).is_integer() else point.t,
        "state": point.state,
        "cpu_percent": point.cpu_avg,
        "cpu_max": point.cpu_max,
        "memory_bytes": None if point.memory_avg is None else round(point.memory_avg),
        "memory_max": point.memory_max,
        "disk_bytes": point.disk_bytes,
        "rx_rate": point.rx_rate,
        "tx_rate": point.tx_rate,
        "players": point.players_avg,
        "players_max": point.players_max,
    }
