"""Re-read config.ini into the running bot: apply what can change live, name what cannot.

Applied at once: poll interval and server list refresh, watched servers, change thresholds,
forced refresh, graph window and age, edit pacing, every permission, the audit channel.
Everything else (panel URL and key, token, guilds, command sync, history size, files, logging,
the HTTP endpoint) is logged as "needs a restart" and left as it runs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pterodisbot.bot.policy import Thresholds
from pterodisbot.config import (
    LIVE_KEYS,
    TABLE,
    ConfigValidationError,
    Secret,
    Settings,
    load_settings,
)
from pterodisbot.permissions import Action, PermissionsSettings, RoleRule

if TYPE_CHECKING:
    from pterodisbot.bot.services import BotServices

log = logging.getLogger(__name__)

SECTIONS = tuple(section.name for section in TABLE)
# The fields of PermissionsSettings that hold one rule per action: each action's own key of
# `[permissions]` (and of `[permissions.<server>]`) says whether a reload applies it.
_RULE_FIELDS = frozenset({"rules", "overrides"})

SettingsLoader = Callable[[], Settings]


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One key whose value differs between the running and the reloaded configuration."""

    key: str
    old: str
    new: str
    live: bool

    def __str__(self) -> str:
        return f"{self.key}: {self.old} -> {self.new}"


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did: changes applied, changes that need a restart, or why it was refused."""

    applied: tuple[SettingChange, ...] = ()
    needs_restart: tuple[SettingChange, ...] = ()
    refused: str | None = None

    @property
    def ok(self) -> bool:
        """Return True if the file was valid (even when nothing changed)."""
        return self.refused is None

    def lines(self) -> list[str]:
        """Return the outcome as lines for a log or a Discord answer."""
        if self.refused is not None:
            return ["config.ini refused; the running configuration stays:", self.refused]
        if not self.applied and not self.needs_restart:
            return ["config.ini reloaded: nothing changed"]
        lines = [
            f"config.ini reloaded: {len(self.applied)} change(s) applied"
            + (f", {len(self.needs_restart)} need a restart" if self.needs_restart else "")
        ]
        lines += [f"  applied {change}" for change in self.applied]
        lines += [f"  needs a restart (not applied) {change}" for change in self.needs_restart]
        return lines


def _shown(value: Any) -> str:
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, frozenset | set):
        return repr(sorted(value, key=str))
    return repr(value) if isinstance(value, str) else str(value)


def _rule(rule: RoleRule | None) -> str:
    if rule is None:
        return "(as [permissions])"
    if rule.everyone:
        return "@everyone"
    names = sorted(rule.role_names) + sorted(map(str, rule.role_ids))
    return ", ".join(names) if names else "(admins only)"


def _live_rule(action: Action) -> bool:
    return f"permissions.{action}" in LIVE_KEYS


def _rule_changes(old: PermissionsSettings, new: PermissionsSettings) -> list[SettingChange]:
    """List permission changes one action (and one server override) at a time."""
    changes = [
        SettingChange(
            f"permissions.{action}",
            _rule(old.rules[action]),
            _rule(new.rules[action]),
            _live_rule(action),
        )
        for action in Action
        if old.rules[action] != new.rules[action]
    ]
    for server in sorted(set(old.overrides) | set(new.overrides)):
        before, after = old.overrides.get(server, {}), new.overrides.get(server, {})
        for action in Action:
            if before.get(action) != after.get(action):
                key = f"permissions.{server}.{action}"
                changes.append(
                    SettingChange(
                        key, _rule(before.get(action)), _rule(after.get(action)), _live_rule(action)
                    )
                )
    return changes


def diff_settings(old: Settings, new: Settings) -> list[SettingChange]:
    """List every key whose value differs; a secret missing from `new` counts as unchanged."""
    changes: list[SettingChange] = []
    for section in SECTIONS:
        before, after = getattr(old, section), getattr(new, section)
        for field in dataclasses.fields(before):
            if section == "permissions" and field.name in _RULE_FIELDS:
                continue
            a, b = getattr(before, field.name), getattr(after, field.name)
            if isinstance(b, Secret) and not b:
                # A reload reads secrets again only if they are where the first load found them.
                continue
            if a != b:
                key = f"{section}.{field.name}"
                changes.append(SettingChange(key, _shown(a), _shown(b), key in LIVE_KEYS))
    changes += _rule_changes(old.permissions, new.permissions)
    return changes


def _merge_rules(old: PermissionsSettings, new: PermissionsSettings) -> PermissionsSettings:
    """Return `old` with the rules (and server overrides) of the live actions taken from `new`."""

    def source(action: Action) -> PermissionsSettings:
        return new if _live_rule(action) else old

    rules = {action: source(action).rules[action] for action in Action}
    overrides: dict[str, dict[Action, RoleRule]] = {}
    for server in sorted(set(old.overrides) | set(new.overrides)):
        merged = {
            action: rule
            for action in Action
            if (rule := source(action).overrides.get(server, {}).get(action)) is not None
        }
        # A section the new file still names stays, even with no key left.
        if merged or server in new.overrides:
            overrides[server] = merged
    return dataclasses.replace(old, rules=rules, overrides=overrides)


def _merge(old: Settings, new: Settings) -> Settings:
    """Return the running settings with only the live keys taken from `new`."""
    sections: dict[str, Any] = {}
    for section in SECTIONS:
        before, after = getattr(old, section), getattr(new, section)
        live = {
            f.name: getattr(after, f.name)
            for f in dataclasses.fields(before)
            if f"{section}.{f.name}" in LIVE_KEYS
        }
        sections[section] = dataclasses.replace(before, **live) if live else before
    sections["permissions"] = _merge_rules(sections["permissions"], new.permissions)
    return dataclasses.replace(old, **sections, warnings=new.warnings)


def apply_settings(services: BotServices, new: Settings) -> ReloadOutcome:
    """Apply the live keys of `new` to the running services; report every change."""
    changes = diff_settings(services.settings, new)
    merged = _merge(services.settings, new)
    monitoring = merged.monitoring
    services.monitor.poll_interval = monitoring.poll_interval
    services.monitor.server_list_refresh = monitoring.server_list_refresh
    if monitoring.servers != services.settings.monitoring.servers:
        services.monitor.set_server_filter(monitoring.servers)
    services.board.thresholds = Thresholds.from_settings(monitoring)
    services.board.graph_window = monitoring.graph_window
    services.board.show_address = not merged.permissions.hide_address
    services.pump.interval = merged.discord.edit_interval
    if services.audit is not None:
        services.audit.channel_id = merged.discord.audit_channel_id
    # Cogs read permissions and the audit channel from here on every use.
    services.settings = merged
    return ReloadOutcome(
        applied=tuple(c for c in changes if c.live),
        needs_restart=tuple(c for c in changes if not c.live),
    )


def reload_config(services: BotServices, *, load: SettingsLoader | None = None) -> ReloadOutcome:
    """Re-read the configuration and apply it, or refuse it with check-config's messages."""
    path = services.settings.config_path
    if load is None:
        if path is None:
            outcome = ReloadOutcome(refused="the running configuration was not read from a file")
            _log_outcome(outcome)
            return outcome

        def load() -> Settings:
            return load_settings(path, require_secrets=False)

    try:
        new = load()
    except ConfigValidationError as problems:
        outcome = ReloadOutcome(refused=problems.render())
    else:
        outcome = apply_settings(services, new)
        for warning in new.warnings:
            log.warning("config: %s", warning)
    _log_outcome(outcome)
    return outcome


def _log_outcome(outcome: ReloadOutcome) -> None:
    lines = outcome.lines()
    if outcome.ok:
        log.info("%s", lines[0])
        for line in lines[1:]:
            log.info("%s", line.strip())
    else:
        # One line per problem, as check-config prints them.
        for line in lines:
            for part in line.splitlines():
                log.error("%s", part.strip())
