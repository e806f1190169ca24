"""Alerts' values: rules, settings, incidents, mutes, power events and the state that survives.

Pure: no Discord, no I/O. The engine (`_engine.py`) turns the monitor's snapshots and a clock
into `IncidentUpdate`s; the bot posts and edits one message per incident; `AlertState` is what a
restart must not forget (open incidents with their messages, mutes, the last status seen).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from pterodisbot.panel.models import PowerSignal


class Rule(enum.StrEnum):
    """Why an incident exists; each is a name in `[alerts] rules`."""

    # running/starting -> offline (or an uptime reset) with no power action explaining it.
    CRASH = "crash"
    # `crash_loop_count` crashes within `crash_loop_window`: one incident that keeps counting.
    CRASH_LOOP = "crash_loop"
    # `flap_changes` status changes within `flap_window`: one incident with the count.
    FLAPPING = "flapping"
    # CPU / memory over their percent of the server's limit for `overload_for`.
    CPU = "cpu"
    MEMORY = "memory"
    # Disk over its percent of the server's limit (no duration: disk does not spike).
    DISK = "disk"
    # Starting or stopping for longer than `stuck_after`.
    STUCK = "stuck"
    # The panel could not read one server for `unreachable_polls` polls (not its node, not
    # the panel as a whole: those are the two below).
    UNREACHABLE = "unreachable"
    # Servers of one node unreadable because the panel cannot reach its Wings: one incident
    # naming the node and how many servers.
    NODE_DOWN = "node_down"
    # The panel itself does not answer: one incident, not one per server.
    PANEL_DOWN = "panel_down"
    # A low-key "stopped by …" line for an explained stop; off unless listed in `rules`.
    STOPPED = "stopped"
    # The panel says running, and the game has not answered its query for `[query]
    # not_answering_after` (panel issue #1641: hung). Off unless listed in `rules` or turned on
    # for a server (`[alerts.<server>] not_answering = true`).
    NOT_ANSWERING = "not_answering"


class Severity(enum.StrEnum):
    """How loud an incident is: which roles it mentions, its colour."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITY: Final[Mapping[Rule, Severity]] = MappingProxyType(
    {
        Rule.CRASH: Severity.CRITICAL,
        Rule.CRASH_LOOP: Severity.CRITICAL,
        Rule.NODE_DOWN: Severity.CRITICAL,
        Rule.PANEL_DOWN: Severity.CRITICAL,
        Rule.FLAPPING: Severity.WARNING,
        Rule.CPU: Severity.WARNING,
        Rule.MEMORY: Severity.WARNING,
        Rule.DISK: Severity.WARNING,
        Rule.STUCK: Severity.WARNING,
        Rule.UNREACHABLE: Severity.WARNING,
        Rule.NOT_ANSWERING: Severity.WARNING,
        Rule.STOPPED: Severity.INFO,
    }
)

# Off by default: the "stopped by …" line, and not answering (a game whose query port is closed
# or not detected right would alert until its `[query.<server>]` is set).
_OFF_BY_DEFAULT: Final = frozenset({Rule.STOPPED, Rule.NOT_ANSWERING})
DEFAULT_RULES: Final = frozenset(rule for rule in Rule if rule not in _OFF_BY_DEFAULT)

# The subject of a panel-wide incident and of a mute of every server.
PANEL_SUBJECT: Final = "panel"
ALL_SERVERS: Final = "*"


