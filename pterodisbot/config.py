"""Read config.ini, .env and the environment into frozen, validated settings.

Sources, lowest to highest priority: built-in defaults < config.ini < .env < process environment.
Secrets (`DISCORD_TOKEN`, `PTERODACTYL_API_KEY`) come only from .env or the environment. Any ini
key can be overridden by `PTERODISBOT_<SECTION>_<KEY>`. Every problem is collected and raised at
once as a `ConfigValidationError`, each line naming `section.key`, with secrets redacted.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import enum
import hmac
import io
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, NoReturn, TypeVar, cast
from urllib.parse import SplitResult, urlsplit

from dotenv import dotenv_values

log = logging.getLogger(__name__)

TOKEN_ENV: Final = "DISCORD_TOKEN"
API_KEY_ENV: Final = "PTERODACTYL_API_KEY"
URL_ENV: Final = "PTERODACTYL_URL"
ENV_PREFIX: Final = "PTERODISBOT_"
CONFIG_PATH_ENV: Final = "PTERODISBOT_CONFIG"
DEFAULT_CONFIG_PATH: Final = Path("config.ini")

# The panel's default client API limit per user per minute (APP_API_CLIENT_RATELIMIT).
PANEL_DEFAULT_RATE_LIMIT: Final = 720

KeyType = Literal["client", "application"]
SyncMode = Literal["guild", "global", "off"]

_T = TypeVar("_T")

# Environment names under our prefix that are not setting overrides.
_RESERVED_ENV: Final = frozenset({CONFIG_PATH_ENV, "PTERODISBOT_ENV_FILE"})

# API keys by shape: Pterodactyl ptlc_/ptla_, Pelican plcn_/peli_ (client/application).
API_KEY_PATTERN: Final = re.compile(r"\b(?:ptl[ac]|plcn|peli)_[A-Za-z0-9]+")
_APPLICATION_KEY_PREFIXES: Final = ("ptla_", "peli_")
_SNOWFLAKE: Final = re.compile(r"[0-9]{1,20}")
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,35}")
_LOGGER_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_DURATION: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(s|sec|m|min|h)?", re.IGNORECASE)
_SIZE: Final = re.compile(r"([0-9]+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?", re.IGNORECASE)
_SIZE_UNITS: Final = MappingProxyType(
    {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024}
    | {"m": 1024**2, "mb": 1024**2, "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}
)
_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Names an operator might give a credential in config.ini, and where it belongs instead.
_SECRET_KEYS: Final = MappingProxyType(
    {
        "token": TOKEN_ENV,
        "bot_token": TOKEN_ENV,
        "discord_token": TOKEN_ENV,
        "api_key": API_KEY_ENV,
        "apikey": API_KEY_ENV,
        "key": API_KEY_ENV,
        "client_key": API_KEY_ENV,
        "pterodactyl_api_key": API_KEY_ENV,
    }
)


class Action(enum.StrEnum):
    """Something a member may be allowed to do; each is a key of `[permissions]`."""

    STATUS = "status"
    ADDRESS = "address"
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    KILL = "kill"
    ADMIN = "admin"


# Actions where an empty role list means "everyone"; for the others it means "admins only".
_OPEN_WHEN_EMPTY: Final = frozenset({Action.STATUS, Action.ADDRESS})
_SERVER_ACTIONS: Final = tuple(a for a in Action if a is not Action.ADMIN)

# Every known section and key with its default, written as config.ini would write it.
DEFAULTS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "pterodactyl": MappingProxyType(
            {
                "url": "",
                "key_type": "client",
                "requests_per_minute": "600",
                "timeout": "10",
                "max_retries": "3",
            }
        ),
        "discord": MappingProxyType(
            {
                "guild_ids": "",
                "sync_commands": "guild",
                "api_base": "",
                "audit_channel_id": "",
                "locations_file": "embed/embed_locations.json",
                "edit_interval": "1.1",
            }
        ),
        "monitoring": MappingProxyType(
            {
                "poll_interval": "10",
                "server_list_refresh": "300",
                "history_size": "8640",
                "cpu_threshold": "25",
                "memory_threshold": "15",
                "smoothing": "60",
                "forced_refresh": "600",
                "graph_window": "900",
                "graph_max_age": "600",
                "servers": "",
            }
        ),
        "permissions": MappingProxyType(
            {
                "status": "",
                "address": "",
                "start": "Server Operator",
                "stop": "Server Operator",
                "restart": "Server Operator",
                "kill": "",
                "admin": "Admin",
                "allow_administrator": "true",
                "confirm_dangerous": "true",
                "hide_address": "false",
            }
        ),
        "logging": MappingProxyType(
            {
                "level": "INFO",
                "file": "",
                "max_bytes": "10MiB",
                "backup_count": "5",
                "loggers": "discord=WARNING, aiohttp.access=WARNING",
            }
        ),
        "http": MappingProxyType({"enabled": "false", "host": "127.0.0.1", "port": "9550"}),
    }
)
_SERVER_SECTION_PREFIX: Final = "permissions."


class Secret:
    """A credential that never shows itself in str(), repr(), f-strings or logs."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        """Return the secret itself, for the one place that must send it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        # Pickling would write the value somewhere we no longer control.
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration, worded for the operator who has to fix it."""

    where: str
    shown: str
    expected: str

    def __str__(self) -> str:
        return f"{self.where}: {self.shown} — expected {self.expected}"


class ConfigValidationError(Exception):
    """Every problem found in the configuration, one line each (secrets already redacted)."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        """Return the header line and one indented line per problem."""
        lines = [f"configuration has {len(self.problems)} problem(s):"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True, slots=True)
class PterodactylSettings:
    """`[pterodactyl]`: where the panel is and how hard the bot may use it."""

    url: str
    api_key: Secret
    key_type: KeyType
    requests_per_minute: int
    timeout: float
    max_retries: int

    @property
    def host(self) -> str:
        """Return the panel's host (and port), for summaries that must not show the key."""
        return urlsplit(self.url).netloc


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    """`[discord]`: the bot's token, guilds and where Discord's API lives."""

    token: Secret
    guild_ids: tuple[int, ...]
    sync_commands: SyncMode
    api_base: str | None
    audit_channel_id: int | None
    locations_file: Path
    edit_interval: float


