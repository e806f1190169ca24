"""Turn server snapshots into Discord embeds (pure: no I/O, no clock of its own).

Every builder keeps within Discord's embed limits, counting length in UTF-16 code units so the
result is accepted whether Discord counts code points or UTF-16 units (emoji count twice then).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

import discord

from pterodisbot.bot.policy import current_cpu_percent, current_memory_bytes, shows_graph
from pterodisbot.monitor import ServerStatus
from pterodisbot.query import FAILURE_TEXT, Answering, Players
from pterodisbot.units import (
    format_bytes,
    format_cores,
    format_cpu,
    format_percent,
    format_rate,
    format_uptime,
)

if TYPE_CHECKING:
    from pterodisbot.monitor import ServerSnapshot
    from pterodisbot.panel.models import Allocation

# Discord's documented embed limits.
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_PER_EMBED = 25
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000  # per message: the sum over all its embeds
EMBEDS_PER_MESSAGE = 10

_ELLIPSIS = "…"
_DASH = "—"
# An error reason is a hint for the operator, not a log: keep the Status field readable.
_ERROR_LIMIT = 300
# Server list lines: long names would push other servers into the next message.
_LIST_NAME_LIMIT = 60
_LIST_ERROR_LIMIT = 60
# A message carries at most 6000 characters across its embeds; list pages of just under half
# that pack two to a message, so 500 servers need about a third fewer messages than 4096-char pages.
_LIST_DESCRIPTION_BUDGET = 2900
_LIST_COLOUR = 0x5865F2
# Player names are whatever the players typed: at most this many are listed, each cut short.
NAMES_SHOWN = 10
_PLAYER_NAME_LIMIT = 32
# The game's own texts (a modded Minecraft's version string can be long).
_GAME_TEXT_LIMIT = 60

STATUS_COLOURS = MappingProxyType(
    {
        ServerStatus.RUNNING: 0x57F287,
        ServerStatus.STARTING: 0xFEE75C,
        ServerStatus.STOPPING: 0xFEE75C,
        ServerStatus.OFFLINE: 0xED4245,
        ServerStatus.INSTALLING: 0x95A5A6,
        ServerStatus.SUSPENDED: 0x95A5A6,
        ServerStatus.UNKNOWN: 0x4F545C,
    }
)

_STATUS_WORDS = MappingProxyType(
    {
        ServerStatus.RUNNING: "Running",
        ServerStatus.STARTING: "Starting",
        ServerStatus.STOPPING: "Stopping",
        ServerStatus.OFFLINE: "Offline",
        ServerStatus.INSTALLING: "Installing",
        ServerStatus.SUSPENDED: "Suspended",
        ServerStatus.UNKNOWN: "Unknown",
    }
)


def discord_len(text: str) -> int:
    """Return the length of `text` in UTF-16 code units, never less than Discord's count."""
    return len(text.encode("utf-16-le")) // 2


def truncate(text: str, limit: int) -> str:
    """Shorten `text` to at most `limit` UTF-16 units, ending with "…" when something was cut."""
    if discord_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    kept: list[str] = []
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > limit - 1:
            break
        kept.append(char)
        used += width
    return "".join(kept).rstrip() + _ELLIPSIS


def status_word(status: ServerStatus) -> str:
    """Return the word shown for a status ("Running")."""
    return _STATUS_WORDS[status]


def status_colour(status: ServerStatus) -> int:
    """Return the embed colour of a status (green running, amber in transition, red offline...)."""
    return STATUS_COLOURS[status]


def format_address(allocation: Allocation) -> str:
    """Format an allocation as players type it: the alias or IP, then ":port"."""
    try:
        unspecified = ipaddress.ip_address(allocation.ip_alias or allocation.ip).is_unspecified
    except ValueError:
        unspecified = False  # a host name
    if unspecified:
        # 0.0.0.0 means "every interface of the node": players cannot connect to that address.
        return f"port {allocation.port} (no public address set in the panel)"
    return allocation.address


