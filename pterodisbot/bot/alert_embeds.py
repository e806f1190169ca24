"""Alert messages (pure): an incident, or a group of them, as Discord embeds within its limits.

One message per incident, edited as it evolves: red (critical), amber (warning) or grey (info)
while it fires, green once it cleared, with how long it lasted. A grouped message (many alerts at
once) lists every incident on one line of its own, each in its own state, split over several
embeds of the one message when the lines do not fit one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final

import discord

from pterodisbot.alerts import Incident, Rule, Severity
from pterodisbot.bot.embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    TITLE_LIMIT,
    discord_len,
    duration_text,
    truncate,
)
from pterodisbot.observed import ServerStatus
from pterodisbot.query import FAILURE_TEXT, QueryFailure

RED: Final = 0xED4245
AMBER: Final = 0xF0B232
GREY: Final = 0x80848E
GREEN: Final = 0x57F287
COLOURS: Final[Mapping[Severity, int]] = MappingProxyType(
    {Severity.CRITICAL: RED, Severity.WARNING: AMBER, Severity.INFO: GREY}
)
_DOTS: Final[Mapping[Severity, str]] = MappingProxyType(
    {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "⚪"}
)
_RECOVERED_DOT: Final = "🟢"
# A grouped message's line: long enough for a name and its state, short enough that 50 fit in
# one message (50 × 120 + titles < Discord's 6,000 characters per message).
LINE_LIMIT: Final = 110
# Incidents one grouped message names at most; more go to the next grouped message.
GROUP_LIMIT: Final = 50
# A grouped embed's description stays well under 4,096 so the message's total stays under 6,000.
_GROUP_DESCRIPTION_BUDGET: Final = 2_800
_FOOTER: Final = "Pterodisbot alerts"


def _when(t: float) -> str:
    """Return a Discord timestamp that every reader sees in their own time ("5 minutes ago")."""
    return f"<t:{int(t)}:R>"


def _percent(value: float) -> str:
    return f"{value:.0f} %"


def subject_name(incident: Incident) -> str:
    """Return who the incident is about, as people know it: the server's name, a node, the panel."""
    if incident.rule is Rule.NODE_DOWN:
        return f"Node {incident.subject}"
    if incident.rule is Rule.PANEL_DOWN:
        return "Panel"
    if incident.servers:
        return incident.servers[0].name
    return incident.subject


def _servers(count: int) -> str:
    return f"{count} server" if count == 1 else f"{count} servers"


def firing_text(incident: Incident) -> str:
    """Return what is wrong, in one sentence naming the subject."""
    name = subject_name(incident)
    rule = incident.rule
    span = duration_text(max(0.0, incident.updated_at - incident.started_at))
    peak = f" (peak {_percent(incident.peak)})" if incident.peak is not None else ""
    if rule is Rule.CRASH:
        if incident.count > 1:
            return f"{name} crashed {incident.count} times"
        return f"{name} crashed"
    if rule is Rule.CRASH_LOOP:
        return f"{name} is crash-looping: crashed {incident.count} times in {span}"
    if rule in (Rule.CPU, Rule.MEMORY):
        what = "CPU" if rule is Rule.CPU else "Memory"
        peak_text = f" (peak {_percent(incident.peak)})" if incident.peak else ""
        return f"{name}: {what} over {_detail_or(incident, 'its threshold')} for {span}{peak_text}"
    if rule is Rule.DISK:
        return f"{name}: disk over {_detail_or(incident, 'its threshold')}{peak}"
    if rule is Rule.STUCK:
        return f"{name} is stuck {_detail_or(incident, 'starting or stopping')}"
    if rule is Rule.UNREACHABLE:
        return f"{name} cannot be read: {_detail_or(incident, 'the panel does not say why')}"
    if rule is Rule.NODE_DOWN:
        return f"{name} down — {_servers(incident.count)} unreadable"
    if rule is Rule.PANEL_DOWN:
        return f"Panel unreachable — {_servers(incident.count)}"
    if rule is Rule.FLAPPING:
        return f"{name} is flapping: {incident.count} changes in {span}"
    if rule is Rule.NOT_ANSWERING:
        failure = _failure(incident)
        why = f" ({FAILURE_TEXT[failure]})" if failure is not None else ""
        return f"{name} is running but its game has not answered for {span}{why}"
    # STOPPED: the engine's detail says who ("stopped by alice").
    return f"{name} {_detail_or(incident, 'stopped')}"


def _detail_or(incident: Incident, default: str) -> str:
    return incident.detail if incident.detail else default


def _failure(incident: Incident) -> QueryFailure | None:
    """Return why a not-answering game's query failed (the engine's detail), if it says."""
    try:
        return QueryFailure(incident.detail) if incident.detail else None
    except ValueError:
        return None


def _status(incident: Incident) -> ServerStatus | None:
    """Return the status a not-answering incident cleared in when not by an answer, if any."""
    try:
        return ServerStatus(incident.detail) if incident.detail else None
    except ValueError:
        return None


