"""`/alerts mute`, `/alerts unmute`, `/alerts list`: maintenance windows for the alerts channel.

Who may use them is `[permissions] alerts` (empty: the admin roles only): a mute can silence
every server at once, so it is not a per-server action. Answers are private; mutes and unmutes
go to the audit trail (log, file, audit channel) like power actions. A muted server's incidents
are still recorded (and listed here), just not posted.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from pterodisbot.alerts import ALL_SERVERS, PANEL_SUBJECT, AlertsOff, Incident, Mute, Rule
from pterodisbot.bot.audit import AuditEntry, Outcome
from pterodisbot.bot.cogs.status import answer_privately, find_server, server_choices
from pterodisbot.permissions import Action

if TYPE_CHECKING:
    from pterodisbot.bot.bot import PterodactylBot
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)

ALERTS_OFF: Final = "Alerts are off: set [alerts] channel_id in config.ini and restart the bot."
NOT_HERE: Final = "This command works only in the bot's servers."
NOT_ALLOWED: Final = "You don't have a role that may use /alerts (`[permissions] alerts`)."
ALL_LABEL: Final = "All servers"
# What a member may type for every server, besides picking "All servers".
_ALL_WORDS: Final = frozenset({ALL_SERVERS, "all", "all servers", "everything"})
# The presets offered as you type; any other duration can be typed ("90m", "1h30m", "3d").
PRESETS: Final = ("15m", "30m", "1h", "2h", "4h", "8h", "24h", "7d")
MIN_MUTE: Final = 60.0
MAX_MUTE: Final = 30 * 86_400.0
# Discord shows at most 25 autocomplete choices; a choice's name and value at most 100 chars.
_MAX_CHOICES: Final = 25
# Embed limits: a description holds 4096 characters, one message's embeds 6000 in all.
_DESCRIPTION_ROOM: Final = 2800
_REASON_MAX: Final = 300

_UNITS: Final = {
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86_400,
    "day": 86_400,
    "days": 86_400,
    "w": 604_800,
    "week": 604_800,
    "weeks": 604_800,
}
_PART: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")

_RULE_WORDS: Final = {
    Rule.CRASH: "Crashed",
    Rule.CRASH_LOOP: "Crash loop",
    Rule.FLAPPING: "Flapping",
    Rule.CPU: "CPU overload",
    Rule.MEMORY: "Memory overload",
    Rule.DISK: "Disk nearly full",
    Rule.STUCK: "Stuck",
    Rule.UNREACHABLE: "Unreachable",
    Rule.NODE_DOWN: "Node down",
    Rule.PANEL_DOWN: "Panel unreachable",
    Rule.STOPPED: "Stopped",
    Rule.NOT_ANSWERING: "Not answering",
}


class DurationProblem(enum.StrEnum):
    """Why a mute's duration was refused."""

    UNREADABLE = "unreadable"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"


class BadDuration(ValueError):
    """A mute duration that cannot be used; `text` says so to the member."""

    def __init__(self, reason: DurationProblem, given: str) -> None:
        self.reason = reason
        self.given = given
        super().__init__(duration_problem_text(reason, given))


def duration_problem_text(reason: DurationProblem, given: str) -> str:
    """Return the private answer for a duration that cannot be used."""
    shown = discord.utils.escape_markdown(given.strip()[:40]) or "(nothing)"
    if reason is DurationProblem.TOO_SHORT:
        return f"“{shown}” is too short: a mute lasts at least 1 minute."
    if reason is DurationProblem.TOO_LONG:
        return f"“{shown}” is too long: a mute lasts at most 30 days (mute again later)."
    return (
        f"I can't read “{shown}” as a duration. Pick one from the list or type one like "
        "90m, 2h, 1h30m or 3d."
    )


def parse_mute_duration(text: str) -> float:
    """Return the seconds of a duration like "90m", "2h", "1h30m", "7d"; raise `BadDuration`."""
    raw = text.strip().lower()
    total = 0.0
    at = 0
    while at < len(raw):
        match = _PART.match(raw, at)
        if match is None or match.group(2) not in _UNITS:
            raise BadDuration(DurationProblem.UNREADABLE, text)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        at = match.end()
    if at == 0:
        raise BadDuration(DurationProblem.UNREADABLE, text)
    if total < MIN_MUTE:
        raise BadDuration(DurationProblem.TOO_SHORT, text)
    if total > MAX_MUTE:
        raise BadDuration(DurationProblem.TOO_LONG, text)
    return total


