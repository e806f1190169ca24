"""The REST routes of Discord API v10 that discord.py uses for the bot's flows."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pterodisbot_sandbox import discord_rules as rules
from pterodisbot_sandbox._discord_commands import CommandRegistry
from pterodisbot_sandbox._discord_http import (
    BODY_KEY,
    CODE_CANNOT_EDIT_OTHERS,
    ApiError,
    Body,
    invalid_form,
    json_response,
    known,
    unknown_channel,
    unknown_message,
)
from pterodisbot_sandbox._discord_interactions import Interactions
from pterodisbot_sandbox._discord_messages import create_message, edit_message
from pterodisbot_sandbox._discord_state import (
    MESSAGE_FLAG_EPHEMERAL,
    Channel,
    Guild,
    Json,
    Message,
    State,
    role_json,
    user_json,
)
from pterodisbot_sandbox._discord_world import Perm

log = logging.getLogger(__name__)

Dispatch = Callable[[str, Json], Awaitable[None]]


def body_of(request: web.Request) -> Body:
    """Return the body the middleware parsed for this request."""
    return request.get(BODY_KEY) or Body()


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(404, 0, "404: Not Found") from None


class RestApi:
    """Handlers for `/api/v10/...`; auth, rate limits and the request log are middleware."""

    def __init__(
        self,
        state: State,
        commands: CommandRegistry,
        interactions: Interactions,
        *,
        dispatch: Dispatch,
        base_url: Callable[[], str],
        gateway_url: Callable[[web.Request], str],
    ) -> None:
        self._state = state
        self._commands = commands
        self._interactions = interactions
        self._dispatch = dispatch
        self._base_url = base_url
        self._gateway_url = gateway_url

    def routes(self, prefix: str) -> list[web.RouteDef]:
        """Return the route table under `prefix` (`/api/v10`)."""
        p = prefix
        app = "/applications/{application_id}"
        msg = "/channels/{channel_id}/messages"
        hook = "/webhooks/{application_id}/{webhook_token}"
        return [
            web.get(f"{p}/gateway", self.gateway, allow_head=False),
            web.get(f"{p}/gateway/bot", self.gateway_bot, allow_head=False),
            web.get(f"{p}/users/@me", self.me, allow_head=False),
            web.get(f"{p}/users/@me/guilds", self.my_guilds, allow_head=False),
            web.post(f"{p}/users/@me/channels", self.open_dm),
            web.get(f"{p}/users/{{user_id}}", self.user, allow_head=False),
            web.get(f"{p}/oauth2/applications/@me", self.application, allow_head=False),
            web.get(f"{p}/applications/@me", self.application, allow_head=False),
            web.get(f"{p}{app}/commands", self.list_commands, allow_head=False),
            web.put(f"{p}{app}/commands", self.overwrite_commands),
            web.post(f"{p}{app}/commands", self.upsert_command),
            web.get(f"{p}{app}/commands/{{command_id}}", self.get_command, allow_head=False),
            web.delete(f"{p}{app}/commands/{{command_id}}", self.delete_command),
            web.get(f"{p}{app}/guilds/{{guild_id}}/commands", self.list_commands, allow_head=False),
            web.put(f"{p}{app}/guilds/{{guild_id}}/commands", self.overwrite_commands),
            web.post(f"{p}{app}/guilds/{{guild_id}}/commands", self.upsert_command),
            web.get(
                f"{p}{app}/guilds/{{guild_id}}/commands/{{command_id}}",
                self.get_command,
                allow_head=False,
            ),
            web.delete(
                f"{p}{app}/guilds/{{guild_id}}/commands/{{command_id}}", self.delete_command
            ),
            web.get(f"{p}/channels/{{channel_id}}", self.channel, allow_head=False),
            web.get(f"{p}{msg}", self.list_messages, allow_head=False),
            web.post(f"{p}{msg}", self.post_message),
            web.get(f"{p}{msg}/{{message_id}}", self.get_message, allow_head=False),
            web.patch(f"{p}{msg}/{{message_id}}", self.patch_message),
            web.delete(f"{p}{msg}/{{message_id}}", self.delete_message),
            web.get(f"{p}/guilds/{{guild_id}}", self.guild, allow_head=False),
            web.get(f"{p}/guilds/{{guild_id}}/channels", self.guild_channels, allow_head=False),
            web.get(f"{p}/guilds/{{guild_id}}/roles", self.guild_roles, allow_head=False),
            web.get(
                f"{p}/guilds/{{guild_id}}/members/{{user_id}}", self.guild_member, allow_head=False
            ),
            web.post(
                f"{p}/interactions/{{interaction_id}}/{{interaction_token}}/callback",
                self.interaction_callback,
            ),
            web.post(f"{p}{hook}", self.webhook_execute),
            web.get(f"{p}{hook}/messages/{{message_id}}", self.webhook_get, allow_head=False),
            web.patch(f"{p}{hook}/messages/{{message_id}}", self.webhook_patch),
            web.delete(f"{p}{hook}/messages/{{message_id}}", self.webhook_delete),
        ]

    # ----- gateway, users, application -----

    async def gateway(self, request: web.Request) -> web.Response:
        """Answer `GET /gateway`."""
        return json_response({"url": self._gateway_url(request)})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        """Answer `GET /gateway/bot`: the gateway URL, one shard, a generous start limit."""
        return json_response(
            {
                "url": self._gateway_url(request),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        """Answer `GET /users/@me` with the bot user."""
        data = user_json(self._state.bot)
        data.update({"verified": True, "mfa_enabled": False, "locale": "en-US", "email": None})
        return json_response(data)

    async def my_guilds(self, request: web.Request) -> web.Response:
        """Answer `GET /users/@me/guilds`."""
        bot_id = self._state.bot.id
        return json_response(
            [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "icon": None,
                    "owner": False,
                    "permissions": str(g.member_permissions(bot_id)),
                    "features": [],
                }
                for g in self._state.guilds.values()
            ]
        )

    async def user(self, request: web.Request) -> web.Response:
        """Answer `GET /users/{id}`."""
        user = self._state.users.get(_int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user_json(user))

    async def open_dm(self, request: web.Request) -> web.Response:
        """Answer `POST /users/@me/channels` (open a DM)."""
        raw = body_of(request).payload.get("recipient_id")
        user = self._state.users.get(_int(str(raw)))
        if user is None:
            raise invalid_form()
        return json_response(self._state.dm_channel(user).to_json())

    async def application(self, request: web.Request) -> web.Response:
        """Answer `GET /oauth2/applications/@me` with the bot's application."""
        world = self._state.world
        owner = world.users[0] if world.users else world.bot
        return json_response(
            {
                "id": str(world.application_id),
                "name": world.bot.name,
                "icon": None,
                "description": "Pterodisbot in the local Discord sandbox",
                "summary": "",
                "type": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": user_json(owner),
                "team": None,
                "bot": user_json(world.bot),
                "rpc_origins": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "tags": [],
                "approximate_guild_count": len(self._state.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    # ----- application commands -----

    def _scope(self, request: web.Request) -> int | None:
        app_id = _int(request.match_info["application_id"])
        if app_id != self._state.world.application_id:
            raise known(rules.MISSING_ACCESS)
        raw = request.match_info.get("guild_id")
        if raw is None:
            return None
        guild = self._state.guilds.get(_int(raw))
        if guild is None or not guild.commands_scope:
            # Also what Discord answers in a guild the bot joined without applications.commands.
            raise known(rules.MISSING_ACCESS)
        return guild.id

    async def list_commands(self, request: web.Request) -> web.Response:
        """Answer GET of global or guild commands."""
        return json_response(self._commands.of_scope(self._scope(request)))

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        """Answer PUT (bulk overwrite) of global or guild commands."""
        scope = self._scope(request)
        stored = self._commands.overwrite(scope, body_of(request).raw)
        log.info("commands synced for %s: %s", scope or "global", [c["name"] for c in stored])
        return json_response(stored)

    async def upsert_command(self, request: web.Request) -> web.Response:
        """Answer POST of one command."""
        scope = self._scope(request)
        return json_response(self._commands.upsert(scope, body_of(request).raw), status=201)

    async def get_command(self, request: web.Request) -> web.Response:
        """Answer GET of one command."""
        found = self._commands.get(self._scope(request), _int(request.match_info["command_id"]))
        if found is None:
            raise ApiError(404, 10063, "Unknown application command")
        return json_response(found)

    async def delete_command(self, request: web.Request) -> web.Response:
        """Answer DELETE of one command."""
        if not self._commands.delete(self._scope(request), _int(request.match_info["command_id"])):
            raise ApiError(404, 10063, "Unknown application command")
        return web.Response(status=204)

    # ----- channels and messages -----

    def _channel(self, request: web.Request, *, need: int = Perm.VIEW_CHANNEL) -> Channel:
        channel = self._state.channels.get(_int(request.match_info["channel_id"]))
        if channel is None:
            raise unknown_channel()
        perms = self._state.bot_permissions(channel)
        if not perms & Perm.VIEW_CHANNEL:
            raise known(rules.MISSING_ACCESS)
        if perms & need != need:
            raise known(rules.MISSING_PERMISSIONS)
        return channel

    def _message(self, channel: Channel, request: web.Request) -> Message:
        message = channel.messages.get(_int(request.match_info["message_id"]))
        if message is None:
            raise unknown_message()
        return message

    async def channel(self, request: web.Request) -> web.Response:
        """Answer `GET /channels/{id}`."""
        return json_response(self._channel(request).to_json())

    async def list_messages(self, request: web.Request) -> web.Response:
        """Answer `GET /channels/{id}/messages`, newest first as Discord does."""
        channel = self._channel(request, need=Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        try:
            limit = max(1, min(100, int(request.query.get("limit", "50"))))
        except ValueError:
            limit = 50
        messages = [m for m in channel.messages.values() if not m.ephemeral]
        if "before" in request.query:
            before = _int(request.query["before"])
            messages = [m for m in messages if m.id < before]
        if "after" in request.query:
            after = _int(request.query["after"])
            messages = [m for m in messages if m.id > after]
            messages = messages[:limit]
        messages = sorted(messages, key=lambda m: m.id, reverse=True)[:limit]
        base = self._base_url()
        return json_response([m.to_json(base) for m in messages])

    async def post_message(self, request: web.Request) -> web.Response:
        """Answer `POST /channels/{id}/messages` (JSON or multipart)."""
        body = body_of(request)
        need = Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES
        if body.uploads:
            need |= Perm.ATTACH_FILES
        channel = self._channel(request, need=need)
        message = create_message(self._state, channel, body)
        # A bot cannot post ephemeral messages outside interactions; Discord ignores the flag.
        message.flags &= ~MESSAGE_FLAG_EPHEMERAL
        self._state.add_message(message)
        data = message.to_json(self._base_url())
        await self._dispatch("MESSAGE_CREATE", data)
        return json_response(data)

    async def get_message(self, request: web.Request) -> web.Response:
        """Answer `GET /channels/{id}/messages/{mid}`."""
        channel = self._channel(request, need=Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        message = self._message(channel, request)
        if message.ephemeral:
            raise unknown_message()
        return json_response(message.to_json(self._base_url()))

    async def patch_message(self, request: web.Request) -> web.Response:
        """Answer `PATCH /channels/{id}/messages/{mid}`: the bot edits its own message."""
        channel = self._channel(request)
        message = self._message(channel, request)
        if message.author.id != self._state.bot.id or message.ephemeral:
            raise ApiError(
                403, CODE_CANNOT_EDIT_OTHERS, "Cannot edit a message authored by another user"
            )
        body = body_of(request)
        if not channel.bot_can_edit or (
            body.uploads and not self._state.bot_permissions(channel) & Perm.ATTACH_FILES
        ):
            raise known(rules.MISSING_PERMISSIONS)
        edit_message(self._state, message, body)
        data = message.to_json(self._base_url())
        await self._dispatch("MESSAGE_UPDATE", data)
        return json_response(data)

    async def delete_message(self, request: web.Request) -> web.Response:
        """Answer `DELETE /channels/{id}/messages/{mid}`."""
        channel = self._channel(request)
        message = self._message(channel, request)
        if message.author.id != self._state.bot.id:
            perms = self._state.bot_permissions(channel)
            if not perms & Perm.MANAGE_MESSAGES:
                raise known(rules.MISSING_PERMISSIONS)
        self._state.remove_message(message)
        await self._dispatch("MESSAGE_DELETE", message.delete_event())
        return web.Response(status=204)

    # ----- guilds -----

    def _guild(self, request: web.Request) -> Guild:
        guild = self._state.guilds.get(_int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def guild(self, request: web.Request) -> web.Response:
        """Answer `GET /guilds/{id}` (no channels or members, as Discord)."""
        guild = self._guild(request)
        data = guild.to_json(self._state.bot.id, all_members=False)
        for key in ("channels", "members", "threads", "presences", "voice_states", "joined_at"):
            data.pop(key, None)
        data["approximate_member_count"] = len(guild.members)
        data["approximate_presence_count"] = 0
        return json_response(data)

    async def guild_channels(self, request: web.Request) -> web.Response:
        """Answer `GET /guilds/{id}/channels`."""
        return json_response([c.to_json() for c in self._guild(request).channels.values()])

    async def guild_roles(self, request: web.Request) -> web.Response:
        """Answer `GET /guilds/{id}/roles`."""
        roles = self._guild(request).roles.values()
        bot_id = self._state.bot.id
        return json_response([role_json(r, i, bot_id) for i, r in enumerate(roles)])

    async def guild_member(self, request: web.Request) -> web.Response:
        """Answer `GET /guilds/{id}/members/{user_id}`."""
        member = self._guild(request).members.get(_int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(member.to_json())

    # ----- interactions -----

    async def interaction_callback(self, request: web.Request) -> web.Response:
        """Answer `POST /interactions/{id}/{token}/callback`."""
        result = await self._interactions.callback(
            _int(request.match_info["interaction_id"]),
            request.match_info["interaction_token"],
            body_of(request),
        )
        if request.query.get("with_response", "").lower() in ("1", "true"):
            return json_response(result)
        return web.Response(status=204)

    def _hook(self, request: web.Request) -> Any:
        return self._interactions.record_for_token(
            _int(request.match_info["application_id"]), request.match_info["webhook_token"]
        )

    async def webhook_execute(self, request: web.Request) -> web.Response:
        """Answer `POST /webhooks/{app}/{token}` (an interaction follow-up)."""
        record = self._hook(request)
        message = await self._interactions.followup(record, body_of(request))
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(message.to_json(self._base_url()))
        return web.Response(status=204)

    async def webhook_get(self, request: web.Request) -> web.Response:
        """Answer `GET /webhooks/{app}/{token}/messages/{id|@original}`."""
        record = self._hook(request)
        message = self._interactions.webhook_message(record, request.match_info["message_id"])
        return json_response(message.to_json(self._base_url()))

    async def webhook_patch(self, request: web.Request) -> web.Response:
        """Answer `PATCH /webhooks/{app}/{token}/messages/{id|@original}`."""
        record = self._hook(request)
        message = await self._interactions.edit_webhook_message(
            record, request.match_info["message_id"], body_of(request)
        )
        return json_response(message.to_json(self._base_url()))

    async def webhook_delete(self, request: web.Request) -> web.Response:
        """Answer `DELETE /webhooks/{app}/{token}/messages/{id|@original}`."""
        record = self._hook(request)
        await self._interactions.delete_webhook_message(record, request.match_info["message_id"])
        return web.Response(status=204)
