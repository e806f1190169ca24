"""Value parsers: one config.ini value -> a typed value, or `Invalid` saying what was expected.

Paths come back as written (`~` expanded); the loader makes relative ones relative to the
folder of config.ini.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final, cast
from urllib.parse import SplitResult, urlsplit

from pterodisbot.alerts import MentionRoles, Rule
from pterodisbot.config._settings import HistoryURL, Secret
from pterodisbot.permissions import OPEN_WHEN_EMPTY, Action, RoleRule
from pterodisbot.query import QueryProtocol

_SNOWFLAKE: Final = re.compile(r"[0-9]{1,20}")
IDENTIFIER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,35}")
_LOGGER_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_DURATION: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(s|sec|m|min|h)?", re.IGNORECASE)
_SIZE: Final = re.compile(r"([0-9]+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?", re.IGNORECASE)
_SIZE_UNITS: Final = MappingProxyType(
    {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024}
    | {"m": 1024**2, "mb": 1024**2, "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}
)
_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Invalid(Exception):
    """A raw value did not parse; carries what was expected instead."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def duration(low: float, high: float) -> Callable[[str], float]:
    """Return a parser of seconds ("90", "5m", "1h") from low to high."""
    expected = f"a number of seconds from {low:g} to {high:g}"

    def parse(raw: str) -> float:
        match = _DURATION.fullmatch(raw.strip())
        if match is None:
            raise Invalid(expected)
        unit = (match.group(2) or "s").lower()
        seconds = float(match.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[unit]
        if not low <= seconds <= high:
            raise Invalid(expected)
        return seconds

    return parse


def integer(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    """Return a parser of whole numbers from low to high ("10_000" allowed)."""
    expected = f"{what} from {low} to {high}"

    def parse(raw: str) -> int:
        text = raw.strip().replace("_", "")
        if re.fullmatch(r"[0-9]+", text) is None:
            raise Invalid(expected)
        value = int(text)
        if not low <= value <= high:
            raise Invalid(expected)
        return value

    return parse


def integer_or_auto(low: int, high: int, what: str) -> Callable[[str], int | None]:
    """Return a parser of a whole number from low to high, or "auto" (None: computed later)."""
    whole = integer(low, high, what)

    def parse(raw: str) -> int | None:
        if raw.strip().lower() == "auto":
            return None
        try:
            return whole(raw)
        except Invalid as bad:
            raise Invalid(f"auto or {bad.expected}") from None

    return parse


def number(low: float, high: float, what: str) -> Callable[[str], float]:
    """Return a parser of plain decimal numbers from low to high."""
    expected = f"{what} from {low:g} to {high:g}"

    def parse(raw: str) -> float:
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw.strip()) is None:
            raise Invalid(expected)
        value = float(raw)
        if not low <= value <= high:
            raise Invalid(expected)
        return value

    return parse


def size(low: int, high: int) -> Callable[[str], int]:
    """Return a parser of sizes in bytes ("10MiB", "512KiB") from low to high."""
    expected = f"a size in bytes from {low} to {high} (10MiB, 512KiB are accepted too)"

    def parse(raw: str) -> int:
        match = _SIZE.fullmatch(raw.strip())
        if match is None:
            raise Invalid(expected)
        value = int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()]
        if not low <= value <= high:
            raise Invalid(expected)
        return value

    return parse


def boolean(raw: str) -> bool:
    """Read true/false, yes/no, on/off or 1/0."""
    text = raw.strip().lower()
    if text in {"1", "yes", "true", "on"}:
        return True
    if text in {"0", "no", "false", "off"}:
        return False
    raise Invalid("true or false")


def choice(options: tuple[str, ...]) -> Callable[[str], str]:
    """Return a parser of one of `options` (case ignored)."""
    expected = "one of " + ", ".join(options)

    def parse(raw: str) -> str:
        text = raw.strip().lower()
        if text not in options:
            raise Invalid(expected)
        return text

    return parse


def split_list(raw: str, expected: str) -> list[str]:
    """Split a comma-separated list; a trailing comma is fine, an empty item is not."""
    text = raw.strip()
    if not text:
        return []
    items = [item.strip() for item in text.split(",")]
    if items[-1] == "":  # a trailing comma is harmless
        items.pop()
    if any(item == "" for item in items):
        raise Invalid(expected + " (there is an empty item between two commas)")
    return items


