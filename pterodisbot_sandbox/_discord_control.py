"""The `/_sandbox/` control API: act as users, look at what the bot did, break things."""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pterodisbot_sandbox._discord_commands import CommandRegistry
from pterodisbot_sandbox._discord_gateway import GatewayHub
from pterodisbot_sandbox._discord_http import json_response
from pterodisbot_sandbox._discord_interactions import (
    ControlError,
    InteractionRecord,
    Interactions,
)
from pterodisbot_sandbox._discord_state import Channel, Guild, Json, Message, Overwrite, State
from pterodisbot_sandbox._discord_world import Perm, RoleSeed, UserSeed, parse_permissions

log = logging.getLogger(__name__)

Dispatch = Callable[[str, Json], Awaitable[None]]

# Control-API names for the bot's channel permissions; "edit" is the sandbox's own switch.
PERMISSION_SWITCHES = {
    "view": Perm.VIEW_CHANNEL,
    "send": Perm.SEND_MESSAGES,
    "attach": Perm.ATTACH_FILES,
    "embed": Perm.EMBED_LINKS,
    "read_history": Perm.READ_MESSAGE_HISTORY,
}


class RequestLog:
    """Every REST request in order (the last `keep`), plus counts by route for `/_sandbox/stats`."""

    def __init__(self, keep: int = 50_000) -> None:
        self.entries: deque[Json] = deque(maxlen=keep)
        self.last_seq = 0
        self.by_route: dict[str, int] = {}
        self.limited_by_route: dict[str, int] = {}
        self.global_429 = 0

    def add(self, entry: Json) -> None:
        """Append one request (the `seq` is assigned here, from 1)."""
        self.last_seq += 1
        entry["seq"] = self.last_seq
        self.entries.append(entry)
        route = entry["route"]
        self.by_route[route] = self.by_route.get(route, 0) + 1
        if entry["status"] == 429:
            self.limited_by_route[route] = self.limited_by_route.get(route, 0) + 1
            if entry.get("rate_limit_scope") == "global":
                self.global_429 += 1

    def since(self, seq: int) -> list[Json]:
        """Return the entries after `seq`."""
        return [e for e in self.entries if e["seq"] > seq]


