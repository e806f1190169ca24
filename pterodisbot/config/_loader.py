"""Read config.ini, .env and the environment into frozen, validated settings.

Sources, lowest to highest priority: built-in defaults < config.ini < .env < process environment.
Secrets (`DISCORD_TOKEN`, `PTERODACTYL_API_KEY`) come only from .env or the environment. Any ini
key can be overridden by `PTERODISBOT_<SECTION>_<KEY>`. Every key is read as the settings table
(`_table.TABLE`) says; the checks that span keys follow. Every problem is collected and raised at
once as a `ConfigValidationError`, each line naming `section.key`, with secrets redacted.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import difflib
import io
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from dotenv import dotenv_values

from pterodisbot.alerts import AlertSettings, ServerAlertSettings
from pterodisbot.config._parsers import IDENTIFIER, Invalid, role_rule
from pterodisbot.config._settings import (
    API_KEY_ENV,
    API_KEY_PATTERN,
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    ENV_PREFIX,
    TOKEN_BUDGET_SHARE,
    TOKEN_ENV,
    URL_ENV,
    URL_PASSWORD,
    ConfigProblem,
    ConfigValidationError,
    DiscordSettings,
    HistorySettings,
    HistoryURL,
    HttpSettings,
    LoggingSettings,
    MonitoringSettings,
    PterodactylSettings,
    Secret,
    Settings,
)
from pterodisbot.config._table import (
    DEFAULTS,
    SECTIONS,
    SERVER_ALERT_KEYS,
    SERVER_QUERY_KEYS,
    TABLE,
    Key,
    Section,
)
from pterodisbot.permissions import SERVER_ACTIONS, Action, PermissionsSettings, RoleRule
from pterodisbot.query import QueryOverride, QuerySettings

log = logging.getLogger(__name__)

# Environment names under our prefix that are not setting overrides.
_RESERVED_ENV: Final = frozenset({CONFIG_PATH_ENV, "PTERODISBOT_ENV_FILE"})
_APPLICATION_KEY_PREFIXES: Final = ("ptla_", "peli_")

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
        return API_KEY_PATTERN.sub("***", URL_PASSWORD.sub(r"\1:***@", text))

    def problem(self, where: str, shown: str, expected: str) -> None:
        """Record a problem; section names, keys and hints are scrubbed of secrets too."""
        self.problems.append(
            ConfigProblem(self.scrub(where), self.scrub(shown), self.scrub(expected))
        )

    def read(self, section: str, key: Key) -> Any:
        """Parse one value; on failure record the problem and fall back to the default."""
        raw = self.values.get((section, key.name))
        where = _where(section, key.name, raw.origin if raw else None)
        if key.missing is not None and (raw is None or not raw.value.strip()):
            self.problem(where, "missing", key.missing)
            return key.default
        raw = raw or _Raw(key.default)
        try:
            return key.parse(raw.value)
        except Invalid as bad:
            self.problem(where, self.shown(raw.value), bad.expected)
            # A required key has no valid default; the problem keeps the settings from being used.
            return key.default if key.missing is not None else key.parse(key.default)


def _where(section: str, key: str, origin: str | None) -> str:
    return f"{section}.{key}" + (f" (from {origin})" if origin else "")


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


# Per-server sections, `[<prefix>.<server identifier>]`: the keys each may hold.
_SERVER_SECTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "permissions": SERVER_ACTIONS,
        "alerts": tuple(SERVER_ALERT_KEYS),
        "query": tuple(SERVER_QUERY_KEYS),
    }
)

# Per-server sections by prefix ("permissions", "alerts"), then server, then key -> raw value.
ServerSections = dict[str, dict[str, dict[str, str]]]


def _server_section(section: str) -> tuple[str, str] | None:
    """Split "permissions.1a2b3c4d" into its prefix and identifier (None: not per-server)."""
    prefix, dot, identifier = section.partition(".")
    if not dot or prefix not in _SERVER_SECTIONS:
        return None
    # Panel identifiers are lower-case hex; the panel itself matches them case-blind.
    return prefix, identifier.lower()


def _apply_ini(ini: Mapping[str, Mapping[str, str]], ctx: _Context) -> ServerSections:
    """Merge known ini keys into ctx; return the per-server sections by prefix."""
    servers: ServerSections = {prefix: {} for prefix in _SERVER_SECTIONS}
    sections_of: dict[str, list[str]] = {}
    for section, keys in DEFAULTS.items():
        for key in keys:
            sections_of.setdefault(key, []).append(section)
    for section, items in ini.items():
        split = _server_section(section)
        if split is not None:
            prefix, identifier = split
            if IDENTIFIER.fullmatch(identifier) is None:
                ctx.problem(
                    f"[{section}]",
                    "not a server identifier",
                    f"[{prefix}.<identifier>] with the server's 8-character id, "
                    f"e.g. [{prefix}.1a2b3c4d]",
                )
                continue
            allowed = _SERVER_SECTIONS[prefix]
            keys = servers[prefix].setdefault(identifier, {})
            for key, value in items.items():
                if _refuse_secret(section, key, ctx):
                    continue
                if key not in allowed:
                    hint = _nearest(key, allowed)
                    ctx.problem(
                        f"{section}.{key}",
                        "unknown key",
                        "one of "
                        + ", ".join(allowed)
                        + f" in a [{prefix}.<server>] section"
                        + (f" (did you mean {hint}?)" if hint else ""),
                    )
                    continue
                keys[key] = value
            continue
        if section not in DEFAULTS:
            hint = _nearest(section, DEFAULTS)
            known = ", ".join(f"[{name}]" for name in DEFAULTS)
            ctx.problem(
                f"[{section}]",
                "unknown section",
                f"one of {known}, [permissions.<server>], [alerts.<server>], [query.<server>]"
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


def _read_section(ctx: _Context, section: Section, base_dir: Path) -> dict[str, Any]:
    """Read every key of one section as the table says; a relative path is under base_dir."""
    values: dict[str, Any] = {}
    for key in section.keys:
        value = ctx.read(section.name, key)
        if isinstance(value, Path) and not value.is_absolute():
            value = base_dir / value
        if key.warn is not None and (warning := key.warn(value)) is not None:
            ctx.warnings.append(warning)
        values[key.name] = value
    return values


def _check_api_key(
    ctx: _Context, api_key: str, origin: str | None, key_type: str, need: bool
) -> None:
    where = f"pterodactyl.api_key ({origin or API_KEY_ENV})"
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


def _check_token(ctx: _Context, token: str, origin: str | None, need: bool) -> None:
    where = f"discord.token ({origin or TOKEN_ENV})"
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


def _alert_overrides(
    ctx: _Context, servers: Mapping[str, Mapping[str, str]]
) -> dict[str, ServerAlertSettings]:
    """Parse the `[alerts.<server>]` sections (their keys are already known)."""
    overrides: dict[str, ServerAlertSettings] = {}
    for identifier, items in servers.items():
        parsed: dict[str, Any] = {}
        for key, value in items.items():
            try:
                parsed[key] = SERVER_ALERT_KEYS[key](value)
            except Invalid as bad:
                ctx.problem(f"alerts.{identifier}.{key}", ctx.shown(value), bad.expected)
        overrides[identifier] = ServerAlertSettings(**parsed)
    return overrides


def _query_overrides(
    ctx: _Context, servers: Mapping[str, Mapping[str, str]]
) -> dict[str, QueryOverride]:
    """Parse the `[query.<server>]` sections (their keys are already known)."""
    overrides: dict[str, QueryOverride] = {}
    for identifier, items in servers.items():
        parsed: dict[str, Any] = {}
        for key, value in items.items():
            try:
                parsed[key] = SERVER_QUERY_KEYS[key](value)
            except Invalid as bad:
                ctx.problem(f"query.{identifier}.{key}", ctx.shown(value), bad.expected)
        overrides[identifier] = QueryOverride(**parsed)
    return overrides


def _overrides(
    ctx: _Context, servers: Mapping[str, Mapping[str, str]]
) -> dict[str, Mapping[Action, RoleRule]]:
    """Parse the `[permissions.<server>]` sections (their keys are already known actions)."""
    overrides: dict[str, Mapping[Action, RoleRule]] = {}
    for identifier, items in servers.items():
        parsed: dict[Action, RoleRule] = {}
        for key, value in items.items():
            action = Action(key)
            try:
                parsed[action] = role_rule(action)(value)
            except Invalid as bad:
                ctx.problem(f"permissions.{identifier}.{key}", ctx.shown(value), bad.expected)
        overrides[identifier] = parsed
    return overrides


def auto_history_size(graph_window: float, smoothing: float, poll_interval: float) -> int:
    """Return the ring size `history_size = auto` means: the live graph's span and a margin.

    The store keeps the long history; memory keeps what the live graph and the smoothing read,
    plus a quarter and 20 samples for polls that come late: 133 at the defaults (900 s, 10 s).
    """
    span = max(graph_window, smoothing)
    return max(10, math.ceil(span * 1.25 / poll_interval) + 20)


def _check_monitoring(ctx: _Context, settings: MonitoringSettings, rpm: int) -> None:
    """Warn about intervals that contradict each other or the request budget."""
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
    if settings.servers and settings.streams:
        # Streamed servers cost a token request every ~8.5 min, paced within a share of the
        # budget; polling is only the fallback.
        tokens = settings.token_requests_per_minute(len(settings.servers))
        share = rpm * TOKEN_BUDGET_SHARE
        if tokens > share:
            ctx.warnings.append(
                f"streaming {len(settings.servers)} server(s) needs about {tokens:.0f} token "
                f"requests/min, above the {share:.0f}/min (half of "
                f"pterodactyl.requests_per_minute = {rpm}) kept for them: tokens will be "
                "renewed late and sockets reopened; raise the budget"
            )
    elif settings.servers:
        needed = settings.requests_per_minute(len(settings.servers))
        if needed > rpm:
            ctx.warnings.append(
                f"polling {len(settings.servers)} server(s) every {settings.poll_interval:g} s "
                f"needs about {needed:.0f} requests/min, above pterodactyl.requests_per_minute "
                f"= {rpm}: raise poll_interval or the budget"
            )


def _check_permissions(
    ctx: _Context, permissions: PermissionsSettings, watched: tuple[str, ...]
) -> None:
    """Warn about overrides that cannot apply and an admin role nobody can hold."""
    for identifier in permissions.overrides:
        if watched and identifier not in watched:
            ctx.warnings.append(
                f"[permissions.{identifier}] names a server that monitoring.servers does not "
                "watch: it has no effect"
            )
    if permissions.rules[Action.ADMIN].is_empty and not permissions.allow_administrator:
        ctx.warnings.append(
            "permissions.admin is empty and allow_administrator = false: nobody can use the "
            "admin commands"
        )


def _build(
    ctx: _Context,
    servers: ServerSections,
    *,
    token: tuple[str, str | None],
    api_key: tuple[str, str | None],
    base_dir: Path,
    config_path: Path | None,
    require_secrets: bool,
    require_token: bool,
) -> Settings:
    panel = _read_section(ctx, SECTIONS["pterodactyl"], base_dir)
    # The credentials are reported beside the panel's keys, before the rest of the file.
    _check_api_key(ctx, *api_key, panel["key_type"], require_secrets)
    _check_token(ctx, *token, require_secrets and require_token)
    values = {
        s.name: _read_section(ctx, s, base_dir) for s in TABLE if s is not SECTIONS["pterodactyl"]
    }
    permissions = values["permissions"]
    rules = {action: permissions.pop(action.value) for action in Action}
    monitoring = values["monitoring"]
    if monitoring["history_size"] is None:
        monitoring["history_size"] = auto_history_size(
            monitoring["graph_window"], monitoring["smoothing"], monitoring["poll_interval"]
        )
    history = values["history"]
    url: HistoryURL = history["url"]
    if url.path is not None and not url.path.is_absolute():
        history["url"] = dataclasses.replace(url, path=base_dir / url.path)
    settings = Settings(
        pterodactyl=PterodactylSettings(api_key=Secret(api_key[0]), **panel),
        discord=DiscordSettings(token=Secret(token[0]), **values["discord"]),
        monitoring=MonitoringSettings(**monitoring),
        permissions=PermissionsSettings(
            rules=rules, overrides=_overrides(ctx, servers["permissions"]), **permissions
        ),
        logging=LoggingSettings(**values["logging"]),
        http=HttpSettings(**values["http"]),
        history=HistorySettings(**history),
        alerts=AlertSettings(
            **values["alerts"],
            servers=_alert_overrides(ctx, servers["alerts"]),
        ),
        query=QuerySettings(**values["query"], servers=_query_overrides(ctx, servers["query"])),
        config_path=config_path,
    )
    _check_monitoring(ctx, settings.monitoring, settings.pterodactyl.requests_per_minute)
    _check_permissions(ctx, settings.permissions, settings.monitoring.servers)
    if ctx.problems:
        raise ConfigValidationError(ctx.problems)
    return dataclasses.replace(settings, warnings=tuple(ctx.warnings))


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
