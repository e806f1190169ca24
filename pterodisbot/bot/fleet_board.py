"""The fleet board: one message summarising every watched server, attention first (pure).

Per-server embeds do not scale to thousands of servers; this one message does. It shows the
count of servers in each state (and the players online, when games are asked), then the servers
that need someone — their node down (grouped by node), unreachable (with the reason), running
but their game not answering its queries, overloaded (CPU or memory near the limit), gone
offline while running — and ends with "… and N running normally". Whatever the fleet, the
message stays within Discord's limits (10 embeds, 6,000 characters in all, 4,096 per
description), lengths counted in UTF-16 units; sections share the room fairly and say how many
they left out.
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import discord

from pterodisbot.bot.embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    discord_len,
    embed_length,
    status_word,
    truncate,
)
from pterodisbot.bot.policy import compared_cpu_percent, compared_memory_bytes
from pterodisbot.monitor import ReadFault, ServerSnapshot, ServerStatus
from pterodisbot.query import Answering
from pterodisbot.units import format_bytes, format_percent

# A server using this share of its CPU or memory limit (on the recent average) is overloaded.
OVERLOAD_SHARE = 0.9
# The states counted, in the order shown.
COUNTED: tuple[ServerStatus, ...] = (
    ServerStatus.RUNNING,
    ServerStatus.STARTING,
    ServerStatus.STOPPING,
    ServerStatus.OFFLINE,
    ServerStatus.UNKNOWN,
    ServerStatus.SUSPENDED,
    ServerStatus.INSTALLING,
)
# Room kept free under Discord's 6,000: the budget is counted exactly, this absorbs nothing but
# a future field Discord counts that this module does not know of.
_TOTAL_BUDGET = EMBED_TOTAL_LIMIT - 100
# One section's description, under Discord's 4,096.
_SECTION_BUDGET = DESCRIPTION_LIMIT - 96
_NAME_LIMIT = 40
_REASON_LIMIT = 80
_LINE_LIMIT = 300
# Servers named in a node-down line; the rest are counted.
_NAMES_PER_NODE = 3
_ELLIPSIS = "…"
_DASH = "—"

_RED = 0xED4245
_AMBER = 0xFEE75C
_GREEN = 0x57F287
_GREY = 0x4F545C


class Attention(enum.Enum):
    """Why a server is listed on the board, in the order the sections are shown."""

    NODE_DOWN = "Nodes down"
    UNREACHABLE = "Unreachable"
    # Running, says the panel, but the game has not answered its queries for a while.
    NOT_ANSWERING = "Not answering"
    OVERLOADED = "Overloaded"
    WENT_OFFLINE = "Went offline while running"


_COLOURS: Mapping[Attention, int] = {
    Attention.NODE_DOWN: _RED,
    Attention.UNREACHABLE: _GREY,
    Attention.NOT_ANSWERING: _AMBER,
    Attention.OVERLOADED: _AMBER,
    Attention.WENT_OFFLINE: _RED,
}


@dataclass(frozen=True, slots=True)
class BoardKey:
    """What the board shows of one server: a change of it (and only that) calls for an edit."""

    status: ServerStatus
    attention: Attention | None
    # The node (node down), the reason (unreachable) or since when (not answering) the line names.
    detail: str


def overloaded(snap: ServerSnapshot, share: float = OVERLOAD_SHARE) -> bool:
    """Tell whether a live server uses `share` of its CPU or memory limit or more."""
    limits = snap.server.limits
    cpu = compared_cpu_percent(snap)
    if cpu is not None and limits.cpu > 0 and cpu >= share * limits.cpu:
        return True
    memory = compared_memory_bytes(snap)
    limit_bytes = limits.memory_bytes
    return memory is not None and limit_bytes is not None and memory >= share * limit_bytes


def not_answering(snap: ServerSnapshot) -> bool:
    """Tell whether the panel says running while the game has been silent too long."""
    players = snap.players
    return (
        snap.status is ServerStatus.RUNNING
        and players is not None
        and players.answering is Answering.NOT_ANSWERING
    )


def players_online(snap: ServerSnapshot) -> int | None:
    """Return the players a running server's game said are online (None: not asked, silent)."""
    if snap.players is None or snap.status is not ServerStatus.RUNNING:
        return None
    return snap.players.online