@dataclass(frozen=True, slots=True)
class MonitoringSettings:
    """`[monitoring]`: how often to poll, how much history to keep, what counts as a change."""

    poll_interval: float
    server_list_refresh: float
    history_size: int
    cpu_threshold: float
    memory_threshold: float
    forced_refresh: float
    graph_window: float
    graph_max_age: float
    servers: tuple[str, ...]
    smoothing: float = 60.0

    def requests_per_minute(self, servers: int) -> float:
        """Return the panel requests a minute polling `servers` servers takes (list included)."""
        return servers * 60 / self.poll_interval + 60 / self.server_list_refresh


@dataclass(frozen=True, slots=True)
class RoleRule:
    """Who may do one action: everyone, or members holding one of these roles."""

    everyone: bool
    role_ids: frozenset[int] = frozenset()
    role_names: frozenset[str] = frozenset()

    def matches(self, role_ids: Iterable[int], role_names: Iterable[str]) -> bool:
        """Return True if a member with these roles is covered (names ignore case)."""
        if self.everyone:
            return True
        if self.role_ids.intersection(role_ids):
            return True
        return any(name.casefold() in self.role_names for name in role_names)

    @property
    def is_empty(self) -> bool:
        """Return True if the rule names nobody at all."""
        return not (self.everyone or self.role_ids or self.role_names)


@dataclass(frozen=True, slots=True)
class PermissionsSettings:
    """`[permissions]` and `[permissions.<server>]`: which roles may do what."""

    rules: Mapping[Action, RoleRule]
    overrides: Mapping[str, Mapping[Action, RoleRule]]
    allow_administrator: bool
    confirm_dangerous: bool
    hide_address: bool

    def rule_for(self, action: Action, server_identifier: str | None = None) -> RoleRule:
        """Return the rule for an action, the server's own override first."""
        if server_identifier is not None:
            override = self.overrides.get(server_identifier, {}).get(action)
            if override is not None:
                return override
        return self.rules[action]

    def allows(
        self,
        action: Action,
        *,
        server_identifier: str | None,
        role_ids: Iterable[int],
        role_names: Iterable[str],
        is_administrator: bool,
    ) -> bool:
        """Decide whether a member may do an action; admins and Administrators may do all."""
        if is_administrator and self.allow_administrator:
            return True
        ids, names = frozenset(role_ids), tuple(role_names)
        admin = self.rules[Action.ADMIN]
        if not admin.is_empty and admin.matches(ids, names):
            return True
        if action is Action.ADMIN:
            return False
        return self.rule_for(action, server_identifier).matches(ids, names)


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """`[logging]`: levels, the optional rotating file, per-logger levels."""

    level: int
    file: Path | None
    max_bytes: int
    backup_count: int
    loggers: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """`[http]`: the health, metrics and snapshot endpoint (off unless enabled)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9550


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot was configured with, validated and frozen."""

    pterodactyl: PterodactylSettings
    discord: DiscordSettings
    monitoring: MonitoringSettings
    permissions: PermissionsSettings
    logging: LoggingSettings
    http: HttpSettings = HttpSettings()
    config_path: Path | None = None
    warnings: tuple[str, ...] = ()

    def secret_values(self) -> tuple[str, ...]:
        """Return the revealed secrets, for the log redaction filter."""
        found = (self.discord.token.reveal(), self.pterodactyl.api_key.reveal())
        return tuple(value for value in found if value)


