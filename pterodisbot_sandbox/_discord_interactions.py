"""Interactions: built for a simulated user, dispatched, and answered through callbacks."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pterodisbot.clock import Clock
from pterodisbot_sandbox import discord_rules as rules
from pterodisbot_sandbox._discord_commands import CommandRegistry
from pterodisbot_sandbox._discord_http import (
    CODE_INVALID_WEBHOOK_TOKEN,
    CODE_UNKNOWN_WEBHOOK,
    ApiError,
    Body,
    invalid_form,
    known,
    unknown_channel,
    unknown_message,
)
from pterodisbot_sandbox._discord_messages import create_message, edit_message
from pterodisbot_sandbox._discord_state import (
    ATTACHMENT_SIZE_LIMIT,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    Channel,
    Guild,
    Json,
    Member,
    Message,
    State,
    role_json,
    user_json,
)
from pterodisbot_sandbox._discord_world import Perm, UserSeed

log = logging.getLogger(__name__)

PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

CALLBACK_PONG = 1
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9

# Which callback types each interaction type accepts (Discord answers 400 otherwise).
ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({4, 5, 9}),
    MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9}),
    AUTOCOMPLETE: frozenset({8}),
    MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}
MESSAGE_TYPE_DEFAULT = 0
MESSAGE_TYPE_CHAT_INPUT = 20

OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_BOOLEAN = 5
OPTION_USER = 6
OPTION_CHANNEL = 7
OPTION_ROLE = 8
OPTION_MENTIONABLE = 9
OPTION_NUMBER = 10
SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
# User, role, mentionable and channel selects resolve values like the matching option types.
_SELECT_OPTION_TYPES = {5: 6, 6: 8, 7: 9, 8: 7}


# Discord's answer to a client invoking a command hidden from that member (a stale or forged
# request): 400 Invalid Form Body with this error under `data`; the client shows the message.
NO_PERMISSION_TEXT = "You do not have permission to use this command."
NO_PERMISSION_CODE = "INTERACTION_APPLICATION_COMMAND_INVALID_PERMISSIONS"


class ControlError(Exception):
    """A control-API request a real Discord user could not make (unknown command, no access).

    `discord` is the error Discord itself would answer, when it answers one (its body is sent
    alongside `error`).
    """

    def __init__(self, status: int, message: str, *, discord: ApiError | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.discord = discord

    def body(self) -> Json:
        """Return the control API's answer: Discord's error body, if any, plus `error`."""
        out = self.discord.body() if self.discord is not None else {}
        out["error"] = self.message
        return out


def usable_in_dms(command: Mapping[str, Any]) -> bool:
    """Tell whether a command may be used in a DM with the bot."""
    contexts = command.get("contexts")
    return not (
        command.get("guild_id") is not None
        or command.get("dm_permission") is False
        or (contexts is not None and 1 not in contexts)
    )


def member_sees(command: Mapping[str, Any], permissions: int) -> bool:
    """Tell whether Discord shows a guild member with `permissions` (in a channel) `command`.

    Administrators see every command; "0" hides a command from everyone else.
    """
    required = command.get("default_member_permissions")
    if required is None or permissions & Perm.ADMINISTRATOR:
        return True
    needed = int(required)
    return needed != 0 and permissions & needed == needed


@dataclass(frozen=True, slots=True)
class Timing:
    """Discord's interaction deadlines."""

    initial_response: float = 3.0
    token_lifetime: float = 15 * 60.0