def recovered_text(incident: Incident) -> str:
    """Return that it cleared, with how long it lasted ("… running again after 12 min down")."""
    name = subject_name(incident)
    lasted = duration_text(incident.lasted(incident.resolved_at or incident.updated_at))
    rule = incident.rule
    if rule in (Rule.CRASH, Rule.CRASH_LOOP):
        return f"{name} is running again after {lasted} down"
    if rule is Rule.NODE_DOWN:
        return f"{name} is back after {lasted} ({_servers(incident.count)})"
    if rule is Rule.PANEL_DOWN:
        return f"Panel reachable again after {lasted} ({_servers(incident.count)})"
    if rule in (Rule.CPU, Rule.MEMORY, Rule.DISK):
        return f"{name}: {rule.value} back under its threshold after {lasted}"
    if rule is Rule.STUCK:
        return f"{name} is no longer stuck (after {lasted})"
    if rule is Rule.UNREACHABLE:
        return f"{name} can be read again after {lasted}"
    if rule is Rule.FLAPPING:
        return f"{name} is steady again after {lasted}"
    if rule is Rule.NOT_ANSWERING:
        status = _status(incident)
        if status is not None:
            # It cleared because it stopped running (crashed, stopped, restarted), not by answering.
            return f"{name} is {status} now, after {lasted} not answering"
        return f"{name} is answering again after {lasted}"
    return f"{name} {_detail_or(incident, 'stopped')}"


def colour_of(incident: Incident) -> int:
    """Return the embed colour: by severity while it fires, green once it cleared."""
    return COLOURS[incident.severity] if incident.is_open else GREEN


def incident_embed(incident: Incident) -> discord.Embed:
    """Build the message of one incident, as it is now (firing, or recovered in green)."""
    title = firing_text(incident) if incident.is_open else recovered_text(incident)
    lines: list[str] = []
    if incident.is_open:
        lines.append(f"Since {_when(incident.started_at)}")
    else:
        assert incident.resolved_at is not None
        lines.append(f"Was: {firing_text(incident)}")
        lines.append(f"From {_when(incident.started_at)} to {_when(incident.resolved_at)}")
    if incident.rule in (Rule.NODE_DOWN, Rule.PANEL_DOWN):
        lines.append(_server_list(incident))
    elif incident.servers:
        server = incident.servers[0]
        lines.append(f"Server `{server.identifier}` on node {server.node}")
    embed = discord.Embed(
        title=truncate(title, TITLE_LIMIT),
        description=truncate("\n".join(lines), DESCRIPTION_LIMIT),
        colour=colour_of(incident),
    )
    embed.set_footer(text=f"{_FOOTER} · {incident.rule.value}")
    return embed


def _server_list(incident: Incident) -> str:
    names = sorted(server.name for server in incident.servers)
    shown = ", ".join(names)
    return "Servers: " + truncate(shown, 1_000)


def incident_line(incident: Incident) -> str:
    """Return one grouped message's line for an incident, in its own state."""
    if incident.is_open:
        text = f"{_DOTS[incident.severity]} {firing_text(incident)} · {_when(incident.started_at)}"
    else:
        text = f"{_RECOVERED_DOT} {recovered_text(incident)}"
    return truncate(text, LINE_LIMIT)


def group_embeds(incidents: Sequence[Incident]) -> list[discord.Embed]:
    """Build one grouped message: every incident on its own line, over as many embeds as needed.

    At most `GROUP_LIMIT` incidents (the caller splits more over several messages); the result
    respects 10 embeds and 6,000 characters per message and 4,096 per description.
    """
    firing = [i for i in incidents if i.is_open]
    colour = GREEN
    if firing:
        worst = min(firing, key=lambda i: list(Severity).index(i.severity))
        colour = COLOURS[worst.severity]
    title = f"{len(incidents)} alerts at once"
    if firing and len(firing) != len(incidents):
        title += f" — {len(firing)} still firing"
    elif not firing:
        title += " — all recovered"
    chunks: list[list[str]] = [[]]
    used = 0
    for incident in incidents[:GROUP_LIMIT]:
        line = incident_line(incident)
        size = discord_len(line) + 1
        if chunks[-1] and used + size > _GROUP_DESCRIPTION_BUDGET:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += size
    embeds: list[discord.Embed] = []
    for index, chunk in enumerate(chunks[:EMBEDS_PER_MESSAGE]):
        embed = discord.Embed(
            title=truncate(title, TITLE_LIMIT) if index == 0 else None,
            description="\n".join(chunk),
            colour=colour,
        )
        if index == len(chunks) - 1:
            embed.set_footer(text=_FOOTER)
        embeds.append(embed)
    assert sum(_length(e) for e in embeds) <= EMBED_TOTAL_LIMIT
    return embeds


def _length(embed: discord.Embed) -> int:
    return (
        discord_len(embed.title or "")
        + discord_len(embed.description or "")
        + discord_len(embed.footer.text or "")
    )


def message_embeds(incidents: Sequence[Incident]) -> list[discord.Embed]:
    """Build a message's embeds: one incident's own embed, or the grouped form for several."""
    if len(incidents) == 1:
        return [incident_embed(incidents[0])]
    return group_embeds(incidents)


def repeat_text(incidents: Sequence[Incident], now: float) -> str:
    """Return the short reply that re-announces long incidents ("… still down after 4 h")."""
    first = incidents[0]
    lasted = duration_text(first.lasted(now))
    if len(incidents) > 1:
        names = ", ".join(subject_name(incident) for incident in incidents)
        return f"{len(incidents)} alerts still firing after {lasted}: {names}."
    name = subject_name(first)
    if first.rule in (Rule.CRASH, Rule.CRASH_LOOP):
        return f"{name} is still down after {lasted}."
    return f"Still firing after {lasted}: {firing_text(first)}."