def attention_of(
    snap: ServerSnapshot, *, went_offline: bool, share: float = OVERLOAD_SHARE
) -> Attention | None:
    """Return why the server is listed, None when it is counted only."""
    if snap.status is ServerStatus.UNKNOWN:
        return Attention.NODE_DOWN if snap.fault is ReadFault.NODE_DOWN else Attention.UNREACHABLE
    if snap.status is ServerStatus.OFFLINE:
        return Attention.WENT_OFFLINE if went_offline else None
    if not_answering(snap):
        # Before overloaded: a hung game often spins its CPU, and no one can play on it.
        return Attention.NOT_ANSWERING
    if overloaded(snap, share):
        return Attention.OVERLOADED
    return None


def board_key(
    snap: ServerSnapshot, *, went_offline: bool, share: float = OVERLOAD_SHARE
) -> BoardKey:
    """Return what the board shows of `snap`: CPU moving inside its band changes nothing."""
    attention = attention_of(snap, went_offline=went_offline, share=share)
    detail = ""
    if attention is Attention.NODE_DOWN:
        detail = snap.server.node
    elif attention is Attention.UNREACHABLE:
        detail = _reason(snap)
    elif attention is Attention.NOT_ANSWERING and snap.players is not None:
        detail = f"{snap.players.since or 0:.0f}"
    return BoardKey(status=snap.status, attention=attention, detail=detail)


def build_fleet_embeds(
    snapshots: Iterable[ServerSnapshot],
    now: float,
    *,
    went_offline: Mapping[str, float] | None = None,
    share: float = OVERLOAD_SHARE,
    interval: float = 30.0,
    players_interval: float = 300.0,
) -> list[discord.Embed]:
    """Build the board: the counts, then one embed per section needing attention, then the tail.

    `went_offline` maps a server to when it was seen going offline from running or starting
    (the service remembers it while the server stays offline). `players_interval` is how often
    at most a moving player count alone edits the board (the footer says it).
    """
    went = went_offline or {}
    snaps = sorted(snapshots, key=lambda s: (s.server.name.casefold(), s.server.identifier))
    counts = Counter(snap.status for snap in snaps)
    listed: dict[Attention, list[ServerSnapshot]] = defaultdict(list)
    for snap in snaps:
        attention = attention_of(snap, went_offline=snap.server.identifier in went, share=share)
        if attention is not None:
            listed[attention].append(snap)
    normal = (
        counts[ServerStatus.RUNNING]
        - len(listed[Attention.OVERLOADED])
        - len(listed[Attention.NOT_ANSWERING])
    )

    summary = _summary_embed(snaps, counts, listed, now, (interval, players_interval))
    tail = f"{_ELLIPSIS} and {normal:,} running normally" if normal else ""
    sections = [
        (attention, _section_lines(attention, listed[attention], went, share))
        for attention in Attention
        if listed[attention]
    ]
    used = embed_length(summary) + discord_len(tail) + 1
    texts = _share_room(sections, _TOTAL_BUDGET - used)
    embeds = [summary]
    for (attention, _), text in zip(sections, texts, strict=True):
        embeds.append(
            discord.Embed(title=attention.value, description=text, colour=_COLOURS[attention])
        )
    if tail:
        last = embeds[-1]
        last.description = f"{last.description}\n{tail}" if last.description else tail
    return embeds