def snowflake(text: str, expected: str) -> int:
    """Read one Discord id."""
    if _SNOWFLAKE.fullmatch(text) is None or not 0 < int(text) < 2**64:
        raise Invalid(expected)
    return int(text)


def snowflakes(raw: str) -> tuple[int, ...]:
    """Read a list of Discord ids, duplicates dropped."""
    expected = "a comma-separated list of Discord ids (numbers like 123456789012345678), or nothing"
    return tuple(dict.fromkeys(snowflake(i, expected) for i in split_list(raw, expected)))


def optional_snowflake(raw: str) -> int | None:
    """Read one Discord channel id, or None for nothing."""
    text = raw.strip()
    if not text:
        return None
    return snowflake(text, "a Discord channel id (a number like 123456789012345678), or nothing")


def identifiers(raw: str) -> tuple[str, ...]:
    """Read a list of panel server identifiers, lower-cased, duplicates dropped."""
    expected = (
        "a comma-separated list of server identifiers (the 8-character id in the panel's "
        "server URL, e.g. 1a2b3c4d), or nothing for every server the key can see"
    )
    items = split_list(raw, expected)
    for item in items:
        if IDENTIFIER.fullmatch(item) is None:
            raise Invalid(expected)
    return tuple(dict.fromkeys(item.lower() for item in items))


def http_url(text: str, expected: str) -> SplitResult:
    """Split an http(s) URL with a host and a valid port, and nothing that hides credentials."""
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid(expected)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise Invalid(expected)
    try:
        _ = parts.port
    except ValueError:
        raise Invalid(expected + " (the port is not a number from 1 to 65535)") from None
    return parts


def panel_url(raw: str) -> str:
    """Read the panel's address as scheme://host[:port]."""
    expected = (
        "the panel's address with http:// or https:// and no path, e.g. https://panel.example.com"
    )
    parts = http_url(raw.strip(), expected)
    if parts.path not in {"", "/"}:
        raise Invalid(expected + f" (remove {parts.path!r}: the bot adds /api/client itself)")
    return f"{parts.scheme}://{parts.netloc}"


def api_base(raw: str) -> str | None:
    """Read a Discord API base URL, or None for the real Discord."""
    expected = (
        "nothing (the real Discord) or the base URL of a Discord-compatible API or proxy, "
        "e.g. http://127.0.0.1:8090"
    )
    text = raw.strip()
    if not text:
        return None
    parts = http_url(text, expected)
    path = parts.path.rstrip("/")
    if re.search(r"/api(/v\d+)?$", path):
        raise Invalid(expected + f" (remove {path!r}: the bot adds /api/v10 itself)")
    return f"{parts.scheme}://{parts.netloc}{path}"


def role_rule(action: Action) -> Callable[[str], RoleRule]:
    """Return a parser of one action's role list (names, ids, @everyone)."""
    expected = "a comma-separated list of role names or role ids (numbers), or @everyone" + (
        ", or nothing for everyone" if action in OPEN_WHEN_EMPTY else ""
    )

    def parse(raw: str) -> RoleRule:
        items = split_list(raw, expected)
        if not items:
            return RoleRule.when_empty(action)
        ids: set[int] = set()
        names: set[str] = set()
        everyone = False
        for item in items:
            if item.lower() == "@everyone":
                everyone = True
            elif re.fullmatch(r"[0-9]+", item):
                ids.add(snowflake(item, expected + f" ({item!r} is not a valid role id)"))
            else:
                names.add(item.casefold())
        return RoleRule(everyone, frozenset(ids), frozenset(names))

    return parse


def mention_roles(raw: str) -> MentionRoles:
    """Read the roles an alert mentions (names or ids); @everyone and @here are refused."""
    expected = "a comma-separated list of role names or role ids (numbers), or nothing"
    ids: set[int] = set()
    names: set[str] = set()
    for item in split_list(raw, expected):
        if item.lower() in ("@everyone", "@here", "everyone", "here"):
            raise Invalid(expected + " — alerts never mention @everyone or @here: name a role")
        if re.fullmatch(r"[0-9]+", item):
            ids.add(snowflake(item, expected + f" ({item!r} is not a valid role id)"))
        else:
            names.add(item.casefold())
    return MentionRoles(frozenset(ids), frozenset(names))