@dataclass(frozen=True, slots=True)
class MentionRoles:
    """Roles an alert mentions: ids, and names (casefolded) resolved in the channel's guild.

    Never @everyone or @here: the parser refuses them and `allowed_mentions` names these roles
    only, so a role name that happens to be "everyone" mentions nobody.
    """

    ids: frozenset[int] = frozenset()
    names: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        """Tell whether no role is named."""
        return not (self.ids or self.names)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a server counts as overloaded: percent of its own limit (0 = never)."""

    cpu_percent: float
    memory_percent: float
    disk_percent: float


@dataclass(frozen=True, slots=True)
class ServerAlertSettings:
    """`[alerts.<server identifier>]`: one server's overrides; None falls back to `[alerts]`."""

    enabled: bool | None = None
    cpu_percent: float | None = None
    memory_percent: float | None = None
    disk_percent: float | None = None
    # Replaces the severity's roles for this server's alerts.
    mention: MentionRoles | None = None
    # Turns the not_answering rule on (or off) for this server, whatever `rules` says.
    not_answering: bool | None = None


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """`[alerts]`: where alerts go, which rules run, their thresholds and the noise controls.

    Times are seconds. The defaults and why they were chosen are in config.ini's doc texts.
    """

    channel_id: int | None = None
    rules: frozenset[Rule] = DEFAULT_RULES
    mention_critical: MentionRoles = MentionRoles()
    mention_warning: MentionRoles = MentionRoles()
    crash_loop_count: int = 3
    crash_loop_window: float = 600.0
    # A power action (the bot's audit trail or the panel's activity log) this long before an
    # offline state explains it: a stop, not a crash.
    power_window: float = 120.0
    cpu_percent: float = 95.0
    memory_percent: float = 95.0
    disk_percent: float = 95.0
    overload_for: float = 300.0
    stuck_after: float = 600.0
    unreachable_polls: int = 3
    clear_after: float = 60.0
    flap_changes: int = 6
    flap_window: float = 600.0
    repeat_interval: float = 14_400.0
    group_window: float = 5.0
    max_messages_per_minute: int = 3
    servers: Mapping[str, ServerAlertSettings] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Tell whether alerts are posted anywhere (`channel_id` set)."""
        return self.channel_id is not None

    def server_enabled(self, identifier: str) -> bool:
        """Tell whether this server's incidents are tracked (its override may turn them off)."""
        override = self.servers.get(identifier)
        return override is None or override.enabled is None or override.enabled

    def rule_on(self, rule: Rule, identifier: str) -> bool:
        """Tell whether a rule runs for this server (not_answering: its override first)."""
        if rule is Rule.NOT_ANSWERING:
            override = self.servers.get(identifier)
            if override is not None and override.not_answering is not None:
                return override.not_answering
        return rule in self.rules

    def thresholds(self, identifier: str) -> Thresholds:
        """Return the overload thresholds for one server, its override first."""
        override = self.servers.get(identifier) or ServerAlertSettings()
        return Thresholds(
            cpu_percent=_first(override.cpu_percent, self.cpu_percent),
            memory_percent=_first(override.memory_percent, self.memory_percent),
            disk_percent=_first(override.disk_percent, self.disk_percent),
        )

    def mention_for(self, severity: Severity, identifier: str | None) -> MentionRoles:
        """Return the roles an alert of this severity about this server mentions (info: none)."""
        if severity is Severity.INFO:
            return MentionRoles()
        override = self.servers.get(identifier) if identifier is not None else None
        if override is not None and override.mention is not None:
            return override.mention
        if severity is Severity.CRITICAL:
            return self.mention_critical
        return self.mention_warning


