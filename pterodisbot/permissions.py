"""Who may do what: a role rule per action, per-server overrides, and the one decision, `allows`.

Pure: no Discord and no config parsing. The bot hands in a member's role ids and names and
whether Discord calls them an Administrator; `pterodisbot.config` builds the rules from
`[permissions]` and `[permissions.<server>]`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final


class Action(enum.StrEnum):
    """Something a member may be allowed to do; each is a key of `[permissions]`."""

    STATUS = "status"
    ADDRESS = "address"
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    KILL = "kill"
    # /alerts mute, unmute and list: maintenance windows for the alerts channel.
    ALERTS = "alerts"
    ADMIN = "admin"


# Actions where an empty role list means "everyone"; for the others it means "admins only".
OPEN_WHEN_EMPTY: Final = frozenset({Action.STATUS, Action.ADDRESS})
# The actions a `[permissions.<server>]` section may override: those about one server (not the
# bot's admin commands, nor /alerts, which may mute every server at once).
SERVER_ACTIONS: Final = tuple(a for a in Action if a not in (Action.ADMIN, Action.ALERTS))


@dataclass(frozen=True, slots=True)
class RoleRule:
    """Who may do one action: everyone, or members holding one of these roles."""

    everyone: bool
    role_ids: frozenset[int] = frozenset()
    # Casefolded: Discord role names are matched whatever their case.
    role_names: frozenset[str] = frozenset()

    @classmethod
    def when_empty(cls, action: Action) -> RoleRule:
        """Return the rule an empty role list means for `action`: everyone, or admins only."""
        return cls(everyone=action in OPEN_WHEN_EMPTY)

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