def build_status_embed(
    snap: ServerSnapshot,
    *,
    graph_filename: str | None,
    now: float,
    show_address: bool = True,
    show_names: bool = False,
) -> discord.Embed:
    """Build the status embed of one server from its latest snapshot.

    The graph image (`attachment://<graph_filename>`) is set only for live servers (running,
    starting, stopping: see `policy.shows_graph`); callers should attach the file only then.
    `show_address=False` leaves the address out, for guilds that restrict who may see it;
    `show_names=True` lists the players online (`[query] show_names`) when the game gives them.
    """
    server = snap.server
    embed = discord.Embed(
        title=truncate(server.name.strip() or server.identifier, TITLE_LIMIT),
        colour=status_colour(snap.status),
        timestamp=datetime.fromtimestamp(now, tz=UTC),
    )
    live = shows_graph(snap.status)

    embed.add_field(name="Status", value=_status_text(snap), inline=True)
    embed.add_field(name="CPU", value=_cpu_text(snap), inline=True)
    embed.add_field(name="Memory", value=_memory_text(snap), inline=True)
    embed.add_field(name="Disk", value=_disk_text(snap), inline=True)
    if live:
        embed.add_field(name="Network", value=_network_text(snap), inline=True)
    if snap.status is ServerStatus.RUNNING:
        uptime = _uptime_ms(snap)
        embed.add_field(
            name="Uptime", value=format_uptime(uptime) if uptime is not None else _DASH, inline=True
        )
    players = shown_players(snap)
    if players is not None:
        embed.add_field(name="Players", value=_players_field(players, now), inline=True)
    allocation = server.primary_allocation
    if show_address and allocation is not None:
        embed.add_field(
            name="Address",
            value=truncate(format_address(allocation), FIELD_VALUE_LIMIT),
            inline=True,
        )
    embed.add_field(name="Updated", value=f"<t:{int(snap.t)}:R>", inline=True)
    names = _names_text(players) if show_names and players is not None else ""
    if names:
        embed.add_field(name="Online now", value=names, inline=False)
    embed.set_footer(text=truncate(f"Server {server.identifier}", FOOTER_LIMIT))
    if graph_filename and live:
        embed.set_image(url=f"attachment://{graph_filename}")

    description = (server.description or "").strip()
    if description:
        room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - embed_length(embed))
        embed.description = truncate(description, room) or None
    return embed


def build_server_list_embed(snaps: Sequence[ServerSnapshot], *, now: float) -> list[discord.Embed]:
    """Build the `/server_list` embeds: one compact line per server, as many embeds as needed.

    Each embed stays within every per-embed limit and under the 6000-character message total on
    its own; use `group_for_messages` to send as few messages as possible.
    """
    timestamp = datetime.fromtimestamp(now, tz=UTC)
    ordered = sorted(snaps, key=lambda s: (s.server.name.casefold(), s.server.identifier))
    summary = _summary_line(ordered)
    pages = _pack_lines((_list_line(snap) for snap in ordered), first_line=summary)
    embeds: list[discord.Embed] = []
    for number, page in enumerate(pages, start=1):
        title = "Servers" if len(pages) == 1 else f"Servers ({number}/{len(pages)})"
        embed = discord.Embed(
            title=title, description=page, colour=_LIST_COLOUR, timestamp=timestamp
        )
        embed.set_footer(text=f"{len(ordered)} servers" if len(ordered) != 1 else "1 server")
        embeds.append(embed)
    return embeds