class _Invalid(Exception):
    """A raw value did not parse; carries what was expected instead."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


@dataclass(frozen=True, slots=True)
class _Raw:
    value: str
    origin: str | None = None  # set when an env var supplied it, to name that var in problems


class _Context:
    """Merged raw values plus the problems and warnings found while reading them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.values: dict[tuple[str, str], _Raw] = {}
        self.problems: list[ConfigProblem] = []
        self.warnings: list[str] = []
        # A secret pasted as "Bot <token>" or "Bearer <key>" is still a secret word by word.
        known = {s for s in secrets if len(s) >= 4}
        known |= {word for s in known for word in s.split() if len(word) >= 8}
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def shown(self, value: str) -> str:
        """Quote a value for a problem line; anything secret-looking becomes '***'."""
        if any(secret in value for secret in self._secrets) or API_KEY_PATTERN.search(value):
            return "'***'"
        if len(value) > 80:
            value = value[:77] + "..."
        return repr(value)

    def scrub(self, text: str) -> str:
        """Replace every known secret and API-key-shaped word in free text with ***."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return API_KEY_PATTERN.sub("***", text)

    def problem(self, where: str, shown: str, expected: str) -> None:
        """Record a problem; section names, keys and hints are scrubbed of secrets too."""
        self.problems.append(
            ConfigProblem(self.scrub(where), self.scrub(shown), self.scrub(expected))
        )

    def read(self, section: str, key: str, parse: Callable[[str], _T]) -> _T:
        """Parse one value; on failure record the problem and fall back to the default."""
        raw = self.values.get((section, key), _Raw(DEFAULTS[section][key]))
        try:
            return parse(raw.value)
        except _Invalid as bad:
            self.problem(_where(section, key, raw.origin), self.shown(raw.value), bad.expected)
            return parse(DEFAULTS[section][key])


def _where(section: str, key: str, origin: str | None) -> str:
    return f"{section}.{key}" + (f" (from {origin})" if origin else "")


# ---------------------------------------------------------------- value parsers


def _duration(low: float, high: float) -> Callable[[str], float]:
    expected = f"a number of seconds from {low:g} to {high:g}"

    def parse(raw: str) -> float:
        match = _DURATION.fullmatch(raw.strip())
        if match is None:
            raise _Invalid(expected)
        unit = (match.group(2) or "s").lower()
        seconds = float(match.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[unit]
        if not low <= seconds <= high:
            raise _Invalid(expected)
        return seconds

    return parse


def _integer(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    expected = f"{what} from {low} to {high}"

    def parse(raw: str) -> int:
        text = raw.strip().replace("_", "")
        if re.fullmatch(r"[0-9]+", text) is None:
            raise _Invalid(expected)
        value = int(text)
        if not low <= value <= high:
            raise _Invalid(expected)
        return value

    return parse


def _number(low: float, high: float, what: str) -> Callable[[str], float]:
    expected = f"{what} from {low:g} to {high:g}"

    def parse(raw: str) -> float:
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw.strip()) is None:
            raise _Invalid(expected)
        value = float(raw)
        if not low <= value <= high:
            raise _Invalid(expected)
        return value

    return parse


def _size(low: int, high: int) -> Callable[[str], int]:
    expected = f"a size in bytes from {low} to {high} (10MiB, 512KiB are accepted too)"

    def parse(raw: str) -> int:
        match = _SIZE.fullmatch(raw.strip())
        if match is None:
            raise _Invalid(expected)
        value = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]
        if not low <= value <= high:
            raise _Invalid(expected)
        return value

    return parse


def _boolean(raw: str) -> bool:
    text = raw.strip().lower()
    if text in {"1", "yes", "true", "on"}:
        return True
    if text in {"0", "no", "false", "off"}:
        return False
    raise _Invalid("true or false")


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    expected = "one of " + ", ".join(options)

    def parse(raw: str) -> str:
        text = raw.strip().lower()
        if text not in options:
            raise _Invalid(expected)
        return text

    return parse


def _split_list(raw: str, expected: str) -> list[str]:
    text = raw.strip()
    if not text:
        return []
    items = [item.strip() for item in text.split(",")]
    if items[-1] == "":  # a trailing comma is harmless
        items.pop()
    if any(item == "" for item in items):
        raise _Invalid(expected + " (there is an empty item between two commas)")
    return items


def _snowflake(text: str, expected: str) -> int:
    if _SNOWFLAKE.fullmatch(text) is None or not 0 < int(text) < 2**64:
        raise _Invalid(expected)
    return int(text)


def _snowflakes(raw: str) -> tuple[int, ...]:
    expected = "a comma-separated list of Discord ids (numbers like 123456789012345678), or nothing"
    return tuple(dict.fromkeys(_snowflake(i, expected) for i in _split_list(raw, expected)))


def _optional_snowflake(raw: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    return _snowflake(text, "a Discord channel id (a number like 123456789012345678), or nothing")


def _identifiers(raw: str) -> tuple[str, ...]:
    expected = (
        "a comma-separated list of server identifiers (the 8-character id in the panel's "
        "server URL, e.g. 1a2b3c4d), or nothing for every server the key can see"
    )
    items = _split_list(raw, expected)
    for item in items:
        if _IDENTIFIER.fullmatch(item) is None:
            raise _Invalid(expected)
    return tuple(dict.fromkeys(item.lower() for item in items))


def _http_url(text: str, expected: str) -> SplitResult:
    """Split an http(s) URL with a host and a valid port, and nothing that hides credentials."""
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _Invalid(expected)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise _Invalid(expected)
    try:
        _ = parts.port
    except ValueError:
        raise _Invalid(expected + " (the port is not a number from 1 to 65535)") from None
    return parts


def _panel_url(raw: str) -> str:
    expected = (
        "the panel's address with http:// or https:// and no path, e.g. https://panel.example.com"
    )
    parts = _http_url(raw.strip(), expected)
    if parts.path not in {"", "/"}:
        raise _Invalid(expected + f" (remove {parts.path!r}: the bot adds /api/client itself)")
    return f"{parts.scheme}://{parts.netloc}"


def _api_base(raw: str) -> str | None:
    expected = (
        "nothing (the real Discord) or the base URL of a Discord-compatible API or proxy, "
        "e.g. http://127.0.0.1:8090"
    )
    text = raw.strip()
    if not text:
        return None
    parts = _http_url(text, expected)
    path = parts.path.rstrip("/")
    if re.search(r"/api(/v\d+)?$", path):
        raise _Invalid(expected + f" (remove {path!r}: the bot adds /api/v10 itself)")
    return f"{parts.scheme}://{parts.netloc}{path}"


def _role_rule(action: Action) -> Callable[[str], RoleRule]:
    expected = "a comma-separated list of role names or role ids (numbers), or @everyone" + (
        ", or nothing for everyone" if action in _OPEN_WHEN_EMPTY else ""
    )

    def parse(raw: str) -> RoleRule:
        items = _split_list(raw, expected)
        if not items:
            return RoleRule(everyone=action in _OPEN_WHEN_EMPTY)
        ids: set[int] = set()
        names: set[str] = set()
        everyone = False
        for item in items:
            if item.lower() == "@everyone":
                everyone = True
            elif re.fullmatch(r"[0-9]+", item):
                ids.add(_snowflake(item, expected + f" ({item!r} is not a valid role id)"))
            else:
                names.add(item.casefold())
        return RoleRule(everyone, frozenset(ids), frozenset(names))

    return parse


def _level(raw: str) -> int:
    text = raw.strip().upper()
    if text == "WARN":
        text = "WARNING"
    if text not in _LEVELS:
        raise _Invalid("one of " + ", ".join(_LEVELS))
    return cast(int, logging.getLevelName(text))


def _loggers(raw: str) -> Mapping[str, int]:
    expected = (
        "a comma-separated list of logger=LEVEL pairs, e.g. discord=WARNING, aiohttp.access=ERROR"
    )
    levels: dict[str, int] = {}
    for item in _split_list(raw, expected):
        name, sep, level = item.partition("=")
        name = name.strip()
        if not sep or _LOGGER_NAME.fullmatch(name) is None:
            raise _Invalid(expected)
        try:
            levels[name] = _level(level)
        except _Invalid:
            raise _Invalid(expected + " with LEVEL one of " + ", ".join(_LEVELS)) from None
    return levels


def _log_file(base_dir: Path) -> Callable[[str], Path | None]:
    def parse(raw: str) -> Path | None:
        text = raw.strip()
        if not text:
            return None
        path = Path(text).expanduser()
        return path if path.is_absolute() else base_dir / path

    return parse


def _data_file(base_dir: Path) -> Callable[[str], Path]:
    def parse(raw: str) -> Path:
        text = raw.strip()
        if not text:
            raise _Invalid("a file path, e.g. embed/embed_locations.json")
        path = Path(text).expanduser()
        return path if path.is_absolute() else base_dir / path

    return parse


# ---------------------------------------------------------------- sources


def _nearest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _read_ini(path: Path, ctx: _Context) -> dict[str, dict[str, str]]:
    """Read config.ini into plain dicts; unreadable or malformed files become problems."""
    where = f"config file {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        ctx.problem(
            where,
            "not found",
            "a config file: copy config.ini from the repository, or pass --config PATH "
            f"(or set {CONFIG_PATH_ENV})",
        )
        return {}
    except IsADirectoryError:
        ctx.problem(where, "is a directory", "a config file (the path of config.ini itself)")
        return {}
    except PermissionError:
        ctx.problem(where, "not readable", "a file the bot's user may read (check its permissions)")
        return {}
    except UnicodeDecodeError:
        ctx.problem(where, "not UTF-8 text", "a text file saved as UTF-8")
        return {}
    except OSError as exc:
        ctx.problem(where, f"cannot be read ({exc.strerror})", "a readable config file")
        return {}

    parser = _ini_parser(strict=True)
    try:
        parser.read_string(text, source=str(path))
    except configparser.DuplicateSectionError as exc:
        ctx.problem(
            f"{path.name} line {exc.lineno}",
            f"[{exc.section}] appears twice",
            "each section once (merge the two)",
        )
        parser = _lenient_read(text, path, ctx)
    except configparser.DuplicateOptionError as exc:
        ctx.problem(
            _where(exc.section, exc.option, None),
            f"set twice (line {exc.lineno})",
            "each key once per section (delete one of them)",
        )
        parser = _lenient_read(text, path, ctx)
    except configparser.Error as exc:
        _report_parse_error(exc, path, ctx)
    return {name: dict(parser.items(name, raw=True)) for name in parser.sections()}


def _ini_parser(*, strict: bool) -> configparser.ConfigParser:
    # No DEFAULT section: keys there would silently leak into every section.
    return configparser.ConfigParser(
        interpolation=None,
        inline_comment_prefixes=("#", ";"),
        default_section="\x00no default section",
        strict=strict,
    )


def _lenient_read(text: str, path: Path, ctx: _Context) -> configparser.ConfigParser:
    """Re-read a file with duplicates after reporting them, so later keys are still checked."""
    parser = _ini_parser(strict=False)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        _report_parse_error(exc, path, ctx)
    return parser


def _report_parse_error(exc: configparser.Error, path: Path, ctx: _Context) -> None:
    if isinstance(exc, configparser.MissingSectionHeaderError):
        ctx.problem(
            f"{path.name} line {exc.lineno}",
            ctx.shown(exc.line.strip()),
            "a [section] header before the first key",
        )
    elif isinstance(exc, configparser.ParsingError):
        for lineno, quoted in exc.errors:
            ctx.problem(
                f"{path.name} line {lineno}", ctx.shown(_unquote(quoted)), "a 'key = value' line"
            )
    else:
        ctx.problem(f"config file {str(path)!r}", ctx.shown(exc.message), "a well-formed INI file")


def _unquote(quoted: str) -> str:
    # configparser reports a bad line as repr(line).
    try:
        value = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return quoted.strip()
    return value.strip() if isinstance(value, str) else quoted.strip()


def _read_dotenv(path: Path, explicit: bool, ctx: _Context) -> dict[str, str]:
    """Read .env without touching os.environ; a missing default .env is fine."""
    where = f"env file {str(path)!r}"
    if not path.exists():
        if explicit:
            ctx.problem(where, "not found", "an existing .env file (see .env.example)")
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        ctx.problem(where, "not UTF-8 text", "a text file saved as UTF-8")
        return {}
    except OSError as exc:
        ctx.problem(where, f"cannot be read ({exc.strerror})", "a .env file the bot may read")
        return {}
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def _apply_ini(ini: Mapping[str, Mapping[str, str]], ctx: _Context) -> dict[str, dict[str, str]]:
    """Merge known ini keys into ctx; return the per-server permission sections."""
    servers: dict[str, dict[str, str]] = {}
    sections_of: dict[str, list[str]] = {}
    for section, keys in DEFAULTS.items():
        for key in keys:
            sections_of.setdefault(key, []).append(section)
    for section, items in ini.items():
        if section.startswith(_SERVER_SECTION_PREFIX):
            # Panel identifiers are lower-case hex; the panel itself matches them case-blind.
            identifier = section[len(_SERVER_SECTION_PREFIX) :].lower()
            if _IDENTIFIER.fullmatch(identifier) is None:
                ctx.problem(
                    f"[{section}]",
                    "not a server identifier",
                    "[permissions.<identifier>] with the server's 8-character id, "
                    "e.g. [permissions.1a2b3c4d]",
                )
                continue
            servers.setdefault(identifier, {})
            for key, value in items.items():
                if _refuse_secret(section, key, ctx):
                    continue
                if key not in _SERVER_ACTIONS:
                    hint = _nearest(key, _SERVER_ACTIONS)
                    ctx.problem(
                        f"{section}.{key}",
                        "unknown key",
                        "one of "
                        + ", ".join(_SERVER_ACTIONS)
                        + " in a per-server section"
                        + (f" (did you mean {hint}?)" if hint else ""),
                    )
                    continue
                servers[identifier][key] = value
            continue
        if section not in DEFAULTS:
            hint = _nearest(section, DEFAULTS)
            known = ", ".join(f"[{name}]" for name in DEFAULTS)
            ctx.problem(
                f"[{section}]",
                "unknown section",
                f"one of {known}, [permissions.<server>]"
                + (f" (did you mean [{hint}]?)" if hint else ""),
            )
            continue
        for key, value in items.items():
            if _refuse_secret(section, key, ctx):
                continue
            if key not in DEFAULTS[section]:
                ctx.problem(f"{section}.{key}", "unknown key", _key_hint(section, key, sections_of))
                continue
            ctx.values[(section, key)] = _Raw(value)
    return servers


def _key_hint(section: str, key: str, sections_of: Mapping[str, list[str]]) -> str:
    if key in sections_of:
        homes = " or ".join(f"[{name}]" for name in sections_of[key])
        return f"a key of [{section}]; {key} belongs in {homes}"
    hint = _nearest(key, DEFAULTS[section])
    return f"a key of [{section}]" + (f" (did you mean {hint}?)" if hint else "")


def _refuse_secret(section: str, key: str, ctx: _Context) -> bool:
    env_name = _SECRET_KEYS.get(key)
    if env_name is None:
        return False
    ctx.problem(
        f"{section}.{key}",
        "'***'",
        f"no secrets in config.ini: delete this line and put the value in .env as {env_name}=… "
        "(or in the environment)",
    )
    return True


def _apply_env(env: Mapping[str, str], origin: str, ctx: _Context) -> None:
    """Merge PTERODACTYL_URL and PTERODISBOT_<SECTION>_<KEY> overrides from one source."""
    if URL_ENV in env:
        ctx.values[("pterodactyl", "url")] = _Raw(env[URL_ENV], f"{URL_ENV} in {origin}")
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in _RESERVED_ENV:
            continue
        rest = name[len(ENV_PREFIX) :]
        target = _env_target(rest)
        if target is None:
            ctx.problem(f"{name} in {origin}", "unknown setting", _env_hint(rest))
            continue
        section, key = target
        if key in _SECRET_KEYS:
            ctx.problem(
                f"{name} in {origin}",
                "'***'",
                f"the secret under its own name: {_SECRET_KEYS[key]}",
            )
            continue
        ctx.values[(section, key)] = _Raw(env[name], f"{name} in {origin}")


def _env_target(rest: str) -> tuple[str, str] | None:
    for section, keys in DEFAULTS.items():
        prefix = section.upper() + "_"
        if rest.startswith(prefix):
            key = rest[len(prefix) :].lower()
            if key in keys or key in _SECRET_KEYS:
                return section, key
    return None


def _env_hint(rest: str) -> str:
    names = [f"{ENV_PREFIX}{s.upper()}_{k.upper()}" for s, keys in DEFAULTS.items() for k in keys]
    hint = _nearest(ENV_PREFIX + rest, names)
    return f"{ENV_PREFIX}<SECTION>_<KEY> naming a key of config.ini" + (
        f" (did you mean {hint}?)" if hint else ""
    )


def _secret(
    name: str, dotenv: Mapping[str, str], environ: Mapping[str, str], dotenv_origin: str
) -> tuple[str, str | None]:
    """Return a secret's value and where it came from (environment over .env)."""
    if environ.get(name, "").strip():
        return environ[name].strip(), f"{name} in the environment"
    if dotenv.get(name, "").strip():
        return dotenv[name].strip(), f"{name} in {dotenv_origin}"
    return "", None