def alert_rules(raw: str) -> frozenset[Rule]:
    """Read the list of alert rules to run (empty: none)."""
    known = ", ".join(rule.value for rule in Rule)
    expected = f"a comma-separated list of rules from {known}, or nothing"
    rules: set[Rule] = set()
    for item in split_list(raw, expected):
        try:
            rules.add(Rule(item.strip().lower()))
        except ValueError:
            raise Invalid(expected + f" ({item!r} is not a rule)") from None
    return frozenset(rules)


def percent(raw: str) -> float:
    """Read a percent of a limit, 0 (never) to 1000 (CPU may exceed one core's limit)."""
    expected = "a percent of the server's limit from 0 (never) to 1000, e.g. 90"
    text = raw.strip().removesuffix("%").strip()
    try:
        value = float(text)
    except ValueError:
        raise Invalid(expected) from None
    if not 0 <= value <= 1000:  # NaN fails this too
        raise Invalid(expected)
    return value


def log_level(raw: str) -> int:
    """Read a logging level name (WARN means WARNING)."""
    text = raw.strip().upper()
    if text == "WARN":
        text = "WARNING"
    if text not in _LEVELS:
        raise Invalid("one of " + ", ".join(_LEVELS))
    return cast(int, logging.getLevelName(text))


def loggers(raw: str) -> Mapping[str, int]:
    """Read logger=LEVEL pairs."""
    expected = (
        "a comma-separated list of logger=LEVEL pairs, e.g. discord=WARNING, aiohttp.access=ERROR"
    )
    levels: dict[str, int] = {}
    for item in split_list(raw, expected):
        name, sep, wanted = item.partition("=")
        name = name.strip()
        if not sep or _LOGGER_NAME.fullmatch(name) is None:
            raise Invalid(expected)
        try:
            levels[name] = log_level(wanted)
        except Invalid:
            raise Invalid(expected + " with LEVEL one of " + ", ".join(_LEVELS)) from None
    return levels


def log_file(raw: str) -> Path | None:
    """Read the log file's path, or None for the console only."""
    text = raw.strip()
    return Path(text).expanduser() if text else None


def data_file(raw: str) -> Path:
    """Read a required file path."""
    text = raw.strip()
    if not text:
        raise Invalid("a file path, e.g. embed/embed_locations.json")
    return Path(text).expanduser()


def http_host(raw: str) -> str:
    """Read an address or host name to listen on."""
    text = raw.strip()
    # An address or a host name: the endpoint binds it, so no scheme, port or path.
    if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?", text) or text.count(":") == 1:
        raise Invalid("an address to listen on, e.g. 127.0.0.1 (0.0.0.0 in a container)")
    return text.strip("[]")


def query_protocol(raw: str) -> QueryProtocol:
    """Read how a game is asked: minecraft, bedrock, source or none."""
    text = raw.strip().lower()
    try:
        return QueryProtocol(text)
    except ValueError:
        raise Invalid(", ".join(p.value for p in QueryProtocol)) from None


def query_host(raw: str) -> str:
    """Read the address or host name a game is asked at (no scheme, no port)."""
    text = raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?", text) or text.count(":") == 1:
        raise Invalid("an address or host name, e.g. 203.0.113.7 or mc.example.com (no port)")
    return text.strip("[]")


def history_url(raw: str) -> HistoryURL:
    """Read where the history store is: sqlite:///PATH, postgresql://..., or none."""
    text = raw.strip()
    if text.lower() in ("", "none", "off"):
        return HistoryURL("none")
    expected = (
        "sqlite:///data/history.sqlite3 (a file; four slashes for an absolute path), "
        "postgresql://user:password@host:5432/database, or none"
    )
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise Invalid(expected)
    if scheme == "sqlite":
        # SQLAlchemy's form: sqlite:///relative/path, sqlite:////absolute/path.
        if not rest.startswith("/") or len(rest) < 2:
            raise Invalid(expected)
        return HistoryURL("sqlite", path=Path(rest[1:]).expanduser())
    if scheme in ("postgresql", "postgres"):
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        if not host:
            raise Invalid(expected + " (the database URL needs a host)")
        return HistoryURL("postgresql", dsn=Secret("postgresql" + text[len(scheme) :]))
    raise Invalid(expected)