def _summary_embed(
    snaps: Sequence[ServerSnapshot],
    counts: Counter[ServerStatus],
    listed: Mapping[Attention, list[ServerSnapshot]],
    now: float,
    intervals: tuple[float, float],
) -> discord.Embed:
    interval, players_interval = intervals
    total = len(snaps)
    if listed.get(Attention.NODE_DOWN) or listed.get(Attention.WENT_OFFLINE):
        colour = _RED
    elif (
        listed.get(Attention.UNREACHABLE)
        or listed.get(Attention.NOT_ANSWERING)
        or listed.get(Attention.OVERLOADED)
    ):
        colour = _AMBER
    else:
        colour = _GREEN
    attention = sum(len(v) for v in listed.values())
    if not snaps:
        description = "No server has been read from the panel yet."
    elif attention:
        parts = [_part(a, listed[a]) for a in Attention if listed.get(a)]
        description = f"**{attention:,} need attention:** " + " · ".join(parts)
    else:
        description = "Every server is running normally or stopped on purpose."
    embed = discord.Embed(
        title=f"Fleet {_DASH} {total:,} server{'s' if total != 1 else ''}",
        description=description,
        colour=colour,
        timestamp=datetime.fromtimestamp(now, tz=UTC),
    )
    for status in COUNTED:
        embed.add_field(name=status_word(status), value=f"{counts[status]:,}", inline=True)
    footer = f"Updated on change, at most every {interval:g} s"
    if any(snap.players is not None for snap in snaps):
        online = sum(n for snap in snaps if (n := players_online(snap)) is not None)
        embed.add_field(name="Players online", value=f"{online:,}", inline=True)
        footer += f"; player counts every {_minutes(players_interval)}"
    embed.set_footer(text=footer)
    return embed


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _part(attention: Attention, snaps: Sequence[ServerSnapshot]) -> str:
    if attention is Attention.NODE_DOWN:
        nodes = len({snap.server.node for snap in snaps})
        return f"{len(snaps):,} on {nodes:,} node{'s' if nodes != 1 else ''} down"
    return f"{len(snaps):,} {attention.value.lower()}"


def _section_lines(
    attention: Attention,
    snaps: Sequence[ServerSnapshot],
    went: Mapping[str, float],
    share: float,
) -> list[str]:
    return [truncate(line, _LINE_LIMIT) for line in _raw_lines(attention, snaps, went, share)]


def _raw_lines(
    attention: Attention,
    snaps: Sequence[ServerSnapshot],
    went: Mapping[str, float],
    share: float,
) -> list[str]:
    if attention is Attention.NODE_DOWN:
        by_node: dict[str, list[ServerSnapshot]] = defaultdict(list)
        for snap in snaps:
            by_node[snap.server.node].append(snap)
        nodes = sorted(by_node.items(), key=lambda item: (-len(item[1]), item[0]))
        return [_node_line(node, members) for node, members in nodes]
    if attention is Attention.UNREACHABLE:
        return [f"{_who(snap)} {_DASH} {_escape(_reason(snap))}" for snap in snaps]
    if attention is Attention.NOT_ANSWERING:
        # The longest silent first: the likeliest hung.
        ordered = sorted(snaps, key=_silent_since)
        return [f"{_who(snap)} {_DASH} {_silence_text(snap)}" for snap in ordered]
    if attention is Attention.OVERLOADED:
        ordered = sorted(snaps, key=lambda s: -_load_share(s))
        return [f"{_who(snap)} {_DASH} {_load_text(snap, share)}" for snap in ordered]
    ordered = sorted(snaps, key=lambda s: -went.get(s.server.identifier, 0.0))
    return [
        f"{_who(snap)} {_DASH} <t:{int(went.get(snap.server.identifier, snap.t))}:R>"
        for snap in ordered
    ]


def _node_line(node: str, members: Sequence[ServerSnapshot]) -> str:
    names = ", ".join(_name(snap) for snap in members[:_NAMES_PER_NODE])
    more = len(members) - _NAMES_PER_NODE
    if more > 0:
        names += f" and {more:,} more"
    count = f"{len(members):,} server{'s' if len(members) != 1 else ''}"
    return f"**{_escape(truncate(node, _NAME_LIMIT))}** {_DASH} {count}: {names}"