def _first(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class AlertServer:
    """A server as an incident names it (kept in the state: the server may be gone later)."""

    identifier: str
    name: str
    node: str


class Change(enum.StrEnum):
    """What happened to an incident: the delivery posts, edits, or re-announces its message."""

    OPENED = "opened"
    UPDATED = "updated"
    RESOLVED = "resolved"
    # Still open after `repeat_interval` since it was last announced.
    REPEATED = "repeated"


@dataclass(frozen=True, slots=True)
class Incident:
    """One alert from firing to recovery; one Discord message, edited as it evolves.

    `id` is stable across restarts (the key of its message in `AlertState.messages`). Times are
    wall-clock seconds (`Clock.time()`): they are persisted and shown.
    """

    id: str
    rule: Rule
    # A server identifier, a node name (NODE_DOWN) or PANEL_SUBJECT (PANEL_DOWN).
    subject: str
    # The servers it concerns: one for a server's rule, every affected one for a node or panel.
    servers: tuple[AlertServer, ...]
    # When the condition began (the crash, the first failed poll, the first sample over).
    started_at: float
    # When it fired (after the rule's `for`), and when it last changed.
    fired_at: float
    updated_at: float
    # Crashes of a loop, changes of a flap, servers of a node or the panel; 1 otherwise.
    count: int = 1
    # The worst value seen, in percent of the limit (CPU, memory, disk).
    peak: float | None = None
    # A few words for the message: the panel's reason, the threshold, "stopped by …".
    detail: str | None = None
    resolved_at: float | None = None
    # Recorded, not posted: a mute covered it when it fired.
    muted: bool = False
    # When it was last posted or re-announced (for `repeat_interval`); None: never posted.
    announced_at: float | None = None

    @property
    def severity(self) -> Severity:
        """Return how loud this incident is."""
        return SEVERITY[self.rule]

    @property
    def is_open(self) -> bool:
        """Tell whether the incident has not cleared yet."""
        return self.resolved_at is None

    def lasted(self, now: float) -> float:
        """Return seconds from its start to its recovery (or to `now` while open)."""
        end = self.resolved_at if self.resolved_at is not None else now
        return max(0.0, end - self.started_at)


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """One change of one incident, in the order the engine saw them."""

    change: Change
    incident: Incident


@dataclass(frozen=True, slots=True)
class Mute:
    """A maintenance window: a server's (or every server's) incidents recorded, not posted."""

    # A server identifier, or ALL_SERVERS.
    subject: str
    since: float
    until: float
    reason: str
    # Who muted it, as shown in /alerts list and the audit trail.
    by: str
    by_id: int | None = None

    def covers(self, identifier: str, now: float) -> bool:
        """Tell whether this mute silences `identifier` at `now`."""
        return self.since <= now < self.until and self.subject in (identifier, ALL_SERVERS)


class PowerSource(enum.StrEnum):
    """Where a power action was seen: the bot's own audit trail or the panel's activity log."""

    BOT = "bot"
    PANEL = "panel"


@dataclass(frozen=True, slots=True)
class PowerEvent:
    """A power signal sent to a server: it explains an offline state that follows it."""

    server: str
    signal: PowerSignal
    # Wall-clock seconds when it was sent (the activity log's timestamp).
    t: float
    # Who sent it, as words ("owner#0001", "panel user admin"); None when not known.
    actor: str | None
    source: PowerSource


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where an incident's message is, so a recovery (even after a restart) edits it."""

    channel_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class AlertState:
    """What survives a restart: open incidents, their messages, mutes, the last status seen.

    `last_status` (server identifier -> `ServerStatus` value) lets the first snapshot after a
    restart be compared with what was seen before it (a server that was running and is now
    offline crashed while the bot was away, unless a power event explains it).
    """

    incidents: tuple[Incident, ...] = ()
    mutes: tuple[Mute, ...] = ()
    messages: Mapping[str, MessageRef] = field(default_factory=dict)
    last_status: Mapping[str, str] = field(default_factory=dict)
    saved_at: float = 0.0


@dataclass(frozen=True, slots=True)
class AlertStats:
    """Counters and gauges for /metrics."""

    # Open incidents by rule (every rule present, zeros included).
    firing: Mapping[Rule, int]
    # Messages posted and edited in the alerts channel.
    posted: int
    edited: int
    # Incidents not posted, by why: "muted", "grouped" (joined into another message),
    # "debounced" (cleared before their `for`, or a repeat within `repeat_interval`).
    suppressed: Mapping[str, int]


class AlertsOff(Exception):
    """Alerts are not configured (`[alerts] channel_id` is empty)."""


class AlertControl(Protocol):
    """What the /alerts commands and /metrics use; `BotServices.alerts` is always one."""

    @property
    def enabled(self) -> bool:
        """Tell whether alerts are configured."""
        ...

    def open_incidents(self) -> tuple[Incident, ...]:
        """Return the incidents not cleared yet, oldest first."""
        ...

    def mutes(self) -> tuple[Mute, ...]:
        """Return the mutes in force now, soonest to end first."""
        ...

    async def mute(self, mute: Mute) -> None:
        """Add (or replace, for the same subject) a mute and persist it."""
        ...

    async def unmute(self, subject: str) -> Mute | None:
        """Remove the mute of `subject` (a server or ALL_SERVERS); return it, None if none."""
        ...

    def note_power(self, event: PowerEvent) -> None:
        """Remember a power signal the bot sends (the Power cog): its offline is no crash."""
        ...

    def stats(self) -> AlertStats:
        """Return the counters for /metrics."""
        ...

    async def start(self) -> None:
        """Restore the saved state and start watching (before the monitor's first snapshot)."""
        ...

    async def close(self) -> None:
        """Stop, and save the state one last time (before the history store closes)."""
        ...


class NoAlerts:
    """`BotServices.alerts` when `[alerts] channel_id` is empty: nothing open, nothing muted."""

    @property
    def enabled(self) -> bool:
        """Tell whether alerts are configured: never."""
        return False

    def open_incidents(self) -> tuple[Incident, ...]:
        """Return no incidents."""
        return ()

    def mutes(self) -> tuple[Mute, ...]:
        """Return no mutes."""
        return ()

    async def mute(self, mute: Mute) -> None:
        """Refuse: there is nothing to mute."""
        raise AlertsOff("alerts are off: set [alerts] channel_id")

    async def unmute(self, subject: str) -> Mute | None:
        """Refuse: there is nothing to unmute."""
        raise AlertsOff("alerts are off: set [alerts] channel_id")

    def note_power(self, event: PowerEvent) -> None:
        """Ignore it: nothing is watched for crashes."""

    def stats(self) -> AlertStats:
        """Return zeros."""
        return AlertStats(firing=dict.fromkeys(Rule, 0), posted=0, edited=0, suppressed={})

    async def start(self) -> None:
        """Do nothing: nothing is watched."""

    async def close(self) -> None:
        """Do nothing: nothing is kept."""
