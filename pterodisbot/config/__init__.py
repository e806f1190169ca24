"""Settings: config.ini, .env and the environment -> frozen, validated `Settings`.

The public face of the package. Each key is written once, in the settings table (`_table.py`);
`_loader.py` reads the sources, `_parsers.py` turns values into types, `_settings.py` holds the
frozen dataclasses the rest of the bot reads. `python -m pterodisbot.config` prints the
documented example config.ini.
"""

from __future__ import annotations

from pterodisbot.config._loader import load_settings, settings_from_sections
from pterodisbot.config._settings import (
    API_KEY_ENV,
    API_KEY_PATTERN,
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    ENV_PREFIX,
    PANEL_DEFAULT_RATE_LIMIT,
    TOKEN_BUDGET_SHARE,
    TOKEN_ENV,
    URL_ENV,
    ConfigProblem,
    ConfigValidationError,
    DiscordSettings,
    HistorySettings,
    HistoryURL,
    HttpSettings,
    KeyType,
    LoggingSettings,
    MonitoringSettings,
    PterodactylSettings,
    Secret,
    Settings,
    SyncMode,
)
from pterodisbot.config._table import DEFAULTS, LIVE_KEYS, TABLE, Key, Section, example_ini
from pterodisbot.permissions import PermissionsSettings

__all__ = [
    "API_KEY_ENV",
    "API_KEY_PATTERN",
    "CONFIG_PATH_ENV",
    "DEFAULTS",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "LIVE_KEYS",
    "PANEL_DEFAULT_RATE_LIMIT",
    "TABLE",
    "TOKEN_BUDGET_SHARE",
    "TOKEN_ENV",
    "URL_ENV",
    "ConfigProblem",
    "ConfigValidationError",
    "DiscordSettings",
    "HistorySettings",
    "HistoryURL",
    "HttpSettings",
    "Key",
    "KeyType",
    "LoggingSettings",
    "MonitoringSettings",
    "PermissionsSettings",
    "PterodactylSettings",
    "Secret",
    "Section",
    "Settings",
    "SyncMode",
    "example_ini",
    "load_settings",
    "settings_from_sections",
]