# ---------------------------------------------------------------- building


def _build_pterodactyl(
    ctx: _Context, api_key: str, key_origin: str | None, need: bool
) -> PterodactylSettings:
    url_raw = ctx.values.get(("pterodactyl", "url"))
    url = ""
    if url_raw is None or not url_raw.value.strip():
        where = _where("pterodactyl", "url", url_raw.origin if url_raw else None)
        ctx.problem(
            where,
            "missing",
            "the panel's address, e.g. https://panel.example.com: set url in [pterodactyl] "
            f"of config.ini or {URL_ENV} in .env",
        )
    else:
        try:
            url = _panel_url(url_raw.value)
        except _Invalid as bad:
            where = _where("pterodactyl", "url", url_raw.origin)
            ctx.problem(where, ctx.shown(url_raw.value), bad.expected)
    key_type = cast(
        KeyType, ctx.read("pterodactyl", "key_type", _choice(("client", "application")))
    )
    rpm = ctx.read(
        "pterodactyl", "requests_per_minute", _integer(1, 100_000, "requests per minute")
    )
    timeout = ctx.read("pterodactyl", "timeout", _duration(1, 300))
    retries = ctx.read("pterodactyl", "max_retries", _integer(0, 10))

    where = f"pterodactyl.api_key ({key_origin or API_KEY_ENV})"
    if not api_key:
        if need:
            ctx.problem(
                where,
                "missing",
                f"the panel's client API key (ptlc_…) in {API_KEY_ENV} in .env or the environment",
            )
    elif any(ch.isspace() for ch in api_key):
        hint = " without 'Bearer '" if api_key.lower().startswith("bearer ") else ""
        ctx.problem(where, "'***' (contains spaces)", f"the bare API key{hint}, one word")
    elif api_key.startswith(_APPLICATION_KEY_PREFIXES) and key_type == "client":
        ctx.problem(
            where,
            "'***' (an application key, ptla_…)",
            "a client API key (ptlc_…) from the panel's Account → API Credentials page: "
            "the bot uses the client API, which refuses application keys",
        )
    if key_type == "application":
        ctx.warnings.append(
            "pterodactyl.key_type = application: the bot uses the client API "
            "(/api/client), where the panel answers 403 to application keys (ptla_…); "
            "create a client key under Account → API Credentials and set key_type = client"
        )
    if rpm > PANEL_DEFAULT_RATE_LIMIT:
        ctx.warnings.append(
            f"pterodactyl.requests_per_minute = {rpm} is above the panel's default limit of "
            f"{PANEL_DEFAULT_RATE_LIMIT}/min: only right if your host raised "
            "APP_API_CLIENT_RATELIMIT, else expect HTTP 429s"
        )
    return PterodactylSettings(url, Secret(api_key), key_type, rpm, timeout, retries)