def mute_span(seconds: float) -> str:
    """Return a mute's length as people say it ("15 min", "2 h", "1 h 30 min", "7 days")."""
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days and not rest:
        return f"{days} day" if days == 1 else f"{days} days"
    hours += days * 24
    if hours and mins:
        return f"{hours} h {mins} min"
    if hours:
        return f"{hours} h"
    return f"{mins} min"


def duration_choices(current: str) -> list[app_commands.Choice[str]]:
    """Return the presets matching what was typed, led by the typed duration if it reads."""
    typed = current.strip()
    choices: list[app_commands.Choice[str]] = []
    if typed and typed.lower() not in PRESETS:
        try:
            seconds = parse_mute_duration(typed)
        except BadDuration:
            pass
        else:
            choices.append(app_commands.Choice(name=mute_span(seconds), value=typed[:100]))
    for preset in PRESETS:
        if not typed or preset.startswith(typed.lower()):
            choices.append(
                app_commands.Choice(name=mute_span(parse_mute_duration(preset)), value=preset)
            )
    return choices[:_MAX_CHOICES]


@dataclass(frozen=True, slots=True)
class Subject:
    """What a mute covers: a server (its identifier and name) or every server."""

    key: str
    name: str

    @property
    def is_all(self) -> bool:
        """Tell whether this is every server."""
        return self.key == ALL_SERVERS


EVERY_SERVER: Final = Subject(ALL_SERVERS, "all servers")


def subject_name(services: BotServices, key: str) -> str:
    """Return how a mute's subject is named: the server's name, or "all servers"."""
    if key == ALL_SERVERS:
        return EVERY_SERVER.name
    server = services.monitor.servers.get(key)
    return server.name if server is not None else key


def _when(t: float) -> str:
    return f"<t:{int(t)}:f>"


def _ago(t: float) -> str:
    return f"<t:{int(t)}:R>"


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def incident_line(incident: Incident, services: BotServices, now: float) -> str:
    """Return one line of /alerts list for an open incident: what, which servers, since when."""
    what = _RULE_WORDS.get(incident.rule, incident.rule.value)
    if incident.rule is Rule.NODE_DOWN:
        subject = f"node {incident.subject} ({incident.count} servers)"
    elif incident.rule is Rule.PANEL_DOWN or incident.subject == PANEL_SUBJECT:
        subject = f"the panel ({incident.count} servers)"
    else:
        names = [s.name for s in incident.servers] or [subject_name(services, incident.subject)]
        subject = ", ".join(names)
    extra = ""
    if incident.rule in (Rule.CRASH_LOOP, Rule.FLAPPING) and incident.count > 1:
        extra = f" ×{incident.count}"
    muted = " · muted" if incident.muted else ""
    age = mute_span(max(60.0, incident.lasted(now)))
    return (
        f"**{discord.utils.escape_markdown(subject)}** — {what}{extra} · open {age} "
        f"(since {_ago(incident.started_at)}){muted}"
    )


def mute_line(mute: Mute, services: BotServices) -> str:
    """Return one line of /alerts list for a mute: what, until when, who and why."""
    name = discord.utils.escape_markdown(subject_name(services, mute.subject))
    who = f"<@{mute.by_id}>" if mute.by_id is not None else discord.utils.escape_markdown(mute.by)
    reason = discord.utils.escape_markdown(mute.reason) if mute.reason else "no reason given"
    return f"**{name}** until {_when(mute.until)} ({_ago(mute.until)}) · by {who} · {reason}"