class Control:
    """Handlers for `/_sandbox/...`."""

    def __init__(
        self,
        state: State,
        gateway: GatewayHub,
        interactions: Interactions,
        commands: CommandRegistry,
        requests: RequestLog,
        *,
        base_url: Callable[[], str],
    ) -> None:
        self._state = state
        self._gateway = gateway
        self._interactions = interactions
        self._commands = commands
        self._requests = requests
        self._base_url = base_url

    def routes(self) -> list[web.RouteDef]:
        """Return the control routes."""
        c = "/_sandbox"
        return [
            web.get(f"{c}/requests", self.requests, allow_head=False),
            web.get(f"{c}/stats", self.stats, allow_head=False),
            web.get(f"{c}/world", self.world, allow_head=False),
            web.get(f"{c}/commands", self.commands, allow_head=False),
            web.get(f"{c}/users/{{user}}/commands", self.user_commands, allow_head=False),
            web.get(f"{c}/gateway", self.gateway, allow_head=False),
            web.post(f"{c}/gateway/disconnect", self.disconnect),
            web.post(f"{c}/gateway/heartbeat", self.request_heartbeat),
            web.post(f"{c}/interactions", self.interact),
            web.get(f"{c}/interactions/{{interaction_id}}", self.interaction, allow_head=False),
            web.get(f"{c}/channels/{{channel_id}}/messages", self.messages, allow_head=False),
            web.get(
                f"{c}/channels/{{channel_id}}/messages/{{message_id}}",
                self.message,
                allow_head=False,
            ),
            web.delete(f"{c}/channels/{{channel_id}}/messages/{{message_id}}", self.delete_message),
            web.post(f"{c}/channels/{{channel_id}}/messages", self.say),
            web.post(f"{c}/channels/{{channel_id}}/messages/bulk-delete", self.bulk_delete),
            web.delete(f"{c}/channels/{{channel_id}}", self.delete_channel),
            web.post(f"{c}/channels/{{channel_id}}/permissions", self.permissions),
            web.patch(f"{c}/guilds/{{guild}}/roles/{{role}}", self.modify_role),
            web.put(f"{c}/guilds/{{guild}}/members/{{user}}/roles/{{role}}", self.add_member_role),
            web.delete(
                f"{c}/guilds/{{guild}}/members/{{user}}/roles/{{role}}", self.remove_member_role
            ),
        ]

    @web.middleware
    async def errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Turn `ControlError` into `{"error": ...}` answers."""
        try:
            return await handler(request)
        except ControlError as exc:
            return json_response(exc.body(), status=exc.status)

    async def _json(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            data = await request.json(loads=json.loads)
        except ValueError:
            raise ControlError(400, "the body must be JSON") from None
        if not isinstance(data, dict):
            raise ControlError(400, "the body must be a JSON object")
        return data

    def _channel(self, request: web.Request) -> Channel:
        try:
            return self._state.resolve_channel(request.match_info["channel_id"])
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None

    def _role(self, request: web.Request) -> tuple[Guild, RoleSeed]:
        try:
            guild = self._state.resolve_guild(request.match_info["guild"])
            return guild, self._state.resolve_role(guild, request.match_info["role"])
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None

    def _member(self, request: web.Request, guild: Guild) -> UserSeed:
        try:
            user = self._state.resolve_user(request.match_info["user"])
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None
        if user.id not in guild.members:
            raise ControlError(404, f"{user.name!r} is not a member of {guild.name!r}")
        return user

    async def requests(self, request: web.Request) -> web.Response:
        """List REST requests (`?since=N`: those after seq N)."""
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            raise ControlError(400, "since must be an integer") from None
        entries = self._requests.since(since)
        return json_response({"requests": entries, "last_seq": self._requests.last_seq})

    async def stats(self, request: web.Request) -> web.Response:
        """Count requests and 429s by route."""
        log_ = self._requests
        return json_response(
            {
                "total_requests": log_.last_seq,
                "total_429": sum(log_.limited_by_route.values()),
                "global_429": log_.global_429,
                "requests_by_route": log_.by_route,
                "429_by_route": log_.limited_by_route,
                "interactions": len(self._interactions.records),
                "command_syncs": self._commands.syncs,
                "gateway_identifies": self._gateway.identifies,
                "gateway_resumes": sum(s.resumes for s in self._gateway.sessions.values()),
            }
        )

    async def world(self, request: web.Request) -> web.Response:
        """Return ids of the guilds, channels, roles and users."""
        data = self._state.world.to_json()
        data["gateway_url"] = self._gateway.url
        return json_response(data)

    async def commands(self, request: web.Request) -> web.Response:
        """Return registered commands: `global` and by guild id."""
        scopes = self._commands.scopes()
        return json_response(
            {
                "global": scopes.get(None, []),
                "guilds": {str(k): v for k, v in scopes.items() if k is not None},
            }
        )

    async def user_commands(self, request: web.Request) -> web.Response:
        """Return the commands a user's `/` picker shows in a channel (`?channel_id=`, `guild_id`).

        Decided as Discord does, from the member's permissions in that channel: a command whose
        `default_member_permissions` the member lacks is not listed (administrators see all).
        """
        spec: dict[str, Any] = {"user_id": request.match_info["user"]}
        for key in ("channel_id", "guild_id"):
            if key in request.query:
                spec[key] = request.query[key]
        if request.query.get("dm", "") in ("1", "true"):
            spec["dm"] = True
        user, channel, commands = self._interactions.visible_commands(spec)
        return json_response(
            {
                "user_id": str(user.id),
                "guild_id": None if channel.guild_id is None else str(channel.guild_id),
                "channel_id": str(channel.id),
                "commands": commands,
            }
        )

    async def gateway(self, request: web.Request) -> web.Response:
        """Return the gateway sessions."""
        return json_response(
            {
                "url": self._gateway.url,
                "identifies": self._gateway.identifies,
                "sessions": [s.to_json() for s in self._gateway.sessions.values()],
                "heartbeats": {
                    "received": self._gateway.heartbeats,
                    "acked": self._gateway.heartbeat_acks,
                    "requested": self._gateway.heartbeat_requests,
                },
            }
        )

    async def request_heartbeat(self, request: web.Request) -> web.Response:
        """Ask every connected session for a heartbeat at once (op 1), as Discord may."""
        return json_response({"asked": await self._gateway.request_heartbeat()})

    async def disconnect(self, request: web.Request) -> web.Response:
        """Drop the bot's socket (`mode`: drop | reconnect | invalid_session)."""
        spec = await self._json(request)
        mode = str(spec.get("mode", "drop"))
        if mode not in ("drop", "reconnect", "invalid_session"):
            raise ControlError(400, "mode is one of drop, reconnect, invalid_session")
        code = int(spec.get("code", 4000))
        hit = await self._gateway.disconnect(mode=mode, code=code)
        return json_response({"disconnected": hit, "mode": mode})

    async def interact(self, request: web.Request) -> web.Response:
        """Act as a user: dispatch INTERACTION_CREATE and report what the bot answered."""
        spec = await self._json(request)
        kind = spec.get("type", "command")
        ix = self._interactions
        if kind == "command":
            record = ix.build_command(spec)
        elif kind == "autocomplete":
            record = ix.build_command(spec, autocomplete=True)
        elif kind == "component":
            record = ix.build_component(spec)
        elif kind == "modal":
            record = ix.build_modal_submit(spec)
        else:
            raise ControlError(400, "type is one of command, component, autocomplete, modal")
        await self._gateway.dispatch("INTERACTION_CREATE", record.payload)
        log.info("interaction %s (%s) dispatched as %s", record.id, kind, record.user.name)
        answered = await ix.wait_for(
            record,
            lambda: record.response_type is not None or bool(record.rejected),
            ix.timing.initial_response,
        )
        status = (
            "answered"
            if record.response_type is not None
            else ("rejected" if record.rejected else "timeout")
        )
        wait = float(spec.get("wait", 0) or 0)
        if answered and wait > 0 and record.response_type is not None:
            wanted = int(spec.get("min_followups", 1))
            await ix.wait_for(record, lambda: len(record.events) >= wanted, wait)
        return json_response(ix.result(record, status))

    async def interaction(self, request: web.Request) -> web.Response:
        """Return the current record of an interaction (to poll for late follow-ups)."""
        try:
            record: InteractionRecord = self._interactions.records[
                int(request.match_info["interaction_id"])
            ]
        except (KeyError, ValueError):
            raise ControlError(404, "unknown interaction") from None
        status = "answered" if record.response_type is not None else "pending"
        return json_response(self._interactions.result(record, status))

    async def messages(self, request: web.Request) -> web.Response:
        """List a channel's messages oldest first (`?ephemeral=1` includes ephemeral ones)."""
        channel = self._channel(request)
        include = request.query.get("ephemeral", "") in ("1", "true")
        base = self._base_url()
        return json_response(
            [m.to_json(base) for m in channel.messages.values() if include or not m.ephemeral]
        )

    async def message(self, request: web.Request) -> web.Response:
        """Return one message (ephemeral ones too)."""
        channel = self._channel(request)
        try:
            message = channel.messages[int(request.match_info["message_id"])]
        except (KeyError, ValueError):
            raise ControlError(404, "unknown message") from None
        return json_response(message.to_json(self._base_url()))

    async def delete_message(self, request: web.Request) -> web.Response:
        """Delete a message as a moderator would; the bot gets MESSAGE_DELETE."""
        channel = self._channel(request)
        try:
            message = channel.messages[int(request.match_info["message_id"])]
        except (KeyError, ValueError):
            raise ControlError(404, "unknown message") from None
        self._state.remove_message(message)
        await self._gateway.dispatch("MESSAGE_DELETE", message.delete_event())
        return json_response({"deleted": str(message.id)})

    async def say(self, request: web.Request) -> web.Response:
        """Post a member's message (`{"user": name, "content": text}`); the bot gets MESSAGE_CREATE.

        `<@id>` in the text mentions that user, as in Discord's client.
        """
        channel = self._channel(request)
        spec = await self._json(request)
        content = spec.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ControlError(400, "content is the text to say")
        world = self._state.world
        try:
            author = world.user(str(spec.get("user", "")))
        except KeyError as exc:
            raise ControlError(404, str(exc)) from None
        mentioned = {int(m) for m in re.findall(r"<@!?(\d+)>", content)}
        mentions = tuple(u for u in (*world.users, world.bot) if u.id in mentioned)
        message = Message(
            id=self._state.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            timestamp=self._state.clock.time(),
            content=content,
            mentions=mentions,
        )
        self._state.add_message(message)
        data = message.to_json(self._base_url())
        await self._gateway.dispatch("MESSAGE_CREATE", data)
        return json_response(data)

    async def bulk_delete(self, request: web.Request) -> web.Response:
        """Delete several messages at once (`{"messages": [ids]}`); the bot gets one
        MESSAGE_DELETE_BULK, as after a moderator's purge."""
        channel = self._channel(request)
        spec = await self._json(request)
        try:
            wanted = [int(m) for m in spec.get("messages", ())]
            messages = [channel.messages[m] for m in wanted]
        except (KeyError, ValueError, TypeError):
            raise ControlError(404, "unknown message in messages") from None
        if not messages:
            raise ControlError(400, "messages lists the ids to delete")
        for message in messages:
            self._state.remove_message(message)
        event: Json = {"ids": [str(m.id) for m in messages], "channel_id": str(channel.id)}
        if channel.guild_id is not None:
            event["guild_id"] = str(channel.guild_id)
        await self._gateway.dispatch("MESSAGE_DELETE_BULK", event)
        return json_response({"deleted": event["ids"]})

    async def delete_channel(self, request: web.Request) -> web.Response:
        """Delete a channel as an admin would; the bot gets CHANNEL_DELETE."""
        channel = self._channel(request)
        data = channel.to_json()
        self._state.remove_channel(channel)
        await self._gateway.dispatch("CHANNEL_DELETE", data)
        return json_response({"deleted": str(channel.id)})

    async def permissions(self, request: web.Request) -> web.Response:
        """Grant (true) or revoke (false) the bot's view/send/attach/embed/edit in a channel."""
        channel = self._channel(request)
        if channel.guild_id is None:
            raise ControlError(400, "DM channels have no permissions to change")
        spec = await self._json(request)
        unknown = set(spec) - set(PERMISSION_SWITCHES) - {"edit"}
        if unknown:
            raise ControlError(400, f"unknown permission switches {sorted(unknown)}")
        bot_id = self._state.bot.id
        before = channel.to_json()
        ow = channel.overwrites.get(bot_id) or Overwrite(id=bot_id, type=1)
        for name, allowed in spec.items():
            if name == "edit":
                channel.bot_can_edit = bool(allowed)
                continue
            bit = PERMISSION_SWITCHES[name]
            if allowed:
                ow.deny &= ~bit
                ow.allow |= bit
            else:
                ow.allow &= ~bit
                ow.deny |= bit
        if ow.allow or ow.deny:
            channel.overwrites[bot_id] = ow
        else:
            channel.overwrites.pop(bot_id, None)
        after = channel.to_json()
        # As on Discord, only a changed channel (here: its overwrites) is announced; the
        # sandbox's own `edit` switch is invisible to the gateway.
        if after != before:
            await self._gateway.dispatch("CHANNEL_UPDATE", after)
        perms = self._state.bot_permissions(channel)
        return json_response(
            {
                "channel_id": str(channel.id),
                "bot_permissions": str(perms),
                "view": bool(perms & Perm.VIEW_CHANNEL),
                "send": bool(perms & Perm.SEND_MESSAGES),
                "attach": bool(perms & Perm.ATTACH_FILES),
                "embed": bool(perms & Perm.EMBED_LINKS),
                "edit": channel.bot_can_edit,
            }
        )

    async def modify_role(self, request: web.Request) -> web.Response:
        """Change a role's permissions as an admin would; the bot gets GUILD_ROLE_UPDATE.

        `{"permissions": int | "<int>" | [names]}` replaces them, `"grant"` / `"revoke"` (lists
        of names, as in `World.from_json`) add or remove some. Answers the role object.
        """
        guild, role = self._role(request)
        spec = await self._json(request)
        unknown = set(spec) - {"permissions", "grant", "revoke"}
        if unknown:
            raise ControlError(400, f"unknown role fields {sorted(unknown)}")
        if not spec:
            raise ControlError(400, "give permissions, grant or revoke")
        perms = role.permissions
        try:
            if "permissions" in spec:
                perms = parse_permissions(spec["permissions"])
            for key in ("grant", "revoke"):
                if key in spec and not isinstance(spec[key], list):
                    raise ValueError(f"{key} is a list of permission names")
            perms |= parse_permissions(spec.get("grant", []))
            perms &= ~parse_permissions(spec.get("revoke", []))
        except ValueError as exc:
            raise ControlError(400, str(exc)) from None
        if not 0 <= perms <= Perm.ALL:
            raise ControlError(400, "permissions out of range")
        guild.set_role_permissions(role.id, perms)
        data = guild.role_object(role.id, self._state.bot.id)
        # Discord's Modify Guild Role always fires the event, changed or not.
        await self._gateway.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": data})
        return json_response(data)

    async def add_member_role(self, request: web.Request) -> web.Response:
        """Give a member (the bot too) a role; GUILD_MEMBER_UPDATE is sent if it changed."""
        return await self._change_member_role(request, add=True)

    async def remove_member_role(self, request: web.Request) -> web.Response:
        """Take a role from a member; GUILD_MEMBER_UPDATE is sent if it changed."""
        return await self._change_member_role(request, add=False)

    async def _change_member_role(self, request: web.Request, *, add: bool) -> web.Response:
        guild, role = self._role(request)
        user = self._member(request, guild)
        # As on Discord: @everyone is every member's implicitly, an integration's role is its own.
        if role.id == guild.id:
            raise ControlError(400, "@everyone cannot be given or taken")
        if role.managed:
            raise ControlError(400, f"{role.name!r} is managed by an integration")
        member = guild.members[user.id]
        has = role.id in member.role_ids
        if add and not has:
            member.role_ids.append(role.id)
        elif not add and has:
            member.role_ids.remove(role.id)
        data = guild.member_update_event(user.id)
        if add != has:
            await self._gateway.dispatch("GUILD_MEMBER_UPDATE", data)
        return json_response(data)