def _build_discord(
    ctx: _Context, token: str, token_origin: str | None, need: bool, base_dir: Path
) -> DiscordSettings:
    where = f"discord.token ({token_origin or TOKEN_ENV})"
    if not token:
        if need:
            ctx.problem(
                where,
                "missing",
                f"the bot token from the Discord Developer Portal in {TOKEN_ENV} in .env "
                "or the environment",
            )
    elif any(ch.isspace() for ch in token):
        hint = " without 'Bot '" if token.lower().startswith("bot ") else ""
        ctx.problem(where, "'***' (contains spaces)", f"the bare bot token{hint}, one word")
    sync_commands = cast(
        SyncMode, ctx.read("discord", "sync_commands", _choice(("guild", "global", "off")))
    )
    if sync_commands == "off":
        # The one setting that can leave Discord with no commands to show: a choice, not an error.
        ctx.warnings.append(
            "discord.sync_commands = off: the bot registers no slash commands, so Discord shows "
            "none unless an earlier run registered them; set sync_commands = guild (every guild "
            "the bot is in, at once) or global"
        )
    return DiscordSettings(
        token=Secret(token),
        guild_ids=ctx.read("discord", "guild_ids", _snowflakes),
        sync_commands=sync_commands,
        api_base=ctx.read("discord", "api_base", _api_base),
        audit_channel_id=ctx.read("discord", "audit_channel_id", _optional_snowflake),
        locations_file=ctx.read("discord", "locations_file", _data_file(base_dir)),
        edit_interval=ctx.read("discord", "edit_interval", _duration(0.2, 60)),
    )


