"""The `/server_history` embed: uptime, average and peak CPU, memory and players, outages (pure).

Built from what the history store answered (a `HistorySeries`, an `Uptime`, the state changes)
and the panel's server (its name and limits); the graph is attached by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord

from pterodisbot.bot.embeds import FOOTER_LIMIT, TITLE_LIMIT, discord_len, truncate
from pterodisbot.store import DAY, HistorySeries, StateChange, Uptime, Window
from pterodisbot.units import format_bytes, format_cpu

if TYPE_CHECKING:
    from pterodisbot.panel.models import Server

HISTORY_COLOUR: Final = 0x5865F2
NO_DATA: Final = "no data"
# States a server is "up" in, for counting outages: from one of them into offline is a down.
_UP_STATES: Final = frozenset({"running", "starting", "stopping"})
# Unknown time shorter than this is the bucket still being filled, not worth a mention.
_UNKNOWN_SHOWN_FROM_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """The figures of a window: averages over live time, peaks, outages."""

    cpu_avg: float | None
    cpu_peak: float | None
    memory_avg: float | None
    memory_peak: float | None
    downs: int
    # Over the samples the game answered in (None: no query was answered in the window).
    players_avg: float | None = None
    players_peak: int | None = None


def summarise(series: HistorySeries, changes: Sequence[StateChange]) -> HistorySummary:
    """Return the window's averages (weighted by live samples), peaks and number of outages."""
    live = [p for p in series.points if p.live_samples > 0 and p.cpu_avg is not None]
    weight = sum(p.live_samples for p in live)
    cpu_avg = memory_avg = cpu_peak = memory_peak = None
    if live and weight > 0:
        cpu_avg = sum((p.cpu_avg or 0.0) * p.live_samples for p in live) / weight
        cpu_peak = max(_first(p.cpu_max, p.cpu_avg) for p in live)
        memories = [p for p in live if p.memory_avg is not None]
        if memories:
            memory_weight = sum(p.live_samples for p in memories)
            memory_avg = sum((p.memory_avg or 0.0) * p.live_samples for p in memories)
            memory_avg /= memory_weight
            memory_peak = max(_first(p.memory_max, p.memory_avg) for p in memories)
    downs = sum(1 for c in changes if c.after == "offline" and c.before in _UP_STATES)
    answered = [p for p in series.points if p.players_samples > 0 and p.players_avg is not None]
    players_avg = players_peak = None
    if answered:
        weight = sum(p.players_samples for p in answered)
        players_avg = sum((p.players_avg or 0.0) * p.players_samples for p in answered) / weight
        players_peak = max(p.players_max or 0 for p in answered)
    return HistorySummary(
        cpu_avg, cpu_peak, memory_avg, memory_peak, downs, players_avg, players_peak
    )


def window_label(window: Window) -> str:
    """Return how a window is named in titles ("24 h", "7 d")."""
    if window.seconds >= 2 * DAY and window.seconds % DAY == 0:
        return f"{window.seconds // DAY} d"
    if window.seconds % 3600 == 0:
        return f"{window.seconds // 3600} h"
    return f"{window.seconds // 60} min"


def uptime_text(uptime: Uptime) -> str:
    """Return "99.2 %", with the unknown time after it ("99.2 % · 3 h unknown"), or "no data"."""
    ratio = uptime.ratio
    if ratio is None:
        return NO_DATA
    # Rounded down: 99.96 % must not read as 100 % when the server did go down.
    percent = math.floor(ratio * 1000) / 10
    text = "100 %" if ratio >= 1 else f"{percent:.1f} %"
    if uptime.unknown_s >= _UNKNOWN_SHOWN_FROM_S:
        text += f" · {format_duration(uptime.unknown_s)} unknown"
    return text


def format_duration(seconds: float) -> str:
    """Format a duration in its two largest units ("3 h", "1 d 4 h", "12 min")."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{int(seconds)} s"


def build_history_embed(
    server: Server,
    window: Window,
    series: HistorySeries,
    uptime: Uptime,
    changes: Sequence[StateChange],
    *,
    graph_filename: str | None,
    now: float,
) -> discord.Embed:
    """Build the embed of a server's history over `window`, the graph as `graph_filename`."""
    summary = summarise(series, changes)
    name = server.name.strip() or server.identifier
    suffix = f" — last {window_label(window)}"
    embed = discord.Embed(
        title=truncate(name, TITLE_LIMIT - discord_len(suffix)) + suffix,
        colour=HISTORY_COLOUR,
        timestamp=datetime.fromtimestamp(now, tz=UTC),
    )
    embed.add_field(name="Uptime", value=uptime_text(uptime), inline=True)
    embed.add_field(name="Went down", value=_downs_text(summary.downs), inline=True)
    embed.add_field(name="CPU", value=_cpu_text(summary, server.limits.cpu), inline=False)
    embed.add_field(
        name="Memory", value=_memory_text(summary, server.limits.memory_bytes), inline=False
    )
    if summary.players_avg is not None and summary.players_peak is not None:
        # Only for a game that answered: a server never asked has no players line at all.
        embed.add_field(
            name="Players",
            value=f"average {_players(summary.players_avg)}, peak {summary.players_peak}",
            inline=False,
        )
    embed.set_footer(text=truncate(f"Server {server.identifier}", FOOTER_LIMIT))
    if graph_filename:
        embed.set_image(url=f"attachment://{graph_filename}")
    return embed


def _first(value: float | None, fallback: float | None) -> float:
    return float(value if value is not None else (fallback or 0.0))


def _players(average: float) -> str:
    """Return an average of players as a whole number, but a quiet server's "0.3" as is."""
    if 0 < average < 0.95:
        return f"{average:.1f}"
    # Half up: 7.5 players on average reads as 8, as a person rounds.
    return str(math.floor(average + 0.5))


def _downs_text(downs: int) -> str:
    if downs == 0:
        return "never"
    return "once" if downs == 1 else f"{downs} times"


def _cpu_text(summary: HistorySummary, limit: float) -> str:
    if summary.cpu_avg is None or summary.cpu_peak is None:
        return NO_DATA
    return f"avg {format_cpu(summary.cpu_avg, limit)}\npeak {format_cpu(summary.cpu_peak, limit)}"


def _memory_text(summary: HistorySummary, limit: int | None) -> str:
    if summary.memory_avg is None or summary.memory_peak is None:
        return NO_DATA
    of = f" / {format_bytes(limit)}" if limit is not None else ""
    return (
        f"avg {format_bytes(summary.memory_avg)}{of}\npeak {format_bytes(summary.memory_peak)}{of}"
    )
