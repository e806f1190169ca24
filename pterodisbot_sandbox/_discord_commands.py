"""Registered application commands (global and per guild), as Discord stores them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pterodisbot_sandbox import discord_rules as rules
from pterodisbot_sandbox._discord_http import invalid_form
from pterodisbot_sandbox._discord_state import IdGenerator, Json

CHAT_INPUT = 1


class CommandRegistry:
    """Application commands by scope: `None` for global, a guild id for guild commands."""

    def __init__(self, application_id: int, ids: IdGenerator) -> None:
        self._app_id = application_id
        self._ids = ids
        self._scopes: dict[int | None, list[Json]] = {}
        self.syncs = 0

    def of_scope(self, guild_id: int | None) -> list[Json]:
        """Return the commands of one scope."""
        return list(self._scopes.get(guild_id, []))

    def scopes(self) -> dict[int | None, list[Json]]:
        """Return every scope's commands."""
        return {k: list(v) for k, v in self._scopes.items()}

    def overwrite(self, guild_id: int | None, commands: Any) -> list[Json]:
        """Replace a scope's commands (bulk overwrite); keep ids of commands that stay."""
        if not isinstance(commands, list):
            raise invalid_form(
                {"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]}
            )
        errors = rules.validate_application_commands(commands)
        if errors:
            raise invalid_form(errors)
        old = {(c["name"], c.get("type", CHAT_INPUT)): c for c in self._scopes.get(guild_id, [])}
        stored = [
            self._store(guild_id, c, old.get((c.get("name"), c.get("type", CHAT_INPUT))))
            for c in commands
        ]
        self._scopes[guild_id] = stored
        self.syncs += 1
        return list(stored)

    def upsert(self, guild_id: int | None, command: Any) -> Json:
        """Create or replace one command (POST)."""
        if not isinstance(command, Mapping):
            raise invalid_form()
        current = self._scopes.get(guild_id, [])
        rest = [c for c in current if c["name"] != command.get("name")]
        errors = rules.validate_application_commands([dict(command)])
        if errors:
            # Discord reports the single command's errors at the top level.
            raise invalid_form(errors.get("0", errors))
        old = next((c for c in current if c["name"] == command.get("name")), None)
        stored = self._store(guild_id, command, old)
        self._scopes[guild_id] = [*rest, stored]
        return stored

    def delete(self, guild_id: int | None, command_id: int) -> bool:
        """Delete one command; return whether it existed."""
        current = self._scopes.get(guild_id, [])
        kept = [c for c in current if int(c["id"]) != command_id]
        self._scopes[guild_id] = kept
        return len(kept) != len(current)

    def get(self, guild_id: int | None, command_id: int) -> Json | None:
        """Return one command by id."""
        return next((c for c in self._scopes.get(guild_id, []) if int(c["id"]) == command_id), None)

    def find(self, name: str, guild_id: int | None) -> Json | None:
        """Return the chat-input command a user in this guild (or DM) would see by name."""
        scopes: Sequence[int | None] = (guild_id, None) if guild_id is not None else (None,)
        for scope in scopes:
            for c in self._scopes.get(scope, []):
                if c["name"] == name and c.get("type", CHAT_INPUT) == CHAT_INPUT:
                    return c
        return None

    def reachable(self, guild_id: int | None) -> list[Json]:
        """Return the chat-input commands a user in this guild (or DM) may pick, by name.

        A guild command hides a global one of the same name, as `find()` resolves them.
        """
        scopes: Sequence[int | None] = (guild_id, None) if guild_id is not None else (None,)
        seen: set[str] = set()
        out: list[Json] = []
        for scope in scopes:
            for c in self._scopes.get(scope, []):
                if c.get("type", CHAT_INPUT) == CHAT_INPUT and c["name"] not in seen:
                    seen.add(c["name"])
                    out.append(c)
        return sorted(out, key=lambda c: str(c["name"]))

    def _store(self, guild_id: int | None, command: Mapping[str, Any], old: Json | None) -> Json:
        cmd_type = command.get("type", CHAT_INPUT)
        out: Json = {
            "id": old["id"] if old else str(self._ids.next()),
            "application_id": str(self._app_id),
            "version": str(self._ids.next()),
            "type": cmd_type,
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description", ""),
            "description_localizations": command.get("description_localizations"),
            "default_member_permissions": command.get("default_member_permissions"),
            "nsfw": bool(command.get("nsfw", False)),
        }
        if cmd_type == CHAT_INPUT or command.get("options"):
            out["options"] = list(command.get("options") or [])
        if guild_id is not None:
            out["guild_id"] = str(guild_id)
        else:
            out["contexts"] = command.get("contexts")
            out["integration_types"] = command.get("integration_types") or [0]
            out["dm_permission"] = command.get("dm_permission", True)
        return out
