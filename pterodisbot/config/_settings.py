"""The settings the bot runs with: frozen values, the `Secret` wrapper, validation errors."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, NoReturn
from urllib.parse import urlsplit

from pterodisbot.alerts import AlertSettings
from pterodisbot.permissions import PermissionsSettings
from pterodisbot.query import QuerySettings

TOKEN_ENV: Final = "DISCORD_TOKEN"
API_KEY_ENV: Final = "PTERODACTYL_API_KEY"
URL_ENV: Final = "PTERODACTYL_URL"
ENV_PREFIX: Final = "PTERODISBOT_"
CONFIG_PATH_ENV: Final = "PTERODISBOT_CONFIG"
DEFAULT_CONFIG_PATH: Final = Path("config.ini")

# The panel's default client API limit per user per minute (APP_API_CLIENT_RATELIMIT).
PANEL_DEFAULT_RATE_LIMIT: Final = 720

# API keys by shape: Pterodactyl ptlc_/ptla_, Pelican plcn_/peli_ (client/application).
API_KEY_PATTERN: Final = re.compile(r"\b(?:ptl[ac]|plcn|peli)_[A-Za-z0-9]+")

KeyType = Literal["client", "application"]
SyncMode = Literal["guild", "global", "off"]


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


# Seconds between two token requests of a streamed server: Wings' tokens live 10 min and
# `pterodisbot.panel.wings` renews them at 80-90 % of that (510 s on average).
TOKEN_RENEWED_EVERY: Final = 510.0
# The share of the key's budget the stream's token requests may use (`panel.wings.TOKEN_SHARE`).
TOKEN_BUDGET_SHARE: Final = 0.5


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
    source: str = "auto"

    @property
    def streams(self) -> bool:
        """Return True when servers are watched over the Wings websocket (polling as fallback)."""
        return self.source != "poll"

    def requests_per_minute(self, servers: int) -> float:
        """Return the panel requests a minute polling `servers` servers takes (list included)."""
        return servers * 60 / self.poll_interval + 60 / self.server_list_refresh

    def token_requests_per_minute(self, servers: int) -> float:
        """Return the token requests a minute streaming `servers` servers takes (list included)."""
        return servers * 60 / TOKEN_RENEWED_EVERY + 60 / self.server_list_refresh


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


HistoryKind = Literal["sqlite", "postgresql", "none"]

# A password in a database URL, for redaction: "scheme://user:PASSWORD@host".
URL_PASSWORD: Final = re.compile(r"(?<=://)([^:/@\s]*):([^@\s]+)@")


@dataclass(frozen=True, slots=True)
class HistoryURL:
    """`[history] url`: where the history store is; `shown` is safe to log (no password)."""

    kind: HistoryKind
    path: Path | None = None
    dsn: Secret | None = None

    @property
    def enabled(self) -> bool:
        """Tell whether history is kept at all."""
        return self.kind != "none"

    @property
    def shown(self) -> str:
        """Return the URL for logs and problem lines, its password replaced by ***."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        if self.kind == "postgresql" and self.dsn is not None:
            return URL_PASSWORD.sub(r"\1:***@", self.dsn.reveal())
        return "none"

    def password(self) -> str | None:
        """Return the database password in the URL, if any, for the log redaction filter."""
        if self.dsn is None:
            return None
        found = URL_PASSWORD.search(self.dsn.reveal())
        return found.group(2) if found else None


@dataclass(frozen=True, slots=True)
class HistorySettings:
    """`[history]`: the store that keeps every sample and its rollups, and its write pacing."""

    url: HistoryURL = HistoryURL("none")
    flush_interval: float = 10.0
    buffer_limit: int = 200_000


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot was configured with, validated and frozen."""

    pterodactyl: PterodactylSettings
    discord: DiscordSettings
    monitoring: MonitoringSettings
    permissions: PermissionsSettings
    logging: LoggingSettings
    http: HttpSettings = HttpSettings()
    history: HistorySettings = HistorySettings()
    alerts: AlertSettings = field(default_factory=AlertSettings)
    query: QuerySettings = field(default_factory=QuerySettings)
    config_path: Path | None = None
    warnings: tuple[str, ...] = ()

    def secret_values(self) -> tuple[str, ...]:
        """Return the revealed secrets, for the log redaction filter."""
        found = (
            self.discord.token.reveal(),
            self.pterodactyl.api_key.reveal(),
            self.history.url.password(),
        )
        return tuple(value for value in found if value)