def _fit(lines: Sequence[str], empty: str) -> str:
    """Join lines into one description within its room; say how many did not fit."""
    if not lines:
        return empty
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        # Room is kept for the "… and N more" line that ends a list too long to show whole.
        if used + len(line) + 1 > _DESCRIPTION_ROOM - 40:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def build_list_embeds(
    incidents: Sequence[Incident], mutes: Sequence[Mute], services: BotServices, now: float
) -> list[discord.Embed]:
    """Return /alerts list's two embeds: the open incidents and the mutes (within the limits)."""
    opened = discord.Embed(
        title=f"Open alerts ({len(incidents)})",
        description=_fit(
            [incident_line(i, services, now) for i in incidents], "Nothing is alerting."
        ),
        colour=0xED4245 if incidents else 0x57F287,
    )
    muted = discord.Embed(
        title=f"Mutes ({len(mutes)})",
        description=_fit([mute_line(m, services) for m in mutes], "Nothing is muted."),
        colour=0x99AAB5,
    )
    return [opened, muted]


@app_commands.guild_only()
class Alerts(commands.GroupCog, group_name="alerts", group_description="Alerts maintenance"):
    """Mute and unmute alerts, list what is open and muted."""

    def __init__(self, bot: PterodactylBot, services: BotServices) -> None:
        self.bot = bot
        self.services = services
        super().__init__()

    @app_commands.command(name="mute", description="Stop posting a server's alerts for a while")
    @app_commands.describe(
        server="The game server, or All servers",
        duration="How long: pick one or type one like 90m",
        reason="Why (shown in /alerts list and the audit channel)",
    )
    async def mute(
        self,
        interaction: discord.Interaction,
        server: str,
        duration: str,
        reason: str | None = None,
    ) -> None:
        """Mute `server`'s alerts (or every server's) for `duration`."""
        member = await self._allowed(interaction, "alerts mute")
        if member is None:
            return
        subject = await self._subject(interaction, member, server)
        if subject is None:
            return
        try:
            seconds = parse_mute_duration(duration)
        except BadDuration as exc:
            await answer_privately(interaction, str(exc))
            return
        why = (reason or "").strip()[:_REASON_MAX]
        now = self.services.clock.time()
        mute = Mute(
            subject=subject.key,
            since=now,
            until=now + seconds,
            reason=why,
            by=member.display_name,
            by_id=member.id,
        )
        # Saving the mute may wait on the disk or the history store: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self.services.alerts.mute(mute)
        except AlertsOff:
            await answer_privately(interaction, ALERTS_OFF)
            return
        span = mute_span(seconds)
        shown = discord.utils.escape_markdown(subject.name)
        await answer_privately(
            interaction,
            f"Muted alerts for **{shown}** for {span}, until {_when(mute.until)}. Incidents are "
            "still recorded; /alerts unmute ends it early.",
        )
        await self._audit(
            interaction,
            subject,
            action="alerts mute",
            outcome="ok",
            headline=f"Muted alerts for {subject.name} for {span}",
            detail=f"{why or 'no reason given'} · until {_utc(mute.until)}",
        )

    @mute.autocomplete("server")
    async def _mute_server(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        choices = server_choices(self.services, interaction, current)
        needle = current.strip().lower()
        if not needle or "all servers".startswith(needle) or needle in _ALL_WORDS:
            choices = [app_commands.Choice(name=ALL_LABEL, value=ALL_SERVERS), *choices]
        return choices[:_MAX_CHOICES]

    @mute.autocomplete("duration")
    async def _mute_duration(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return duration_choices(current)

    @app_commands.command(name="unmute", description="Post a muted server's alerts again")
    @app_commands.describe(server="The muted server, or All servers")
    async def unmute(self, interaction: discord.Interaction, server: str) -> None:
        """End the mute of `server` (or of every server) now."""
        member = await self._allowed(interaction, "alerts unmute")
        if member is None:
            return
        key = self._mute_key(server)
        shown_name = subject_name(self.services, key) if key is not None else server.strip()
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            ended = await self.services.alerts.unmute(key) if key is not None else None
        except AlertsOff:
            await answer_privately(interaction, ALERTS_OFF)
            return
        shown = discord.utils.escape_markdown(shown_name[:100])
        if ended is None:
            await answer_privately(
                interaction,
                f"**{shown}** is not muted. /alerts list shows the mutes in force.",
            )
            return
        subject = Subject(ended.subject, shown_name)
        await answer_privately(
            interaction, f"Unmuted alerts for **{shown}**: its alerts are posted again."
        )
        left = max(0.0, ended.until - self.services.clock.time())
        await self._audit(
            interaction,
            subject,
            action="alerts unmute",
            outcome="ok",
            headline=f"Unmuted alerts for {subject.name}",
            detail=(
                f"muted by {ended.by} ({ended.reason or 'no reason given'}), "
                f"{mute_span(max(60.0, left))} before it would have ended"
            ),
        )

    @unmute.autocomplete("server")
    async def _unmute_server(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().lower()
        choices = []
        for mute in self.services.alerts.mutes():
            name = subject_name(self.services, mute.subject)
            if needle and needle not in name.lower() and not mute.subject.startswith(needle):
                continue
            label = ALL_LABEL if mute.subject == ALL_SERVERS else f"{name} ({mute.subject})"
            label = f"{label} · until {_utc(mute.until)}"
            choices.append(app_commands.Choice(name=label[:100], value=mute.subject))
        return choices[:_MAX_CHOICES]

    @app_commands.command(name="list", description="Show the open alerts and the mutes")
    async def list_alerts(self, interaction: discord.Interaction) -> None:
        """Answer privately with the open incidents and the mutes in force."""
        member = await self._allowed(interaction, None)
        if member is None:
            return
        alerts = self.services.alerts
        now = self.services.clock.time()
        embeds = build_list_embeds(alerts.open_incidents(), alerts.mutes(), self.services, now)
        await interaction.response.send_message(embeds=embeds, ephemeral=True)

    async def _allowed(
        self, interaction: discord.Interaction, action: str | None
    ) -> discord.Member | None:
        """Return the member if they may use /alerts here; else answer why not (audited)."""
        services = self.services
        member = interaction.user
        if (
            interaction.guild is None
            or not isinstance(member, discord.Member)
            or not services.serves_guild(interaction.guild_id)
        ):
            await answer_privately(interaction, NOT_HERE)
            return None
        if not services.member_allows(member, Action.ALERTS):
            await answer_privately(interaction, NOT_ALLOWED)
            if action is not None:
                await self._audit(
                    interaction,
                    None,
                    action=action,
                    outcome="refused",
                    allowed=False,
                    detail="no role of [permissions] alerts",
                )
            return None
        if not services.alerts.enabled:
            await answer_privately(interaction, ALERTS_OFF)
            return None
        return member

    async def _subject(
        self, interaction: discord.Interaction, member: discord.Member, query: str
    ) -> Subject | None:
        """Return what `query` names (a server this member may see, or all); else say why not."""
        if query.strip().lower() in _ALL_WORDS:
            return EVERY_SERVER
        found = find_server(self.services.monitor.servers, query)
        if found is None or not self.services.member_allows(
            member, Action.STATUS, found.identifier
        ):
            await answer_privately(
                interaction,
                f"No server called “{discord.utils.escape_markdown(query[:100])}” is visible "
                "to the bot. Pick one from the list as you type (or All servers).",
            )
            return None
        return Subject(found.identifier, found.name)

    def _mute_key(self, query: str) -> str | None:
        """Return the subject of the mute `query` names (an id, a name, all), None if none."""
        text = query.strip().lower()
        if text in _ALL_WORDS:
            return ALL_SERVERS
        muted = {mute.subject for mute in self.services.alerts.mutes()}
        if text in muted:
            return text
        found = find_server(self.services.monitor.servers, query)
        if found is not None:
            return found.identifier
        return None

    async def _audit(
        self,
        interaction: discord.Interaction,
        subject: Subject | None,
        *,
        action: str,
        outcome: Outcome,
        detail: str,
        headline: str | None = None,
        allowed: bool = True,
    ) -> None:
        # Maintenance windows belong in the same trail as power actions: who silenced what.
        audit = self.services.audit
        if audit is None:
            return
        await audit.record(
            AuditEntry(
                t=self.services.clock.time(),
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                user_name=str(interaction.user),
                server_id=None if subject is None or subject.is_all else subject.key,
                server_name=subject.name if subject is not None else None,
                action=action,
                allowed=allowed,
                outcome=outcome,
                detail=detail,
                headline=headline,
            )
        )


async def setup(bot: PterodactylBot) -> None:
    """Load the Alerts cog."""
    await bot.add_cog(Alerts(bot, bot.services))