def group_for_messages(embeds: Iterable[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds, in order, into messages Discord accepts (<= 10 embeds, <= 6000 characters)."""
    groups: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    used = 0
    for embed in embeds:
        size = embed_length(embed)
        if current and (len(current) == EMBEDS_PER_MESSAGE or used + size > EMBED_TOTAL_LIMIT):
            groups.append(current)
            current, used = [], 0
        current.append(embed)
        used += size
    if current:
        groups.append(current)
    return groups


def embed_length(embed: discord.Embed) -> int:
    """Count an embed's characters as Discord does for the 6000 total, in UTF-16 units."""
    total = discord_len(embed.title or "") + discord_len(embed.description or "")
    for field in embed.fields:
        total += discord_len(field.name or "") + discord_len(field.value or "")
    total += discord_len(embed.footer.text or "")
    total += discord_len(embed.author.name or "")
    return total


def _status_text(snap: ServerSnapshot) -> str:
    word = status_word(snap.status)
    if snap.status is not ServerStatus.UNKNOWN:
        return word
    text = word
    if snap.error:
        text += f" {_DASH} {truncate(' '.join(snap.error.split()), _ERROR_LIMIT)}"
    if snap.last_known is not None and snap.last_known is not ServerStatus.UNKNOWN:
        # The past, said as the past: what the panel last confirmed, not what is true now.
        text += f" · last seen {status_word(snap.last_known)}"
    return text


def _cpu_limit_text(limit: float) -> str:
    if limit > 0:
        return f"limit {format_percent(limit)} ({format_cores(limit)})"
    return "unlimited"


def _cpu_text(snap: ServerSnapshot) -> str:
    limit = snap.server.limits.cpu
    cpu = current_cpu_percent(snap)
    if cpu is None:
        # Offline, installing, unknown: only the limit is meaningful, not a stale reading.
        return _cpu_limit_text(limit)
    return format_cpu(cpu, limit)


def _bytes_limit_text(limit: int | None) -> str:
    return format_bytes(limit) if limit is not None else "unlimited"


def _memory_text(snap: ServerSnapshot) -> str:
    limit = _bytes_limit_text(snap.server.limits.memory_bytes)
    used = current_memory_bytes(snap)
    if used is None:
        return f"limit {limit}" if snap.server.limits.memory > 0 else limit
    return f"{format_bytes(used)} / {limit}"


def _disk_text(snap: ServerSnapshot) -> str:
    limit = _bytes_limit_text(snap.server.limits.disk_bytes)
    # Wings reports disk use for stopped servers too, so it is shown whenever it was read.
    used: int | None = None
    if snap.resources is not None:
        used = snap.resources.disk_bytes
    elif snap.sample is not None and shows_graph(snap.status):
        used = snap.sample.disk_bytes
    if used is None:
        return f"limit {limit}" if snap.server.limits.disk > 0 else limit
    return f"{format_bytes(used)} / {limit}"


def _network_text(snap: ServerSnapshot) -> str:
    if snap.sample is None:
        return _DASH
    return f"↓ {format_rate(snap.sample.rx_rate)} · ↑ {format_rate(snap.sample.tx_rate)}"


def _uptime_ms(snap: ServerSnapshot) -> float | None:
    if snap.resources is not None:
        return float(snap.resources.uptime_ms)
    if snap.sample is not None:
        return float(snap.sample.uptime_ms)
    return None


def _summary_line(snaps: Sequence[ServerSnapshot]) -> str:
    if not snaps:
        return "No servers are visible to the bot's panel API key."
    counts = Counter(snap.status for snap in snaps)
    parts = [
        f"{counts[status]} {status_word(status).lower()}"
        for status in ServerStatus
        if counts[status]
    ]
    # Only games that answered count: a silent one's last number is not "online now".
    online = [
        n for s in snaps if (p := shown_players(s)) is not None and (n := p.online) is not None
    ]
    if online:
        total = sum(online)
        parts.append(f"{total:,} player{'s' if total != 1 else ''} online")
    return " · ".join(parts)


def _list_line(snap: ServerSnapshot) -> str:
    server = snap.server
    name = discord.utils.escape_markdown(
        truncate(server.name.strip() or "(no name)", _LIST_NAME_LIMIT)
    )
    identifier = server.identifier.replace("`", "")
    line = f"**{name}** `{identifier}` {_DASH} {status_word(snap.status)}"
    cpu = current_cpu_percent(snap)
    memory = current_memory_bytes(snap)
    if cpu is not None:
        line += f" · CPU {format_cpu(cpu, server.limits.cpu)}"
    if memory is not None:
        line += f" · RAM {format_bytes(memory)}"
    players = shown_players(snap)
    if players is not None:
        line += f" · {_list_players(players)}"
    if snap.status is ServerStatus.UNKNOWN and snap.error:
        reason = truncate(" ".join(snap.error.split()), _LIST_ERROR_LIMIT)
        line += f" ({discord.utils.escape_markdown(reason)})"
    return line


def shown_players(snap: ServerSnapshot) -> Players | None:
    """Return what the game said of its players, when the server is live and the game asked."""
    # An offline server's game is not asked; anything still on the snapshot is history.
    if snap.players is None or not shows_graph(snap.status):
        return None
    return snap.players


def players_count(players: Players) -> str:
    """Format an answer's count as "12 / 40"; "?" for a game that gave no maximum."""
    answer = players.answer
    if answer is None:
        return "?"
    if answer.max_players > 0:
        return f"{answer.online:,} / {answer.max_players:,}"
    return f"{answer.online:,}"


def duration_text(seconds: float) -> str:
    """Format a duration for people: "45 s", "12 min", "4 h", "2 h 5 min", "3 d 2 h"."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d" if hours == 0 else f"{days} d {hours} h"


def players_state_text(players: Players, now: float) -> str:
    """Say in a few words why there is no count: "no answer (connection refused)"..."""
    if players.answering is Answering.NOT_ANSWERING:
        if players.since is None:
            return "not answering"
        return f"not answering for {duration_text(now - players.since)}"
    reason = FAILURE_TEXT.get(players.failure) if players.failure is not None else None
    return f"no answer ({reason})" if reason else "no answer yet"


def _players_field(players: Players, now: float) -> str:
    answer = players.answer
    if players.answering is Answering.ANSWERING and answer is not None:
        lines = [players_count(players)]
        details = []
        if answer.map:
            details.append(f"map {_game_text(answer.map)}")
        if answer.version:
            details.append(f"version {_game_text(answer.version)}")
        if details:
            lines.append(" · ".join(details))
        return truncate("\n".join(lines), FIELD_VALUE_LIMIT)
    text = players_state_text(players, now)
    if answer is not None:
        # The last count the game gave, said as the past.
        text += f"\nlast seen {players_count(players)} <t:{int(answer.t)}:R>"
    return truncate(text, FIELD_VALUE_LIMIT)


def _game_text(text: str) -> str:
    return discord.utils.escape_markdown(truncate(" ".join(text.split()), _GAME_TEXT_LIMIT))


def player_name(name: str) -> str:
    """Return a player's name safe to show: one line, cut short, markdown escaped."""
    flat = " ".join(name.split())
    return discord.utils.escape_markdown(truncate(flat, _PLAYER_NAME_LIMIT))


def _names_text(players: Players) -> str:
    """List up to `NAMES_SHOWN` players, then "+N more" for the others online."""
    answer = players.answer
    if players.answering is not Answering.ANSWERING or answer is None:
        return ""
    # A2S lists players still connecting with an empty name: they are counted, not named.
    names = [player_name(name) for name in answer.names if name.strip()]
    if not names:
        return ""
    shown = names[:NAMES_SHOWN]
    more = max(answer.online, len(names)) - len(shown)
    text = ", ".join(shown)
    if more > 0:
        text += f" +{more:,} more"
    return truncate(text, FIELD_VALUE_LIMIT)


def _list_players(players: Players) -> str:
    if players.answering is Answering.ANSWERING and players.answer is not None:
        answer = players.answer
        if answer.max_players > 0:
            return f"{answer.online:,}/{answer.max_players:,} players"
        return f"{answer.online:,} players"
    if players.answering is Answering.NOT_ANSWERING:
        return "not answering"
    return "no answer"


def _pack_lines(lines: Iterable[str], *, first_line: str) -> list[str]:
    pages: list[str] = []
    current = [first_line, ""]
    used = discord_len(first_line) + 1
    for raw in lines:
        line = truncate(raw, _LIST_DESCRIPTION_BUDGET)
        size = discord_len(line) + 1  # the newline joining it to the previous line
        if used + size > _LIST_DESCRIPTION_BUDGET:
            pages.append("\n".join(current).strip())
            current, used = [], 0
        current.append(line)
        used += size
    pages.append("\n".join(current).strip())
    return pages
