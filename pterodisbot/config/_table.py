"""The settings table: every key of config.ini once, with its default, parser, doc and reload rule.

Everything else is derived from `TABLE`: `DEFAULTS`, the loader's validation and the settings
dataclasses it builds, the keys a reload applies live (`LIVE_KEYS`), and the documented example
config.ini (`example_ini()`, written by `python -m pterodisbot.config`).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from pterodisbot.alerts import DEFAULT_RULES, Rule
from pterodisbot.config import _parsers as p
from pterodisbot.config._settings import (
    API_KEY_ENV,
    ENV_PREFIX,
    PANEL_DEFAULT_RATE_LIMIT,
    TOKEN_ENV,
    URL_ENV,
)
from pterodisbot.permissions import OPEN_WHEN_EMPTY, Action


@dataclass(frozen=True, slots=True)
class Key:
    """One key of config.ini: its default as the file writes it, how to read it, what it means."""

    name: str
    default: str
    parse: Callable[[str], Any]
    # What the documented example says above the key; a line too long is wrapped there.
    doc: str
    # True: a reload (SIGHUP, /reload_config) applies it to the running bot; False: needs a restart.
    live: bool = False
    # Shown in the documented example instead of the default (a required key has none).
    example: str | None = None
    # Set for a required key: what the problem line asks for when the key is absent or blank.
    missing: str | None = None
    # A valid value that is still worth a warning (check-config and the start log show it).
    warn: Callable[[Any], str | None] | None = None

    @property
    def shown(self) -> str:
        """Return the value the documented example writes for this key."""
        return self.default if self.example is None else self.example


@dataclass(frozen=True, slots=True)
class Section:
    """One `[section]` of config.ini: its keys in file order, and text above and below them."""

    name: str
    keys: tuple[Key, ...]
    intro: str = ""
    outro: str = ""


def _application_key(value: str) -> str | None:
    if value != "application":
        return None
    return (
        "pterodactyl.key_type = application: the bot uses the client API "
        "(/api/client), where the panel answers 403 to application keys (ptla_…); "
        "create a client key under Account → API Credentials and set key_type = client"
    )


def _above_panel_limit(rpm: int) -> str | None:
    if rpm <= PANEL_DEFAULT_RATE_LIMIT:
        return None
    return (
        f"pterodactyl.requests_per_minute = {rpm} is above the panel's default limit of "
        f"{PANEL_DEFAULT_RATE_LIMIT}/min: only right if your host raised "
        "APP_API_CLIENT_RATELIMIT, else expect HTTP 429s"
    )


def _no_sync(mode: str) -> str | None:
    if mode != "off":
        return None
    # The one setting that can leave Discord with no commands to show: a choice, not an error.
    return (
        "discord.sync_commands = off: the bot registers no slash commands, so Discord shows "
        "none unless an earlier run registered them; set sync_commands = guild (every guild "
        "the bot is in, at once) or global"
    )


def _rule_key(action: Action, default: str) -> Key:
    # Documented once for all of them in the section's intro.
    return Key(action.value, default, p.role_rule(action), "", live=True)


HEADER: Final = f"""\
Pterodisbot configuration — the documented example. Copy it, edit it, then check it with
    .venv/bin/python -m pterodisbot check-config --config config.ini

Secrets never go here. Put them in .env beside this file (see .env.example) or in the environment:
    {TOKEN_ENV}=...          the bot token from the Discord Developer Portal
    {API_KEY_ENV}=...    a client API key (ptlc_...) from the panel's Account -> API Credentials

Priority, lowest to highest: built-in defaults < this file < .env < process environment.
Any key below can be overridden with {ENV_PREFIX}<SECTION>_<KEY>, for example
    {ENV_PREFIX}MONITORING_POLL_INTERVAL=15