def _build_monitoring(ctx: _Context, rpm: int) -> MonitoringSettings:
    read = ctx.read
    settings = MonitoringSettings(
        poll_interval=read("monitoring", "poll_interval", _duration(2, 3600)),
        server_list_refresh=read("monitoring", "server_list_refresh", _duration(10, 86400)),
        history_size=read("monitoring", "history_size", _integer(10, 1_000_000, "a sample count")),
        cpu_threshold=read(
            "monitoring", "cpu_threshold", _number(0, 100, "a number of percentage points")
        ),
        memory_threshold=read(
            "monitoring", "memory_threshold", _number(0, 100, "a percentage of the memory limit")
        ),
        forced_refresh=read("monitoring", "forced_refresh", _duration(10, 86400)),
        graph_window=read("monitoring", "graph_window", _duration(60, 7 * 86400)),
        graph_max_age=read("monitoring", "graph_max_age", _duration(0, 86400)),
        servers=read("monitoring", "servers", _identifiers),
        smoothing=read("monitoring", "smoothing", _duration(0, 3600)),
    )
    kept = settings.history_size * settings.poll_interval
    if settings.graph_window > kept:
        ctx.warnings.append(
            f"monitoring.graph_window = {settings.graph_window:g} s is longer than the history "
            f"kept (history_size × poll_interval = {kept:g} s): graphs will never fill"
        )
    if settings.forced_refresh < settings.poll_interval:
        ctx.warnings.append(
            f"monitoring.forced_refresh = {settings.forced_refresh:g} s is shorter than "
            f"poll_interval = {settings.poll_interval:g} s: embeds cannot refresh faster than polls"
        )
    if settings.servers:
        needed = settings.requests_per_minute(len(settings.servers))
        if needed > rpm:
            ctx.warnings.append(
                f"polling {len(settings.servers)} server(s) every {settings.poll_interval:g} s "
                f"needs about {needed:.0f} requests/min, above pterodactyl.requests_per_minute "
                f"= {rpm}: raise poll_interval or the budget"
            )
    return settings