def _share_room(sections: Sequence[tuple[Attention, list[str]]], budget: int) -> list[str]:
    """Give each section one line in turn while the room lasts; say how many each left out."""
    # Each section's title, and room for its "… and N more" line, come first.
    reserve = [
        discord_len(attention.value) + len(f"{_ELLIPSIS} and {len(lines):,} more") + 2
        for attention, lines in sections
    ]
    room = budget - sum(reserve)
    taken: list[list[str]] = [[] for _ in sections]
    sizes = [0] * len(sections)
    # A section stops at its first line that does not fit: what it shows is always its top.
    open_ = [True] * len(sections)
    for depth in range(max((len(lines) for _, lines in sections), default=0)):
        for index, (_, lines) in enumerate(sections):
            if not open_[index] or depth >= len(lines):
                continue
            size = discord_len(lines[depth]) + 1
            if size > room or sizes[index] + size > _SECTION_BUDGET - reserve[index]:
                open_[index] = False
                continue
            taken[index].append(lines[depth])
            sizes[index] += size
            room -= size
        if not any(open_):
            break
    texts = []
    for (_, lines), kept in zip(sections, taken, strict=True):
        left = len(lines) - len(kept)
        text = "\n".join(kept)
        if left:
            text += f"\n{_ELLIPSIS} and {left:,} more" if kept else f"{_ELLIPSIS} {left:,} servers"
        texts.append(text)
    return texts


def _who(snap: ServerSnapshot) -> str:
    identifier = snap.server.identifier.replace("`", "")
    return f"**{_name(snap)}** `{identifier}`"


def _name(snap: ServerSnapshot) -> str:
    return _escape(truncate(" ".join(snap.server.name.split()) or "(no name)", _NAME_LIMIT))


def _escape(text: str) -> str:
    return discord.utils.escape_markdown(text)


def _reason(snap: ServerSnapshot) -> str:
    text = " ".join((snap.error or "no answer from the panel").split())
    if snap.last_known is not None and snap.last_known is not ServerStatus.UNKNOWN:
        text += f" · last seen {status_word(snap.last_known)}"
    return truncate(text, _REASON_LIMIT)


def _silent_since(snap: ServerSnapshot) -> float:
    players = snap.players
    return players.since if players is not None and players.since is not None else snap.t


def _silence_text(snap: ServerSnapshot) -> str:
    players = snap.players
    if players is None or players.since is None:
        return "no answer"
    # `since` is the last answer, or the first query of a game that never answered.
    if players.answer is None:
        return f"never answered, asked since <t:{int(players.since)}:R>"
    return f"last answer <t:{int(players.since)}:R>"


def _load_share(snap: ServerSnapshot) -> float:
    limits = snap.server.limits
    shares = [0.0]
    cpu = compared_cpu_percent(snap)
    if cpu is not None and limits.cpu > 0:
        shares.append(cpu / limits.cpu)
    memory = compared_memory_bytes(snap)
    if memory is not None and limits.memory_bytes:
        shares.append(memory / limits.memory_bytes)
    return max(shares)


def _load_text(snap: ServerSnapshot, share: float) -> str:
    limits = snap.server.limits
    parts = []
    cpu = compared_cpu_percent(snap)
    if cpu is not None and limits.cpu > 0 and cpu >= share * limits.cpu:
        parts.append(f"CPU {format_percent(cpu)} of {format_percent(limits.cpu)}")
    memory = compared_memory_bytes(snap)
    if memory is not None and limits.memory_bytes and memory >= share * limits.memory_bytes:
        parts.append(f"RAM {format_bytes(memory)} of {format_bytes(limits.memory_bytes)}")
    return " · ".join(parts)