Every key is optional unless marked "required"; the value shown is the default.
Durations are seconds ("90"); "5m" and "1h" are accepted too. Lists are comma-separated.
A comment may follow a value after " #" or " ;"."""

_OPEN = " and ".join(a.value for a in Action if a in OPEN_WHEN_EMPTY)

_RULE_NAMES: Final = ", ".join(rule.value for rule in Rule)
_DEFAULT_RULES: Final = ", ".join(rule.value for rule in Rule if rule in DEFAULT_RULES)

ALERTS: Final = Section(
    "alerts",
    (
        Key(
            "channel_id",
            "",
            p.optional_snowflake,
            "Channel id where alerts are posted: one message per incident, edited as it evolves "
            "(a crash loop's count, the recovery with how long it lasted). Empty = no alerts. "
            "Every other [alerts] key applies on /reload_config; this one needs a restart.",
            live=False,
        ),
        Key(
            "rules",
            _DEFAULT_RULES,
            p.alert_rules,
            f"The rules that run, from: {_RULE_NAMES}.\n"
            "crash: running or starting -> offline with no stop, kill or restart sent in the "
            "power_window before it (by the bot, or in the panel's activity log).\n"
            "crash_loop: crash_loop_count crashes in crash_loop_window, one message that keeps "
            "counting. flapping: flap_changes state changes in flap_window.\n"
            "cpu, memory: over their percent of the server's limit for overload_for. disk: over "
            "its percent. stuck: starting or stopping for longer than stuck_after.\n"
            "unreachable: the panel cannot read one server for unreachable_polls polls. "
            "node_down: servers of one node unreadable because the panel cannot reach its Wings "
            "(one message naming the node). panel_down: the panel does not answer (one message).\n"
            "stopped: a low-key line for a stop explained by a power action (off by default).\n"
            "not_answering: the panel says running but the game has not answered its query for "
            "[query] not_answering_after (hung, or a query port closed or wrong); clears once it "
            "answers again or stops running. Off by default: add it here, or turn it on for one "
            "server with not_answering = true in its [alerts.<server>].",
            live=True,
        ),
        Key(
            "mention_critical",
            "",
            p.mention_roles,
            "Roles mentioned by critical alerts (crash, crash_loop, node_down, panel_down): role "
            "names or ids. Only these roles can be pinged; never @everyone. Empty = no mention.",
            live=True,
        ),
        Key(
            "mention_warning",
            "",
            p.mention_roles,
            "Roles mentioned by warnings (overloads, stuck, unreachable, flapping, "
            "not_answering). Empty = no mention.",
            live=True,
        ),
        Key(
            "power_window",
            "2m",
            p.duration(10, 3600),
            "A stop, kill or restart sent this long before a server goes offline explains it: a "
            "stop, not a crash. Covers a poll that missed the stopping state. 10 s to 1 h.",
            live=True,
        ),
        Key(
            "crash_loop_count",
            "3",
            p.integer(2, 100, "a crash count"),
            "Crashes within crash_loop_window that make a crash loop. 2 to 100.",
            live=True,
        ),
        Key(
            "crash_loop_window",
            "10m",
            p.duration(60, 86400),
            "The window crash_loop_count is counted in. 60 s to 24 h.",
            live=True,
        ),
        Key(
            "cpu_percent",
            "95",
            p.percent,
            "CPU over this percent of the server's CPU limit for overload_for is an overload "
            "(a server without a CPU limit is never overloaded). 0 = never.",
            live=True,
        ),
        Key(
            "memory_percent",
            "95",
            p.percent,
            "Memory over this percent of the server's memory limit for overload_for. 0 = never.",
            live=True,
        ),
        Key(
            "disk_percent",
            "95",
            p.percent,
            "Disk over this percent of the server's disk limit (at once: disk does not spike). "
            "0 = never.",
            live=True,
        ),
        Key(
            "overload_for",
            "5m",
            p.duration(0, 86400),
            "How long CPU or memory must stay over its percent before it alerts: a shorter "
            "spike never does. 0 to 24 h.",
            live=True,
        ),
        Key(
            "stuck_after",
            "10m",
            p.duration(60, 86400),
            "Starting or stopping for longer than this is stuck. 60 s to 24 h.",
            live=True,
        ),
        Key(
            "unreachable_polls",
            "3",
            p.integer(1, 100, "a poll count"),
            "Failed polls in a row before a server, a node or the panel counts as unreachable "
            "(one failed poll is often a blip). 1 to 100.",
            live=True,
        ),
        Key(
            "clear_after",
            "60",
            p.duration(0, 3600),
            "Quiet period before an alert clears: the condition must stay gone this long, so a "
            "server that bounces is one incident, not two. 0 to 1 h.",
            live=True,
        ),
        Key(
            "flap_changes",
            "6",
            p.integer(3, 1000, "a count of state changes"),
            "State changes within flap_window that make a server flapping: one alert with the "
            "count instead of one per change. 3 to 1000.",
            live=True,
        ),
        Key(
            "flap_window",
            "10m",
            p.duration(60, 86400),
            "The window flap_changes is counted in. 60 s to 24 h.",
            live=True,
        ),
        Key(
            "repeat_interval",
            "4h",
            p.duration(600, 7 * 86400),
            "An incident still open is announced again this often (a short reply to its "
            "message), never more. 10 min to 7 days (e.g. 168h).",
            live=True,
        ),
        Key(
            "group_window",
            "5",
            p.duration(0, 300),
            "Alerts that fire within this many seconds of each other are posted together, in "
            "one message naming every server. It adds to the time an alert takes (a crash is "
            "seen at the next poll and posted within poll_interval + 2 s + this). 0 to 300.",
            live=True,
        ),
        Key(
            "max_messages_per_minute",
            "3",
            p.integer(1, 30, "a message count"),
            "New messages the alerts channel gets a minute at most; beyond it alerts wait and "
            "are grouped into the next message (edits do not count). 1 to 30.",
            live=True,
        ),
    ),
    outro="Per-server overrides: a section named after the server's identifier, with any of "
    "the keys enabled (false: no alerts for it), cpu_percent, memory_percent, disk_percent, "
    "mention (roles that replace mention_critical/mention_warning for it) and not_answering "
    "(true or false: the not_answering rule for this server, whatever rules says). Keys left "
    "out fall back to [alerts].\n"
    "[alerts.1a2b3c4d]\n"
    "cpu_percent = 150\n"
    "mention = Minecraft Mods\n"
    "not_answering = true",
)

QUERY: Final = Section(
    "query",
    (
        Key(
            "enabled",
            "true",
            p.boolean,
            "Ask each running game server how many players are online, with the game's own "
            "query: Minecraft Java (Server List Ping) and Bedrock, and Source A2S (Rust, CS2, "
            "ARK, Valheim, Palworld, Garry's Mod, ...). The protocol is read from the server's "
            "egg and Docker image; [query.<server>] sections set it for others. The game is "
            "asked at the server's default allocation (its alias when set). false = never ask.",
        ),
        Key(
            "interval",
            "30",
            p.duration(5, 3600),
            "Seconds between two queries of one server (only running servers are asked). "
            "5 s to 1 h.",
        ),
        Key(
            "timeout",
            "3",
            p.duration(0.5, 30),
            "Seconds a game has to answer one query before it counts as no answer. 0.5 to 30.",
        ),
        Key(
            "concurrency",
            "64",
            p.integer(1, 1000, "a query count"),
            "Queries in flight at most at one time, across every server. 1 to 1000.",
        ),
        Key(
            "not_answering_after",
            "3m",
            p.duration(30, 86400),
            "A server the panel says is running whose game has not answered for this long is "
            'shown as "not answering" (hung, or a query port that is closed or wrong); the '
            "not_answering alert rule fires on it. 30 s to 24 h.",
        ),
        Key(
            "show_names",
            "false",
            p.boolean,
            "Show the names of the players online (up to 10) on status embeds, when the game "
            "gives them. Off by default: a community may not want them in every channel.",
        ),
    ),
    outro="Per-server overrides: a section named after the server's identifier, with any of "
    "protocol (minecraft, bedrock, source or none), host and port. Keys left out are read "
    "from the server as usual. Source games often answer queries on a port other than the "
    "game port:\n"
    "[query.1a2b3c4d]\n"
    "protocol = source\n"
    "port = 27016",
)

# The keys a `[query.<server>]` section may hold, with their parsers.
SERVER_QUERY_KEYS: Final[Mapping[str, Callable[[str], Any]]] = MappingProxyType(
    {
        "protocol": p.query_protocol,
        "host": p.query_host,
        "port": p.integer(1, 65535, "a UDP or TCP port"),
    }
)

# The keys an `[alerts.<server>]` section may hold, with their parsers.
SERVER_ALERT_KEYS: Final[Mapping[str, Callable[[str], Any]]] = MappingProxyType(
    {
        "enabled": p.boolean,
        "cpu_percent": p.percent,
        "memory_percent": p.percent,
        "disk_percent": p.percent,
        "mention": p.mention_roles,
        "not_answering": p.boolean,
    }
)

TABLE: Final = (
    Section(
        "pterodactyl",
        (
            Key(
                "url",
                "",
                p.panel_url,
                f"Required (or {URL_ENV} in .env): the panel's address, with http(s):// and no "
                "path.",
                example="https://panel.example.com",
                missing="the panel's address, e.g. https://panel.example.com: set url in "
                f"[pterodactyl] of config.ini or {URL_ENV} in .env",
            ),
            Key(
                "key_type",
                "client",
                p.choice(("client", "application")),
                "client | application. The bot uses the client API (/api/client). The panel "
                "refuses application keys (ptla_...) there with 403, so use a client key "
                '(ptlc_...) and keep "client".',
                warn=_application_key,
            ),
            Key(
                "requests_per_minute",
                "600",
                p.integer(1, 100_000, "requests per minute"),
                "Requests per minute the bot allows itself. The panel's default limit is "
                f"{PANEL_DEFAULT_RATE_LIMIT} per user per minute (APP_API_CLIENT_RATELIMIT); "
                "staying under it leaves room for people using the panel.",
                warn=_above_panel_limit,
            ),
            Key(
                "timeout",
                "10",
                p.duration(1, 300),
                "Seconds to wait for one panel answer before giving up on it.",
            ),
            Key(
                "max_retries",
                "3",
                p.integer(0, 10),
                "Times a failed request (timeout, 5xx, 429) is retried before the error is "
                "reported. 0 to 10.",
            ),
        ),
    ),
    Section(
        "discord",
        (
            Key(
                "guild_ids",
                "",
                p.snowflakes,
                "Guilds (servers) to serve, as ids. Empty = every guild the bot is in.",
            ),
            Key(
                "sync_commands",
                "guild",
                p.choice(("guild", "global", "off")),
                "Where slash commands are registered when the bot starts:\n"
                "  guild  = in each guild above (or each guild the bot is in), and in each one it "
                "joins later:\n"
                "           visible at once\n"
                "  global = once for all guilds: Discord may take up to an hour to show changes\n"
                "  off    = do not touch the registered commands (none show unless registered "
                "before)",
                warn=_no_sync,
            ),
            Key(
                "api_base",
                "",
                p.api_base,
                "Empty = the real Discord. Otherwise the base URL of a Discord-compatible API or "
                "REST proxy, e.g. http://127.0.0.1:8090 (the bot adds /api/v10 itself).",
            ),
            Key(
                "audit_channel_id",
                "",
                p.optional_snowflake,
                "Channel id where power actions and admin changes are also posted. Empty = none.",
                live=True,
            ),
            Key(
                "locations_file",
                "embed/embed_locations.json",
                p.data_file,
                "Where the bot remembers which messages are status embeds (so it keeps editing "
                "them after a restart). A relative path is relative to this file's folder. Keep "
                "it on a persistent volume.\n"
                "The audit trail of power buttons is kept beside it, as audit.jsonl (newest "
                "5 MiB).",
            ),
            Key(
                "edit_interval",
                "1.1",
                p.duration(0.2, 60),
                "Seconds between two edits of status embeds in the same channel. Discord allows "
                "about 5 edits per 5 s per channel; 1.1 keeps 50 embeds in one channel clear of "
                "its rate limit. 0.2 to 60.",
                live=True,
            ),
        ),
    ),
    Section(
        "monitoring",
        (
            Key(
                "poll_interval",
                "10",
                p.duration(2, 3600),
                "Seconds between two status polls of each server. The panel caches a server's "
                "resources for 20 s, so polling faster than that mostly re-reads the same "
                "numbers. 2 to 3600.",
                live=True,
            ),
            Key(
                "source",
                "auto",
                p.choice(("auto", "websocket", "poll")),
                "Where servers' numbers come from. auto = the Wings websocket each server's "
                "page in the panel uses (stats about once a second, one token request per "
                "server every ~10 min), falling back to polling for a server whose socket "
                "cannot be used (the API key lacks websocket.connect, the node is down, Wings "
                "refuses the Origin...) and back to the socket once it can be used again. "
                "websocket = the socket only: a server that cannot stream is shown unknown "
                "with the reason and never polled (the request budget is kept for tokens and "
                "power actions). poll = only poll GET .../resources, one request per server "
                "every poll_interval (the panel key needs no websocket.connect).",
            ),
            Key(
                "server_list_refresh",
                "300",
                p.duration(10, 86400),
                "Seconds between two reads of the server list (new, renamed or deleted servers). "
                "10 to 86400.",
                live=True,
            ),
            Key(
                "history_size",
                "auto",
                p.integer_or_auto(10, 1_000_000, "a sample count"),
                "Samples kept in memory per server, for the live graph and the smoothing. auto = "
                "enough for graph_window (and smoothing) at poll_interval, with a margin: 133 "
                "samples at the defaults, about 6.1 KiB a server (47 bytes a sample). Longer "
                "history lives in the history store ([history]); set a number (10 to 1000000) "
                "only to keep more in memory.",
            ),
            Key(
                "cpu_threshold",
                "25",
                p.number(0, 100, "a number of percentage points"),
                "A CPU move of more than this many percentage points of the server's CPU limit "
                "(of the larger reading, at least one core, when the server has no limit) "
                "updates the embed. 0 to 100.\n"
                "Everything else waits for the forced refresh; the graph shows the detail.",
                live=True,
            ),
            Key(
                "memory_threshold",
                "15",
                p.number(0, 100, "a percentage of the memory limit"),
                "A memory move of more than this many percent of the server's memory limit (of "
                "the last shown value when it has no limit) updates the embed. 0 to 100.",
                live=True,
            ),
            Key(
                "smoothing",
                "60",
                p.duration(0, 3600),
                "Seconds of samples averaged before CPU and memory are compared with the "
                "thresholds above, so a server whose CPU jitters from poll to poll is not edited "
                "every poll. 0 = compare the latest reading. 0 to 3600. State changes (running, "
                "offline...) always update at once.",
            ),
            Key(
                "forced_refresh",
                "600",
                p.duration(10, 86400),
                "Seconds after which an embed is refreshed even if nothing significant changed.",
                live=True,
            ),
            Key(
                "graph_window",
                "900",
                p.duration(60, 7 * 86400),
                "Seconds of history shown in a status graph.",
                live=True,
            ),
            Key(
                "graph_max_age",
                "600",
                p.duration(0, 86400),
                "Seconds after which the graph of a running server is drawn again, even if "
                "nothing else changed.\n"
                "0 = never for this reason (the forced refresh still redraws it).",
                live=True,
            ),
            Key(
                "servers",
                "",
                p.identifiers,
                "Server identifiers to watch (the 8-character id in the panel's server URL). "
                "Empty = every server the API key can see.",
                live=True,
            ),
        ),
    ),
    Section(
        "permissions",
        (
            _rule_key(Action.STATUS, ""),
            _rule_key(Action.ADDRESS, ""),
            _rule_key(Action.START, "Server Operator"),
            _rule_key(Action.STOP, "Server Operator"),
            _rule_key(Action.RESTART, "Server Operator"),
            _rule_key(Action.KILL, ""),
            Key(
                Action.ALERTS.value,
                "",
                p.role_rule(Action.ALERTS),
                "Roles that may use /alerts mute, unmute and list (maintenance windows). Empty = "
                "only the admin roles.",
                live=True,
            ),
            Key(
                Action.ADMIN.value,
                "Admin",
                p.role_rule(Action.ADMIN),
                "Roles that may do everything, including the bot's admin commands. Empty = no "
                "role.",
                live=True,
            ),
            Key(
                "allow_administrator",
                "true",
                p.boolean,
                "true: members with Discord's Administrator permission may do everything.",
                live=True,
            ),
            Key(
                "confirm_dangerous",
                "true",
                p.boolean,
                'true: Stop, Restart and Kill ask "are you sure?" before anything is sent to the '
                "panel.",
                live=True,
            ),
            Key(
                "hide_address",
                "false",
                p.boolean,
                "true: embeds never show a server's address; Show Address answers privately, and "
                'only to members allowed by "address".',
                live=True,
            ),
        ),
        intro="Who may do what: role names (case does not matter) or role ids, comma-separated, "
        "or @everyone.\n"
        f"For {_OPEN} an empty list means everyone; for start, stop, restart, kill and alerts an "
        "empty list means only the admin roles (and Administrators, see below).\n"
        "Members with an admin role may do everything. A role name cannot contain a comma.",
        outro="Per-server overrides: a section named after the server's identifier, with any of "
        "the keys status, address, start, stop, restart, kill. Keys left out fall back to "
        "[permissions].\n"
        "[permissions.1a2b3c4d]\n"
        "start = Minecraft Mods, 112233445566778899\n"
        "kill = Minecraft Mods",
    ),
    Section(
        "logging",
        (
            Key(
                "level",
                "INFO",
                p.log_level,
                "DEBUG, INFO, WARNING, ERROR or CRITICAL.",
            ),
            Key(
                "file",
                "",
                p.log_file,
                "Log file, rotated by size. Empty = console (stderr) only. A relative path is "
                "relative to this file's folder.",
            ),
            Key(
                "max_bytes",
                "10MiB",
                p.size(1024, 100 * 1024**3),
                "Size at which the log file is rotated (bytes; 10MiB, 512KiB are accepted).",
            ),
            Key(
                "backup_count",
                "5",
                p.integer(0, 1000),
                "Rotated files kept (bot.log.1 ... bot.log.N).",
            ),
            Key(
                "loggers",
                "discord=WARNING, aiohttp.access=WARNING",
                p.loggers,
                "Levels for single loggers, as name=LEVEL pairs: quiet noisy libraries, or debug "
                "one module.",
            ),
        ),
    ),
    Section(
        "http",
        (
            Key(
                "enabled",
                "false",
                p.boolean,
                "A small HTTP endpoint for Docker health checks and Prometheus: /healthz, "
                "/metrics and /api/servers (a JSON snapshot of every watched server). Off unless "
                "enabled.",
            ),
            Key(
                "host",
                "127.0.0.1",
                p.http_host,
                "Address to listen on. 127.0.0.1 keeps it on this machine; in a container use "
                "0.0.0.0 so Docker's health check and Prometheus can reach it. Nothing here needs "
                "a password, but /api/servers shows server names and addresses: do not expose it "
                "to the internet.",
            ),
            Key(
                "port",
                "9550",
                p.integer(1, 65535, "a TCP port"),
                "TCP port. 1 to 65535.",
            ),
        ),
    ),
    Section(
        "history",
        (
            Key(
                "url",
                "sqlite:///data/history.sqlite3",
                p.history_url,
                "Where every sample and state change is kept (rolled up: raw samples for 2 days, "
                "1-minute buckets for 8 days, 1-hour buckets for 400 days), for /server_history, "
                "uptime and a full live graph right after a restart.\n"
                "sqlite:///PATH: a file, relative to this file's folder (four slashes for an "
                "absolute path); the default needs nothing installed.\n"
                "postgresql://user:password@host:5432/database: a PostgreSQL server, for fleets "
                "that outgrow one machine or several bots sharing one database. Put a URL with a "
                "password in .env as PTERODISBOT_HISTORY_URL=..., not here.\n"
                "none: keep no history (the live graph only).",
            ),
            Key(
                "flush_interval",
                "10",
                p.duration(1, 300),
                "Seconds between two writes of the samples gathered meanwhile, in one "
                "transaction. A crash loses at most this much. 1 to 300.",
            ),
            Key(
                "buffer_limit",
                "200000",
                p.integer(1000, 10_000_000, "a sample count"),
                "Samples held in memory while the store cannot be written (database down, disk "
                "full); beyond it the oldest are dropped and counted. 200000 is about 17 minutes "
                "of 2,000 servers at a 10 s poll. 1000 to 10000000.",
            ),
        ),
    ),
    ALERTS,
    QUERY,
)

SECTIONS: Final = MappingProxyType({section.name: section for section in TABLE})

# Every known section and key with its default, written as config.ini would write it.
DEFAULTS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {s.name: MappingProxyType({k.name: k.default for k in s.keys}) for s in TABLE}
)

# "section.key" of every key a running bot takes over from a reloaded file.
# `alerts.servers` is the `[alerts.<server>]` overrides, as live as the keys they override.
LIVE_KEYS: Final = frozenset(f"{s.name}.{k.name}" for s in TABLE for k in s.keys if k.live) | {
    "alerts.servers"
}

# The documented example's lines are wrapped to this width, comment sign included.
_WIDTH: Final = 96
_NUMBER_UNIT: Final = re.compile(r"([0-9]) (s|ms|MiB|KiB|GiB)\b")


def _comment(text: str) -> list[str]:
    """Turn doc text into comment lines: each wrapped to `_WIDTH`, an indented one kept as is."""
    lines: list[str] = []
    for line in text.splitlines():
        if line[:1].isspace() or len(line) + 2 <= _WIDTH:
            lines.append(f"# {line}".rstrip())
        else:
            # A number stays on the line of its unit ("20 s", "5 MiB").
            glued = _NUMBER_UNIT.sub("\\1\xa0\\2", line)
            wrapped = textwrap.wrap(glued, _WIDTH, initial_indent="# ", subsequent_indent="# ")
            lines += [part.replace("\xa0", " ") for part in wrapped]
    return lines


def example_ini() -> str:
    """Return the documented example config.ini: every key with its doc and default."""
    lines = _comment(HEADER)
    for section in TABLE:
        lines += ["", f"[{section.name}]", *_comment(section.intro)]
        for key in section.keys:
            lines += _comment(key.doc)
            lines.append(f"{key.name} = {key.shown}".rstrip())
        if section.outro:
            lines += ["", *_comment(section.outro)]
    return "\n".join(lines) + "\n"