def _build_permissions(
    ctx: _Context, servers: Mapping[str, Mapping[str, str]], watched: tuple[str, ...]
) -> PermissionsSettings:
    rules = {action: ctx.read("permissions", action.value, _role_rule(action)) for action in Action}
    overrides: dict[str, Mapping[Action, RoleRule]] = {}
    for identifier, items in servers.items():
        parsed: dict[Action, RoleRule] = {}
        for key, value in items.items():
            action = Action(key)
            try:
                parsed[action] = _role_rule(action)(value)
            except _Invalid as bad:
                ctx.problem(f"permissions.{identifier}.{key}", ctx.shown(value), bad.expected)
        overrides[identifier] = parsed
        if watched and identifier not in watched:
            ctx.warnings.append(
                f"[permissions.{identifier}] names a server that monitoring.servers does not "
                "watch: it has no effect"
            )
    allow_administrator = ctx.read("permissions", "allow_administrator", _boolean)
    if rules[Action.ADMIN].is_empty and not allow_administrator:
        ctx.warnings.append(
            "permissions.admin is empty and allow_administrator = false: nobody can use the "
            "admin commands"
        )
    return PermissionsSettings(
        rules=rules,
        overrides=overrides,
        allow_administrator=allow_administrator,
        confirm_dangerous=ctx.read("permissions", "confirm_dangerous", _boolean),
        hide_address=ctx.read("permissions", "hide_address", _boolean),
    )