class InteractionRecord:
    """One interaction: what was dispatched and everything the bot answered."""

    def __init__(
        self,
        *,
        id: int,
        kind: int,
        user: UserSeed,
        channel: Channel,
        created: float,
        payload: Json,
        source_message_id: int | None = None,
        name: str | None = None,
    ) -> None:
        self.id = id
        self.token = "sandbox." + secrets.token_urlsafe(48)
        self.kind = kind
        self.user = user
        self.channel_id = channel.id
        self.guild_id = channel.guild_id
        self.created = created
        self.payload = payload
        self.payload["id"] = str(id)
        self.payload["token"] = self.token
        self.source_message_id = source_message_id
        self.name = name
        self.response_type: int | None = None
        self.response_data: Json | None = None
        self.response_files: list[str] = []
        self.original_message_id: int | None = None
        self.followup_ids: list[int] = []
        self.events: list[Json] = []
        self.rejected: list[Json] = []
        self.changed = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting for this interaction to change."""
        self.changed.set()
        self.changed = asyncio.Event()

    def metadata(self) -> Json:
        """Return the `interaction_metadata` Discord puts on response messages."""
        out: Json = {
            "id": str(self.id),
            "type": self.kind,
            "user": user_json(self.user),
            "authorizing_integration_owners": self.payload.get(
                "authorizing_integration_owners", {}
            ),
        }
        if self.name:
            out["name"] = self.name
        if self.source_message_id is not None:
            out["interacted_message_id"] = str(self.source_message_id)
        return out


class Interactions:
    """Builds interactions for simulated users and serves the callback and webhook routes."""

    def __init__(
        self,
        state: State,
        commands: CommandRegistry,
        *,
        clock: Clock,
        base_url: Callable[[], str],
        dispatch: Callable[[str, Json], Awaitable[None]],
        timing: Timing | None = None,
    ) -> None:
        self._state = state
        self._commands = commands
        self._clock = clock
        self._base_url = base_url
        self._dispatch = dispatch
        self.timing = timing or Timing()
        self.records: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        # custom_id -> (modal data, the interaction that opened it)
        self._open_modals: list[tuple[Json, InteractionRecord]] = []

    # ----- building interactions for a simulated user -----

    def _common(self, kind: int, user: UserSeed, channel: Channel, data: Json) -> Json:
        """Return the INTERACTION_CREATE payload `user` would cause in `channel`."""
        state = self._state
        payload: Json = {
            "application_id": str(state.world.application_id),
            "type": kind,
            "data": data,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "app_permissions": str(state.bot_permissions(channel)),
            "channel_id": str(channel.id),
        }
        if channel.guild_id is None:
            payload["user"] = user_json(user)
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": str(user.id)}
            payload["channel"] = {**channel.to_json(), "recipients": [user_json(user)]}
            return payload
        guild = state.guilds[channel.guild_id]
        member, perms = self._member_in(guild, user, channel)
        payload.update(
            {
                "guild_id": str(guild.id),
                "guild_locale": "en-US",
                "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
                "member": member.to_json(permissions=perms),
                "context": 0,
                "authorizing_integration_owners": {"0": str(guild.id)},
                "channel": {**channel.to_json(), "permissions": str(perms)},
            }
        )
        return payload

    @staticmethod
    def _member_in(guild: Guild, user: UserSeed, channel: Channel) -> tuple[Member, int]:
        """Return the user's membership of `guild` and their permissions in its `channel`.

        A ControlError if they are not a member or cannot see the channel: no real user could
        act there.
        """
        member = guild.members.get(user.id)
        if member is None:
            raise ControlError(403, f"user {user.name!r} is not a member of guild {guild.name!r}")
        perms = guild.channel_permissions(user.id, channel)
        if not perms & Perm.VIEW_CHANNEL:
            raise ControlError(403, f"user {user.name!r} cannot see #{channel.name}")
        return member, perms

    def _place(self, spec: Mapping[str, Any], user: UserSeed) -> Channel:
        state = self._state
        if spec.get("dm"):
            return state.dm_channel(user)
        try:
            guild = state.resolve_guild(spec.get("guild_id"))
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None
        ref = spec.get("channel_id")
        if ref is None:
            text = [c for c in guild.channels.values() if c.type == 0]
            if not text:
                raise ControlError(404, f"guild {guild.name!r} has no text channel")
            return next((c for c in text if c.name == "status"), text[0])
        try:
            channel = state.resolve_channel(ref, guild.id)
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None
        return channel

    def _user(self, spec: Mapping[str, Any], default: str = "owner") -> UserSeed:
        ref = spec.get("user_id", spec.get("user", default))
        try:
            return self._state.resolve_user(ref)
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None

    def _register(self, record: InteractionRecord) -> InteractionRecord:
        # Tokens die after 15 minutes; forget older interactions so a long demo stays small.
        horizon = self._clock.monotonic() - self.timing.token_lifetime - 60.0
        for old in [r for r in self.records.values() if r.created < horizon]:
            del self.records[old.id]
            self._by_token.pop(old.token, None)
        self._open_modals = [(m, r) for m, r in self._open_modals if r.id in self.records]
        self.records[record.id] = record
        self._by_token[record.token] = record
        return record

    def build_command(
        self, spec: Mapping[str, Any], *, autocomplete: bool = False
    ) -> InteractionRecord:
        """Build an application command (or autocomplete) interaction from a control request."""
        user = self._user(spec)
        channel = self._place(spec, user)
        path = str(spec.get("name", "")).split()
        if not path:
            raise ControlError(400, "a command interaction needs a name")
        command = self._commands.find(path[0], channel.guild_id)
        if command is None:
            where = "DMs" if channel.guild_id is None else f"guild {channel.guild_id}"
            raise ControlError(404, f"no command /{path[0]} is registered for {where}")
        self._check_can_use(command, user, channel)
        resolved: Json = {}
        values: Any = spec.get("options") or {}
        if not isinstance(values, Mapping):
            raise ControlError(400, "options must be a name -> value map")
        # "/status add" is the same as options {"add": {...}}.
        for sub in reversed(path[1:]):
            values = {sub: values}
        focused = spec.get("focused") if autocomplete else None
        if autocomplete and not focused:
            raise ControlError(400, "an autocomplete interaction needs a focused option")
        guild = self._state.guilds.get(channel.guild_id) if channel.guild_id else None
        options = self._options(
            command.get("options") or [],
            values,
            guild=guild,
            channel=channel,
            user=user,
            resolved=resolved,
            focused=focused,
        )
        data: Json = {
            "id": command["id"],
            "name": command["name"],
            "type": command.get("type", 1),
            "options": options,
        }
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        kind = AUTOCOMPLETE if autocomplete else APPLICATION_COMMAND
        payload = self._common(kind, user, channel, data)
        return self._register(
            InteractionRecord(
                id=self._state.ids.next(),
                kind=kind,
                user=user,
                channel=channel,
                created=self._clock.monotonic(),
                payload=payload,
                name=" ".join(path),
            )
        )

    def _check_can_use(self, command: Json, user: UserSeed, channel: Channel) -> None:
        if channel.guild_id is None:
            if not usable_in_dms(command):
                raise ControlError(403, f"/{command['name']} is not available in DMs")
            return
        perms = self._state.guilds[channel.guild_id].channel_permissions(user.id, channel)
        if not member_sees(command, perms):
            # Discord hides the command from this user; invoked anyway, Discord refuses it.
            raise ControlError(
                400,
                NO_PERMISSION_TEXT,
                discord=invalid_form(
                    {
                        "data": {
                            "_errors": [{"code": NO_PERMISSION_CODE, "message": NO_PERMISSION_TEXT}]
                        }
                    }
                ),
            )

    def visible_commands(self, spec: Mapping[str, Any]) -> tuple[UserSeed, Channel, list[Json]]:
        """Return the user, the channel and the chat-input commands Discord's picker shows there.

        `spec` names the user (`user_id`) and the place (`channel_id`, `guild_id` or `dm`) as
        for an interaction; a user who cannot see the channel gets a ControlError.
        """
        user = self._user(spec)
        channel = self._place(spec, user)
        if channel.guild_id is None:
            return user, channel, [c for c in self._commands.reachable(None) if usable_in_dms(c)]
        guild = self._state.guilds[channel.guild_id]
        _, perms = self._member_in(guild, user, channel)
        commands = self._commands.reachable(channel.guild_id)
        return user, channel, [c for c in commands if member_sees(c, perms)]

    def _options(
        self,
        defs: Sequence[Json],
        values: Mapping[str, Any],
        *,
        guild: Guild | None,
        channel: Channel,
        user: UserSeed,
        resolved: Json,
        focused: Any,
    ) -> list[Json]:
        by_name = {d["name"]: d for d in defs}
        out: list[Json] = []
        for name, value in values.items():
            d = by_name.get(name)
            if d is None:
                raise ControlError(400, f"unknown option {name!r} (known: {sorted(by_name)})")
            otype = d.get("type")
            if otype in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
                sub = self._options(
                    d.get("options") or [],
                    value if isinstance(value, Mapping) else {},
                    guild=guild,
                    channel=channel,
                    user=user,
                    resolved=resolved,
                    focused=focused,
                )
                out.append({"type": otype, "name": name, "options": sub})
                continue
            opt: Json = {"type": otype, "name": name}
            if focused is not None and name == focused:
                opt["value"] = "" if value is None else str(value)
                opt["focused"] = True
            else:
                opt["value"] = self._typed(
                    d, value, guild=guild, channel=channel, invoker=user, resolved=resolved
                )
            out.append(opt)
        if focused is None:
            present = set(values)
            for d in defs:
                if d.get("required") and d["name"] not in present:
                    raise ControlError(400, f"required option {d['name']!r} is missing")
        return out

    def _typed(
        self,
        d: Json,
        value: Any,
        *,
        guild: Guild | None,
        channel: Channel,
        invoker: UserSeed,
        resolved: Json,
    ) -> Any:
        otype = d.get("type")
        name = d["name"]
        state = self._state
        try:
            if otype == OPTION_STRING:
                typed: Any = str(value)
                lo, hi = d.get("min_length"), d.get("max_length")
                if (lo is not None and len(typed) < lo) or (hi is not None and len(typed) > hi):
                    raise ControlError(400, f"option {name!r}: length out of range")
            elif otype == OPTION_INTEGER:
                if isinstance(value, bool):
                    raise ValueError("bool is not an integer")
                typed = int(value)
            elif otype == OPTION_NUMBER:
                typed = float(value)
            elif otype == OPTION_BOOLEAN:
                typed = (
                    value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
                )
            elif otype in (OPTION_USER, OPTION_MENTIONABLE) and not self._is_role(
                guild, value, otype
            ):
                user = state.resolve_user(value)
                resolved.setdefault("users", {})[str(user.id)] = user_json(user)
                if guild is not None and user.id in guild.members:
                    member = guild.members[user.id].to_json(
                        permissions=guild.channel_permissions(user.id, channel)
                    )
                    member.pop("user", None)
                    resolved.setdefault("members", {})[str(user.id)] = member
                typed = str(user.id)
            elif otype in (OPTION_ROLE, OPTION_MENTIONABLE):
                if guild is None:
                    raise ControlError(400, "role options need a guild")
                role = next(
                    r for r in guild.roles.values() if r.name == value or str(r.id) == str(value)
                )
                pos = list(guild.roles).index(role.id)
                resolved.setdefault("roles", {})[str(role.id)] = role_json(role, pos, state.bot.id)
                typed = str(role.id)
            elif otype == OPTION_CHANNEL:
                target = state.resolve_channel(value, guild.id if guild else None)
                perms = guild.channel_permissions(invoker.id, target) if guild else 0
                resolved.setdefault("channels", {})[str(target.id)] = {
                    **target.to_json(),
                    "permissions": str(perms),
                }
                typed = str(target.id)
            else:
                raise ControlError(400, f"option {name!r}: type {otype} is not supported here")
        except (KeyError, ValueError, StopIteration):
            raise ControlError(400, f"option {name!r}: {value!r} is not a valid value") from None
        if otype in (OPTION_INTEGER, OPTION_NUMBER):
            lo, hi = d.get("min_value"), d.get("max_value")
            if (lo is not None and typed < lo) or (hi is not None and typed > hi):
                raise ControlError(400, f"option {name!r}: {typed} is out of range")
        choices = d.get("choices")
        if choices and typed not in [c["value"] for c in choices]:
            raise ControlError(400, f"option {name!r}: {typed!r} is not one of its choices")
        return typed

    @staticmethod
    def _is_role(guild: Guild | None, value: Any, otype: Any) -> bool:
        if otype != OPTION_MENTIONABLE or guild is None:
            return False
        return any(r.name == value or str(r.id) == str(value) for r in guild.roles.values())

    def build_component(self, spec: Mapping[str, Any]) -> InteractionRecord:
        """Build a button click or select choice on a message the bot sent."""
        state = self._state
        try:
            message = state.messages[int(spec["message_id"])]
        except (KeyError, ValueError, TypeError):
            raise ControlError(404, f"no message {spec.get('message_id')!r}") from None
        custom_id = str(spec.get("custom_id", ""))
        component = next(
            (c for c in _walk_components(message.components) if c.get("custom_id") == custom_id),
            None,
        )
        if component is None:
            raise ControlError(404, f"message {message.id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ControlError(409, f"component {custom_id!r} is disabled")
        user = self._user(spec)
        if message.ephemeral and message.interaction_metadata is not None:
            owner = message.interaction_metadata.get("user", {}).get("id")
            if owner != str(user.id):
                raise ControlError(403, "only the user who got an ephemeral message can use it")
        channel = state.channels[message.channel_id]
        data: Json = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in SELECT_TYPES:
            self._select_values(component, spec.get("values"), user, channel, data)
        elif spec.get("values"):
            raise ControlError(400, "only selects take values")
        payload = self._common(MESSAGE_COMPONENT, user, channel, data)
        payload["message"] = message.to_json(self._base_url())
        return self._register(
            InteractionRecord(
                id=state.ids.next(),
                kind=MESSAGE_COMPONENT,
                user=user,
                channel=channel,
                created=self._clock.monotonic(),
                payload=payload,
                source_message_id=message.id,
            )
        )

    def _select_values(
        self, select: Json, values: Any, user: UserSeed, channel: Channel, data: Json
    ) -> None:
        """Fill `values` (and `resolved` for entity selects) as the Discord client would."""
        if not isinstance(values, list):
            raise ControlError(400, "a select interaction needs a values list")
        low = int(select.get("min_values", 1))
        high = int(select.get("max_values", 1))
        if not low <= len(values) <= high:
            raise ControlError(400, f"this select takes {low} to {high} values, not {len(values)}")
        stype = select["type"]
        if stype == 3:
            offered = [str(o.get("value")) for o in select.get("options", [])]
            unknown = [v for v in values if str(v) not in offered]
            if unknown:
                raise ControlError(400, f"{unknown} are not options of this select ({offered})")
            data["values"] = [str(v) for v in values]
            return
        option_type = _SELECT_OPTION_TYPES[stype]
        guild = self._state.guilds.get(channel.guild_id) if channel.guild_id else None
        resolved: Json = {}
        data["values"] = [
            self._typed(
                {"type": option_type, "name": select.get("custom_id", "select")},
                v,
                guild=guild,
                channel=channel,
                invoker=user,
                resolved=resolved,
            )
            for v in values
        ]
        data["resolved"] = resolved

    def build_modal_submit(self, spec: Mapping[str, Any]) -> InteractionRecord:
        """Submit a modal the bot opened earlier, with values by text input custom_id."""
        custom_id = str(spec.get("custom_id", ""))
        user_ref = spec.get("user_id", spec.get("user"))
        found: tuple[Json, InteractionRecord] | None = None
        for modal, origin in reversed(self._open_modals):
            if modal.get("custom_id") == custom_id and (
                user_ref is None or user_ref in (origin.user.name, str(origin.user.id))
            ):
                found = (modal, origin)
                break
        if found is None:
            raise ControlError(404, f"no open modal {custom_id!r}")
        self._open_modals.remove(found)
        modal, origin = found
        values = spec.get("values") or {}
        if not isinstance(values, Mapping):
            raise ControlError(400, "values must be a custom_id -> value map")
        components = [_submitted(c, values) for c in modal.get("components", [])]
        data: Json = {"custom_id": custom_id, "components": [c for c in components if c]}
        channel = self._state.channels[origin.channel_id]
        payload = self._common(MODAL_SUBMIT, origin.user, channel, data)
        source = origin.source_message_id
        if source is not None and source in self._state.messages:
            payload["message"] = self._state.messages[source].to_json(self._base_url())
        return self._register(
            InteractionRecord(
                id=self._state.ids.next(),
                kind=MODAL_SUBMIT,
                user=origin.user,
                channel=channel,
                created=self._clock.monotonic(),
                payload=payload,
                source_message_id=source,
            )
        )

    # ----- waiting, for the control API -----

    async def wait_for(
        self, record: InteractionRecord, done: Callable[[], bool], seconds: float
    ) -> bool:
        """Wait (on the sandbox clock) until `done()` or `seconds` pass; return `done()`."""
        end = self._clock.monotonic() + seconds
        while not done():
            remaining = end - self._clock.monotonic()
            if remaining <= 0:
                return False
            changed = asyncio.ensure_future(record.changed.wait())
            sleeper = asyncio.ensure_future(self._clock.sleep(remaining))
            try:
                await asyncio.wait({changed, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                sleeper.cancel()
        return True

    def result(self, record: InteractionRecord, status: str) -> Json:
        """Return the control API's answer for an interaction."""
        base = self._base_url()
        original = self._state.messages.get(record.original_message_id or -1)
        out: Json = {
            "id": str(record.id),
            "token": record.token,
            "type": record.kind,
            "status": status,
            "response": (
                None
                if record.response_type is None
                else {
                    "type": record.response_type,
                    "data": record.response_data,
                    "files": record.response_files,
                }
            ),
            "message": None if original is None else original.to_json(base),
            "followups": record.events,
            "rejected": record.rejected,
        }
        return out

    # ----- the callback and webhook routes -----

    def _record(self, interaction_id: int, token: str) -> InteractionRecord:
        record = self.records.get(interaction_id)
        if record is None or not secrets.compare_digest(record.token, token):
            raise known(rules.UNKNOWN_INTERACTION)
        return record

    def find_by_token(self, token: str) -> InteractionRecord | None:
        """Return the interaction a token belongs to, if any (no checks)."""
        return self._by_token.get(token)

    def record_for_token(self, application_id: int, token: str) -> InteractionRecord:
        """Return the interaction a webhook token belongs to; 404/401 as Discord answers."""
        record = self._by_token.get(token)
        if record is None or application_id != self._state.world.application_id:
            raise ApiError(404, CODE_UNKNOWN_WEBHOOK, "Unknown Webhook")
        if self._clock.monotonic() - record.created > self.timing.token_lifetime:
            raise ApiError(401, CODE_INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        return record

    async def callback(self, interaction_id: int, token: str, body: Body) -> Json:
        """Handle `POST /interactions/{id}/{token}/callback`; return the InteractionCallback."""
        record = self._record(interaction_id, token)
        if record.response_type is not None:
            raise known(rules.INTERACTION_ALREADY_ACKNOWLEDGED)
        if self._clock.monotonic() - record.created > self.timing.initial_response:
            raise known(rules.UNKNOWN_INTERACTION)
        try:
            return await self._answer(record, body)
        except ApiError as exc:
            record.rejected.append({"status": exc.status, "body": exc.body()})
            record.notify()
            raise

    async def _answer(self, record: InteractionRecord, body: Body) -> Json:
        payload = body.payload
        filenames = [u.filename for u in body.uploads]
        errors = rules.validate_interaction_callback(payload, attachment_filenames=filenames)
        if errors:
            raise invalid_form(errors)
        ctype = payload.get("type")
        if not isinstance(ctype, int) or ctype not in ALLOWED_CALLBACKS.get(record.kind, ()):
            raise invalid_form(
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_CALLBACK_TYPE_INVALID",
                                "message": (
                                    f"Callback type {ctype} is invalid for "
                                    f"interaction type {record.kind}."
                                ),
                            }
                        ]
                    }
                }
            )
        if ctype in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE_MESSAGE) and (
            record.source_message_id not in self._state.messages
        ):
            raise unknown_message()
        data = payload.get("data") or {}
        if not isinstance(data, dict):
            data = {}
        state = self._state
        channel = state.channels.get(record.channel_id)
        if channel is None:
            raise unknown_channel()
        message: Message | None = None
        created = False
        if ctype == CALLBACK_MESSAGE:
            message = create_message(
                state,
                channel,
                Body(data, body.uploads, body.multipart),
                **self._webhook_fields(record),
            )
            created = True
        elif ctype == CALLBACK_DEFERRED_MESSAGE:
            flags = MESSAGE_FLAG_LOADING | (int(data.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)
            message = Message(
                id=state.ids.next(),
                channel_id=channel.id,
                guild_id=channel.guild_id,
                author=state.bot,
                timestamp=self._clock.time(),
                flags=flags,
                **self._webhook_fields(record),
            )
            created = True
        elif ctype == CALLBACK_DEFERRED_UPDATE:
            message = state.messages[record.source_message_id or -1]
        elif ctype == CALLBACK_UPDATE_MESSAGE:
            message = state.messages[record.source_message_id or -1]
            edit_message(state, message, Body(data, body.uploads, body.multipart))
        elif ctype == CALLBACK_MODAL:
            self._open_modals.append((data, record))
        record.response_type = ctype
        record.response_data = data
        record.response_files = filenames
        if message is not None:
            record.original_message_id = message.id
            if created:
                state.add_message(message)
                await self._announce("MESSAGE_CREATE", message)
            elif ctype == CALLBACK_UPDATE_MESSAGE:
                await self._announce("MESSAGE_UPDATE", message)
        record.notify()
        log.info("interaction %s answered with callback type %s", record.id, ctype)
        return self._callback_json(record, ctype, message)

    def _callback_json(
        self, record: InteractionRecord, ctype: int, message: Message | None
    ) -> Json:
        interaction: Json = {"id": str(record.id), "type": record.kind}
        resource: Json = {"type": ctype}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = bool(message.flags & MESSAGE_FLAG_LOADING)
            interaction["response_message_ephemeral"] = message.ephemeral
            if ctype != CALLBACK_DEFERRED_UPDATE:
                resource["message"] = message.to_json(self._base_url())
        return {"interaction": interaction, "resource": resource}

    def _webhook_fields(self, record: InteractionRecord) -> Json:
        app_id = self._state.world.application_id
        return {
            "type": (
                MESSAGE_TYPE_CHAT_INPUT
                if record.kind == APPLICATION_COMMAND
                else MESSAGE_TYPE_DEFAULT
            ),
            "webhook_id": app_id,
            "application_id": app_id,
            "interaction_metadata": record.metadata(),
        }

    async def _announce(self, event: str, message: Message) -> None:
        # Ephemeral messages exist only for their user: no gateway event, as on Discord.
        if message.ephemeral:
            return
        await self._dispatch(event, message.to_json(self._base_url()))

    async def followup(self, record: InteractionRecord, body: Body) -> Message:
        """Create a follow-up message; the first one after a deferral fills the original."""
        state = self._state
        if record.response_type is None:
            raise ApiError(404, CODE_UNKNOWN_WEBHOOK, "Unknown Webhook")
        original = state.messages.get(record.original_message_id or -1)
        if (
            record.response_type == CALLBACK_DEFERRED_MESSAGE
            and original is not None
            and original.flags & MESSAGE_FLAG_LOADING
        ):
            edit_message(state, original, body)
            record.events.append(
                {"kind": "followup", "message": original.to_json(self._base_url())}
            )
            record.notify()
            await self._announce("MESSAGE_UPDATE", original)
            return original
        channel = state.channels.get(record.channel_id)
        if channel is None:
            raise unknown_channel()
        message = create_message(state, channel, body, **self._webhook_fields(record))
        state.add_message(message)
        record.followup_ids.append(message.id)
        record.events.append({"kind": "followup", "message": message.to_json(self._base_url())})
        record.notify()
        await self._announce("MESSAGE_CREATE", message)
        return message

    def webhook_message(self, record: InteractionRecord, message_ref: str) -> Message:
        """Return `@original` or a follow-up of this interaction."""
        if message_ref == "@original":
            mid = record.original_message_id
        else:
            try:
                mid = int(message_ref)
            except ValueError:
                raise unknown_message() from None
            if mid != record.original_message_id and mid not in record.followup_ids:
                raise unknown_message()
        message = self._state.messages.get(mid or -1)
        if message is None:
            raise unknown_message()
        return message

    async def edit_webhook_message(
        self, record: InteractionRecord, message_ref: str, body: Body
    ) -> Message:
        """Edit `@original` or a follow-up."""
        message = self.webhook_message(record, message_ref)
        edit_message(self._state, message, body)
        kind = "edit_original" if message.id == record.original_message_id else "edit_followup"
        record.events.append({"kind": kind, "message": message.to_json(self._base_url())})
        record.notify()
        await self._announce("MESSAGE_UPDATE", message)
        return message

    async def delete_webhook_message(self, record: InteractionRecord, message_ref: str) -> None:
        """Delete `@original` or a follow-up."""
        message = self.webhook_message(record, message_ref)
        self._state.remove_message(message)
        kind = "delete_original" if message.id == record.original_message_id else "delete_followup"
        record.events.append({"kind": kind, "message_id": str(message.id)})
        record.notify()
        if not message.ephemeral:
            await self._dispatch("MESSAGE_DELETE", message.delete_event())


def _walk_components(components: Sequence[Any]) -> Iterator[Json]:
    for c in components:
        if not isinstance(c, dict):
            continue
        yield c
        inner = c.get("components")
        if isinstance(inner, list):
            yield from _walk_components(inner)
        for key in ("component", "accessory"):
            child = c.get(key)
            if isinstance(child, dict):
                yield from _walk_components([child])


def _submitted(component: Any, values: Mapping[str, Any]) -> Json | None:
    if not isinstance(component, dict):
        return None
    ctype = component.get("type")
    if ctype == 1:
        inner = [_submitted(c, values) for c in component.get("components", [])]
        return {"type": 1, "components": [c for c in inner if c]}
    if ctype == 18:
        child = _submitted(component.get("component"), values)
        return None if child is None else {"type": 18, "component": child}
    custom_id = component.get("custom_id")
    if custom_id is None:
        return None
    if ctype == 4:
        value = values.get(custom_id, component.get("value", ""))
        if component.get("required", True) and not value:
            raise ControlError(400, f"text input {custom_id!r} is required")
        return {"type": 4, "custom_id": custom_id, "value": str(value)}
    if ctype in SELECT_TYPES:
        chosen = values.get(custom_id, [])
        chosen = chosen if isinstance(chosen, list) else [chosen]
        return {"type": ctype, "custom_id": custom_id, "values": [str(v) for v in chosen]}
    return None