def _build_logging(ctx: _Context, base_dir: Path) -> LoggingSettings:
    return LoggingSettings(
        level=ctx.read("logging", "level", _level),
        file=ctx.read("logging", "file", _log_file(base_dir)),
        max_bytes=ctx.read("logging", "max_bytes", _size(1024, 100 * 1024**3)),
        backup_count=ctx.read("logging", "backup_count", _integer(0, 1000)),
        loggers=ctx.read("logging", "loggers", _loggers),
    )


def _http_host(raw: str) -> str:
    text = raw.strip()
    # An address or a host name: the endpoint binds it, so no scheme, port or path.
    if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?", text) or text.count(":") == 1:
        raise _Invalid("an address to listen on, e.g. 127.0.0.1 (0.0.0.0 in a container)")
    return text.strip("[]")


def _build_http(ctx: _Context) -> HttpSettings:
    return HttpSettings(
        enabled=ctx.read("http", "enabled", _boolean),
        host=ctx.read("http", "host", _http_host),
        port=ctx.read("http", "port", _integer(1, 65535, "a TCP port")),
    )


def _build(
    ctx: _Context,
    servers: Mapping[str, Mapping[str, str]],
    *,
    token: tuple[str, str | None],
    api_key: tuple[str, str | None],
    base_dir: Path,
    config_path: Path | None,
    require_secrets: bool,
    require_token: bool,
) -> Settings:
    pterodactyl = _build_pterodactyl(ctx, *api_key, require_secrets)
    discord = _build_discord(ctx, *token, require_secrets and require_token, base_dir)
    monitoring = _build_monitoring(ctx, pterodactyl.requests_per_minute)
    permissions = _build_permissions(ctx, servers, monitoring.servers)
    logging_settings = _build_logging(ctx, base_dir)
    http = _build_http(ctx)
    if ctx.problems:
        raise ConfigValidationError(ctx.problems)
    return Settings(
        pterodactyl=pterodactyl,
        discord=discord,
        monitoring=monitoring,
        permissions=permissions,
        logging=logging_settings,
        http=http,
        config_path=config_path,
        warnings=tuple(ctx.warnings),
    )


def settings_from_sections(
    sections: Mapping[str, Mapping[str, str]],
    *,
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    require_secrets: bool = True,
    require_token: bool = True,
) -> Settings:
    """Build settings from ini-like sections and an environment mapping, without any file."""
    environ: Mapping[str, str] = {} if env is None else env
    token = _secret(TOKEN_ENV, {}, environ, "")
    api_key = _secret(API_KEY_ENV, {}, environ, "")
    ctx = _Context([token[0], api_key[0]])
    servers = _apply_ini(
        {s: {k.lower(): v for k, v in kv.items()} for s, kv in sections.items()}, ctx
    )
    _apply_env(environ, "the environment", ctx)
    return _build(
        ctx,
        servers,
        token=token,
        api_key=api_key,
        base_dir=base_dir or Path.cwd(),
        config_path=None,
        require_secrets=require_secrets,
        require_token=require_token,
    )


def load_settings(
    config_path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
    require_secrets: bool = True,
    require_token: bool = True,
) -> Settings:
    """Read config.ini, .env and the environment; raise ConfigValidationError listing every problem.

    `config_path` defaults to `$PTERODISBOT_CONFIG` or ./config.ini; `dotenv_path` to the `.env`
    beside the config file (absent is fine unless given explicitly); `env` to `os.environ`.
    `require_secrets=False` lets both secrets be missing (a reload keeps the running ones);
    `require_token=False` only the Discord token (`doctor` checks the panel without it). A
    secret that is there but malformed is a problem either way.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    path = config_path or Path(environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH)
    env_path = dotenv_path or path.parent / ".env"

    # Secrets first, so every later problem line can redact them.
    bootstrap = _Context([])
    dotenv = _read_dotenv(env_path, dotenv_path is not None, bootstrap)
    token = _secret(TOKEN_ENV, dotenv, environ, str(env_path))
    api_key = _secret(API_KEY_ENV, dotenv, environ, str(env_path))

    log.debug("reading configuration from %s and %s", path, env_path)
    ctx = _Context([token[0], api_key[0]])
    ctx.problems.extend(bootstrap.problems)
    ini = _read_ini(path, ctx)
    servers = _apply_ini(ini, ctx)
    _apply_env(dotenv, str(env_path), ctx)
    _apply_env(environ, "the environment", ctx)
    return _build(
        ctx,
        servers,
        token=token,
        api_key=api_key,
        base_dir=path.parent.resolve(),
        config_path=path,
        require_secrets=require_secrets,
        require_token=require_token,
    )
